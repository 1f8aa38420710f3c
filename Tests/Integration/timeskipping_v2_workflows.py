"""Workflows for the per-workflow time-skipping (V2) tests (test_time_skipping_v2.py).

Kept in their own module, importing only the standard library and temporalio, so that the workflow
sandbox can re-import them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError


@activity.defn
async def stamp() -> str:
    return activity.info().scheduled_time.isoformat()


_failed_once: set[str] = set()


@activity.defn
async def fails_once_then_succeeds(key: str) -> str:
    if key not in _failed_once:
        _failed_once.add(key)
        raise ApplicationError("first attempt fails", next_retry_delay=timedelta(hours=1))
    return "succeeded"


@workflow.defn
class SleepActivitySleep:
    """Sleep 1 h, run an activity, sleep 2 h; returns the workflow's clock at each step."""

    @workflow.run
    async def run(self) -> list[str]:
        times = [workflow.now()]
        await workflow.sleep(timedelta(hours=1))
        times.append(workflow.now())
        await workflow.execute_activity(stamp, start_to_close_timeout=timedelta(seconds=30))
        times.append(workflow.now())
        await workflow.sleep(timedelta(hours=2))
        times.append(workflow.now())
        return [t.isoformat() for t in times]


@workflow.defn
class WaitsForSignal:
    def __init__(self) -> None:
        self.signalled = False

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.signalled)
        return "signalled"

    @workflow.signal
    def go(self) -> None:
        self.signalled = True


@workflow.defn
class FiveHourlyTimers:
    @workflow.run
    async def run(self) -> int:
        for _ in range(5):
            await workflow.sleep(timedelta(hours=1))
        return 5


@workflow.defn
class RetriesAfterAnHour:
    @workflow.run
    async def run(self, key: str) -> str:
        return await workflow.execute_activity(
            fails_once_then_succeeds, key, start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_attempts=2))


@workflow.defn
class SleepsHalfAnHour:
    @workflow.run
    async def run(self) -> list[str]:
        start = workflow.now()
        await workflow.sleep(timedelta(minutes=30))
        return [start.isoformat(), workflow.now().isoformat()]


@workflow.defn
class ParentOfSleeper:
    """Sleeps 1 h, then runs a child that sleeps 30 min; returns its own clock and the child's."""

    @workflow.run
    async def run(self, child_id: str) -> dict[str, list[str]]:
        before = workflow.now()
        await workflow.sleep(timedelta(hours=1))
        after_sleep = workflow.now()
        child = await workflow.execute_child_workflow(SleepsHalfAnHour.run, id=child_id)
        after_child = workflow.now()
        return {"parent": [t.isoformat() for t in (before, after_sleep, after_child)], "child": child}
