"""e2e.py's scenarios (and its sizes): each returns {metric_key: value}; ``e2e.run_scenario`` turns an
exception into "error: ..." for the scenario's keys.  scaling.py runs ``scenario_burst`` too."""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import AsyncIterator, Awaitable, Callable

import repo_paths  # noqa: F401 -- first: puts Tests/Integration/support on sys.path

from netutil import free_loopback_port  # noqa: E402
from startup import p90, run_trial  # noqa: E402

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from bench_workflows import AwaitsSignal, OneActivity, SequentialSleeps, SleepsOnce, Trivial
from proc_readings import UsageSince, cmdline_of, ensure_dead, find_child_server, proc_io_syscalls, rss_mib, stat_fields
from reports import Cell
from run_log import log, short_error
from sdk_driver import bounded_gather, gather_all, guarded, running_worker, unique
from servers import SERVER_READY_TIMEOUT_S, Server, Target

DEFAULT_SLEEPER_CONCURRENCY = 200  # max in-flight start/result RPCs in the sleepers scenario


@dataclass
class Plan:
    ready_trials: int = 5
    burst: int = 200
    burst_warmup: int = 5
    trivial_runs: int = 100
    trivial_warmup: int = 5
    signal_runs: int = 30
    sleeps: int = 1000
    sleepers: int = 10000

    @classmethod
    def quick(cls) -> "Plan":
        return cls(ready_trials=2, burst=20, burst_warmup=2, trivial_runs=5, trivial_warmup=1,
                   signal_runs=3, sleeps=100, sleepers=1000)


@dataclass
class Options:
    plan: Plan
    scenario_timeout: float
    unsandboxed: bool
    scenarios: set[str] = field(default_factory=set)  # empty = all
    sleeper_concurrency: int = DEFAULT_SLEEPER_CONCURRENCY
    rounds: int = 1


def ms_since(t0: float) -> float:
    return (time.perf_counter() - t0) * 1e3


def scenario_ready(target: Target, plan: Plan) -> dict[str, Cell]:
    ready: list[float] = []
    for i in range(1 + plan.ready_trials):  # first trial is an untimed warm-up
        _, ready_ms = run_trial(target.argv, SERVER_READY_TIMEOUT_S)
        if i:
            ready.append(ready_ms)
    return {"ready_ms": statistics.median(ready)}


async def scenario_burst(client: Client, server: Server, opts: Options) -> dict[str, Cell]:
    plan, tq = opts.plan, unique("e2e-burst")
    out: dict[str, Cell] = {}
    async with running_worker(client, tq, opts.unsandboxed) as wt:
        async def body() -> None:
            # Untimed warm-up (sandbox imports, sticky caches, JIT-free servers' first paths).
            await gather_all((
                client.execute_workflow(OneActivity.run, f"w{i}", id=unique("warm"), task_queue=tq)
                for i in range(plan.burst_warmup)))
            usage = UsageSince(server.pid)
            io0 = proc_io_syscalls(server.pid)
            handles = await gather_all((
                client.start_workflow(OneActivity.run, f"b{i}", id=unique(f"burst{i}"), task_queue=tq)
                for i in range(plan.burst)))
            results = await gather_all(h.result() for h in handles)
            wall = usage.wall_s()
            cpu, py = usage.server_cpu_s(), usage.python_cpu_s()
            io = proc_io_syscalls(server.pid) - io0
            if results != [f"b{i}" for i in range(plan.burst)]:
                raise RuntimeError("burst returned wrong results")
            out.update(burst_wall=wall, burst_rate=plan.burst / wall, burst_cpu=cpu,
                       burst_cpu_per_wf=cpu * 1e3 / plan.burst, burst_rss=rss_mib(server.pid),
                       burst_syscalls=io / plan.burst, burst_py_cpu=py, burst_py_util=py / wall)
        await guarded(body(), wt, opts.scenario_timeout)
    return out


async def scenario_trivial(client: Client, server: Server, opts: Options) -> dict[str, Cell]:
    plan, tq = opts.plan, unique("e2e-trivial")
    async with running_worker(client, tq, opts.unsandboxed) as wt:
        async def one() -> float:
            t0 = time.perf_counter()
            r = await client.execute_workflow(Trivial.run, id=unique("trivial"), task_queue=tq)
            ms = ms_since(t0)
            if r != 1:
                raise RuntimeError(f"trivial returned {r!r}")
            return ms

        async def body() -> tuple[list[float], float, float]:
            for _ in range(plan.trivial_warmup):
                await one()
            usage = UsageSince(server.pid)
            times = [await one() for _ in range(plan.trivial_runs)]
            return times, usage.server_cpu_s(), usage.python_cpu_s()
        times, cpu, py = await guarded(body(), wt, opts.scenario_timeout)
    # One workflow at a time: each one's latency holds its server CPU and its Python CPU end to end, so
    # the Python CPU per workflow is a floor under the latency that no server can go below.
    return {"trivial_med": statistics.median(times), "trivial_p90": p90(times),
            "trivial_cpu": cpu * 1e3 / plan.trivial_runs, "trivial_py_cpu": py * 1e3 / plan.trivial_runs}


