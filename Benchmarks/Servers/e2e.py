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
See Benchmarks/Servers/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import resource
import signal
import statistics
import subprocess
import sys
import time
import traceback
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Iterable

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent.parent  # Benchmarks/Servers -> the repository
for _p in (str(BENCH_DIR), str(REPO_ROOT / "Tests" / "Integration" / "support")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from build_support import ensure_java_test_server_wrapper  # noqa: E402
from netutil import LOOPBACK, free_loopback_port  # noqa: E402
from startup import TrialError, p90, run_trial  # noqa: E402

import temporalio  # noqa: E402
from temporalio.client import Client  # noqa: E402
from temporalio.runtime import (  # noqa: E402
    LogForwardingConfig,
    LoggingConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)
from temporalio.testing import WorkflowEnvironment  # noqa: E402
from temporalio.worker import Worker  # noqa: E402
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner  # noqa: E402
from temporalio.worker import UnsandboxedWorkflowRunner  # noqa: E402

from bench_workflows import (  # noqa: E402
    ACTIVITIES,
    WORKFLOWS,
    AwaitsSignal,
    OneActivity,
    SequentialSleeps,
    SleepsOnce,
    Trivial,
)

# --------------------------------------------------------------------------
# Targets.  Add one with one line.  ``time_skipping`` means the binary speaks
# the V1 TestService and follows the test-server launch contract
# ``argv[0] PORT argv[2:]...`` (argv[1] must be "{port}"), so the SDK can start
# it via ``WorkflowEnvironment.start_time_skipping``; otherwise scenarios 6-7
# are reported "n/a".
# --------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    argv: list[str]
    time_skipping: bool = True


def timekeeper_bin() -> tuple[str, str]:
    """(path, how it was chosen)."""
    raw = os.environ.get("TIMEKEEPER_BIN")
    if raw:
        path = Path(raw)
        path = path if path.is_absolute() else REPO_ROOT / path
        return str(path), "$TIMEKEEPER_BIN"
    release = REPO_ROOT / ".build" / "release" / "timekeeper"
    if release.exists():
        return str(release), "release build"
    return str(REPO_ROOT / ".build" / "debug" / "timekeeper"), "DEBUG build (figures not meaningful for goals)"


def make_targets() -> list[Target]:
    # An A/B of two builds: $TIMEKEEPER_BASELINE_BIN adds the other build as one more target.
    baseline = os.environ.get("TIMEKEEPER_BASELINE_BIN")
    return [
        Target("timekeeper", [timekeeper_bin()[0], "{port}"]),
        *([Target("timekeeper-baseline", [baseline, "{port}"])] if baseline else []),
        Target("java-test-server", [str(ensure_java_test_server_wrapper()), "{port}"]),
        # Future targets plug in as one line, e.g.:
        # Target("timekeeper-dev", [timekeeper_bin()[0], "dev", "--port", "{port}", "--db", "/tmp/tk.db"], time_skipping=False),
        # Target("temporal-dev", ["temporal", "server", "start-dev", "--ip", LOOPBACK, "--port", "{port}", "--headless"], time_skipping=False),
    ]


RATIO = ("timekeeper", "java-test-server")  # ratio column = RATIO[0] / RATIO[1]

# Fixed worker settings (same for every target and scenario).  Pollers stay at
# the SDK defaults (5 workflow-task and 5 activity-task pollers, simple maximum).
WORKER_SETTINGS: dict[str, Any] = dict(
    max_concurrent_workflow_tasks=100,
    max_concurrent_activities=100,
    max_cached_workflows=1000,  # SDK default, stated for clarity
)

SERVER_READY_TIMEOUT_S = 60.0
DEFAULT_SLEEPER_CONCURRENCY = 200  # max in-flight start/result RPCs in the sleepers scenario


# --------------------------------------------------------------------------
# Plan (sizes) and metrics
# --------------------------------------------------------------------------


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
class Metric:
    key: str
    label: str
    fmt: str  # format spec for numbers
    better: str | None = "lower"  # "lower", "higher", or None (informational, no ratio)


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


Cell = float | str  # a number, or "error: ..." / "n/a ..."


# --------------------------------------------------------------------------
# /proc helpers
# --------------------------------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_status_kib(pid: int, field_name: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field_name} not in /proc/{pid}/status")


def rss_mib(pid: int, field_name: str = "VmRSS") -> float:
    return proc_status_kib(pid, field_name) / 1024.0


def _stat_fields(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as f:
        data = f.read()
    return data[data.rindex(")") + 2 :].split()  # fields from #3 (state) on


def proc_cpu_s(pid: int) -> float:
    """utime + stime of the process (all threads), seconds."""
    rest = _stat_fields(pid)
    return (int(rest[11]) + int(rest[12])) / CLK_TCK


def proc_io_syscalls(pid: int) -> int:
    """Read-like plus write-like system calls the process has made (/proc/PID/io syscr + syscw): how
    well a server batches its socket reads and writes."""
    with open(f"/proc/{pid}/io") as f:
        fields = dict(line.split(":", 1) for line in f)
    return int(fields["syscr"]) + int(fields["syscw"])


def self_cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def find_child_server(port: int, timeout_s: float = 5.0) -> int:
    """PID of our child process whose command line contains ``port`` (the SDK-launched server)."""
    me = os.getpid()
    deadline = time.monotonic() + timeout_s
    while True:
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            try:
                if int(_stat_fields(pid)[1]) != me:
                    continue
            except (OSError, ValueError, IndexError):
                continue
            if str(port) in _cmdline(pid):
                return pid
        if time.monotonic() > deadline:
            raise RuntimeError(f"cannot find the server process for port {port}")
        time.sleep(0.05)


def ensure_dead(pid: int, cmdline: list[str]) -> None:
    """SIGKILL ``pid`` if it is still the same (non-zombie) process, then wait for it."""
    if not cmdline or _cmdline(pid) != cmdline:
        _reap(pid)
        return
    try:
        if _stat_fields(pid)[0] != "Z":
            os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if _reap(pid):
            return
        try:
            if _stat_fields(pid)[0] == "Z":
                return  # dead; the SDK's runtime will reap it
        except OSError:
            return
        time.sleep(0.02)


def _reap(pid: int) -> bool:
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == pid
    except ChildProcessError:
        return not os.path.exists(f"/proc/{pid}")


# --------------------------------------------------------------------------
# Misc helpers
# --------------------------------------------------------------------------


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class CoreLogCounter(logging.Handler):
    """Receives the SDK core's WARN+ logs: counts RPC-retry warnings, echoes each distinct message once."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.retries = 0
        self.sample: str | None = None
        self._seen: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        msg = " ".join(record.getMessage().split())
        if "retried" in msg:
            self.retries += 1
            self.sample = self.sample or msg[:300]
        key = msg[:90]
        if key not in self._seen:
            self._seen.add(key)
            log(f"    sdk-core {record.levelname}: {msg[:300]}")

    def take(self) -> tuple[int, str | None]:
        n, sample = self.retries, self.sample
        self.retries, self.sample = 0, None
        return n, sample


CORE_LOGS = CoreLogCounter()


def install_core_log_counter() -> None:
    """Route the SDK core's logs through CORE_LOGS (must run before any Client exists)."""
    logger = logging.getLogger("e2e.sdk_core")
    logger.propagate = False
    logger.setLevel(logging.WARNING)
    logger.addHandler(CORE_LOGS)
    Runtime.set_default(Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(
        filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
        forwarding=LogForwardingConfig(logger=logger)))))


