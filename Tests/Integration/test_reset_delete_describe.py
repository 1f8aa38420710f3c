"""Reset, delete, the reverse history read, Describe's pending activities and workflow task, and eager
workflow start: through the real ``temporal`` CLI where it has the command (``workflow reset``,
``workflow delete``), otherwise through the Python SDK (its raw ``workflow_service`` for the reverse read).

Reset, delete and the reverse history read are timekeeper's only: Temporal's Java test server answers
ResetWorkflowExecution, DeleteWorkflowExecution and GetWorkflowExecutionHistoryReverse with UNIMPLEMENTED.
Describe's pending activities and eager start run against both servers.
"""

from __future__ import annotations

import asyncio
import re
import sys
import uuid
from pathlib import Path

import pytest
from temporalio import activity
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType, PendingActivityState, PendingWorkflowTaskState, WorkflowTaskFailedCause
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryReverseRequest, PauseActivityRequest
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from build_support import JAVA_WRAPPER
from reset_describe_workflows import (
    GATED_ACTIVITY,
    GATED_ACTIVITY_ID,
    HEARTBEATING_ACTIVITY,
    HEARTBEATING_ACTIVITY_ID,
    RunsGatedActivity,
    RunsHeartbeatingActivity,
)
from timeskipping_workflows import WaitsForSignals
from workflows import HelloWorkflow

timekeeper_only = pytest.mark.parametrize("server_path", ["timekeeper"], indirect=True)

TEMPORAL_CLI = Path(sys.executable).parent / "temporal"
RESET_REASON = "reset by the integration test"
# The CLI sends the reason prefixed with the user's name ("<user>: <reason>").
REASON_SENT = re.compile(rf"^(.+: )?{re.escape(RESET_REASON)}$")


def on_timekeeper(server_path: str) -> bool:
    """Whether `server_path` is timekeeper (any path but the Java test server's wrapper)."""
    return Path(server_path).resolve() != JAVA_WRAPPER.resolve()


@pytest.fixture
def task_queue():
    return f"rdd-{uuid.uuid4()}"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4()}"


async def cli(env, *args: str, answer: str | None = None) -> str:
    """Runs the real ``temporal`` CLI against ``env``'s server; its standard output (fails on a non-zero exit).
    `answer` is typed at its confirmation prompt."""
    process = await asyncio.create_subprocess_exec(
        str(TEMPORAL_CLI), *args, "--address", env.client.service_client.config.target_host,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL if answer is None else asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(None if answer is None else answer.encode()), 30)
    assert process.returncode == 0, (args, out.decode(), err.decode())
    return out.decode()


async def events_of(handle: WorkflowHandle) -> list:
    return [event async for event in handle.fetch_history_events()]


def names(events: list) -> list[str]:
    return [EventType.Name(event.event_type).removeprefix("EVENT_TYPE_") for event in events]


async def wait_for_event(handle: WorkflowHandle, event_type: int, count: int = 1) -> list:
    """The run's history once it holds `count` events of `event_type`."""
    for _ in range(200):
        events = await events_of(handle)
        if sum(event.event_type == event_type for event in events) >= count:
            return events
        await asyncio.sleep(0.05)
    pytest.fail(f"{handle.id} never had {count} {EventType.Name(event_type)}: {names(events)}")


def signals_worker(env, task_queue: str) -> Worker:
    return Worker(env.client, task_queue=task_queue, workflows=[WaitsForSignals])


# ---------------------------------------------------------------------------------------------------
# Reset