async def scenario_signal(client: Client, opts: Options) -> dict[str, Cell]:
    plan, tq = opts.plan, unique("e2e-signal")
    async with running_worker(client, tq, opts.unsandboxed) as wt:
        async def body() -> list[float]:
            times: list[float] = []
            for i in range(1 + plan.signal_runs):  # first run is an untimed warm-up
                h = await client.start_workflow(AwaitsSignal.run, id=unique("signal"), task_queue=tq)
                if not await h.query(AwaitsSignal.waiting):  # first workflow task done: idle
                    raise RuntimeError("workflow not waiting")
                t0 = time.perf_counter()
                await h.signal(AwaitsSignal.go, f"v{i}")
                r = await h.result()
                if i:
                    times.append(ms_since(t0))
                if r != f"v{i}":
                    raise RuntimeError(f"signal workflow returned {r!r}")
            return times
        times = await guarded(body(), wt, opts.scenario_timeout)
    return {"signal_med": statistics.median(times), "signal_p90": p90(times)}


@asynccontextmanager
async def time_skipping_env(target: Target) -> AsyncIterator[tuple[WorkflowEnvironment, int]]:
    """A fresh V1 time-skipping environment on ``target``; yields (env, server pid)."""
    if len(target.argv) < 2 or target.argv[1] != "{port}":
        raise RuntimeError("argv must be [binary, '{port}', ...] for time skipping")
    port = free_loopback_port()
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=target.argv[0], port=port,
        test_server_extra_args=[a.replace("{port}", str(port)) for a in target.argv[2:]],
        test_server_startup_timeout=timedelta(seconds=SERVER_READY_TIMEOUT_S))
    pid, cmdline = -1, []
    try:
        pid = find_child_server(port)
        cmdline = cmdline_of(pid)
        try:
            yield env, pid
        except Exception as e:
            if cmdline_of(pid) != cmdline or stat_fields(pid)[0] == "Z":
                raise RuntimeError(f"server process died ({short_error(e, 100)})") from e
            raise
    finally:
        try:
            await asyncio.wait_for(env.shutdown(), 30)
        except BaseException as e:  # noqa: BLE001
            log(f"    env shutdown: {short_error(e)}")
        if pid > 0:
            ensure_dead(pid, cmdline)


async def with_time_skipping_worker(target: Target, opts: Options, scenario: str,
                                    body: Callable[[WorkflowEnvironment, str, UsageSince], Awaitable[dict[str, Cell]]]
                                    ) -> dict[str, Cell]:
    """``body(env, task_queue, usage)`` with a worker on a fresh time-skipping server, within the scenario
    timeout; ``usage`` counts from just before ``body``, on that server."""
    tq = unique(f"e2e-{scenario}")
    async with time_skipping_env(target) as (env, pid):
        async with running_worker(env.client, tq, opts.unsandboxed) as wt:
            async def measured() -> dict[str, Cell]:
                return await body(env, tq, UsageSince(pid))
            return await guarded(measured(), wt, opts.scenario_timeout)


async def scenario_sleeps(target: Target, opts: Options) -> dict[str, Cell]:
    plan = opts.plan

    async def body(env: WorkflowEnvironment, tq: str, usage: UsageSince) -> dict[str, Cell]:
        r = await env.client.execute_workflow(
            SequentialSleeps.run, args=[plan.sleeps, 3600.0], id=unique("sleeps"), task_queue=tq)
        wall = usage.wall_s()
        if r != plan.sleeps:
            raise RuntimeError(f"sleeps returned {r!r}")
        return {"sleeps_wall": wall, "sleeps_cpu": usage.server_cpu_s(), "sleeps_py_cpu": usage.python_cpu_s()}

    return await with_time_skipping_worker(target, opts, "sleeps", body)


async def scenario_sleepers(target: Target, opts: Options) -> dict[str, Cell]:
    plan = opts.plan

    async def body(env: WorkflowEnvironment, tq: str, usage: UsageSince) -> dict[str, Cell]:
        # Started while the environment holds its time-skipping lock ...
        handles = await bounded_gather(
            (lambda i=i: env.client.start_workflow(
                SleepsOnce.run, 86400.0, id=f"sleeper-{i}-{uuid.uuid4().hex[:8]}", task_queue=tq)
             for i in range(plan.sleepers)), opts.sleeper_concurrency)
        started = usage.wall_s()
        log(f"    {plan.sleepers} sleepers started in {started:.1f} s; awaiting")
        # ... then awaited under ONE unlock (the SDK would otherwise unlock/lock once per
        # result() call).
        async with env.time_skipping_unlocked():  # type: ignore[attr-defined]
            with env.auto_time_skipping_disabled():
                results = await bounded_gather(
                    (lambda h=h: h.result() for h in handles), opts.sleeper_concurrency)
        wall = usage.wall_s()
        if any(r != 86400.0 for r in results):
            raise RuntimeError("a sleeper returned a wrong result")
        return {"sleepers_wall": wall, "sleepers_start": started, "sleepers_hwm": rss_mib(usage.pid, "VmHWM"),
                "sleepers_cpu": usage.server_cpu_s(), "sleepers_py_cpu": usage.python_cpu_s()}

    return await with_time_skipping_worker(target, opts, "sleepers", body)
