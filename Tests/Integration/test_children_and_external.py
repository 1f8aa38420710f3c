"""Child workflows, and the signals and cancel requests one workflow sends another, through the Python SDK.

Every test runs against both servers (the `env` fixture is parametrised over timekeeper and Temporal's
Java test server) unless the Java test server lacks the behaviour; where it differs in a detail, the test
says so.

Several tests keep a workflow blocked on a signal (with no timer of its own) while awaiting another's
result. Both servers give such a workflow a ten-year execution timeout and, with the SDK's automatic time
skipping, jump to it (timekeeper reports the jump as a time-skipping trap), so those awaits run with
automatic time skipping disabled: these tests are about children and external commands, not the clock.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import (
    EventType,
    ParentClosePolicy,
    SignalExternalWorkflowExecutionFailedCause,
    StartChildWorkflowExecutionFailedCause,
)
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError, ChildWorkflowError
from temporalio.worker import Worker

from build_support import JAVA_WRAPPER

from child_workflows import (
    Canceller,
    Child,
    FailingChild,
    ParentAwaitsChild,
    ParentCancelsChild,
    ParentLeavesChild,
    ParentOfChild,
    ParentOfFailingChild,
    ParentOfTakenChild,
    Signaller,
    SignallerOfNobody,
    Waiter,
)

ALL_WORKFLOWS = [
    Canceller, Child, FailingChild, ParentAwaitsChild, ParentCancelsChild, ParentLeavesChild, ParentOfChild,
    ParentOfFailingChild, ParentOfTakenChild, Signaller, SignallerOfNobody, Waiter,
]


@pytest.fixture
def task_queue():
    return f"child-{uuid.uuid4()}"


def worker(env, task_queue: str) -> Worker:
    return Worker(env.client, task_queue=task_queue, workflows=ALL_WORKFLOWS)


ALREADY_EXISTS = StartChildWorkflowExecutionFailedCause.START_CHILD_WORKFLOW_EXECUTION_FAILED_CAUSE_WORKFLOW_ALREADY_EXISTS
EXTERNAL_NOT_FOUND = (
    SignalExternalWorkflowExecutionFailedCause.SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE_EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND
)

timekeeper_only = pytest.mark.parametrize("server_path", ["timekeeper"], indirect=True)


def on_timekeeper(server_path: str) -> bool:
    """Whether `server_path` is timekeeper (any path but the Java test server's wrapper)."""
    return Path(server_path).resolve() != JAVA_WRAPPER.resolve()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4()}"


async def events_of(handle: WorkflowHandle) -> list:
    return [event async for event in handle.fetch_history_events()]


def only(events: list, event_type: int):
    """The one event of `event_type` (fails naming the history's event types otherwise)."""
    matching = [event for event in events if event.event_type == event_type]
    assert len(matching) == 1, (EventType.Name(event_type), [EventType.Name(event.event_type) for event in events])
    return matching[0]


def payload_value(payloads) -> object:
    return json.loads(payloads.payloads[0].data)


async def status_once_settled(client: Client, workflow_id: str, timeout: float = 10.0) -> WorkflowExecutionStatus:
    """The status of `workflow_id` once it is no longer RUNNING (or RUNNING if it still is after `timeout` s):
    a parent close policy may be applied after the parent's close is answered."""
    handle = client.get_workflow_handle(workflow_id)
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        status = (await handle.describe()).status
        if status != WorkflowExecutionStatus.RUNNING or asyncio.get_running_loop().time() > deadline:
            return status
        await asyncio.sleep(0.05)


async def wait_until_running(client: Client, workflow_id: str) -> None:
    """Waits until a workflow with `workflow_id` exists (a child is started by its parent's completion)."""
    for _ in range(200):
        try:
            await client.get_workflow_handle(workflow_id).describe()
            return
        except Exception:  # noqa: BLE001 -- NOT_FOUND until the parent's command is carried out
            await asyncio.sleep(0.05)
    pytest.fail(f"{workflow_id} never started")


# ---------------------------------------------------------------------------------------------------
# Children