@timekeeper_only
async def test_cli_reset_to_a_completed_workflow_task_starts_a_new_run_and_terminates_the_old(env, task_queue):
    async with signals_worker(env, task_queue):
        handle = await env.client.start_workflow(WaitsForSignals.run, 1, id=unique("reset"), task_queue=task_queue)
        old_run_id = handle.result_run_id
        before = await wait_for_event(handle, EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
        assert names(before) == ["WORKFLOW_EXECUTION_STARTED", "WORKFLOW_TASK_SCHEDULED", "WORKFLOW_TASK_STARTED",
                                 "WORKFLOW_TASK_COMPLETED"]

        await cli(env, "workflow", "reset", "--workflow-id", handle.id, "--event-id", "4", "--reason", RESET_REASON)

        latest = env.client.get_workflow_handle(handle.id)
        described = await latest.describe()
        new_run_id = described.run_id
        assert new_run_id != old_run_id
        assert described.status == WorkflowExecutionStatus.RUNNING
        old = env.client.get_workflow_handle(handle.id, run_id=old_run_id)
        assert (await old.describe()).status == WorkflowExecutionStatus.TERMINATED
        terminated = (await events_of(old))[-1]
        assert terminated.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED
        assert REASON_SENT.match(terminated.workflow_execution_terminated_event_attributes.reason), terminated

        new_run = env.client.get_workflow_handle(handle.id, run_id=new_run_id)
        events = await wait_for_event(new_run, EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
        assert names(events)[:5] == ["WORKFLOW_EXECUTION_STARTED", "WORKFLOW_TASK_SCHEDULED", "WORKFLOW_TASK_STARTED",
                                     "WORKFLOW_TASK_FAILED", "WORKFLOW_TASK_SCHEDULED"]
        assert [event.event_id for event in events] == list(range(1, len(events) + 1))
        failed = events[3].workflow_task_failed_event_attributes
        assert failed.cause == WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW
        assert (failed.base_run_id, failed.new_run_id) == (old_run_id, new_run_id)
        assert (failed.scheduled_event_id, failed.started_event_id) == (2, 3)
        assert failed.failure.message == terminated.workflow_execution_terminated_event_attributes.reason
        assert (
            events[0].workflow_execution_started_event_attributes.workflow_type.name
            == before[0].workflow_execution_started_event_attributes.workflow_type.name
        )

        # The new run is the workflow now: a signal completes it.
        await latest.signal(WaitsForSignals.step)
        assert await latest.result() == 1
    assert (await latest.describe()).run_id == new_run_id


@timekeeper_only
async def test_cli_reset_to_the_first_workflow_task_reapplies_the_signals_that_came_after_it(env, task_queue):
    async with signals_worker(env, task_queue):
        handle = await env.client.start_workflow(WaitsForSignals.run, 2, id=unique("reapply"), task_queue=task_queue)
        old_run_id = handle.result_run_id
        await wait_for_event(handle, EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
        await handle.signal(WaitsForSignals.step)
        assert await handle.query(WaitsForSignals.progress) == 1

        await cli(env, "workflow", "reset", "--workflow-id", handle.id, "--type", "FirstWorkflowTask",
                  "--reason", RESET_REASON)

        latest = env.client.get_workflow_handle(handle.id)
        new_run_id = (await latest.describe()).run_id
        assert new_run_id != old_run_id
        new_run = env.client.get_workflow_handle(handle.id, run_id=new_run_id)
        events = await wait_for_event(new_run, EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
        assert names(events)[:6] == ["WORKFLOW_EXECUTION_STARTED", "WORKFLOW_TASK_SCHEDULED", "WORKFLOW_TASK_STARTED",
                                     "WORKFLOW_TASK_FAILED", "WORKFLOW_EXECUTION_SIGNALED", "WORKFLOW_TASK_SCHEDULED"]
        assert events[4].workflow_execution_signaled_event_attributes.signal_name == "step"
        # The reapplied signal counts in the new run: one more completes it.
        assert await new_run.query(WaitsForSignals.progress) == 1
        await latest.signal(WaitsForSignals.step)
        assert await latest.result() == 2


# ---------------------------------------------------------------------------------------------------
# Delete


@timekeeper_only
async def test_cli_delete_of_a_completed_workflow_leaves_nothing_to_describe_read_or_list(env, task_queue):
    async with signals_worker(env, task_queue):
        handle = await env.client.start_workflow(WaitsForSignals.run, 0, id=unique("delete"), task_queue=task_queue)
        assert await handle.result() == 0
    await cli(env, "workflow", "delete", "--workflow-id", handle.id, answer="y\n")
    await assert_gone(env, handle)


@timekeeper_only
async def test_cli_delete_of_a_running_workflow_removes_it(env, task_queue):
    # No worker: the run stays open with its first workflow task scheduled.
    handle = await env.client.start_workflow(WaitsForSignals.run, 1, id=unique("delete-running"), task_queue=task_queue)
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    await cli(env, "workflow", "delete", "--workflow-id", handle.id, answer="y\n")
    await assert_gone(env, handle)
    # The id is free again: a new workflow starts under it.
    again = await env.client.start_workflow(WaitsForSignals.run, 0, id=handle.id, task_queue=task_queue)
    assert again.result_run_id != handle.result_run_id
    assert (await again.describe()).status == WorkflowExecutionStatus.RUNNING


async def assert_gone(env, handle: WorkflowHandle) -> None:
    """The workflow is gone: Describe and history reads of it (latest run or by run id) are NOT_FOUND and no
    list shows it. Temporal's server deletes in the background, so Describe is polled first (timekeeper
    deletes before it answers the request)."""
    for _ in range(200):
        try:
            await env.client.get_workflow_handle(handle.id).describe()
        except RPCError as error:
            assert error.status == RPCStatusCode.NOT_FOUND, error
            break
        await asyncio.sleep(0.05)
    for target in (env.client.get_workflow_handle(handle.id),
                   env.client.get_workflow_handle(handle.id, run_id=handle.result_run_id)):
        with pytest.raises(RPCError) as described:
            await target.describe()
        assert described.value.status == RPCStatusCode.NOT_FOUND, described.value
        with pytest.raises(RPCError) as read:
            await events_of(target)
        assert read.value.status == RPCStatusCode.NOT_FOUND, read.value
    for _ in range(200):
        listed = [execution.id async for execution in env.client.list_workflows(f"WorkflowId = '{handle.id}'")]
        if not listed:
            break
        await asyncio.sleep(0.05)
    assert listed == []


# ---------------------------------------------------------------------------------------------------
# Reverse history


async def completed_with_signals(env, task_queue: str) -> WorkflowHandle:
    async with signals_worker(env, task_queue):
        handle = await env.client.start_workflow(WaitsForSignals.run, 2, id=unique("reverse"), task_queue=task_queue)
        await handle.signal(WaitsForSignals.step)
        await handle.signal(WaitsForSignals.step)
        assert await handle.result() == 2
    return handle


def reverse_request(env, handle: WorkflowHandle, **kwargs) -> GetWorkflowExecutionHistoryReverseRequest:
    return GetWorkflowExecutionHistoryReverseRequest(
        namespace=env.client.namespace,
        execution=WorkflowExecution(workflow_id=handle.id, run_id=handle.result_run_id),
        **kwargs,
    )


@timekeeper_only
async def test_the_reverse_history_read_returns_the_events_newest_first(env, task_queue):
    handle = await completed_with_signals(env, task_queue)
    forward = await events_of(handle)
    response = await env.client.workflow_service.get_workflow_execution_history_reverse(reverse_request(env, handle))
    backward = list(response.history.events)
    assert response.next_page_token == b""
    assert [event.event_id for event in backward] == list(range(len(forward), 0, -1))
    assert backward == list(reversed(forward))
    assert backward[0].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED
    assert backward[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED


@timekeeper_only
async def test_the_reverse_history_read_pages_backwards_through_the_whole_history(env, task_queue):
    handle = await completed_with_signals(env, task_queue)
    forward = await events_of(handle)
    assert len(forward) > 6, names(forward)
    pages: list[list[int]] = []
    token = b""
    while True:
        response = await env.client.workflow_service.get_workflow_execution_history_reverse(
            reverse_request(env, handle, maximum_page_size=3, next_page_token=token))
        pages.append([event.event_id for event in response.history.events])
        token = response.next_page_token
        if not token:
            break
        assert len(pages) <= len(forward), "the pages never end"
    # Temporal's server pages by whole event batches (a page may hold more than the maximum), so only the
    # order and completeness are asserted: more than one page, newest first, every event once.
    assert len(pages) > 1, pages
    assert all(pages), pages
    assert sum(pages, []) == list(range(len(forward), 0, -1)), pages


# ---------------------------------------------------------------------------------------------------
# Describe: pending activities and workflow task


class Gate:
    """An activity that reports it has started, then waits until the test opens the gate."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.opened = asyncio.Event()

    @activity.defn(name=GATED_ACTIVITY)
    async def wait_at_gate(self) -> str:
        self.entered.set()
        await self.opened.wait()
        return "through the gate"


async def test_describe_lists_a_running_activity_as_pending_and_no_workflow_task_while_idle(env, task_queue):
    gate = Gate()
    async with Worker(env.client, task_queue=task_queue, workflows=[RunsGatedActivity], activities=[gate.wait_at_gate]):
        handle = await env.client.start_workflow(RunsGatedActivity.run, id=unique("gated"), task_queue=task_queue)
        await asyncio.wait_for(gate.entered.wait(), 30)
        raw = (await handle.describe()).raw_description
        assert len(raw.pending_activities) == 1, raw.pending_activities
        pending = raw.pending_activities[0]
        assert pending.activity_id == GATED_ACTIVITY_ID
        assert pending.activity_type.name == GATED_ACTIVITY
        assert pending.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
        assert pending.attempt == 1
        assert pending.HasField("last_started_time")
        # The workflow task that scheduled the activity completed: none is pending while the run waits.
        assert not raw.HasField("pending_workflow_task"), raw.pending_workflow_task

        gate.opened.set()
        assert await handle.result() == "through the gate"
    assert list((await handle.describe()).raw_description.pending_activities) == []


# The Java test server never reports a pending workflow task (its Describe leaves the field unset).
@timekeeper_only
async def test_describe_shows_the_workflow_task_pending_until_a_worker_takes_it(env, task_queue):
    handle = await env.client.start_workflow(WaitsForSignals.run, 1, id=unique("no-worker"), task_queue=task_queue)
    raw = (await handle.describe()).raw_description
    assert raw.HasField("pending_workflow_task")
    assert raw.pending_workflow_task.state == PendingWorkflowTaskState.PENDING_WORKFLOW_TASK_STATE_SCHEDULED
    assert raw.pending_workflow_task.attempt == 1
    assert raw.pending_workflow_task.HasField("scheduled_time")
    assert list(raw.pending_activities) == []
    async with signals_worker(env, task_queue):
        await wait_for_event(handle, EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
        assert not (await handle.describe()).raw_description.HasField("pending_workflow_task")
        await handle.signal(WaitsForSignals.step)
        assert await handle.result() == 1


# ---------------------------------------------------------------------------------------------------
# Eager workflow start


async def test_an_eagerly_started_workflow_runs_its_first_task_on_the_local_worker(env, task_queue):
    async with Worker(env.client, task_queue=task_queue, workflows=[HelloWorkflow]):
        handle = await env.client.start_workflow(
            HelloWorkflow.run, "eager", id=unique("eager"), task_queue=task_queue, request_eager_start=True
        )
        # The start's response carried the first workflow task (the SDK records that it did).
        assert getattr(handle, "__temporal_eagerly_started") is True
        assert await handle.result() == "hello, eager"
    events = await events_of(handle)
    assert names(events) == ["WORKFLOW_EXECUTION_STARTED", "WORKFLOW_TASK_SCHEDULED", "WORKFLOW_TASK_STARTED",
                             "WORKFLOW_TASK_COMPLETED", "WORKFLOW_EXECUTION_COMPLETED"]
    started = events[2].workflow_task_started_event_attributes
    assert started.scheduled_event_id == events[1].event_id
    assert started.identity == env.client.identity
    assert events[1].workflow_task_scheduled_event_attributes.attempt == 1


# The Java test server reports no reset points; Temporal's server records one per worker build, at the
# first workflow task that build completed (checked against `temporal server start-dev`: one point,
# build id as the worker's, first_workflow_task_completed_id 4).
@timekeeper_only
async def test_describe_offers_the_first_workflow_task_a_worker_build_completed_as_a_reset_point(env, task_queue):
    async with Worker(env.client, task_queue=task_queue, workflows=[HelloWorkflow], build_id="build-7"):
        handle = await env.client.start_workflow(HelloWorkflow.run, "reset", id=unique("points"), task_queue=task_queue)
        await handle.result()
    points = (await handle.describe()).raw_description.workflow_execution_info.auto_reset_points.points
    assert len(points) == 1, points
    assert points[0].build_id == "build-7"
    assert points[0].run_id == handle.result_run_id
    assert points[0].first_workflow_task_completed_id == 4
    assert points[0].resettable


@activity.defn(name=HEARTBEATING_ACTIVITY)
async def heartbeat_until_told() -> str:
    try:
        while True:
            activity.heartbeat()
            await asyncio.sleep(0.1)
    except asyncio.CancelledError:
        details = activity.cancellation_details()
        return f"paused={details.paused} cancel_requested={details.cancel_requested}"


# The Java test server has no PauseActivity (UNIMPLEMENTED); sdk-python's own pause tests pass against
# Temporal's dev server and against timekeeper (test_activity_pause_cancellation_details).
@timekeeper_only
async def test_a_paused_activity_hears_of_it_from_its_heartbeat_and_describe_shows_it_paused(env, task_queue):
    async with Worker(env.client, task_queue=task_queue, workflows=[RunsHeartbeatingActivity],
                      activities=[heartbeat_until_told]):
        handle = await env.client.start_workflow(RunsHeartbeatingActivity.run, id=unique("paused"), task_queue=task_queue)
        for _ in range(300):
            if (await handle.describe()).raw_description.pending_activities:
                break
            await asyncio.sleep(0.05)
        await env.client.workflow_service.pause_activity(PauseActivityRequest(
            namespace="default", execution=WorkflowExecution(workflow_id=handle.id), id=HEARTBEATING_ACTIVITY_ID,
            reason="looking into it"))
        pending = (await handle.describe()).raw_description.pending_activities[0]
        assert pending.paused
        assert pending.pause_info.manual.reason == "looking into it"
        # The running attempt learns of the pause from its next heartbeat, not as a cancel request.
        assert await asyncio.wait_for(handle.result(), 30) == "paused=True cancel_requested=False"
        missing = await _rpc_error_of(env.client.workflow_service.pause_activity(PauseActivityRequest(
            namespace="default", execution=WorkflowExecution(workflow_id=handle.id), id="no-such-activity")))
        assert missing.status == RPCStatusCode.NOT_FOUND


async def _rpc_error_of(call) -> RPCError:
    with pytest.raises(RPCError) as info:
        await call
    return info.value