def short_error(e: BaseException, limit: int = 160) -> str:
    if isinstance(e, (asyncio.TimeoutError, TimeoutError)) and not str(e):
        return "timed out"
    text = f"{type(e).__name__}: {e}".strip()
    cause = e.__cause__ or (None if e.__suppress_context__ else e.__context__)
    if cause is not None and type(cause).__name__ != type(e).__name__ and str(cause) and str(cause) not in text:
        text += f" (cause: {type(cause).__name__}: {cause})"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def ms_since(t0: float) -> float:
    return (time.perf_counter() - t0) * 1e3


async def gather_all(aws: Iterable[Awaitable[Any]]) -> list[Any]:
    """Like asyncio.gather, but the first failure cancels the rest (no RPCs left running behind)."""
    try:
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(a) for a in aws]  # type: ignore[arg-type]
    except BaseExceptionGroup as eg:
        leaf: BaseException = eg
        while isinstance(leaf, BaseExceptionGroup):
            leaf = leaf.exceptions[0]
        raise leaf from None
    return [t.result() for t in tasks]


async def bounded_gather(aws: Iterable[Callable[[], Awaitable[Any]]], limit: int) -> list[Any]:
    sem = asyncio.Semaphore(limit)

    async def one(fn: Callable[[], Awaitable[Any]]) -> Any:
        async with sem:
            return await fn()

    return await gather_all(one(fn) for fn in aws)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@dataclass
