"""Workflows and activities for the time-skipping tests (Tests/Integration/test_time_skipping.py).

Kept in their own module, importing only the standard library and temporalio, so that the workflow
sandbox can re-import them.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError


@activity.defn
async def echo(text: str) -> str:
    return f"echo: {text}"


@activity.defn
async def take_one_real_second() -> str:
    await asyncio.sleep(1)
    return "activity finished"


@activity.defn
async def fail_first_attempt() -> int:
    """Fails its first attempt with an explicit 1-hour retry delay, then succeeds."""
    info = activity.info()
    if info.attempt == 1:
        raise ApplicationError("try again in an hour", next_retry_delay=timedelta(hours=1))
    return info.attempt


@activity.defn
async def heartbeat_once_then_stall() -> None:
    """Heartbeats once, then goes quiet for longer than its heartbeat timeout."""
    activity.heartbeat("last words")
    await asyncio.sleep(30)


@workflow.defn
class SleepActivitySleep:
    """Sleeps 1 h, runs an activity, sleeps 2 h; returns the virtual seconds it saw pass."""

    @workflow.run
    async def run(self) -> float:
        started = workflow.now()
        await asyncio.sleep(3600)
        await workflow.execute_activity(echo, "hi", start_to_close_timeout=timedelta(seconds=30))
        await asyncio.sleep(7200)
        return (workflow.now() - started).total_seconds()


@workflow.defn
class WaitsForSignals:
    """Waits for `steps` signals with no timer of its own (the seed's trap); query `progress`."""

    def __init__(self) -> None:
        self.received = 0

    @workflow.run
    async def run(self, steps: int) -> int:
        await workflow.wait_condition(lambda: self.received >= steps)
        return self.received

    @workflow.signal
    def step(self) -> None:
        self.received += 1

    @workflow.query
    def progress(self) -> int:
        return self.received


@workflow.defn
class ActivityRacesTimer:
    """Races a 1-real-second activity against a 1-hour timer; returns who won."""

    @workflow.run
    async def run(self) -> str:
        activity_task = asyncio.ensure_future(
            workflow.execute_activity(take_one_real_second, start_to_close_timeout=timedelta(seconds=30))
        )
        timer_task = asyncio.ensure_future(asyncio.sleep(3600))
        done, _ = await workflow.wait([activity_task, timer_task], return_when=asyncio.FIRST_COMPLETED)
        return "activity" if activity_task in done else "timer"


@workflow.defn
class SleepsAnHour:
    """Sleeps an hour, then returns; `fired` says whether the sleep ended."""

    def __init__(self) -> None:
        self.fired = False

    @workflow.run
    async def run(self) -> str:
        await asyncio.sleep(3600)
        self.fired = True
        return "woke"

    @workflow.query
    def woke(self) -> bool:
        return self.fired


@workflow.defn
class RetriesAfterAnHour:
    @workflow.run
    async def run(self) -> int:
        return await workflow.execute_activity(
            fail_first_attempt,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_attempts=3),
        )


@workflow.defn
class HeartbeatTimesOut:
    @workflow.run
    async def run(self) -> str:
        await workflow.execute_activity(
            heartbeat_once_then_stall,
            start_to_close_timeout=timedelta(minutes=5),
            heartbeat_timeout=timedelta(seconds=2),
            retry_policy=RetryPolicy(maximum_attempts=1),
        )
        return "unreachable"


@workflow.defn
class SleepsThreeSeconds:
    @workflow.run
    async def run(self) -> str:
        await asyncio.sleep(3)
        return "slept"


@activity.defn
async def heartbeat_until_cancelled() -> str:
    """Heartbeats every 100 ms until the server reports a cancel request, then reports itself cancelled."""
    while True:
        activity.heartbeat()
        await asyncio.sleep(0.1)


@workflow.defn
class CancellableActivity:
    """Runs a heartbeating activity and waits for it; cancelled from outside."""

    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_activity(
            heartbeat_until_cancelled,
            start_to_close_timeout=timedelta(minutes=5),
            heartbeat_timeout=timedelta(seconds=5),
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )


@workflow.defn
class FailsUntilThirdAttempt:
    """Fails its first two runs; the workflow retry policy starts the next run each time."""

    @workflow.run
    async def run(self) -> int:
        attempt = workflow.info().attempt
        if attempt < 3:
            raise ApplicationError(f"attempt {attempt} fails")
        return attempt


@activity.defn
async def never_polled() -> None:
    """Registered nowhere: it stays pending in its queue (for timetable inspection)."""


@workflow.defn
class SleepsWithActivityPending:
    """Sleeps an hour while an activity waits in a queue no worker polls."""

    @workflow.run
    async def run(self) -> None:
        pending = workflow.start_activity(
            never_polled, task_queue="nobody-polls-this", start_to_close_timeout=timedelta(minutes=5)
        )
        await asyncio.sleep(3600)
        await pending
