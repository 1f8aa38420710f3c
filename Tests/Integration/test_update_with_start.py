"""Update-with-start (``ExecuteMultiOperation``) through the Python SDK's
``execute_update_with_start_workflow``: the start creates the workflow or, under USE_EXISTING, uses the
running one; under FAIL a running workflow refuses it.

Runs against both servers: Temporal's Java test server (1.40) implements ExecuteMultiOperation too.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WithStartWorkflowOperation, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from build_support import JAVA_WRAPPER

from update_workflows import Updatable

ACCEPTED = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
COMPLETED = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED
STARTED = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED


def on_timekeeper(server_path: str) -> bool:
    """Whether `server_path` is timekeeper (any path but the Java test server's wrapper)."""
    return Path(server_path).resolve() != JAVA_WRAPPER.resolve()


@pytest.fixture
def task_queue():
    return f"uws-{uuid.uuid4()}"


def worker(env, task_queue: str) -> Worker:
    return Worker(env.client, task_queue=task_queue, workflows=[Updatable])


def start_operation(workflow_id: str, task_queue: str, policy: WorkflowIDConflictPolicy) -> WithStartWorkflowOperation:
    return WithStartWorkflowOperation(Updatable.run, id=workflow_id, task_queue=task_queue, id_conflict_policy=policy)


async def event_types(handle: WorkflowHandle) -> list[int]:
    return [event.event_type async for event in handle.fetch_history_events()]


async def test_update_with_start_starts_the_workflow_and_returns_the_update_result(env, task_queue):
    workflow_id = f"uws-{uuid.uuid4()}"
    async with worker(env, task_queue):
        start = start_operation(workflow_id, task_queue, WorkflowIDConflictPolicy.USE_EXISTING)
        result = await env.client.execute_update_with_start_workflow(
            Updatable.add, 5, start_workflow_operation=start, id="first-add"
        )
        assert result == 5
        handle = await start.workflow_handle()
        assert handle.id == workflow_id
        description = await env.client.get_workflow_handle(workflow_id).describe()
        assert description.run_id == handle.result_run_id == handle.first_execution_run_id
        assert description.workflow_type == "Updatable"
        await handle.signal(Updatable.finish)
        assert await handle.result() == 5
    types = await event_types(handle)
    assert types.count(STARTED) == 1
    assert [t for t in types if t in (ACCEPTED, COMPLETED)] == [ACCEPTED, COMPLETED]


async def test_update_with_start_under_use_existing_updates_the_running_workflow(env, task_queue):
    workflow_id = f"uws-{uuid.uuid4()}"
    async with worker(env, task_queue):
        first = start_operation(workflow_id, task_queue, WorkflowIDConflictPolicy.USE_EXISTING)
        assert await env.client.execute_update_with_start_workflow(
            Updatable.add, 5, start_workflow_operation=first, id="add-five"
        ) == 5
        second = start_operation(workflow_id, task_queue, WorkflowIDConflictPolicy.USE_EXISTING)
        # The running run's total (5) grows: the update went to it, not to a new run.
        assert await env.client.execute_update_with_start_workflow(
            Updatable.add, 2, start_workflow_operation=second, id="add-two"
        ) == 7
        first_handle, second_handle = await first.workflow_handle(), await second.workflow_handle()
        assert second_handle.result_run_id == first_handle.result_run_id
        await second_handle.signal(Updatable.finish)
        assert await second_handle.result() == 7
    types = await event_types(first_handle)
    assert types.count(STARTED) == 1
    assert [t for t in types if t in (ACCEPTED, COMPLETED)] == [ACCEPTED, COMPLETED, ACCEPTED, COMPLETED]


async def test_update_with_start_under_fail_against_a_running_workflow_is_workflow_already_started(
    env, task_queue, server_path
):
    workflow_id = f"uws-{uuid.uuid4()}"
    async with worker(env, task_queue):
        running = await env.client.start_workflow(Updatable.run, id=workflow_id, task_queue=task_queue)
        start = start_operation(workflow_id, task_queue, WorkflowIDConflictPolicy.FAIL)
        if on_timekeeper(server_path):
            with pytest.raises(WorkflowAlreadyStartedError) as info:
                await env.client.execute_update_with_start_workflow(
                    Updatable.add, 3, start_workflow_operation=start, id="refused"
                )
            assert info.value.workflow_id == workflow_id
            assert info.value.run_id == running.result_run_id
            # The start operation's handle fails the same way.
            with pytest.raises(WorkflowAlreadyStartedError):
                await start.workflow_handle()
        else:
            # The Java test server refuses the start with ALREADY_EXISTS too, but its operation status carries
            # no WorkflowExecutionAlreadyStartedFailure detail, so the SDK raises the bare RPCError.
            with pytest.raises(RPCError) as refused:
                await env.client.execute_update_with_start_workflow(
                    Updatable.add, 3, start_workflow_operation=start, id="refused"
                )
            assert refused.value.status == RPCStatusCode.ALREADY_EXISTS
            assert running.result_run_id in refused.value.message
            with pytest.raises(RPCError):
                await start.workflow_handle()
        # The update was aborted with the start: the running workflow never saw it.
        assert await running.query(Updatable.handled) == 0
        await running.signal(Updatable.finish)
        assert await running.result() == 0
    types = await event_types(running)
    assert types.count(STARTED) == 1
    assert ACCEPTED not in types