class Options:
    plan: Plan
    scenario_timeout: float
    unsandboxed: bool
    scenarios: set[str] = field(default_factory=set)  # empty = all
    sleeper_concurrency: int = DEFAULT_SLEEPER_CONCURRENCY
    rounds: int = 1


@asynccontextmanager
async def running_worker(client: Client, task_queue: str, opts: Options) -> AsyncIterator[asyncio.Task[None]]:
    """Run a Worker on ``task_queue``; yields its run() task (to notice a crashed worker)."""
    runner = UnsandboxedWorkflowRunner() if opts.unsandboxed else SandboxedWorkflowRunner()
    worker = Worker(client, task_queue=task_queue, workflows=WORKFLOWS, activities=ACTIVITIES,
                    workflow_runner=runner, **WORKER_SETTINGS)
    task = asyncio.create_task(worker.run())
    try:
        yield task
    finally:
        try:
            await asyncio.wait_for(worker.shutdown(), 30)
        except BaseException as e:  # noqa: BLE001 -- never let shutdown abort the run
            log(f"    worker shutdown: {short_error(e)}")
        if not task.done():
            task.cancel()
        try:
            await asyncio.wait_for(task, 5)
        except BaseException:  # noqa: BLE001
            pass


async def guarded(coro: Awaitable[Any], worker_task: asyncio.Task[None], timeout: float) -> Any:
    """Await ``coro`` with a timeout; fail fast if the worker stops first."""
    main = asyncio.ensure_future(coro)
    done, _ = await asyncio.wait({main, worker_task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    if main in done:
        return main.result()
    main.cancel()
    try:
        await main
    except BaseException:  # noqa: BLE001
        pass
    if worker_task in done:
        exc = worker_task.exception() if not worker_task.cancelled() else None
        raise RuntimeError(f"worker stopped: {short_error(exc) if exc else 'cancelled'}")
    raise TimeoutError(f"timed out after {timeout:.0f} s")


# --------------------------------------------------------------------------
# A plain server process (scenarios 2-5)
# --------------------------------------------------------------------------


class Server:
    def __init__(self, target: Target, log_dir: Path) -> None:
        self.target = target
        self.port = free_loopback_port()
        self.argv = [a.replace("{port}", str(self.port)) for a in target.argv]
        self.log_path = log_dir / f"{target.name}-{time.strftime('%Y%m%d-%H%M%S')}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log_path, "wb") as logf:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            tail = self.log_path.read_bytes()[-400:].decode(errors="replace").strip()
            raise RuntimeError(f"server exited with code {self.proc.returncode}"
                               + (f": {' '.join(tail.split())}" if tail else ""))

    async def connect(self) -> Client:
        deadline = time.monotonic() + SERVER_READY_TIMEOUT_S
        last: BaseException | None = None
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                return await Client.connect(f"{LOOPBACK}:{self.port}")
            except Exception as e:  # noqa: BLE001 -- not up yet
                last = e
                await asyncio.sleep(0.05)
        raise RuntimeError(f"not ready after {SERVER_READY_TIMEOUT_S:.0f} s: {short_error(last) if last else ''}")

    def kill(self) -> None:
        if self.proc is None:
            return
        try:
            self.proc.send_signal(signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()


# --------------------------------------------------------------------------
# Scenarios.  Each returns {metric_key: value}; `run_scenario` turns an
# exception into "error: ..." for the scenario's keys.
# --------------------------------------------------------------------------


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
    async with running_worker(client, tq, opts) as wt:
        async def body() -> None:
            # Untimed warm-up (sandbox imports, sticky caches, JIT-free servers' first paths).
            await gather_all((
                client.execute_workflow(OneActivity.run, f"w{i}", id=unique("warm"), task_queue=tq)
                for i in range(plan.burst_warmup)))
            cpu0, py0, t0 = proc_cpu_s(server.pid), self_cpu_s(), time.perf_counter()
            io0 = proc_io_syscalls(server.pid)
            handles = await gather_all((
                client.start_workflow(OneActivity.run, f"b{i}", id=unique(f"burst{i}"), task_queue=tq)
                for i in range(plan.burst)))
            results = await gather_all(h.result() for h in handles)
            wall = time.perf_counter() - t0
            cpu, py = proc_cpu_s(server.pid) - cpu0, self_cpu_s() - py0
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
    async with running_worker(client, tq, opts) as wt:
        async def body() -> tuple[list[float], float, float]:
            times: list[float] = []
            cpu0 = py0 = 0.0
            for i in range(plan.trivial_warmup + plan.trivial_runs):
                if i == plan.trivial_warmup:
                    cpu0, py0 = proc_cpu_s(server.pid), self_cpu_s()
                t0 = time.perf_counter()
                r = await client.execute_workflow(Trivial.run, id=unique("trivial"), task_queue=tq)
                if i >= plan.trivial_warmup:
                    times.append(ms_since(t0))
                if r != 1:
                    raise RuntimeError(f"trivial returned {r!r}")
            return times, proc_cpu_s(server.pid) - cpu0, self_cpu_s() - py0
        times, cpu, py = await guarded(body(), wt, opts.scenario_timeout)
    # One workflow at a time: each one's latency holds its server CPU and its Python CPU end to end, so
    # the Python CPU per workflow is a floor under the latency that no server can go below.
    return {"trivial_med": statistics.median(times), "trivial_p90": p90(times),
            "trivial_cpu": cpu * 1e3 / plan.trivial_runs, "trivial_py_cpu": py * 1e3 / plan.trivial_runs}


async def scenario_signal(client: Client, opts: Options) -> dict[str, Cell]:
    plan, tq = opts.plan, unique("e2e-signal")
    async with running_worker(client, tq, opts) as wt:
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
        cmdline = _cmdline(pid)
        try:
            yield env, pid
        except Exception as e:
            if _cmdline(pid) != cmdline or _stat_fields(pid)[0] == "Z":
                raise RuntimeError(f"server process died ({short_error(e, 100)})") from e
            raise
    finally:
        try:
            await asyncio.wait_for(env.shutdown(), 30)
        except BaseException as e:  # noqa: BLE001
            log(f"    env shutdown: {short_error(e)}")
        if pid > 0:
            ensure_dead(pid, cmdline)


async def scenario_sleeps(target: Target, opts: Options) -> dict[str, Cell]:
    plan, tq = opts.plan, unique("e2e-sleeps")
    async with time_skipping_env(target) as (env, pid):
        async with running_worker(env.client, tq, opts) as wt:
            async def body() -> dict[str, Cell]:
                cpu0, py0, t0 = proc_cpu_s(pid), self_cpu_s(), time.perf_counter()
                r = await env.client.execute_workflow(
                    SequentialSleeps.run, args=[plan.sleeps, 3600.0], id=unique("sleeps"), task_queue=tq)
                wall = time.perf_counter() - t0
                if r != plan.sleeps:
                    raise RuntimeError(f"sleeps returned {r!r}")
                return {"sleeps_wall": wall, "sleeps_cpu": proc_cpu_s(pid) - cpu0,
                        "sleeps_py_cpu": self_cpu_s() - py0}
            return await guarded(body(), wt, opts.scenario_timeout)


async def scenario_sleepers(target: Target, opts: Options) -> dict[str, Cell]:
    plan, tq = opts.plan, unique("e2e-sleepers")
    async with time_skipping_env(target) as (env, pid):
        async with running_worker(env.client, tq, opts) as wt:
            async def body() -> dict[str, Cell]:
                cpu0, py0, t0 = proc_cpu_s(pid), self_cpu_s(), time.perf_counter()
                # Started while the environment holds its time-skipping lock ...
                handles = await bounded_gather(
                    (lambda i=i: env.client.start_workflow(
                        SleepsOnce.run, 86400.0, id=f"sleeper-{i}-{uuid.uuid4().hex[:8]}", task_queue=tq)
                     for i in range(plan.sleepers)), opts.sleeper_concurrency)
                started = time.perf_counter() - t0
                log(f"    {plan.sleepers} sleepers started in {started:.1f} s; awaiting")
                # ... then awaited under ONE unlock (the SDK would otherwise unlock/lock once per
                # result() call).
                async with env.time_skipping_unlocked():  # type: ignore[attr-defined]
                    with env.auto_time_skipping_disabled():
                        results = await bounded_gather(
                            (lambda h=h: h.result() for h in handles), opts.sleeper_concurrency)
                wall = time.perf_counter() - t0
                if any(r != 86400.0 for r in results):
                    raise RuntimeError("a sleeper returned a wrong result")
                return {"sleepers_wall": wall, "sleepers_start": started, "sleepers_hwm": rss_mib(pid, "VmHWM"),
                        "sleepers_cpu": proc_cpu_s(pid) - cpu0, "sleepers_py_cpu": self_cpu_s() - py0}
            return await guarded(body(), wt, opts.scenario_timeout)


# --------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------

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


@dataclass
class Results:
    cells: dict[str, dict[str, Cell]] = field(default_factory=dict)  # metric -> target -> cell
    errors: list[str] = field(default_factory=list)  # full messages for the report
    notes: list[str] = field(default_factory=list)

    def put(self, target: str, values: dict[str, Cell]) -> None:
        for k, v in values.items():
            self.cells.setdefault(k, {})[target] = v

    def fill(self, target: str, scenario: str, text: str) -> None:
        for k in SCENARIO_KEYS[scenario]:
            self.cells.setdefault(k, {}).setdefault(target, text)

    @staticmethod
    def merged(rounds: list["Results"]) -> "Results":
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
        res.fill(target.name, scenario, "not run")
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
        res.fill(target.name, scenario, f"error: {short_error(e, 70)}")
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
    if not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
        for sc in SCENARIO_KEYS:
            res.fill(target.name, sc, "n/a: binary not found")
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
                async def checked(fn: Callable[[], Awaitable[dict[str, Cell]]] = fn) -> dict[str, Cell]:
                    server.check_alive()
                    try:
                        return await fn()
                    except Exception:
                        server.check_alive()  # report a crash rather than its symptom
                        raise
                await run_scenario(res, target, name, checked, opts)
        else:
            for sc in ("burst", "trivial", "signal"):
                res.fill(target.name, sc, "error: server not usable (see idle)")
    finally:
        server.kill()

    for name, fn in (("sleeps", lambda: scenario_sleeps(target, opts)),
                     ("sleepers", lambda: scenario_sleepers(target, opts))):
        if name == "sleepers" and not with_sleepers:
            continue  # a later round: the long scenario runs once
        if not target.time_skipping:
            res.fill(target.name, name, "n/a: no time skipping")
            continue
        await run_scenario(res, target, name, fn, opts)


# --------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------


def fmt_cell(v: Cell | None, spec: str) -> str:
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    return format(v, spec)


def ratio_cell(m: Metric, row: dict[str, Cell]) -> str:
    a, b = row.get(RATIO[0]), row.get(RATIO[1])
    if m.better is None or not isinstance(a, float | int) or not isinstance(b, float | int) or b == 0:
        return "-"
    return f"{a / b:.2f}x"


def table_rows(metrics: list[Metric], targets: list[Target], res: Results) -> tuple[list[str], list[list[str]]]:
    header = ["metric"] + [t.name for t in targets] + [f"{RATIO[0]} / {RATIO[1].split('-')[0]}"]
    rows = []
    for m in metrics:
        row = res.cells.get(m.key, {})
        rows.append([m.label] + [fmt_cell(row.get(t.name), m.fmt) for t in targets] + [ratio_cell(m, row)])
    return header, rows


def text_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    widths = [min(w, 72) for w in widths]

    def line(r: list[str]) -> str:
        cells = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:])]
        return "  ".join(cells)

    out = [line(header), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in rows]
    return "\n".join(out)


