"""Workflows and activities for the durable dev server's tests (test_durable_dev_server.py).

Kept in their own module, importing only the standard library and temporalio, so that the workflow
sandbox can re-import them.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from temporalio import activity, workflow

#: How many times each activity input ran in this process (an activity may run again after a crash).
EXECUTIONS: Counter[str] = Counter()


@activity.defn
async def record(text: str) -> str:
    EXECUTIONS[text] += 1
    return f"done {text}"


@workflow.defn
class TimersAndActivities:
    """Three rounds of a short timer and an activity; returns the activities' results in order."""

    @workflow.run
    async def run(self, number: int) -> list[str]:
        results = []
        for round_ in range(3):
            await workflow.sleep(timedelta(milliseconds=100 + 100 * (number % 5)))
            results.append(await workflow.execute_activity(
                record, f"{number}-{round_}", start_to_close_timeout=timedelta(seconds=5)))
        return results


@workflow.defn
class SleepsThenAsks:
    """A timer that may come due while the server is down, then an activity."""

    @workflow.run
    async def run(self, seconds: float) -> str:
        await workflow.sleep(timedelta(seconds=seconds))
        return await workflow.execute_activity(record, "after the sleep", start_to_close_timeout=timedelta(seconds=10))
