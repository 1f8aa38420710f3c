#!/usr/bin/env python3
"""Whole-server scaling benchmark: cost per workflow at 1k / 10k / 100k open workflows.

Timekeeper vs. Temporal's Java test server, side by side in one run, driven by
the Python SDK.  For every target of ``servers.make_targets()`` the server is
started once, fresh, on a free 127.0.0.1 port; then, for each size N
(default 1,000 / 10,000 / 100,000, growing):

1. **open**: workflows are started (``start_workflow``, ``--concurrency`` in
   flight, default 200) on a task queue no worker polls, until N are open;
   each stays open with a pending workflow task.  Recorded: starts/s of this
   step's batch, server CPU per start, Python CPU / wall (≈1: client-bound).
2. **burst**: with a worker on another task queue, ``e2e_scenarios.scenario_burst``
   (the very code of e2e.py's scenario 3): a few untimed warm-up workflows,
   then B (``--burst``, default 200) ``OneActivity`` workflows started
   concurrently and awaited.  Recorded: server CPU ms per workflow
   (/proc/PID/stat utime+stime), wall, workflows/s, Python CPU / wall.
3. **describe**: median time of ``describe()`` on open workflows.
4. server RSS (VmRSS) at the end of the step, and the RSS added per open
   workflow since the previous step.

One table is printed (rows = open workflows; per target CPU ms/wf, burst wall,
start rate, RSS; plus timekeeper / java ratios for CPU/wf and RSS), then how
each target's CPU/wf grows from the smallest to the largest size (the rule is
printed with it), then a details table.  All of it, with machine facts, goes
to ``Benchmarks/Servers/results/scaling-<YYYY-MM-DD>.md``.  A step that fails for a
target leaves "error: ..." in its cells and the run goes on (after a failed
open phase or a server crash, that target's larger sizes are not run).  Every
server is SIGKILLed and reaped at the end, also on errors and Ctrl-C.

Usage::

    .venv/bin/python Benchmarks/Servers/scaling.py            # 1k, 10k, 100k; both targets
    .venv/bin/python Benchmarks/Servers/scaling.py --quick    # 1k, 5k; burst 50
    .venv/bin/python Benchmarks/Servers/scaling.py --sizes 500,2000 --burst 50 --only timekeeper

Binaries and targets are e2e.py's, from servers.py (``$TIMEKEEPER_BIN``, else
``.build/release/timekeeper``; ``.build-test/java-test-server``).  Server logs
go to ``Benchmarks/Servers/.work/scaling-logs/`` (git-ignored).  The tables and the growth rule are in
``scaling_results.py``.  See Benchmarks/Servers/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import repo_paths  # noqa: E402,F401 -- first: puts Tests/Integration/support on sys.path


from temporalio.client import Client, WorkflowExecutionStatus  # noqa: E402

from bench_workflows import OneActivity  # noqa: E402
from command_line import add_only_option, add_run_options, begin_run, bench_each_target, run_and_exit  # noqa: E402
from e2e_scenarios import Options, Plan, scenario_burst  # noqa: E402
from proc_readings import UsageSince, rss_mib  # noqa: E402
from run_log import log  # noqa: E402
from scaling_results import (  # noqa: E402
    ALL_KEYS,
    BURST_KEYS,
    DESCRIBE_RUNS,
    ScalingResults,
    Settings,
    report,
)
from sdk_driver import gather_all, unique  # noqa: E402
from servers import Target, selected_targets  # noqa: E402
from growing_server import (  # noqa: E402
    connect_failed,
    kill_live_servers,
    new_server,
    parse_sizes,
    phase_runner,
    skipped_as_missing,
    start,
    stop_server,
)

DEFAULT_SIZES = [1_000, 10_000, 100_000]
QUICK_SIZES = [1_000, 5_000]
DEFAULT_BURST = 200
QUICK_BURST = 50
DEFAULT_WARMUP = 5
DEFAULT_CONCURRENCY = 200
PROGRESS_EVERY = 10_000  # log progress of an open batch every this many starts



async def open_workflows(client: Client, task_queue: str, id_prefix: str, first: int, last: int,
                         concurrency: int) -> None:
    """Start workflows ``first .. last-1`` on ``task_queue`` (nobody polls it), ``concurrency`` in flight."""
    next_i = first

    async def pump() -> None:
        nonlocal next_i
        while next_i < last:
            i = next_i
            next_i += 1
            await client.start_workflow(OneActivity.run, f"open{i}", id=f"{id_prefix}-{i}", task_queue=task_queue)
            if i and i % PROGRESS_EVERY == 0:
                log(f"    {i:,} open")

    await gather_all(pump() for _ in range(min(concurrency, last - first)))


async def time_describe(client: Client, id_prefix: str, n_open: int) -> float:
    """Median ms of ``describe()`` on open workflows spread over the ids (2 untimed first)."""
    times: list[float] = []
    for k in range(2 + DESCRIBE_RUNS):
        wf_id = f"{id_prefix}-{(k * 7919) % n_open}"
        t0 = time.perf_counter()
        desc = await client.get_workflow_handle(wf_id).describe()
        if k >= 2:
            times.append((time.perf_counter() - t0) * 1e3)
        if desc.status != WorkflowExecutionStatus.RUNNING:
            raise RuntimeError(f"{wf_id} is {desc.status}, expected RUNNING")
    return statistics.median(times)


async def bench_target(target: Target, st: Settings, res: ScalingResults, log_dir: Path) -> None:
    name = target.name
    if skipped_as_missing(target, st.sizes, res, ALL_KEYS):
        return
    server = new_server(target, log_dir)
    try:
        try:
            start(server, name)
            client = await asyncio.wait_for(server.connect(), st.timeout)
            await asyncio.sleep(1.0)
            prev_rss = rss_mib(server.pid)
            log(f"[{name}] connected; idle RSS {prev_rss:.1f} MiB")
        except Exception as e:  # noqa: BLE001 -- record and carry on with the next target
            connect_failed(name, e, st.sizes, res, ALL_KEYS)
            return

        e2e_opts = Options(plan=Plan(burst=st.burst, burst_warmup=st.warmup),
                           scenario_timeout=st.timeout, unsandboxed=st.unsandboxed)
        open_tq, id_prefix = unique("scaling-open"), unique("open")
        opened, prev_n = 0, 0
        stop: str | None = None  # why the remaining sizes are not run

        phase = phase_runner(name, server, res, "open")

        for n in st.sizes:
            row = res.row(name, n)
            if stop is not None:
                res.fail(name, n, ALL_KEYS, stop)
                continue

            async def do_open() -> None:
                nonlocal opened
                count = n - opened
                log(f"[{name}] opening {count:,} workflows ({opened:,} -> {n:,}) ...")
                usage = UsageSince(server.pid)
                await asyncio.wait_for(open_workflows(client, open_tq, id_prefix, opened, n, st.concurrency),
                                       st.timeout)
                wall = usage.wall_s()
                cpu, py = usage.server_cpu_s(), usage.python_cpu_s()
                opened = n
                row.update(start_rate=count / wall, start_cpu_us=cpu * 1e6 / count, start_py_util=py / wall)
                log(f"    {count:,} started in {wall:.1f} s ({count / wall:.0f}/s)")
                await asyncio.sleep(1.0)  # let the server settle before the burst

            if not await phase(n, "open", ALL_KEYS, do_open):
                stop = "error: not run"  # the open count is unknown now
                continue

            async def do_burst() -> None:
                out = await scenario_burst(client, server, e2e_opts)
                row.update(cpu_per_wf=out["burst_cpu_per_wf"], burst_wall=out["burst_wall"],
                           burst_rate=out["burst_rate"], burst_py_util=out["burst_py_util"])

            async def do_describe() -> None:
                row["describe_ms"] = await asyncio.wait_for(time_describe(client, id_prefix, n), st.timeout)

            await phase(n, f"burst of {st.burst}", BURST_KEYS, do_burst)
            if server.alive():
                await phase(n, "describe", ["describe_ms"], do_describe)
            if not server.alive():
                stop = "error: not run"
                res.fail(name, n, ALL_KEYS, "error: server died")
                continue
            rss = rss_mib(server.pid)
            row["rss"] = rss
            row["kib_per_open"] = (rss - prev_rss) * 1024 / (n - prev_n)
            prev_rss, prev_n = rss, n
    finally:
        await stop_server(name, server, res)


async def amain(args: argparse.Namespace) -> int:
    sizes = parse_sizes(args.sizes, QUICK_SIZES if args.quick else DEFAULT_SIZES)
    st = Settings(sizes=sizes, burst=args.burst or (QUICK_BURST if args.quick else DEFAULT_BURST),
                  warmup=args.warmup, concurrency=args.concurrency, timeout=args.timeout,
                  unsandboxed=args.unsandboxed, quick=args.quick)

    targets = selected_targets(args.only)

    run, log_dir = begin_run("scaling-logs", f"; sizes {sizes}; burst {st.burst}")
    res = ScalingResults()
    await bench_each_target(run, targets, lambda t: bench_target(t, st, res, log_dir))

    report(st, targets, res, run, args.out)
    return 1 if res.errors else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", metavar="N,N,...",
                    help=f"open-workflow counts (default {','.join(map(str, DEFAULT_SIZES))})")
    ap.add_argument("--quick", action="store_true",
                    help=f"sizes {','.join(map(str, QUICK_SIZES))} and burst {QUICK_BURST}, for smoke runs")
    ap.add_argument("--burst", type=int, default=None, metavar="B",
                    help=f"timed one-activity workflows per size (default {DEFAULT_BURST}; {QUICK_BURST} with --quick)")
    ap.add_argument("--warmup", type=int, default=DEFAULT_WARMUP, metavar="W",
                    help=f"untimed warm-up workflows before each burst (default {DEFAULT_WARMUP})")
    ap.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY, metavar="N",
                    help=f"in-flight starts while opening workflows (default {DEFAULT_CONCURRENCY})")
    add_only_option(ap)
    add_run_options(ap, timeout_s=1800.0, timeout_per="phase", stem="scaling",
                    unsandboxed_help="burst worker uses UnsandboxedWorkflowRunner")

    run_and_exit(amain, ap.parse_args(), on_interrupt=lambda: log("interrupted"), on_exit=kill_live_servers)


if __name__ == "__main__":
    main()
