"""Signals, queries, cancellation and workflow retries through the Python SDK, on both servers."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.common import RetryPolicy
from temporalio.exceptions import CancelledError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from timeskipping_workflows import (
    CancellableActivity,
    FailsUntilThirdAttempt,
    WaitsForSignals,
    heartbeat_until_cancelled,
)


@pytest.fixture
def task_queue():
    return f"sqc-{uuid.uuid4()}"


def worker(env, task_queue):
    return Worker(
        env.client, task_queue=task_queue,
        workflows=[CancellableActivity, FailsUntilThirdAttempt, WaitsForSignals],
        activities=[heartbeat_until_cancelled],
    )


async def test_a_signal_to_a_closed_run_is_not_found_and_a_query_still_answers(env, task_queue):
    async with worker(env, task_queue):
        handle = await env.client.start_workflow(WaitsForSignals.run, 1, id=f"closed-{uuid.uuid4()}", task_queue=task_queue)
        await handle.signal(WaitsForSignals.step)
        assert await handle.result() == 1
        with pytest.raises(RPCError) as info:
            await handle.signal(WaitsForSignals.step)
        assert info.value.status == RPCStatusCode.NOT_FOUND
        assert await handle.query(WaitsForSignals.progress) == 1


async def test_cancelling_a_workflow_reaches_its_running_activity(env, task_queue):
    async with worker(env, task_queue):
        handle = await env.client.start_workflow(CancellableActivity.run, id=f"cancel-{uuid.uuid4()}", task_queue=task_queue)
        # Wait until the activity is running (its heartbeats are recorded), then cancel the workflow.
        for _ in range(100):
            history = [event async for event in handle.fetch_history_events()]
            if any(event.HasField("activity_task_scheduled_event_attributes") for event in history):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        await handle.cancel()
        with pytest.raises(WorkflowFailureError) as info:
            await handle.result()
    assert isinstance(info.value.cause, CancelledError), info.value.cause
    history = [event async for event in handle.fetch_history_events()]
    canceled = [e for e in history if e.HasField("activity_task_canceled_event_attributes")]
    assert canceled, "the activity reported its cancellation"


async def test_a_workflow_retry_policy_starts_new_runs_until_one_succeeds(env, task_queue):
    async with worker(env, task_queue):
        handle = await env.client.start_workflow(
            FailsUntilThirdAttempt.run, id=f"wretry-{uuid.uuid4()}", task_queue=task_queue,
            retry_policy=RetryPolicy(initial_interval=timedelta(minutes=1), maximum_attempts=5),
        )
        assert await handle.result() == 3
        description = await handle.describe()
    assert description.run_id != handle.first_execution_run_id
