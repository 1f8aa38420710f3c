#!/usr/bin/env python3
"""Durable dev mode benchmark: Timekeeper's ``server start-dev --db-filename FILE`` against Temporal's
real dev server (``temporal server start-dev --db-filename FILE``), both on a SQLite file, in the same run,
driven by the same Python worker.

Both targets get the same command line, only the binary differs::

    BINARY server start-dev --headless --ip 127.0.0.1 --port P --log-level error --db-filename FILE

The targets are ``timekeeper`` (``$TIMEKEEPER_BIN``, else ``.build/release/timekeeper``),
``timekeeper-baseline`` (only with ``$TIMEKEEPER_BASELINE_BIN``) and ``temporal-dev`` (the virtualenv's
``temporal`` CLI, or ``$TEMPORAL_CLI_BIN``).  For each, in turn:

1. **ready, new file** -- exec -> first OK ``GetSystemInfo`` (``startup.run_trial``) on a database file that
   does not exist yet; one untimed warm-up, then ``--trials`` (default 5) trials, each on a new file; the
   median.  Every trial's server is stopped with SIGKILL once it is ready.
2. **ready, empty file** -- the same, restarting on the warm-up's file (schema, no runs).
3. **throughput** -- a fresh server on a new file, the SDK's worker (fixed settings, ``sdk_driver.py``):
   after 5 untimed warm-ups, ``--workflows`` (default 500) workflows each running one trivial activity
   (``OneActivity``), ``--concurrency`` (default 100) in flight, each started and awaited; *workflows/s*
   from the first start to the last result.  Beside the wall time: the server's CPU (/proc/PID/stat) and
   this Python process's CPU (``getrusage``: worker, client and the SDK's Rust core).  *Python CPU / wall*
   near 1 or above means the Python side set the pace (Python-bound).  The server's *peak RSS* in this
   phase is its VmHWM, reset just before (``/proc/PID/clear_refs``).
4. **latency** -- on that server: ``--latency-runs`` (default 50) sequential ``OneActivity`` workflows, start -> result (after 5
   warm-ups); p50 and p95 (nearest rank).
5. **stored runs** -- a fresh server on a new file is filled with ``--stored-runs`` (default 10,000)
   completed runs of a workflow that just returns (``Trivial``; unsandboxed worker, it is not timed), then
   SIGKILLed (that is how the SDKs stop a dev server).  The file's size (plus its WAL) is recorded.
6. **ready, stored runs** -- ``--trials`` restarts on that file, each SIGKILLed once ready: the median, and
   the first restart (right after the kill) on its own.
7. **verify** -- one more restart: the first and last stored runs must be COMPLETED; the runs counted
   (``CountWorkflowExecutions``, polled up to 30 s, the dev server's visibility being eventually consistent).

One table is printed (rows = metrics, columns = targets, ratio timekeeper / temporal-dev) and written with
the machine facts to ``Benchmarks/Servers/results/durable-<YYYY-MM-DD>.md`` (``-quick`` appended for
``--quick``).  A step that fails leaves "error: ..." in its cells and the run goes on.  Every server is
SIGKILLed and reaped when its step is done (also on errors and Ctrl-C); all servers listen on 127.0.0.1;
the database files live in a temporary directory (under ``--db-dir``, default the system's temp dir)
removed afterwards.  Server logs: ``Benchmarks/Servers/.work/durable-logs/``.

Usage::

    .venv/bin/python Benchmarks/Servers/durable.py                 # every target (~10 min)
    .venv/bin/python Benchmarks/Servers/durable.py --quick         # 50 workflows, 1,000 stored runs (~1 min)
    .venv/bin/python Benchmarks/Servers/durable.py --only temporal-dev --stored-runs 2000
    .venv/bin/python Benchmarks/Servers/durable.py --sqlite-pragma journal_mode=wal --sqlite-pragma synchronous=normal

Each server's SQLite settings are its own unless ``--sqlite-pragma NAME=VALUE`` (repeatable, passed to every
target) says otherwise: Timekeeper's default is a write-ahead log with ``synchronous=NORMAL``; the notes
give each file's journal mode as found after the run.  See Benchmarks/Servers/README.md ("Running durable.py").
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import statistics
import sys
import tempfile
import time
import traceback
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import repo_paths  # noqa: E402,F401 -- first: puts Tests/Integration/support on sys.path

from startup import TrialError, run_trial  # noqa: E402

import grpc  # noqa: E402
from netutil import free_loopback_port  # noqa: E402
from temporalio.api.common.v1 import WorkflowExecution  # noqa: E402
from temporalio.api.workflowservice.v1 import (  # noqa: E402
    CountWorkflowExecutionsRequest, DescribeNamespaceRequest, DescribeWorkflowExecutionRequest,
    DescribeWorkflowExecutionResponse,
)
from temporalio.client import Client, WorkflowExecutionStatus  # noqa: E402

from bench_workflows import OneActivity, Trivial  # noqa: E402
from command_line import add_only_option, add_run_options, begin_run, bench_each_target, run_and_exit  # noqa: E402
from growing_server import kill, kill_live_servers, new_server, start  # noqa: E402
from machine_facts import RunRecord, machine_facts  # noqa: E402
from proc_readings import UsageSince, rss_mib  # noqa: E402
from reports import Cell, Metric, Results, md_table, print_report, table_rows, write_results_file  # noqa: E402
from run_log import log, short_error  # noqa: E402
from sdk_driver import CORE_LOGS, bounded_gather, gather_all, guarded, running_worker, unique  # noqa: E402
from servers import SERVER_READY_TIMEOUT_S, Server, Target, binary_missing, make_targets, selected_targets  # noqa: E402
from visibility_results import percentile  # noqa: E402

DEV_SERVER = "temporal-dev"
DURABLE_RATIO = ("timekeeper", DEV_SERVER)  # ratio column = DURABLE_RATIO[0] / DURABLE_RATIO[1]
DATABASE = "{db}"  # in a target's argv: the database file of the step
DEV_SERVER_ARGS = ["--db-filename", DATABASE]
NAMESPACE = "default"

DEFAULT_WORKFLOWS, QUICK_WORKFLOWS = 500, 50
DEFAULT_STORED_RUNS, QUICK_STORED_RUNS = 10_000, 1_000
DEFAULT_TRIALS, QUICK_TRIALS = 5, 2
DEFAULT_LATENCY_RUNS, QUICK_LATENCY_RUNS = 50, 10
DEFAULT_CONCURRENCY = 100
WARMUP_WORKFLOWS = 5
PYTHON_BOUND_AT = 0.9  # Python CPU / wall from which the throughput counts as Python-bound
COUNT_WAIT_S = 30.0  # how long the verify step waits for the count to reach the stored runs


@dataclass
class Plan:
    workflows: int
    stored_runs: int
    trials: int
    latency_runs: int
    concurrency: int
    timeout: float
    unsandboxed: bool
    quick: bool


def metrics(plan: Plan) -> list[Metric]:
    n, runs = plan.workflows, f"{plan.stored_runs:,}"
    return [
        Metric("tp_rate", f"1. throughput, {n} x 1-activity wf: workflows/s (HIGHER is better)", ".1f", "higher"),
        Metric("tp_wall", f"1. throughput: wall, {plan.concurrency} in flight, 1st start -> last result (s)", ".2f"),
        Metric("tp_py_cpu", "1. throughput: Python worker+client CPU (s)", ".2f"),
        Metric("tp_py_util", "1. throughput: Python CPU / wall (info; >= 0.9 is Python-bound)", ".2f", None),
        Metric("tp_cpu", "1. throughput: server CPU (s)", ".2f"),
        Metric("lat_p50", f"2. 1-activity wf latency, {plan.latency_runs} sequential: p50 (ms)", ".1f"),
        Metric("lat_p95", "2. 1-activity wf latency: p95 (ms)", ".1f"),
        Metric("tp_cpu_per_wf", "3. server CPU per workflow, throughput phase (ms)", ".2f"),
        Metric("ready_new", f"4. ready after exec, new database file, median of {plan.trials} (ms)", ".1f"),
        Metric("ready_empty", f"4. ready after exec, empty database file, median of {plan.trials} (ms)", ".1f"),
        Metric("ready_full", f"4. ready after exec, {runs} stored runs, median of {plan.trials} (ms)", ".1f"),
        Metric("ready_full_first", f"4. ready, {runs} stored runs, first restart after the kill (ms)", ".1f"),
        Metric("answer_full", f"4. exec -> a stored run described, {runs} stored runs, median of {plan.trials} (ms)", ".1f"),
        Metric("db_mib", f"4. database file + WAL with {runs} stored runs (MiB)", ".1f"),
        Metric("pop_rate", f"4. storing the {runs} runs: runs/s (info)", ".0f", None),
        Metric("found_runs", "4. runs counted after the restarts (info)", ".0f", None),
        Metric("tp_peak_rss", "5. server peak RSS in the throughput phase, VmHWM (MiB)", ".1f"),
        Metric("rpc_retries", "SDK-core 'gRPC call ... retried' warnings, all steps", ".0f"),
    ]


THROUGHPUT_KEYS = ["tp_rate", "tp_wall", "tp_py_cpu", "tp_py_util", "tp_cpu", "tp_cpu_per_wf", "tp_peak_rss"]
LATENCY_KEYS = ["lat_p50", "lat_p95"]
STORE_KEYS = ["db_mib", "pop_rate"]
STORED_READY_KEYS = ["ready_full", "ready_full_first", "answer_full"]
ALL_KEYS = ["ready_new", "ready_empty", *THROUGHPUT_KEYS, *LATENCY_KEYS, *STORE_KEYS, *STORED_READY_KEYS,
            "found_runs"]


# --- targets and database files -------------------------------------------------------------------------


def durable_targets(only: list[str] | None, pragmas: list[str]) -> list[Target]:
    """servers.py's targets without the Java test server, every one running the dev server's command line
    (``temporal-dev``'s, from ``make_targets``) with its own binary, ``--db-filename {db}`` and the
    ``--sqlite-pragma``s added."""
    extra = DEV_SERVER_ARGS + [arg for p in pragmas for arg in ("--sqlite-pragma", p)]
    dev_argv = next(t.argv for t in make_targets(java=False, dev_server_args=extra) if t.name == DEV_SERVER)
    return [t if t.name == DEV_SERVER else Target(t.name, [t.argv[0], *dev_argv[1:]], time_skipping=False)
            for t in selected_targets(only, java=False, dev_server_args=extra)]


def on_database(target: Target, db: Path) -> Target:
    """The target with ``{db}`` in its argv replaced by ``db``."""
    return Target(target.name, [a.replace(DATABASE, str(db)) for a in target.argv], time_skipping=False)


def database_sizes_mib(db: Path) -> tuple[float, float]:
    """(the file, its write-ahead log) in MiB; 0 for one that is not there."""
    def mib(p: Path) -> float:
        return p.stat().st_size / 2**20 if p.exists() else 0.0
    return mib(db), mib(Path(f"{db}-wal"))


def journal_mode(db: Path) -> str:
    """The file's journal mode (``wal`` is recorded in the file), read through a read-only connection."""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            return str(conn.execute("PRAGMA journal_mode").fetchone()[0])
    except sqlite3.Error as e:
        return f"unknown ({e})"


def filesystem_of(path: Path) -> str:
    """The type and mount point of the file system ``path`` is on (from /proc/mounts)."""
    best = ("", "unknown")
    try:
        with open("/proc/mounts") as f:
            for line in f:
                _, mount, fstype, *_ = line.split()
                inside = str(path) == mount or str(path).startswith(mount.rstrip("/") + "/")
                if inside and len(mount) >= len(best[0]):
                    best = (mount, fstype)
    except OSError:
        pass
    return f"{best[1]} (mounted on {best[0] or '?'})"


# --- server processes -----------------------------------------------------------------------------------


@asynccontextmanager
async def running_server(target: Target, db: Path, log_dir: Path, timeout: float,
                         notes: list[str]) -> AsyncIterator[tuple[Server, Client]]:
    """A server on ``db``, connected, its default namespace answering; SIGKILLed and reaped on exit, when
    the error lines of its log (if any) go to ``notes``."""
    server = new_server(on_database(target, db), log_dir)
    try:
        start(server, target.name)
        client = await asyncio.wait_for(server.connect(), timeout)
        await server.checked(lambda: namespace_ready(client))
        yield server, client
    finally:
        kill(server)
        note_logged_errors(server, db, notes)


def note_logged_errors(server: Server, db: Path, notes: list[str]) -> None:
    """Servers run with ``--log-level error``: a line of the log that mentions an error is counted."""
    try:
        lines = [line for line in server.log_path.read_text(errors="replace").splitlines() if "error" in line.lower()]
    except OSError:
        return
    if lines:
        notes.append(f"{server.target.name} on {db.name}: {len(lines)} error lines in {server.log_path.name}, "
                     f"e.g. {' '.join(lines[0].split())[:240]}")


async def namespace_ready(client: Client, timeout: float = SERVER_READY_TIMEOUT_S) -> None:
    """Until the default namespace is described (the dev server may answer GetSystemInfo a little earlier)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=NAMESPACE))
            return
        except Exception:  # noqa: BLE001 -- not ready yet
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


def reset_peak_rss(pid: int) -> bool:
    """Resets the process's VmHWM to its current RSS (``5`` to /proc/PID/clear_refs); False if refused."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


# --- the steps ------------------------------------------------------------------------------------------


def ready_times_ms(target: Target, databases: list[Path]) -> list[float]:
    """One ready trial per database file, in order; each server SIGKILLed once ready."""
    times = []
    for db in databases:
        try:
            _, ready_ms = run_trial(on_database(target, db).argv, SERVER_READY_TIMEOUT_S, stop_signal=signal.SIGKILL)
        except TrialError as e:
            raise RuntimeError(str(e)) from None
        times.append(ready_ms)
    return times


async def measure_ready_on_new_files(target: Target, work: Path, plan: Plan) -> dict[str, Cell]:
    """An untimed warm-up on ``new-0.sqlite`` (kept for the empty-file trials), then a new file per trial."""
    files = [work / f"new-{i}.sqlite" for i in range(plan.trials + 1)]
    times = await asyncio.to_thread(ready_times_ms, target, files)
    return {"ready_new": statistics.median(times[1:])}


async def measure_ready_on_empty_file(target: Target, work: Path, plan: Plan) -> dict[str, Cell]:
    empty = work / "new-0.sqlite"
    if not empty.exists():
        raise RuntimeError(f"{empty.name} is missing (the new-file trials failed?)")
    times = await asyncio.to_thread(ready_times_ms, target, [empty] * plan.trials)
    return {"ready_empty": statistics.median(times)}


async def measure_throughput(client: Client, server: Server, task_queue: str, plan: Plan,
                             notes: list[str]) -> dict[str, Cell]:
    """Warm-ups, then ``plan.workflows`` OneActivity workflows, ``plan.concurrency`` started-and-awaited at once."""
    await gather_all(client.execute_workflow(OneActivity.run, f"w{i}", id=unique("warm"), task_queue=task_queue)
                     for i in range(WARMUP_WORKFLOWS))
    if not reset_peak_rss(server.pid):
        notes.append(f"{server.target.name}: cannot reset VmHWM; the peak RSS is since the server started")
    usage = UsageSince(server.pid)
    results = await bounded_gather(
        (lambda i=i: client.execute_workflow(OneActivity.run, f"t{i}", id=unique(f"tp{i}"), task_queue=task_queue)
         for i in range(plan.workflows)), plan.concurrency)
    wall, cpu, py = usage.wall_s(), usage.server_cpu_s(), usage.python_cpu_s()
    peak = rss_mib(server.pid, "VmHWM")
    if results != [f"t{i}" for i in range(plan.workflows)]:
        raise RuntimeError("the throughput workflows returned wrong results")
    return {"tp_rate": plan.workflows / wall, "tp_wall": wall, "tp_py_cpu": py, "tp_py_util": py / wall,
            "tp_cpu": cpu, "tp_cpu_per_wf": cpu * 1e3 / plan.workflows, "tp_peak_rss": peak}


async def measure_latency(client: Client, task_queue: str, plan: Plan) -> dict[str, Cell]:
    """Sequential OneActivity workflows, start -> result, after a few untimed ones."""
    async def one_ms() -> float:
        t0 = time.perf_counter()
        result = await client.execute_workflow(OneActivity.run, "lat", id=unique("lat"), task_queue=task_queue)
        ms = (time.perf_counter() - t0) * 1e3
        if result != "lat":
            raise RuntimeError(f"a latency workflow returned {result!r}")
        return ms

    for _ in range(WARMUP_WORKFLOWS):
        await one_ms()
    times = [await one_ms() for _ in range(plan.latency_runs)]
    return {"lat_p50": statistics.median(times), "lat_p95": percentile(times, 95)}


def stored_run_id(i: int) -> str:
    return f"stored-{i}"


async def store_completed_runs(client: Client, task_queue: str, runs: int, concurrency: int) -> None:
    """``runs`` Trivial workflows (they return at once), ``concurrency`` started-and-awaited at once."""
    done = 0
    every = max(1, runs // 10)

    async def one(i: int) -> None:
        nonlocal done
        await client.execute_workflow(Trivial.run, id=stored_run_id(i), task_queue=task_queue)
        done += 1
        if done % every == 0:
            log(f"    {done:,} runs stored")

    await bounded_gather((lambda i=i: one(i) for i in range(runs)), concurrency)


async def build_stored_runs(target: Target, db: Path, plan: Plan, log_dir: Path, notes: list[str]) -> dict[str, Cell]:
    """A fresh server on ``db`` filled with completed runs, then SIGKILLed; the file's size after the kill."""
    task_queue = unique("durable-store")
    async with running_server(target, db, log_dir, plan.timeout, notes) as (server, client):
        async with running_worker(client, task_queue, unsandboxed=True) as worker_task:
            usage = UsageSince(server.pid)
            await server.checked(lambda: guarded(
                store_completed_runs(client, task_queue, plan.stored_runs, plan.concurrency), worker_task, plan.timeout))
            wall = usage.wall_s()
    file_mib, wal_mib = database_sizes_mib(db)
    notes.append(f"{target.name}: {plan.stored_runs:,} stored runs, after the SIGKILL: file {file_mib:.1f} MiB "
                 f"+ WAL {wal_mib:.1f} MiB")
    return {"pop_rate": plan.stored_runs / wall, "db_mib": file_mib + wal_mib}


def first_answer_ms(target: Target, db: Path, workflow_id: str) -> float:
    """exec -> the first DescribeWorkflowExecution of a stored run answered: what a client waits for before
    the server has what the file holds (ready alone may come sooner: GetSystemInfo needs no runs). The
    channel is made once the port accepts, so that gRPC's reconnect backoff does not count."""
    port = free_loopback_port()
    argv = [a.replace("{port}", str(port)) for a in on_database(target, db).argv]
    began = time.perf_counter()
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not port_accepts(port):
            if time.perf_counter() - began > SERVER_READY_TIMEOUT_S:
                raise RuntimeError(f"not listening after {SERVER_READY_TIMEOUT_S:.0f} s")
            time.sleep(0.002)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            describe = channel.unary_unary(
                "/temporal.api.workflowservice.v1.WorkflowService/DescribeWorkflowExecution",
                request_serializer=DescribeWorkflowExecutionRequest.SerializeToString,
                response_deserializer=DescribeWorkflowExecutionResponse.FromString)
            describe(DescribeWorkflowExecutionRequest(
                namespace=NAMESPACE, execution=WorkflowExecution(workflow_id=workflow_id)),
                timeout=SERVER_READY_TIMEOUT_S, wait_for_ready=True)
        return (time.perf_counter() - began) * 1000
    finally:
        process.kill()
        process.wait()


def port_accepts(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


async def measure_ready_with_stored_runs(target: Target, db: Path, plan: Plan) -> dict[str, Cell]:
    times = await asyncio.to_thread(ready_times_ms, target, [db] * plan.trials)
    answers = [await asyncio.to_thread(first_answer_ms, target, db, stored_run_id(plan.stored_runs - 1))
               for _ in range(plan.trials)]
    return {"ready_full": statistics.median(times), "ready_full_first": times[0],
            "answer_full": statistics.median(answers)}


async def counted_runs(client: Client, expected: int) -> int:
    """CountWorkflowExecutions of the namespace, polled until it reaches ``expected`` (at most COUNT_WAIT_S)."""
    deadline = time.monotonic() + COUNT_WAIT_S
    while True:
        found = (await client.workflow_service.count_workflow_executions(
            CountWorkflowExecutionsRequest(namespace=NAMESPACE))).count
        if found >= expected or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.5)


async def verify_stored_runs(target: Target, db: Path, plan: Plan, log_dir: Path, notes: list[str]) -> dict[str, Cell]:
    """The stored runs are there after the restarts: the first and last COMPLETED, and how many are counted."""
    async with running_server(target, db, log_dir, plan.timeout, notes) as (server, client):
        for wf_id in (stored_run_id(0), stored_run_id(plan.stored_runs - 1)):
            status = (await server.checked(lambda: client.get_workflow_handle(wf_id).describe())).status
            if status != WorkflowExecutionStatus.COMPLETED:
                raise RuntimeError(f"{wf_id} is {status.name if status else 'without status'} after the restarts")
        return {"found_runs": float(await server.checked(lambda: counted_runs(client, plan.stored_runs)))}


# --- running the steps ----------------------------------------------------------------------------------


async def run_step(res: Results, target: Target, step: str, keys: list[str],
                   fn: Callable[[], Awaitable[dict[str, Cell]]], timeout: float) -> bool:
    """``fn()`` within ``timeout``; its cells into ``res``.  A failure fills ``keys`` (those still empty) with
    the error and is logged; RPC-retry warnings of the SDK core are counted for the target."""
    log(f"[{target.name}] {step} ...")
    t0 = time.perf_counter()
    CORE_LOGS.take()
    try:
        res.put(target.name, await asyncio.wait_for(fn(), timeout))
        log(f"[{target.name}] {step} done in {time.perf_counter() - t0:.1f} s")
        return True
    except Exception as e:  # noqa: BLE001 -- record and carry on
        msg = short_error(e, 300)
        log(f"[{target.name}] {step} FAILED: {msg}")
        if os.environ.get("E2E_TRACEBACK"):
            traceback.print_exc()
        res.errors.append(f"{target.name} / {step}: {msg}")
        res.fill(target.name, keys, f"error: {short_error(e, 50)}")
        return False
    finally:
        await asyncio.sleep(0.2)  # let the core's buffered logs arrive
        count_retries(res, target, step)


def count_retries(res: Results, target: Target, step: str) -> None:
    n, sample = CORE_LOGS.take()
    row = res.cells.setdefault("rpc_retries", {})
    row[target.name] = float(row.get(target.name, 0.0)) + n  # type: ignore[arg-type]
    if n:
        res.notes.append(f"{target.name} / {step}: {n} RPC-retry warnings from the SDK core, e.g. {sample}")


async def throughput_and_latency(target: Target, work: Path, plan: Plan, res: Results, log_dir: Path) -> dict[str, Cell]:
    """One fresh server on a new file and one worker for both steps (a step's failure fills only its cells)."""
    task_queue = unique("durable-throughput")
    async with running_server(target, work / "throughput.sqlite", log_dir, plan.timeout, res.notes) as (server, client):
        async with running_worker(client, task_queue, plan.unsandboxed) as worker_task:
            def on_server(coro_fn: Callable[[], Awaitable[dict[str, Cell]]]) -> Callable[[], Awaitable[dict[str, Cell]]]:
                return lambda: server.checked(lambda: guarded(coro_fn(), worker_task, plan.timeout))

            await run_step(res, target, "throughput", THROUGHPUT_KEYS,
                           on_server(lambda: measure_throughput(client, server, task_queue, plan, res.notes)), plan.timeout)
            await run_step(res, target, "latency", LATENCY_KEYS,
                           on_server(lambda: measure_latency(client, task_queue, plan)), plan.timeout)
    return {}


async def bench_target(target: Target, plan: Plan, res: Results, log_dir: Path, db_dir: Path) -> None:
    res.cells.setdefault("rpc_retries", {})[target.name] = 0.0
    if binary_missing(target):
        res.fill(target.name, ALL_KEYS, "n/a: binary not found")
        res.errors.append(f"{target.name}: {target.argv[0]} not found")
        log(f"[{target.name}] skipped: {target.argv[0]} not found")
        return
    work = Path(tempfile.mkdtemp(prefix=f"durable-{target.name}-", dir=db_dir))
    stored = work / "stored.sqlite"
    log(f"[{target.name}] database files in {work}")
    try:
        await run_step(res, target, "ready on new files", ["ready_new"],
                       lambda: measure_ready_on_new_files(target, work, plan), plan.timeout)
        await run_step(res, target, "ready on an empty file", ["ready_empty"],
                       lambda: measure_ready_on_empty_file(target, work, plan), plan.timeout)
        await run_step(res, target, "server for throughput and latency", THROUGHPUT_KEYS + LATENCY_KEYS,
                       lambda: throughput_and_latency(target, work, plan, res, log_dir), 2 * plan.timeout)
        if await run_step(res, target, f"storing {plan.stored_runs:,} runs", STORE_KEYS,
                          lambda: build_stored_runs(target, stored, plan, log_dir, res.notes), plan.timeout):
            await run_step(res, target, "ready with stored runs", STORED_READY_KEYS,
                           lambda: measure_ready_with_stored_runs(target, stored, plan), plan.timeout)
            await run_step(res, target, "verify stored runs", ["found_runs"],
                           lambda: verify_stored_runs(target, stored, plan, log_dir, res.notes), plan.timeout)
            res.notes.append(f"{target.name}: journal mode of the database file: {journal_mode(stored)}")
        else:
            res.fill(target.name, STORED_READY_KEYS + ["found_runs"], "error: no stored runs")
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --- the report -----------------------------------------------------------------------------------------


def python_bound_notes(res: Results, targets: list[Target]) -> list[str]:
    """Whether each target's throughput was set by the Python side (Python CPU / wall >= PYTHON_BOUND_AT)."""
    out = []
    for t in targets:
        util = res.cells.get("tp_py_util", {}).get(t.name)
        if isinstance(util, float):
            verdict = "Python-bound (the worker set the pace)" if util >= PYTHON_BOUND_AT else "not Python-bound"
            out.append(f"{t.name}: throughput Python CPU / wall = {util:.2f}: {verdict}")
    return out


def facts(plan: Plan, targets: list[Target], run: RunRecord, db_dir: Path) -> list[tuple[str, str]]:
    return machine_facts(targets, run, plan.unsandboxed) + [
        ("sizes", f"throughput {plan.workflows} workflows (+{WARMUP_WORKFLOWS} warm-up), {plan.concurrency} in flight; "
                  f"latency {plan.latency_runs} (+{WARMUP_WORKFLOWS} warm-up); ready {plan.trials} trials per case "
                  f"(+1 warm-up for the new-file case); {plan.stored_runs:,} stored runs "
                  f"({plan.concurrency} in flight, unsandboxed worker)"),
        ("database files", f"a temporary directory under {db_dir}, on {filesystem_of(db_dir)}; removed afterwards"),
        ("stopping", "every server is stopped with SIGKILL (as the SDKs stop a dev server)"),
        ("step timeout", f"{plan.timeout:.0f} s"),
    ]


def report(plan: Plan, targets: list[Target], res: Results, run: RunRecord, db_dir: Path, out: str | None) -> None:
    res.notes += python_bound_notes(res, targets)
    header, rows = table_rows(metrics(plan), targets, res, DURABLE_RATIO)
    title = (f"Durable dev mode on a SQLite file{' (--quick)' if plan.quick else ''}: lower is better except "
             f"workflows/s; ratio = {DURABLE_RATIO[0]} / {DURABLE_RATIO[1]}")
    fact_list = facts(plan, targets, run, db_dir)
    print_report(title, header, rows, fact_list, res)
    write_results_file(out, "durable", plan.quick, [
        f"# {title}", "", md_table(header, rows), "",
        "Lower is better for every row except *workflows/s*; *(info)* rows have no ratio. Ratios > 1 mean "
        "timekeeper is slower / bigger (or, for workflows/s, faster). *Python CPU / wall* >= 0.9 means the "
        "throughput was set by the Python worker: compare the server CPU per workflow then.", ""],
        fact_list, res.errors, res.notes)


# --- command line ---------------------------------------------------------------------------------------


def plan_from(args: argparse.Namespace) -> Plan:
    def pick(value: int | None, quick: int, default: int) -> int:
        return value if value is not None else (quick if args.quick else default)

    plan = Plan(workflows=pick(args.workflows, QUICK_WORKFLOWS, DEFAULT_WORKFLOWS),
                stored_runs=pick(args.stored_runs, QUICK_STORED_RUNS, DEFAULT_STORED_RUNS),
                trials=pick(args.trials, QUICK_TRIALS, DEFAULT_TRIALS),
                latency_runs=pick(args.latency_runs, QUICK_LATENCY_RUNS, DEFAULT_LATENCY_RUNS),
                concurrency=args.concurrency, timeout=args.timeout, unsandboxed=args.unsandboxed, quick=args.quick)
    if min(plan.workflows, plan.stored_runs, plan.trials, plan.latency_runs, plan.concurrency) < 1:
        raise SystemExit("--workflows, --stored-runs, --trials, --latency-runs and --concurrency must be positive")
    return plan


async def amain(args: argparse.Namespace) -> int:
    plan = plan_from(args)
    db_dir = Path(args.db_dir or tempfile.gettempdir()).resolve()
    targets = durable_targets(args.only, args.sqlite_pragma or [])
    run, log_dir = begin_run("durable-logs", f"; database files under {db_dir}")
    res = Results()
    await bench_each_target(run, targets, lambda t: bench_target(t, plan, res, log_dir, db_dir))
    report(plan, targets, res, run, db_dir, args.out)
    return 1 if res.errors else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help=f"{QUICK_WORKFLOWS} workflows, {QUICK_STORED_RUNS:,} stored runs, {QUICK_TRIALS} trials, "
                         f"{QUICK_LATENCY_RUNS} latency runs (a smoke run)")
    ap.add_argument("--workflows", type=int, metavar="N", help=f"throughput workflows (default {DEFAULT_WORKFLOWS})")
    ap.add_argument("--stored-runs", type=int, metavar="N",
                    help=f"completed runs in the restart database (default {DEFAULT_STORED_RUNS:,})")
    ap.add_argument("--trials", type=int, metavar="N", help=f"ready trials per case (default {DEFAULT_TRIALS})")
    ap.add_argument("--latency-runs", type=int, metavar="N",
                    help=f"sequential latency workflows (default {DEFAULT_LATENCY_RUNS})")
    ap.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY, metavar="N",
                    help=f"workflows in flight, throughput and storing (default {DEFAULT_CONCURRENCY})")
    ap.add_argument("--sqlite-pragma", action="append", metavar="NAME=VALUE",
                    help="passed to every target as --sqlite-pragma (repeatable), e.g. synchronous=FULL")
    ap.add_argument("--db-dir", metavar="DIR", help="where the temporary database directory goes (default: the system's temp dir)")
    add_only_option(ap)
    add_run_options(ap, timeout_s=1800.0, timeout_per="step", stem="durable",
                    unsandboxed_help="use UnsandboxedWorkflowRunner for the throughput and latency workflows")
    run_and_exit(amain, ap.parse_args(), on_interrupt=lambda: log("interrupted"), on_exit=kill_live_servers)


if __name__ == "__main__":
    main()