def md_table(header: list[str], rows: list[list[str]]) -> str:
    esc = lambda s: s.replace("|", "\\|")  # noqa: E731
    out = ["| " + " | ".join(esc(h) for h in header) + " |",
           "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    out += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def nproc() -> str:
    try:
        return subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return str(os.cpu_count())


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def mem_total() -> str:
    try:
        return f"{proc_status_kib_meminfo('MemTotal') / 1024 / 1024:.1f} GiB"
    except Exception:  # noqa: BLE001
        return "unknown"


def proc_status_kib_meminfo(name: str) -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    raise KeyError(name)


def git_head() -> str:
    try:
        r = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
                           capture_output=True, text=True, check=True)
        return r.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def binary_desc(path: str) -> str:
    p = Path(path)
    if not p.exists():
        return f"{path} (missing)"
    mtime = time.strftime("%Y-%m-%d %H:%M", time.localtime(p.stat().st_mtime))
    return f"{path} (modified {mtime}, {p.stat().st_size / 1e6:.0f} MB)"


def selected_targets(only: list[str] | None) -> list[Target]:
    """`make_targets()`, narrowed to the names given with --only (an unknown name stops the run)."""
    targets = make_targets()
    if only:
        unknown = set(only) - {t.name for t in targets}
        if unknown:
            raise SystemExit(f"unknown target(s) {sorted(unknown)}; have {[t.name for t in targets]}")
        targets = [t for t in targets if t.name in only]
    return targets


