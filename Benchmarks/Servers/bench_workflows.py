"""Workflows and activities driven by ``Benchmarks/Servers/e2e.py``.

Standard library and ``temporalio`` imports only, so the module loads cleanly
inside the Python SDK's workflow sandbox.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import activity, workflow


@activity.defn
async def echo(value: str) -> str:
    """Trivial async activity (runs on the worker's event loop, no thread pool)."""
    return value


@workflow.defn
class OneActivity:
    """Burst scenario: one activity, then complete."""

    @workflow.run
    async def run(self, value: str) -> str:
        return await workflow.execute_activity(
            echo, value, start_to_close_timeout=timedelta(seconds=60)
        )


@workflow.defn
class Trivial:
    """Latency scenario: completes in its first workflow task."""

    @workflow.run
    async def run(self) -> int:
        return 1


@workflow.defn
class AwaitsSignal:
    """Signal scenario: idles until signalled, then completes with the payload."""

    def __init__(self) -> None:
        self._value: str | None = None

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self._value is not None)
        assert self._value is not None
        return self._value

    @workflow.signal
    def go(self, value: str) -> None:
        self._value = value

    @workflow.query
    def waiting(self) -> bool:
        return self._value is None


@workflow.defn
class SequentialSleeps:
    """Time-skipping scenario: ``count`` one-after-another sleeps of ``seconds`` each."""

    @workflow.run
    async def run(self, count: int, seconds: float) -> int:
        for _ in range(count):
            await asyncio.sleep(seconds)
        return count


@workflow.defn
class SleepsOnce:
    """Time-skipping scenario: a single (virtual) sleep, e.g. one day."""

    @workflow.run
    async def run(self, seconds: float) -> float:
        await asyncio.sleep(seconds)
        return seconds


WORKFLOWS = [OneActivity, Trivial, AwaitsSignal, SequentialSleeps, SleepsOnce]
ACTIVITIES = [echo]
