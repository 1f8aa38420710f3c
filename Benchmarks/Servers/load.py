#!/usr/bin/env python3
"""Held-load benchmark: thousands of concurrent HTTP/2 streams, and the SDK's latency under them.

For every target of ``e2e.make_targets()`` (timekeeper and Temporal's Java test server) the server is
started fresh on a free 127.0.0.1 port; a Python SDK client and worker connect; then:

1. **idle**: after a few warm-up workflows, the latency of N sequential trivial workflows
   (``execute_workflow``), and the server's RSS (VmRSS) -- the *before* figure;
2. **load**: ``Tests/Integration/support/h2load.LoadProcess`` (a child Python process, so that it does not compete
   with the SDK worker for this process's GIL) opens C connections (``--connections``, default 200) with S
   concurrent streams each (``--streams``, default 20): half long polls on task queues nobody feeds (the
   server holds them), half GetSystemInfo calls the client holds open for 3 s before ending them, each
   replaced as soon as it is answered. Recorded: the time to open them all, the server's RSS *during* the
   hold and its peak (VmHWM), the server's CPU over the hold, and the latency of N sequential trivial
   workflows under the load;
3. **after**: the load's connections are closed; after ``--settle`` seconds (default 5) the RSS again.

One table is printed (rows = figures, columns = targets, plus timekeeper / java) and written with the
machine facts to ``Benchmarks/Servers/results/load-<YYYY-MM-DD>.md``. A target that fails leaves "error: ..." in its
cells and the run goes on; every server is SIGKILLed when its target is done.

Usage::

    .venv/bin/python Benchmarks/Servers/load.py                      # 200 x 20, both targets
    .venv/bin/python Benchmarks/Servers/load.py --quick              # 50 x 10, a smoke run
    .venv/bin/python Benchmarks/Servers/load.py --connections 500 --streams 40 --only timekeeper

Binaries are e2e.py's (``$TIMEKEEPER_BIN``, else ``.build/release/timekeeper``, else the debug build).
Server logs go to ``Benchmarks/Servers/.work/load-logs/``. See Benchmarks/Servers/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

# e2e.py puts Tests/Integration/support on sys.path and holds the targets, the server runner, the worker and the reports.
from e2e import (  # noqa: E402
    RATIO,
    Cell,
    Metric,
    Options,
    Plan,
    Results,
    Server,
    Target,
    begin_run,
    binary_desc,
    loadavg,
    log,
    machine_facts,
    md_report_tail,
    md_table,
    print_report_tail,
    proc_cpu_s,
    results_path,
    rss_mib,
    running_worker,
    guarded,
    selected_targets,
    short_error,
    table_rows,
    text_table,
    unique,
)
from h2load import LoadProcess  # noqa: E402

from bench_workflows import Trivial  # noqa: E402


@dataclass
class Settings:
    connections: int = 200
    streams: int = 20
    runs: int = 20  # sequential trivial workflows per latency figure
    warmup: int = 5
    settle_s: float = 5.0
    timeout: float = 600.0
    unsandboxed: bool = False
    quick: bool = False


def metrics(st: Settings) -> list[Metric]:
    return [
        Metric("connections", "connections held (info)", ".0f", None),
        Metric("streams", "streams held at once, all connections (info)", ".0f", None),
        Metric("open_s", f"open {st.connections} x {st.streams} streams (s)", ".2f"),
        Metric("rss_before", "server RSS before the load (MiB)", ".1f"),
        Metric("rss_during", "server RSS during the load (MiB)", ".1f"),
        Metric("rss_peak", "server peak RSS, VmHWM (MiB)", ".1f"),
        Metric("rss_after", f"server RSS {st.settle_s:.0f} s after the load (MiB)", ".1f"),
        Metric("kib_per_stream", "RSS per held stream (KiB)", ".1f"),
        Metric("cpu_hold", "server CPU during the hold (s)", ".2f"),
        Metric("latency_idle", f"trivial wf latency, no load, median of {st.runs} (ms)", ".1f"),
        Metric("latency_load", f"trivial wf latency under the load, median of {st.runs} (ms)", ".1f"),
        Metric("answered", "load requests answered during the hold (info)", ".0f", None),
        Metric("failures", "load streams failed (count)", ".0f"),
    ]


async def latencies(client, queue: str, runs: int) -> list[float]:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        if await client.execute_workflow(Trivial.run, id=unique("load-trivial"), task_queue=queue) != 1:
            raise RuntimeError("trivial workflow returned a wrong result")
        times.append((time.perf_counter() - started) * 1e3)
    return times


async def bench_target(target: Target, st: Settings, res: Results, log_dir: Path) -> None:
    server = Server(target, log_dir)
    opts = Options(plan=Plan(), scenario_timeout=st.timeout, unsandboxed=st.unsandboxed)
    out: dict[str, Cell] = {"connections": st.connections, "streams": st.connections * st.streams}
    try:
        server.start()
        log(f"[{target.name}] server pid {server.pid} on port {server.port}, log {server.log_path}")
        client = await server.connect()
        queue = unique("load")
        async with running_worker(client, queue, opts) as worker:
            async def body() -> None:
                await latencies(client, queue, st.warmup)
                out["latency_idle"] = statistics.median(await latencies(client, queue, st.runs))
                await asyncio.sleep(1.0)
                out["rss_before"] = rss_mib(server.pid)
                load = LoadProcess(server.port, connections=st.connections, streams=st.streams, queue_prefix=queue)
                started = time.perf_counter()
                await asyncio.to_thread(load.start)
                out["open_s"] = load.open_s
                cpu0 = proc_cpu_s(server.pid)
                try:
                    out["latency_load"] = statistics.median(await latencies(client, queue, st.runs))
                    await asyncio.sleep(max(0.0, 8.0 - (time.perf_counter() - started)))
                    out["rss_during"], out["rss_peak"] = rss_mib(server.pid), rss_mib(server.pid, "VmHWM")
                    out["cpu_hold"] = proc_cpu_s(server.pid) - cpu0
                    server.check_alive()
                    stats = await asyncio.to_thread(load.stop)
                finally:
                    load.kill()
                out["streams"] = stats.peak_streams
                out["answered"] = stats.calls_answered + stats.polls_answered
                out["failures"] = len(stats.failures)
                if stats.failures:
                    res.notes.append(f"{target.name}: {len(stats.failures)} failed load streams, e.g. {stats.failures[0][:300]}")
                out["kib_per_stream"] = (float(out["rss_during"]) - float(out["rss_before"])) * 1024 / stats.peak_streams
                await asyncio.sleep(st.settle_s)
                out["rss_after"] = rss_mib(server.pid)
            await guarded(body(), worker, st.timeout)
        res.put(target.name, out)
    except Exception as e:  # noqa: BLE001 -- record and carry on
        log(f"[{target.name}] FAILED: {short_error(e)}")
        res.errors.append(f"{target.name}: {short_error(e)}")
        res.put(target.name, out)
        for m in metrics(st):
            res.cells.setdefault(m.key, {}).setdefault(target.name, f"error: {short_error(e, 60)}")
    finally:
        server.kill()


async def amain(args: argparse.Namespace) -> int:
    st = Settings(connections=args.connections or (50 if args.quick else 200),
                  streams=args.streams or (10 if args.quick else 20), runs=args.runs or (5 if args.quick else 20),
                  settle_s=args.settle, timeout=args.timeout, unsandboxed=args.unsandboxed, quick=args.quick)
    targets = selected_targets(args.only)
    tk_path, log_dir = begin_run("load-logs", f"; {st.connections} connections x {st.streams} streams")
    load_start, started = loadavg(), time.perf_counter()
    tk_descs = (binary_desc(tk_path), binary_desc(tk_path))
    target_loads: dict[str, str] = {}
    res = Results()
    for t in targets:
        target_loads[t.name] = loadavg()
        log(f"[{t.name}] load average {target_loads[t.name]}")
        if t.argv[0] == tk_path:
            tk_descs = (binary_desc(tk_path), tk_descs[1])
        await bench_target(t, st, res, log_dir)
        if t.argv[0] == tk_path:
            tk_descs = (tk_descs[0], binary_desc(tk_path))
    load_end, elapsed = loadavg(), time.perf_counter() - started

    header, rows = table_rows(metrics(st), targets, res)
    title = (f"Timekeeper held-load benchmark{' (--quick)' if st.quick else ''}: {st.connections} connections x "
             f"{st.streams} streams; lower is better; ratio = {RATIO[0]} / {RATIO[1]}")
    fact_list = machine_facts(targets, load_start, load_end, elapsed, tk_descs, target_loads, st.unsandboxed) + [
        ("load", f"{st.connections} h2 connections x {st.streams} streams, half long polls (grpc-timeout 50S), "
                 "half GetSystemInfo held 3 s before END_STREAM, each replaced when answered"),
        ("latency", f"{st.runs} sequential trivial workflows (+{st.warmup} warm-up) before and under the load"),
    ]
    print()
    print(title)
    print(text_table(header, rows))
    print()
    print_report_tail(fact_list, res.errors, res.notes)

    out = results_path(args.out, "load", st.quick)
    md = [f"# {title}", "", md_table(header, rows), "", "## Machine and settings", ""]
    md += md_report_tail(fact_list, res.errors, res.notes, "Benchmarks/Servers/load.py")
    out.write_text("\n".join(md))
    print(f"\nwrote {out}")
    return 1 if res.errors else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="50 connections x 10 streams, 5 latency runs")
    ap.add_argument("--connections", type=int, metavar="C", help="connections held (default 200)")
    ap.add_argument("--streams", type=int, metavar="S", help="concurrent streams per connection (default 20)")
    ap.add_argument("--runs", type=int, metavar="N", help="trivial workflows per latency figure (default 20)")
    ap.add_argument("--settle", type=float, default=5.0, metavar="S", help="wait before the after-RSS (default 5)")
    ap.add_argument("--only", action="append", metavar="NAME", help="run only this target (repeatable)")
    ap.add_argument("--timeout", type=float, default=600.0, help="per-target timeout, s (default 600)")
    ap.add_argument("--unsandboxed", action="store_true", help="the worker uses UnsandboxedWorkflowRunner")
    ap.add_argument("--out", help="Markdown output path (default Benchmarks/Servers/results/load-<date>[-quick].md)")
    args = ap.parse_args()
    code = 2
    try:
        code = asyncio.run(amain(args))
    except KeyboardInterrupt:
        code = 130
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