def begin_run(log_subdir: str, detail: str = "") -> tuple[str, Path]:
    """How every benchmark run starts: count the SDK core's retry warnings, name the timekeeper binary in
    the log, make the folder for the servers' logs. Returns the binary and that folder."""
    install_core_log_counter()
    tk_path, tk_how = timekeeper_bin()
    log(f"timekeeper binary: {tk_path} ({tk_how}){detail}")
    log_dir = BENCH_DIR / ".work" / log_subdir
    log_dir.mkdir(parents=True, exist_ok=True)
    return tk_path, log_dir


def results_path(out: str | None, stem: str, quick: bool) -> Path:
    """`--out`, else Benchmarks/Servers/results/<stem>-<date>[-quick].md; its folder exists afterwards."""
    path = Path(out) if out else (
        BENCH_DIR / "results" / f"{stem}-{time.strftime('%Y-%m-%d')}{'-quick' if quick else ''}.md")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def print_report_tail(fact_list: list[tuple[str, str]], errors: list[str], notes: list[str]) -> None:
    """Machine facts, errors and notes under a printed table."""
    for k, v in fact_list:
        print(f"{k}: {v}")
    for heading, lines in (("errors", errors), ("notes", notes)):
        if lines:
            print(f"\n{heading}:")
            for line in lines:
                print(f"  {line}")


