#!/usr/bin/env python3
"""End-to-end benchmark: Timekeeper vs. Temporal's Java test server, driven by the Python SDK.

For every target (a name plus an argv template containing ``{port}``) this
starts the server fresh, connects with ``Client.connect("127.0.0.1:PORT")``,
runs a Worker with fixed settings (``WORKER_SETTINGS``) and measures:

1. ready time after exec (median of a few trials, via ``startup.run_trial``);
2. idle RSS of the server after the client connected;
3. a burst of N one-activity workflows started concurrently, then awaited:
   wall s, workflows/s, server CPU s and CPU ms/workflow, RSS after, and the
   CPU time of this Python process (worker + client) over the same interval;
4. trivial-workflow latency (sequential ``execute_workflow``): median / p90;
5. signal -> result latency for an idle workflow: median / p90;
6. one workflow doing M sequential 1-hour ``asyncio.sleep``s under time
   skipping (``WorkflowEnvironment.start_time_skipping``, own fresh server);
7. S workflows each sleeping one virtual day, started then awaited under time
   skipping (own fresh server): wall s and the server's peak RSS (VmHWM).

One table is printed at the end (rows = metrics, columns = targets, plus a
"timekeeper / java" ratio column) and written, with machine facts, to
``Benchmarks/Servers/results/e2e-<YYYY-MM-DD>.md``.  A scenario that fails for a
target leaves "error: ..." in its cells and the run goes on.

Usage::

    .venv/bin/python Benchmarks/Servers/e2e.py              # full run, all targets
    .venv/bin/python Benchmarks/Servers/e2e.py --quick      # ~10x smaller smoke run
    .venv/bin/python Benchmarks/Servers/e2e.py --only java-test-server --sleepers 2000

Timekeeper is ``$TIMEKEEPER_BIN``, else ``<repo>/.build/release/timekeeper``
if it exists, else ``<repo>/.build/debug/timekeeper`` (debug figures are not
meaningful).  Server logs go to ``Benchmarks/Servers/.work/e2e-logs/`` (git-ignored).
The scenarios are in ``e2e_scenarios.py``; targets, the server process, /proc readings, the worker,
machine facts and the report are shared with scaling.py and load.py (``servers.py``,
``proc_readings.py``, ``sdk_driver.py``, ``machine_facts.py``, ``reports.py``, ``command_line.py``).
See Benchmarks/Servers/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import traceback
from pathlib import Path
from typing import Awaitable, Callable

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import repo_paths  # noqa: E402,F401 -- first: puts Tests/Integration/support on sys.path

from startup import TrialError  # noqa: E402

from temporalio.client import Client  # noqa: E402

from command_line import add_only_option, add_run_options, begin_run, run_and_exit  # noqa: E402
from e2e_scenarios import (  # noqa: E402
    DEFAULT_SLEEPER_CONCURRENCY,
    Options,
    Plan,
    scenario_burst,
    scenario_ready,
    scenario_signal,
    scenario_sleepers,
    scenario_sleeps,
    scenario_trivial,
)
from machine_facts import RunRecord, machine_facts  # noqa: E402
from netutil import LOOPBACK  # noqa: E402
from proc_readings import rss_mib  # noqa: E402
from reports import Cell, Metric, Results, md_table, print_report, table_rows, write_results_file  # noqa: E402
from run_log import log, short_error  # noqa: E402
from sdk_driver import CORE_LOGS  # noqa: E402
from servers import RATIO, Server, Target, binary_missing, selected_targets  # noqa: E402


def metrics_for(plan: Plan) -> list[Metric]:
    return [
        Metric("ready_ms", f"1. ready after exec, median of {plan.ready_trials} (ms)", ".1f"),
        Metric("idle_rss", "2. idle RSS after connect (MiB)", ".1f"),
        Metric("burst_wall", f"3. burst {plan.burst} x 1-activity wf: wall (s)", ".2f"),
        Metric("burst_rate", "3. burst: workflows/s (HIGHER is better)", ".1f", "higher"),
        Metric("burst_cpu", "3. burst: server CPU (s)", ".2f"),
        Metric("burst_cpu_per_wf", "3. burst: server CPU per workflow (ms)", ".2f"),
        Metric("burst_rss", "3. burst: server RSS after (MiB)", ".1f"),
        Metric("burst_syscalls", "3. burst: server read + write system calls per workflow", ".1f"),
        Metric("burst_py_cpu", "3. burst: Python worker+client CPU (s)", ".2f"),
        Metric("burst_py_util", "3. burst: Python CPU / wall (info)", ".2f", None),
        Metric("trivial_med", f"4. trivial wf latency, median of {plan.trivial_runs} (ms)", ".1f"),
        Metric("trivial_p90", "4. trivial wf latency, p90 (ms)", ".1f"),
        Metric("trivial_cpu", "4. trivial: server CPU per workflow (ms)", ".2f"),
        Metric("trivial_py_cpu", "4. trivial: Python worker+client CPU per workflow (ms)", ".2f"),
        Metric("signal_med", f"5. signal -> result, median of {plan.signal_runs} (ms)", ".1f"),
        Metric("signal_p90", "5. signal -> result, p90 (ms)", ".1f"),
        Metric("sleeps_wall", f"6. 1 wf x {plan.sleeps} sequential 1 h sleeps, time-skipping: wall (s)", ".2f"),
        Metric("sleeps_cpu", "6. sleeps: server CPU (s)", ".2f"),
        Metric("sleeps_py_cpu", "6. sleeps: Python worker+client CPU (s)", ".2f"),
        Metric("sleepers_wall", f"7. {plan.sleepers} wf x 1-day sleep, time-skipping: wall (s)", ".2f"),
        Metric("sleepers_start", "7. sleepers: of which starting them all (s)", ".2f"),
        Metric("sleepers_hwm", "7. sleepers: server peak RSS, VmHWM (MiB)", ".1f"),
        Metric("sleepers_cpu", "7. sleepers: server CPU (s)", ".2f"),
        Metric("sleepers_py_cpu", "7. sleepers: Python worker+client CPU (s)", ".2f"),
        Metric("rpc_retries", "SDK-core 'gRPC call ... retried' warnings, all scenarios (count)", ".0f"),
    ]


SCENARIO_KEYS = {
    "ready": ["ready_ms"],
    "idle": ["idle_rss"],
    "burst": ["burst_wall", "burst_rate", "burst_cpu", "burst_cpu_per_wf", "burst_rss", "burst_syscalls",
              "burst_py_cpu", "burst_py_util"],
    "trivial": ["trivial_med", "trivial_p90", "trivial_cpu", "trivial_py_cpu"],
    "signal": ["signal_med", "signal_p90"],
    "sleeps": ["sleeps_wall", "sleeps_cpu", "sleeps_py_cpu"],
    "sleepers": ["sleepers_wall", "sleepers_start", "sleepers_hwm", "sleepers_cpu", "sleepers_py_cpu"],
}


def median_of_rounds(rounds: list[Results]) -> Results:
    """One table from several rounds: the median of each number (the sum for counts of retries); an
    error in any round wins, so a failure is never hidden by the other rounds."""
    out = Results()
    for r in rounds:
        out.errors += r.errors
        out.notes += r.notes
    for metric in {m for r in rounds for m in r.cells}:
        for target in {t for r in rounds for t in r.cells.get(metric, {})}:
            values = [r.cells[metric][target] for r in rounds if target in r.cells.get(metric, {})]
            errors = [v for v in values if isinstance(v, str) and v.startswith("error")]
            numbers = [v for v in values if isinstance(v, (int, float))]
            if errors:
                cell: Cell = errors[0]
            elif numbers:
                cell = sum(numbers) if metric == "rpc_retries" else statistics.median(numbers)
            else:
                cell = values[0]
            out.cells.setdefault(metric, {})[target] = cell
    return out


async def run_scenario(res: Results, target: Target, scenario: str,
                       fn: Callable[[], Awaitable[dict[str, Cell]]], opts: Options) -> bool:
    if opts.scenarios and scenario not in opts.scenarios and scenario != "idle":
        res.fill(target.name, SCENARIO_KEYS[scenario], "not run")
        return True
    log(f"[{target.name}] {scenario} ...")
    t0 = time.perf_counter()
    CORE_LOGS.take()
    try:
        res.put(target.name, await fn())
        log(f"[{target.name}] {scenario} done in {time.perf_counter() - t0:.1f} s")
        return True
    except Exception as e:  # noqa: BLE001 -- record and carry on
        msg = short_error(e)
        log(f"[{target.name}] {scenario} FAILED: {msg}")
        if os.environ.get("E2E_TRACEBACK"):
            traceback.print_exc()
        res.errors.append(f"{target.name} / {scenario}: {msg}")
        res.fill(target.name, SCENARIO_KEYS[scenario], f"error: {short_error(e, 70)}")
        return False
    finally:
        await asyncio.sleep(0.2)  # let the core's buffered logs arrive
        n, sample = CORE_LOGS.take()
        if n:
            row = res.cells.setdefault("rpc_retries", {})
            row[target.name] = float(row.get(target.name, 0.0)) + n  # type: ignore[arg-type]
            res.notes.append(f"{target.name} / {scenario}: {n} RPC-retry warnings from the SDK core, e.g. {sample}")


async def bench_target(target: Target, opts: Options, res: Results, log_dir: Path, with_sleepers: bool = True) -> None:
    exe = target.argv[0]
    if binary_missing(target):
        for keys in SCENARIO_KEYS.values():
            res.fill(target.name, keys, "n/a: binary not found")
        res.errors.append(f"{target.name}: {exe} not found")
        log(f"[{target.name}] skipped: {exe} not found")
        return

    async def ready() -> dict[str, Cell]:
        try:
            return await asyncio.to_thread(scenario_ready, target, opts.plan)
        except TrialError as e:
            raise RuntimeError(str(e)) from None

    res.cells.setdefault("rpc_retries", {})[target.name] = 0.0
    await run_scenario(res, target, "ready", ready, opts)

    server = Server(target, log_dir)
    try:
        server.start()
        log(f"[{target.name}] server pid {server.pid} on {LOOPBACK}:{server.port}, log {server.log_path}")
        client: Client | None = None

        async def idle() -> dict[str, Cell]:
            nonlocal client
            client = await server.connect()
            await asyncio.sleep(1.0)
            return {"idle_rss": rss_mib(server.pid)}

        if await run_scenario(res, target, "idle", idle, opts):
            assert client is not None
            c: Client = client
            for name, fn in (("burst", lambda: scenario_burst(c, server, opts)),
                             ("trivial", lambda: scenario_trivial(c, server, opts)),
                             ("signal", lambda: scenario_signal(c, opts))):
                await run_scenario(res, target, name, lambda fn=fn: server.checked(fn), opts)
        else:
            for sc in ("burst", "trivial", "signal"):
                res.fill(target.name, SCENARIO_KEYS[sc], "error: server not usable (see idle)")
    finally:
        server.kill()

    for name, fn in (("sleeps", lambda: scenario_sleeps(target, opts)),
                     ("sleepers", lambda: scenario_sleepers(target, opts))):
        if name == "sleepers" and not with_sleepers:
            continue  # a later round: the long scenario runs once
        if not target.time_skipping:
            res.fill(target.name, SCENARIO_KEYS[name], "n/a: no time skipping")
            continue
        await run_scenario(res, target, name, fn, opts)


def facts(opts: Options, targets: list[Target], run: RunRecord) -> list[tuple[str, str]]:
    plan = opts.plan
    return machine_facts(targets, run, opts.unsandboxed) + [
        ("sizes", f"ready trials {plan.ready_trials} (+1 warm-up); burst {plan.burst} (+{plan.burst_warmup} warm-up); "
                  f"trivial {plan.trivial_runs} (+{plan.trivial_warmup} warm-up); signal {plan.signal_runs} (+1 warm-up); "
                  f"sleeps {plan.sleeps}; sleepers {plan.sleepers} (start/await concurrency {opts.sleeper_concurrency})"),
        ("scenario timeout", f"{opts.scenario_timeout:.0f} s"),
        ("rounds", f"{opts.rounds}: every scenario but the sleepers (scenario 7, first round only) ran once per round, targets alternating; "
                   "each cell is the median of the rounds"),
    ]


async def amain(args: argparse.Namespace) -> int:
    plan = Plan.quick() if args.quick else Plan()
    if args.sleepers is not None:
        plan.sleepers = args.sleepers
    opts = Options(plan=plan, scenario_timeout=args.timeout, unsandboxed=args.unsandboxed,
                   scenarios=set(args.scenario or []), sleeper_concurrency=args.concurrency, rounds=args.rounds)

    targets = selected_targets(args.only)

    run, log_dir = begin_run("e2e-logs")
    rounds: list[Results] = []
    # Short scenarios vary by 10-40 % from one run to the next on this kind of machine: each round runs
    # every target once, targets alternating, and the table holds the median of the rounds. The 10,000
    # sleepers run in the first round only.
    for round_index in range(args.rounds):
        res = Results()
        rounds.append(res)
        for t in targets:
            load = run.target_starting(t, first_round=round_index == 0)
            log(f"[{t.name}] round {round_index + 1}/{args.rounds}, load average {load}")
            await bench_target(t, opts, res, log_dir, with_sleepers=round_index == 0)
            run.target_done(t)
    res = median_of_rounds(rounds)
    run.finish()

    header, rows = table_rows(metrics_for(plan), targets, res)
    title = (f"Timekeeper end-to-end benchmark{' (--quick)' if args.quick else ''}: "
             f"lower is better except workflows/s; ratio = {RATIO[0]} / {RATIO[1]}")
    fact_list = facts(opts, targets, run)
    print_report(title, header, rows, fact_list, res)
    write_results_file(args.out, "e2e", args.quick, [
        f"# {title}", "", md_table(header, rows), "",
        "Lower is better for every row except *workflows/s*; *(info)* rows have no ratio.",
        "Ratios > 1 mean timekeeper is slower / bigger (or, for workflows/s, faster).", ""],
        fact_list, res.errors, res.notes)
    return 1 if res.errors else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="~10x smaller sizes, for smoke runs")
    ap.add_argument("--sleepers", type=int, default=None, metavar="N",
                    help="workflows in scenario 7 (default 10000; 1000 with --quick)")
    add_only_option(ap)
    ap.add_argument("--scenario", action="append", choices=list(SCENARIO_KEYS), metavar="NAME",
                    help=f"run only this scenario (repeatable; {', '.join(SCENARIO_KEYS)})")
    ap.add_argument("--concurrency", type=int, default=DEFAULT_SLEEPER_CONCURRENCY, metavar="N",
                    help=f"max in-flight starts / result() calls in scenario 7 (default {DEFAULT_SLEEPER_CONCURRENCY})")
    add_run_options(ap, timeout_s=900.0, timeout_per="scenario", stem="e2e",
                    unsandboxed_help="use UnsandboxedWorkflowRunner (less Python CPU; default is the SDK's sandbox)")
    ap.add_argument("--rounds", type=int, default=3, metavar="N",
                    help="rounds of the short scenarios, targets alternating; cells are medians (default 3)")
    run_and_exit(amain, ap.parse_args())


if __name__ == "__main__":
    main()
