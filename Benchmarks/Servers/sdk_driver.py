"""The Python SDK's side of a benchmark: the worker with fixed settings, the SDK core's log counter (RPC
retries), awaiting many calls at once, unique ids."""

from __future__ import annotations

import asyncio
import logging
import uuid
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Awaitable, Callable, Iterable

from temporalio.client import Client
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)
from temporalio.worker import UnsandboxedWorkflowRunner, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from bench_workflows import ACTIVITIES, WORKFLOWS
from run_log import log, short_error

# Fixed worker settings (same for every target and scenario).  Pollers stay at
# the SDK defaults (5 workflow-task and 5 activity-task pollers, simple maximum).
WORKER_SETTINGS: dict[str, Any] = dict(
    max_concurrent_workflow_tasks=100,
    max_concurrent_activities=100,
    max_cached_workflows=1000,  # SDK default, stated for clarity
)


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


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


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


@asynccontextmanager
async def running_worker(client: Client, task_queue: str, unsandboxed: bool) -> AsyncIterator[asyncio.Task[None]]:
    """Run a Worker on ``task_queue``; yields its run() task (to notice a crashed worker)."""
    runner = UnsandboxedWorkflowRunner() if unsandboxed else SandboxedWorkflowRunner()
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