def md_report_tail(fact_list: list[tuple[str, str]], errors: list[str], notes: list[str], script: str) -> list[str]:
    """The same in Markdown, ending with the command that produced the file."""
    md = [f"- **{k}**: {v}" for k, v in fact_list]
    for heading, lines in (("Errors", errors), ("Notes", notes)):
        if lines:
            md += ["", f"## {heading}", ""] + [f"- {line}" for line in lines]
    return md + ["", f"Command: `{' '.join([Path(sys.executable).name, script] + sys.argv[1:])}`", ""]


def machine_facts(targets: list[Target], load_start: str, load_end: str, elapsed_s: float,
                  tk_descs: tuple[str, str], target_loads: dict[str, str], unsandboxed: bool,
                  worker_label: str = "worker settings") -> list[tuple[str, str]]:
    """The facts every results file records: machine, load, versions, binaries, worker settings."""
    _, tk_how = timekeeper_bin()
    tk_desc = f"{tk_how}: {tk_descs[0]}"
    if tk_descs[1] != tk_descs[0]:
        tk_desc += f" -- REPLACED while it ran (was {tk_descs[1]} at its end)"
    return [
        ("date", time.strftime("%Y-%m-%d %H:%M:%S %Z")),
        ("repo HEAD", git_head()),
        ("nproc", nproc()),
        ("CPU", cpu_model()),
        ("memory", mem_total()),
        ("load average (1/5/15 min) at start", load_start),
        ("load average when each target started", "; ".join(f"{k}: {v}" for k, v in target_loads.items())),
        ("load average at end", load_end),
        ("run time", f"{elapsed_s / 60:.1f} min"),
        ("Python", platform.python_version()),
        ("temporalio", temporalio.__version__),
        ("timekeeper binary", tk_desc),
        ("targets", "; ".join(f"{t.name} = `{' '.join(t.argv)}`" for t in targets)),
        (worker_label, ", ".join(f"{k}={v}" for k, v in WORKER_SETTINGS.items())
         + ", pollers: SDK defaults (5 workflow-task, 5 activity-task)"
         + f", workflow runner: {'unsandboxed' if unsandboxed else 'sandboxed (default)'}"),
    ]


