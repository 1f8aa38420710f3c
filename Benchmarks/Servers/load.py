#!/usr/bin/env python3
"""Held-load benchmark: thousands of concurrent HTTP/2 streams, and the SDK's latency under them.

For every target of ``servers.make_targets()`` (timekeeper and Temporal's Java test server) the server is
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

Binaries are servers.py's (``$TIMEKEEPER_BIN``, else ``.build/release/timekeeper``, else the debug build).
Server logs go to ``Benchmarks/Servers/.work/load-logs/``. See Benchmarks/Servers/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import repo_paths  # noqa: E402,F401 -- first: puts Tests/Integration/support on sys.path

from h2load import LoadProcess  # noqa: E402

from bench_workflows import Trivial  # noqa: E402
from command_line import add_only_option, add_run_options, begin_run, bench_each_target, run_and_exit  # noqa: E402
from machine_facts import machine_facts  # noqa: E402
from proc_readings import proc_cpu_s, rss_mib  # noqa: E402
from reports import Cell, Metric, Results, md_table, print_report, table_rows, write_results_file  # noqa: E402
from run_log import log, short_error  # noqa: E402
from sdk_driver import guarded, running_worker, unique  # noqa: E402
from servers import RATIO, Server, Target, selected_targets  # noqa: E402


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
    out: dict[str, Cell] = {"connections": st.connections, "streams": st.connections * st.streams}
    try:
        server.start()
        log(f"[{target.name}] server pid {server.pid} on port {server.port}, log {server.log_path}")
        client = await server.connect()
        queue = unique("load")
        async with running_worker(client, queue, st.unsandboxed) as worker:
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
        res.fill(target.name, [m.key for m in metrics(st)], f"error: {short_error(e, 60)}")
    finally:
        server.kill()


async def amain(args: argparse.Namespace) -> int:
    st = Settings(connections=args.connections or (50 if args.quick else 200),
                  streams=args.streams or (10 if args.quick else 20), runs=args.runs or (5 if args.quick else 20),
                  settle_s=args.settle, timeout=args.timeout, unsandboxed=args.unsandboxed, quick=args.quick)
    targets = selected_targets(args.only)
    run, log_dir = begin_run("load-logs", f"; {st.connections} connections x {st.streams} streams")
    res = Results()
    await bench_each_target(run, targets, lambda t: bench_target(t, st, res, log_dir))

    header, rows = table_rows(metrics(st), targets, res)
    title = (f"Timekeeper held-load benchmark{' (--quick)' if st.quick else ''}: {st.connections} connections x "
             f"{st.streams} streams; lower is better; ratio = {RATIO[0]} / {RATIO[1]}")
    fact_list = machine_facts(targets, run, st.unsandboxed) + [
        ("load", f"{st.connections} h2 connections x {st.streams} streams, half long polls (grpc-timeout 50S), "
                 "half GetSystemInfo held 3 s before END_STREAM, each replaced when answered"),
        ("latency", f"{st.runs} sequential trivial workflows (+{st.warmup} warm-up) before and under the load"),
    ]
    print_report(title, header, rows, fact_list, res)
    write_results_file(args.out, "load", st.quick, [f"# {title}", "", md_table(header, rows), ""],
                       fact_list, res.errors, res.notes)
    return 1 if res.errors else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="50 connections x 10 streams, 5 latency runs")
    ap.add_argument("--connections", type=int, metavar="C", help="connections held (default 200)")
    ap.add_argument("--streams", type=int, metavar="S", help="concurrent streams per connection (default 20)")
    ap.add_argument("--runs", type=int, metavar="N", help="trivial workflows per latency figure (default 20)")
    ap.add_argument("--settle", type=float, default=5.0, metavar="S", help="wait before the after-RSS (default 5)")
    add_only_option(ap)
    add_run_options(ap, timeout_s=600.0, timeout_per="target", stem="load",
                    unsandboxed_help="the worker uses UnsandboxedWorkflowRunner")
    # An unknown --only name ends the run with Python's own SystemExit handling (status 1), as it always has.
    run_and_exit(amain, ap.parse_args(), catch_system_exit=False)


if __name__ == "__main__":
    main()
