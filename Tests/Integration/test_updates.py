"""Workflow updates through the Python SDK: execute/start/poll, validators, ids, closed runs, and how
the virtual clock treats a client awaiting an update.

The tests that only exercise the update protocol run against both servers (the `env` fixture is
parametrised over timekeeper and Temporal's Java test server). The clock tests are timekeeper's only:
the Java test server never skips time for a client awaiting an update, so its update tests wait out
their timers in real time.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import time
import uuid
from datetime import timedelta

import pytest
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType, UpdateWorkflowExecutionLifecycleStage
from temporalio.api.update.v1 import UpdateRef, WaitPolicy
from temporalio.api.workflowservice.v1 import PollWorkflowExecutionUpdateRequest
from temporalio.client import (
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateStage,
)
from temporalio.exceptions import ApplicationError, TimeoutError, TimeoutType
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from conftest import start_env
from update_workflows import REJECTION, Updatable

ACCEPTED = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
COMPLETED = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED
CLOSED_BEFORE_COMPLETION = "Workflow Update failed because the Workflow completed before the Update completed."
TRAP_LINE = re.compile(r"time-skipping trap: (.*)")

timekeeper_only = pytest.mark.parametrize("server_path", ["timekeeper"], indirect=True)


@pytest.fixture
def task_queue():
    return f"upd-{uuid.uuid4()}"


def worker(env: WorkflowEnvironment, task_queue: str) -> Worker:
    return Worker(env.client, task_queue=task_queue, workflows=[Updatable])


async def start(env: WorkflowEnvironment, task_queue: str, **kwargs) -> WorkflowHandle:
    return await env.client.start_workflow(Updatable.run, id=f"upd-{uuid.uuid4()}", task_queue=task_queue, **kwargs)


async def update_events(handle: WorkflowHandle) -> list:
    history = await handle.fetch_history()
    return [event for event in history.events if event.event_type in (ACCEPTED, COMPLETED)]


async def clock(server_path: str, env: WorkflowEnvironment) -> dict:
    """`timekeeper clock --output json`: the inspection service's view of the clock (jumps, traps)."""
    address = env.client.service_client.config.target_host
    result = await asyncio.to_thread(
        subprocess.run, [server_path, "clock", "--address", address, "--output", "json"],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


async def test_an_update_returns_its_result_and_is_accepted_then_completed_in_history(env, task_queue, server_path):
    async with worker(env, task_queue):
        handle = await start(env, task_queue)
        assert await handle.execute_update(Updatable.add, 5, id="add-five") == 5
        assert await handle.execute_update(Updatable.add, 2, id="add-two") == 7
        await handle.signal(Updatable.finish)
        assert await handle.result() == 7
    events = await update_events(handle)
    assert [event.event_type for event in events] == [ACCEPTED, COMPLETED, ACCEPTED, COMPLETED]
    for accepted, completed, update_id in [(events[0], events[1], "add-five"), (events[2], events[3], "add-two")]:
        acceptance = accepted.workflow_execution_update_accepted_event_attributes
        completion = completed.workflow_execution_update_completed_event_attributes
        assert acceptance.protocol_instance_id == update_id
        assert acceptance.accepted_request.meta.update_id == update_id
        assert acceptance.accepted_request.input.name == "add"
        assert completion.meta.update_id == update_id
        assert completion.outcome.HasField("success")
        # Temporal's dev server points the completion at its acceptance; the Java test server leaves it 0.
        if "timekeeper" in server_path:
            assert completion.accepted_event_id == accepted.event_id
    assert events[1].workflow_execution_update_completed_event_attributes.outcome.success.payloads[0].data == b"5"


async def test_a_validator_rejection_fails_the_update_and_leaves_no_history(env, task_queue):
    async with worker(env, task_queue):
        handle = await start(env, task_queue)
        with pytest.raises(WorkflowUpdateFailedError) as info:
            await handle.execute_update(Updatable.add, -3, id="negative")
        assert await handle.query(Updatable.handled) == 0, "a rejected update's handler does not run"
        await handle.signal(Updatable.finish)
        assert await handle.result() == 0
    cause = info.value.cause
    assert isinstance(cause, ApplicationError), cause
    assert cause.message == f"{REJECTION} (got -3)"
    assert await update_events(handle) == []


async def test_the_same_update_id_twice_answers_the_first_outcome_and_runs_the_handler_once(env, task_queue):
    async with worker(env, task_queue):
        started = await start(env, task_queue)
        handle = env.client.get_workflow_handle(started.id)
        assert await handle.execute_update(Updatable.add, 5, id="u1") == 5
        # The same id with another argument: the first update's outcome, not a second run.
        assert await env.client.get_workflow_handle(started.id).execute_update(Updatable.add, 7, id="u1") == 5
        assert await handle.query(Updatable.handled) == 1
        await handle.signal(Updatable.finish)
        assert await handle.result() == 5
    assert [event.event_type for event in await update_events(handle)] == [ACCEPTED, COMPLETED]


async def test_an_update_started_until_accepted_is_completed_through_a_separate_handle(env, task_queue):
    async with worker(env, task_queue):
        handle = await start(env, task_queue)
        update = await handle.start_update(
            Updatable.wait_for_release, id="released-later", wait_for_stage=WorkflowUpdateStage.ACCEPTED
        )
        assert update.id == "released-later"
        # Accepted, and its handler is still waiting: accepted is history, completed is not yet.
        assert [event.event_type for event in await update_events(handle)] == [ACCEPTED]
        await handle.signal(Updatable.release)
        other = env.client.get_workflow_handle(handle.id).get_update_handle("released-later")
        assert await other.result() == "released"
        await handle.signal(Updatable.finish)
        await handle.result()
    assert [event.event_type for event in await update_events(handle)] == [ACCEPTED, COMPLETED]


async def test_an_update_of_a_completed_workflow_is_not_found_and_so_is_an_unknown_update(env, task_queue, server_path):
    async with worker(env, task_queue):
        handle = await start(env, task_queue)
        await handle.signal(Updatable.finish)
        assert await handle.result() == 0
    with pytest.raises(RPCError) as info:
        await handle.execute_update(Updatable.add, 1, id="too-late")
    assert info.value.status == RPCStatusCode.NOT_FOUND
    # Temporal's dev server says "workflow execution already completed"; the Java test server says
    # "update too-late not found".
    if "timekeeper" in server_path:
        assert "already completed" in info.value.message
    with pytest.raises(RPCError) as info:
        await env.client.get_workflow_handle(handle.id).get_update_handle("nope").result()
    assert info.value.status == RPCStatusCode.NOT_FOUND
    assert "nope" in info.value.message


async def test_a_completed_run_still_answers_the_outcome_of_an_update_it_completed(env, task_queue):
    async with worker(env, task_queue):
        handle = await start(env, task_queue)
        assert await handle.execute_update(Updatable.add, 2, id="before-close") == 2
        await handle.signal(Updatable.finish)
        assert await handle.result() == 2
    assert await env.client.get_workflow_handle(handle.id).get_update_handle("before-close").result() == 2
    assert await handle.execute_update(Updatable.add, 9, id="before-close") == 2


async def test_an_update_sent_before_any_worker_runs_completes_once_one_does(env, task_queue):
    handle = await start(env, task_queue)
    update = asyncio.create_task(handle.execute_update(Updatable.add, 3, id="early"))
    # Wait until the server has admitted it (no worker exists, so it cannot be further along).
    poll = PollWorkflowExecutionUpdateRequest(
        namespace=env.client.namespace,
        update_ref=UpdateRef(workflow_execution=WorkflowExecution(workflow_id=handle.id), update_id="early"),
        wait_policy=WaitPolicy(
            lifecycle_stage=UpdateWorkflowExecutionLifecycleStage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED
        ),
    )
    for _ in range(200):
        try:
            answer = await env.client.workflow_service.poll_workflow_execution_update(poll)
            break
        except RPCError as error:
            assert error.status == RPCStatusCode.NOT_FOUND, error
            await asyncio.sleep(0.05)
    else:
        pytest.fail("the update was never admitted")
    assert answer.stage == UpdateWorkflowExecutionLifecycleStage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED
    assert not update.done()
    async with worker(env, task_queue):
        assert await asyncio.wait_for(update, timeout=30) == 3
        await handle.signal(Updatable.finish)
        assert await handle.result() == 3
    assert [event.event_type for event in await update_events(handle)] == [ACCEPTED, COMPLETED]


@timekeeper_only
async def test_awaiting_an_update_that_sleeps_an_hour_skips_the_hour_and_the_jump_names_the_update(
    env, task_queue, server_path
):
    async with worker(env, task_queue):
        handle = await start(env, task_queue)
        await handle.execute_update(Updatable.add, 0, id="warm-up")  # the worker has the run: nothing in flight
        virtual_before = await env.get_current_time()
        wall = time.monotonic()
        slept = await handle.execute_update(Updatable.sleep_an_hour, id="an-hour")
        elapsed = time.monotonic() - wall
        virtual_after = await env.get_current_time()
        state = await clock(server_path, env)
        await handle.terminate()
    assert slept >= 3600, slept
    assert elapsed < 5.0, f"a one-virtual-hour update took {elapsed:.2f} s of wall time"
    assert virtual_after - virtual_before >= timedelta(hours=1), (virtual_before, virtual_after)
    jumps = [jump for jump in state.get("recent_jumps", []) if jump.get("target", {}).get("workflow_id") == handle.id]
    assert jumps, state.get("recent_jumps")
    assert any(
        f"awaiting update an-hour of workflow {handle.id}" in jump["permission"]
        and jump["target"]["kind"] == "user-timer"
        for jump in jumps
    ), jumps


@timekeeper_only
async def test_awaiting_an_update_that_never_returns_jumps_to_the_execution_timeout_and_reports_the_trap(
    server_path, task_queue, capfd
):
    env = await start_env(server_path)
    try:
        async with worker(env, task_queue):
            handle = await start(env, task_queue, execution_timeout=timedelta(hours=2))
            virtual_before = await env.get_current_time()
            wall = time.monotonic()
            with pytest.raises(WorkflowUpdateFailedError) as info:
                await handle.execute_update(Updatable.wait_forever, id="forever")
            elapsed = time.monotonic() - wall
            virtual_after = await env.get_current_time()
            with pytest.raises(WorkflowFailureError) as run_failure:
                await handle.result()
            state = await clock(server_path, env)
    finally:
        await env.shutdown()

    # The run timed out under the accepted update, which fails as Temporal fails it.
    cause = info.value.cause
    assert isinstance(cause, ApplicationError), cause
    assert cause.message == CLOSED_BEFORE_COMPLETION
    assert cause.type == "AcceptedUpdateCompletedWorkflow"
    assert isinstance(run_failure.value.cause, TimeoutError), run_failure.value.cause
    assert run_failure.value.cause.type == TimeoutType.START_TO_CLOSE
    assert virtual_after - virtual_before >= timedelta(hours=2) - timedelta(seconds=5)
    assert elapsed < 5.0, f"{elapsed:.2f} s of wall time"

    # The trap: reported in the clock's traps and printed once, naming the workflow and the awaited update.
    traps = [trap for trap in state.get("traps", []) if trap["workflow_id"] == handle.id]
    assert len(traps) == 1, state.get("traps")
    assert traps[0]["jump"]["target"]["kind"] == "workflow-run-timeout", traps[0]
    explanation = traps[0]["explanation"]
    assert "execution timeout" in explanation and "Fix:" in explanation
    assert f"awaiting update forever of workflow {handle.id}" in explanation
    output = capfd.readouterr()
    printed = [line for line in TRAP_LINE.findall(output.out + output.err) if handle.id in line]
    assert len(printed) == 1, printed