def facts(opts: Options, targets: list[Target], load_start: str, load_end: str, elapsed_s: float,
          tk_descs: tuple[str, str], target_loads: dict[str, str]) -> list[tuple[str, str]]:
    plan = opts.plan
    return machine_facts(targets, load_start, load_end, elapsed_s, tk_descs, target_loads, opts.unsandboxed) + [
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

    tk_path, log_dir = begin_run("e2e-logs")

    load_start, started = loadavg(), time.perf_counter()
    tk_descs = (binary_desc(tk_path), binary_desc(tk_path))  # at start / end of timekeeper's scenarios
    target_loads: dict[str, str] = {}
    rounds: list[Results] = []
    # Short scenarios vary by 10-40 % from one run to the next on this kind of machine: each round runs
    # every target once, targets alternating, and the table holds the median of the rounds. The 10,000
    # sleepers run in the first round only.
    for round_index in range(args.rounds):
        res = Results()
        rounds.append(res)
        for t in targets:
            load = loadavg()
            target_loads.setdefault(t.name, load)
            log(f"[{t.name}] round {round_index + 1}/{args.rounds}, load average {load}")
            if t.argv[0] == tk_path and round_index == 0:
                tk_descs = (binary_desc(tk_path), tk_descs[1])
            await bench_target(t, opts, res, log_dir, with_sleepers=round_index == 0)
            if t.argv[0] == tk_path:
                tk_descs = (tk_descs[0], binary_desc(tk_path))
    res = Results.merged(rounds)
    load_end, elapsed = loadavg(), time.perf_counter() - started

    header, rows = table_rows(metrics_for(plan), targets, res)
    title = (f"Timekeeper end-to-end benchmark{' (--quick)' if args.quick else ''}: "
             f"lower is better except workflows/s; ratio = {RATIO[0]} / {RATIO[1]}")
    fact_list = facts(opts, targets, load_start, load_end, elapsed, tk_descs, target_loads)
    print()
    print(title)
    print(text_table(header, rows))
    print()
    print_report_tail(fact_list, res.errors, res.notes)

    out = results_path(args.out, "e2e", args.quick)
    md = [f"# {title}", "", md_table(header, rows), "",
          "Lower is better for every row except *workflows/s*; *(info)* rows have no ratio.",
          "Ratios > 1 mean timekeeper is slower / bigger (or, for workflows/s, faster).", "",
          "## Machine and settings", ""]
    md += md_report_tail(fact_list, res.errors, res.notes, "Benchmarks/Servers/e2e.py")
    out.write_text("\n".join(md))
    print(f"\nwrote {out}")
    return 1 if res.errors else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="~10x smaller sizes, for smoke runs")
    ap.add_argument("--sleepers", type=int, default=None, metavar="N",
                    help="workflows in scenario 7 (default 10000; 1000 with --quick)")
    ap.add_argument("--only", action="append", metavar="NAME", help="run only this target (repeatable)")
    ap.add_argument("--scenario", action="append", choices=list(SCENARIO_KEYS), metavar="NAME",
                    help=f"run only this scenario (repeatable; {', '.join(SCENARIO_KEYS)})")
    ap.add_argument("--concurrency", type=int, default=DEFAULT_SLEEPER_CONCURRENCY, metavar="N",
                    help=f"max in-flight starts / result() calls in scenario 7 (default {DEFAULT_SLEEPER_CONCURRENCY})")
    ap.add_argument("--timeout", type=float, default=900.0, help="per-scenario timeout, s (default 900)")
    ap.add_argument("--unsandboxed", action="store_true",
                    help="use UnsandboxedWorkflowRunner (less Python CPU; default is the SDK's sandbox)")
    ap.add_argument("--out", help="Markdown output path (default Benchmarks/Servers/results/e2e-<date>[-quick].md)")
    ap.add_argument("--rounds", type=int, default=3, metavar="N",
                    help="rounds of the short scenarios, targets alternating; cells are medians (default 3)")
    args = ap.parse_args()
    code = 2
    try:
        code = asyncio.run(amain(args))
    except KeyboardInterrupt:
        code = 130
    except SystemExit as e:
        print(e, file=sys.stderr)
        code = 2
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
