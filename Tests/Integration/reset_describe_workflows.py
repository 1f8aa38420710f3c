"""Workflows for the reset / delete / describe / eager-start tests
(Tests/Integration/test_reset_delete_describe.py).

Kept in their own module, importing only the standard library and temporalio, so that the workflow
sandbox can re-import them.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

GATED_ACTIVITY = "wait_at_gate"
GATED_ACTIVITY_ID = "gated"


@workflow.defn
class RunsGatedActivity:
    """Runs the activity `wait_at_gate` (registered by the test, which decides when it returns) with
    activity id `gated`, and returns its result."""

    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_activity(
            GATED_ACTIVITY,
            activity_id=GATED_ACTIVITY_ID,
            start_to_close_timeout=timedelta(minutes=5),
            result_type=str,
        )


HEARTBEATING_ACTIVITY = "heartbeat_until_told"
HEARTBEATING_ACTIVITY_ID = "beating"


@workflow.defn
class RunsHeartbeatingActivity:
    """Runs the activity `heartbeat_until_told` (registered by the test) with activity id `beating` and a
    one-second heartbeat timeout, so its heartbeats reach the server within a second; returns its result."""

    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_activity(
            HEARTBEATING_ACTIVITY,
            activity_id=HEARTBEATING_ACTIVITY_ID,
            start_to_close_timeout=timedelta(minutes=5),
            heartbeat_timeout=timedelta(seconds=1),
            result_type=str,
        )