async def test_a_parent_gets_its_childs_result_and_the_child_names_its_parent_and_root(env, task_queue):
    parent_id, child_id = unique("parent"), unique("child")
    async with worker(env, task_queue):
        handle = await env.client.start_workflow(ParentOfChild.run, child_id, id=parent_id, task_queue=task_queue)
        assert await handle.result() == "child says hello, parent"
    events = await events_of(handle)

    initiated = only(events, EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED)
    started = only(events, EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED)
    completed = only(events, EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED)
    assert initiated.event_id < started.event_id < completed.event_id
    initiation = initiated.start_child_workflow_execution_initiated_event_attributes
    assert initiation.workflow_id == child_id
    assert initiation.workflow_type.name == "Child"
    assert initiation.task_queue.name == task_queue
    assert initiation.parent_close_policy == ParentClosePolicy.PARENT_CLOSE_POLICY_TERMINATE
    start = started.child_workflow_execution_started_event_attributes
    assert start.initiated_event_id == initiated.event_id
    assert start.workflow_execution.workflow_id == child_id and start.workflow_execution.run_id
    assert start.workflow_type.name == "Child"
    completion = completed.child_workflow_execution_completed_event_attributes
    assert completion.initiated_event_id == initiated.event_id
    assert completion.started_event_id == started.event_id
    assert completion.workflow_execution.run_id == start.workflow_execution.run_id
    assert payload_value(completion.result) == "child says hello, parent"

    child = await env.client.get_workflow_handle(child_id).describe()
    assert child.status == WorkflowExecutionStatus.COMPLETED
    assert child.run_id == start.workflow_execution.run_id
    assert (child.parent_id, child.parent_run_id) == (parent_id, handle.result_run_id)
    assert (child.root_id, child.root_run_id) == (parent_id, handle.result_run_id)


async def test_a_failing_child_fails_its_parent_with_a_child_workflow_error_carrying_the_cause(env, task_queue):
    parent_id, child_id = unique("parent"), unique("failing-child")
    async with worker(env, task_queue):
        handle = await env.client.start_workflow(
            ParentOfFailingChild.run, args=[child_id, "the child broke"], id=parent_id, task_queue=task_queue
        )
        with pytest.raises(WorkflowFailureError) as info:
            await handle.result()
    error = info.value.cause
    assert isinstance(error, ChildWorkflowError), error
    assert error.workflow_id == child_id and error.workflow_type == "FailingChild"
    assert isinstance(error.cause, ApplicationError), error.cause
    assert error.cause.message == "the child broke"

    events = await events_of(handle)
    failed = only(events, EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED)
    failure = failed.child_workflow_execution_failed_event_attributes
    assert failure.workflow_execution.workflow_id == child_id
    assert failure.failure.message == "the child broke"
    assert failure.initiated_event_id == only(events, EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED).event_id
    assert (await env.client.get_workflow_handle(child_id).describe()).status == WorkflowExecutionStatus.FAILED


async def test_a_child_whose_id_a_running_workflow_holds_fails_to_start_with_workflow_already_started(env, task_queue):
    taken_id = unique("taken")
    async with worker(env, task_queue):
        holder = await env.client.start_workflow(Waiter.run, id=taken_id, task_queue=task_queue)
        parent = await env.client.start_workflow(
            ParentOfTakenChild.run, taken_id, id=unique("parent"), task_queue=task_queue
        )
        with env.auto_time_skipping_disabled():  # the holder waits for a signal
            assert await parent.result() == ["WorkflowAlreadyStartedError", taken_id, "Waiter"]
        events = await events_of(parent)
        failed = only(events, EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED)
        attributes = failed.start_child_workflow_execution_failed_event_attributes
        assert attributes.cause == ALREADY_EXISTS
        assert attributes.workflow_id == taken_id
        initiated = only(events, EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED)
        assert attributes.initiated_event_id == initiated.event_id
        assert not [event for event in events if event.event_type == EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED]
        # The holder is untouched: still running, and it is no one's child.
        description = await holder.describe()
        assert description.status == WorkflowExecutionStatus.RUNNING and description.parent_id is None
        await holder.signal(Waiter.finish, "done")
        assert await holder.result() == "done"


