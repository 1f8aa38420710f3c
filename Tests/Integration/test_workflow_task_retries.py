"""A workflow task that fails again and again: its retries are transient, as on Temporal's server.

The first failure is written (WorkflowTaskFailed); the retries after it write nothing until one
completes, which writes its scheduled, started and completed events then. The SDK reports only the first
failure and lets later attempts time out, so each retry costs one workflow-task timeout. Temporal's Java
test server writes every attempt (scheduled, started, failed or timed out), so this runs against
timekeeper only; Temporal's dev server gives the same history as timekeeper here (checked by hand with
this workflow against `temporal server start-dev`).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

timekeeper_only = pytest.mark.parametrize("server_path", ["timekeeper"], indirect=True)

# Read by the workflow on each attempt (the unsandboxed runner shares this module with the test).
FAILING = {"on": True, "attempts": 0}


@workflow.defn
class FailsUntilToldNot:
    @workflow.run
    async def run(self) -> str:
        FAILING["attempts"] += 1
        if FAILING["on"]:
            raise RuntimeError("not yet")  # not a Temporal failure: the SDK fails the workflow task
        return "done"


@timekeeper_only
async def test_a_task_failing_again_and_again_writes_one_failure_and_the_completing_attempt(env):
    task_queue = f"retries-{uuid.uuid4()}"
    FAILING.update(on=True, attempts=0)
    async with Worker(env.client, task_queue=task_queue, workflows=[FailsUntilToldNot],
                      workflow_runner=UnsandboxedWorkflowRunner()):
        handle = await env.client.start_workflow(
            FailsUntilToldNot.run, id=f"retries-{uuid.uuid4()}", task_queue=task_queue,
            task_timeout=timedelta(seconds=1))
        # Attempt 1 fails at once and is reported; attempts 2 and 3 fail and time out after a second each.
        while FAILING["attempts"] < 3:
            await asyncio.sleep(0.05)
        FAILING["on"] = False
        assert await asyncio.wait_for(handle.result(), timeout=30) == "done"
    events = (await handle.fetch_history()).events
    types = [event.event_type for event in events]
    assert types == [
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    ], [EventType.Name(t) for t in types]
    completing = events[4].workflow_task_scheduled_event_attributes.attempt
    assert completing == FAILING["attempts"] >= 4
    assert events[6].workflow_task_completed_event_attributes.started_event_id == 6