# The Java test server does not apply parent close policies: the child of a completed parent with the
# TERMINATE policy is still RUNNING there 10 s later (Temporal's server terminates it).
@timekeeper_only
async def test_a_parent_closing_terminates_its_child_under_the_default_terminate_policy(env, task_queue):
    child_id = unique("child")
    async with worker(env, task_queue):
        parent = await env.client.start_workflow(
            ParentLeavesChild.run, args=[child_id, "TERMINATE"], id=unique("parent"), task_queue=task_queue
        )
        with env.auto_time_skipping_disabled():  # the child waits for a signal
            child_run_id = await parent.result()
        assert await status_once_settled(env.client, child_id) == WorkflowExecutionStatus.TERMINATED
    child = env.client.get_workflow_handle(child_id)
    assert (await child.describe()).run_id == child_run_id
    assert (await events_of(child))[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED


async def test_a_parent_closing_leaves_an_abandoned_child_running(env, task_queue):
    child_id = unique("child")
    async with worker(env, task_queue):
        parent = await env.client.start_workflow(
            ParentLeavesChild.run, args=[child_id, "ABANDON"], id=unique("parent"), task_queue=task_queue
        )
        with env.auto_time_skipping_disabled():  # the child waits for a signal
            child_run_id = await parent.result()
        initiated = only(await events_of(parent), EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED)
        assert (
            initiated.start_child_workflow_execution_initiated_event_attributes.parent_close_policy
            == ParentClosePolicy.PARENT_CLOSE_POLICY_ABANDON
        )
        # Give a close policy time to act, were one (wrongly) applied.
        await asyncio.sleep(0.5)
        child = env.client.get_workflow_handle(child_id)
        description = await child.describe()
        assert description.status == WorkflowExecutionStatus.RUNNING and description.run_id == child_run_id
        # Still a live workflow: it takes a signal and completes.
        await child.signal(Waiter.finish, "on my own")
        assert await child.result() == "on my own"


async def test_a_parent_cancelling_its_child_sees_it_cancelled(env, task_queue, server_path):
    child_id = unique("child")
    async with worker(env, task_queue):
        parent = await env.client.start_workflow(
            ParentCancelsChild.run, child_id, id=unique("parent"), task_queue=task_queue
        )
        assert await parent.result() == "CancelledError"
    child = await env.client.get_workflow_handle(child_id).describe()
    assert child.status == WorkflowExecutionStatus.CANCELED
    events = await events_of(parent)
    requested = only(events, EventType.EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED)
    request = requested.request_cancel_external_workflow_execution_initiated_event_attributes
    assert request.workflow_execution.workflow_id == child_id
    assert request.child_workflow_only
    only(events, EventType.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_CANCEL_REQUESTED)
    canceled = only(events, EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED)
    assert canceled.child_workflow_execution_canceled_event_attributes.workflow_execution.workflow_id == child_id
    child_events = await events_of(env.client.get_workflow_handle(child_id))
    cancel_requested = only(child_events, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED)
    assert child_events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED
    # Temporal's server names the requesting workflow on the target's event; the Java test server leaves it empty.
    if on_timekeeper(server_path):
        requester = cancel_requested.workflow_execution_cancel_requested_event_attributes.external_workflow_execution
        assert (requester.workflow_id, requester.run_id) == (parent.id, parent.result_run_id)


async def test_a_parents_describe_lists_its_running_child_as_pending(env, task_queue):
    child_id = unique("child")
    async with worker(env, task_queue):
        parent = await env.client.start_workflow(ParentAwaitsChild.run, child_id, id=unique("parent"), task_queue=task_queue)
        await wait_until_running(env.client, child_id)
        child = env.client.get_workflow_handle(child_id)
        child_run_id = (await child.describe()).run_id
        # The child's start is recorded in the parent (ChildWorkflowExecutionStarted) with the child's start.
        for _ in range(200):
            pending = list((await parent.describe()).raw_description.pending_children)
            if pending and pending[0].run_id:
                break
            await asyncio.sleep(0.05)
        assert len(pending) == 1, pending
        assert pending[0].workflow_id == child_id
        assert pending[0].run_id == child_run_id
        assert pending[0].workflow_type_name == "Waiter"
        assert pending[0].parent_close_policy == ParentClosePolicy.PARENT_CLOSE_POLICY_TERMINATE
        initiated = only(await events_of(parent), EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED)
        assert pending[0].initiated_id == initiated.event_id

        await child.signal(Waiter.finish, "grown up")
        with env.auto_time_skipping_disabled():
            assert await parent.result() == "grown up"
        assert list((await parent.describe()).raw_description.pending_children) == []


# ---------------------------------------------------------------------------------------------------
# External signals and cancel requests


async def test_a_workflow_signals_another_by_id_and_the_target_receives_it(env, task_queue, server_path):
    async with worker(env, task_queue):
        target = await env.client.start_workflow(Waiter.run, id=unique("target"), task_queue=task_queue)
        sender = await env.client.start_workflow(
            Signaller.run, args=[target.id, "from a sibling"], id=unique("sender"), task_queue=task_queue
        )
        with env.auto_time_skipping_disabled():  # the target waits for the signal
            assert await sender.result() == "sent"
            assert await target.result() == "from a sibling"
    sender_events = await events_of(sender)
    initiated = only(sender_events, EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED)
    initiation = initiated.signal_external_workflow_execution_initiated_event_attributes
    assert initiation.workflow_execution.workflow_id == target.id
    assert initiation.signal_name == "finish"
    assert not initiation.child_workflow_only
    signaled = only(sender_events, EventType.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_SIGNALED)
    assert signaled.external_workflow_execution_signaled_event_attributes.initiated_event_id == initiated.event_id
    received = only(await events_of(target), EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED)
    attributes = received.workflow_execution_signaled_event_attributes
    assert attributes.signal_name == "finish"
    assert payload_value(attributes.input) == "from a sibling"
    # Temporal's server names the sending workflow on the target's event; the Java test server leaves it empty.
    if on_timekeeper(server_path):
        assert attributes.external_workflow_execution.workflow_id == sender.id
        assert attributes.external_workflow_execution.run_id == sender.result_run_id


async def test_signalling_a_workflow_id_nobody_runs_raises_in_the_sender_and_fails_not_found(env, task_queue):
    nobody = unique("nobody")
    async with worker(env, task_queue):
        sender = await env.client.start_workflow(SignallerOfNobody.run, nobody, id=unique("sender"), task_queue=task_queue)
        raised_type, message = await sender.result()
    assert raised_type == "ApplicationError", (raised_type, message)
    assert "not found" in message.lower(), message
    events = await events_of(sender)
    initiated = only(events, EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED)
    failed = only(events, EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED)
    failure = failed.signal_external_workflow_execution_failed_event_attributes
    assert failure.cause == EXTERNAL_NOT_FOUND
    assert failure.initiated_event_id == initiated.event_id
    assert failure.workflow_execution.workflow_id == nobody
    assert not [event for event in events if event.event_type == EventType.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_SIGNALED]


async def test_a_workflow_cancels_another_by_id_and_the_target_is_cancelled(env, task_queue, server_path):
    async with worker(env, task_queue):
        target = await env.client.start_workflow(Waiter.run, id=unique("target"), task_queue=task_queue)
        sender = await env.client.start_workflow(Canceller.run, target.id, id=unique("canceller"), task_queue=task_queue)
        with env.auto_time_skipping_disabled():  # the target waits for the cancel request
            assert await sender.result() == "requested"
        assert await status_once_settled(env.client, target.id) == WorkflowExecutionStatus.CANCELED
    sender_events = await events_of(sender)
    initiated = only(sender_events, EventType.EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED)
    initiation = initiated.request_cancel_external_workflow_execution_initiated_event_attributes
    assert initiation.workflow_execution.workflow_id == target.id
    assert not initiation.child_workflow_only
    requested = only(sender_events, EventType.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_CANCEL_REQUESTED)
    assert requested.external_workflow_execution_cancel_requested_event_attributes.initiated_event_id == initiated.event_id
    target_events = await events_of(target)
    cancel_requested = only(target_events, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED)
    attributes = cancel_requested.workflow_execution_cancel_requested_event_attributes
    # Temporal's server names the requesting workflow and its initiated event on the target's event; the Java
    # test server leaves both empty.
    if on_timekeeper(server_path):
        assert (attributes.external_workflow_execution.workflow_id, attributes.external_workflow_execution.run_id) == (
            sender.id, sender.result_run_id)
        assert attributes.external_initiated_event_id == initiated.event_id
    assert target_events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED
