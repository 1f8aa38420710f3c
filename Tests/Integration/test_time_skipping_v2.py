"""Per-workflow time skipping ("time skipping V2") through the real SDK's
``WorkflowEnvironment.start_time_skipping_v2(dev_server_existing_path=<timekeeper>)``.

Each scenario is one that Temporal's dev server (CLI 1.9.1, server 1.32.0) was run with, and checks its
outcome there: what the workflow's clock read, which events the history has, what the client saw. The dev
server spends about a second of wall time on each timer-driven skip (its task-key floor); Timekeeper
fires a skipped-to deadline at once, so each scenario's wall-time bound is below the reference's figure.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from datetime import datetime, timedelta

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import FastForwardPollingResult
from temporalio.api.workflowservice.v1 import PollWorkflowExecutionTimeSkippingRequest
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError
from temporalio.exceptions import TimeoutError as WorkflowTimeoutError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import TimeSkippingConfig, WorkflowEnvironment
from temporalio.worker import Worker

from netutil import free_loopback_port
from timeskipping_v2_workflows import (
    FiveHourlyTimers, ParentOfSleeper, RetriesAfterAnHour, SleepActivitySleep, SleepsHalfAnHour, WaitsForSignal,
    fails_once_then_succeeds, stamp,
)

TRANSITIONED = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIME_SKIPPING_TRANSITIONED
WORKFLOWS = [SleepActivitySleep, WaitsForSignal, FiveHourlyTimers, RetriesAfterAnHour, SleepsHalfAnHour, ParentOfSleeper]
ACTIVITIES = [stamp, fails_once_then_succeeds]


def seconds_between(first: str, second: str) -> float:
    return (datetime.fromisoformat(second) - datetime.fromisoformat(first)).total_seconds()


async def event_types(handle) -> list[EventType.ValueType]:
    return [event.event_type async for event in handle.fetch_history_events()]


@pytest.fixture
async def v2_env(timekeeper_path):
    async with await WorkflowEnvironment.start_time_skipping_v2(
        dev_server_existing_path=str(timekeeper_path), port=free_loopback_port(), dev_server_log_level="fatal",
    ) as env:
        task_queue = f"v2-{uuid.uuid4()}"
        async with Worker(env.client, task_queue=task_queue, workflows=WORKFLOWS, activities=ACTIVITIES):
            yield env, task_queue


async def test_sleep_activity_sleep_skips_each_sleep(v2_env, timekeeper_path):
    """Reference: 2.05 s wall, the workflow saw +3600.99 s and +7201.00 s, two TRANSITIONED events."""
    env, task_queue = v2_env
    began = time.monotonic()
    handle = await env.client.start_workflow(SleepActivitySleep.run, id=f"s1-{uuid.uuid4()}", task_queue=task_queue)
    t0, after_hour, after_activity, after_two_hours = await handle.result()
    wall = time.monotonic() - began
    assert 3600 <= seconds_between(t0, after_hour) < 3605
    assert 7200 <= seconds_between(after_activity, after_two_hours) < 7205
    assert wall < 2.0, f"{wall:.2f} s of wall time"
    events = await event_types(handle)
    assert events.count(TRANSITIONED) == 2
    # The history is in the workflow's own time: its clock now reads the end of the second sleep or later.
    assert (await env.get_current_time(handle)) >= datetime.fromisoformat(after_two_hours)
    # The inspection CLI tells the workflow's own clock.
    described = subprocess.run(
        [str(timekeeper_path), "workflow", "describe", "--address", env.client.service_client.config.target_host,
         "-w", handle.id], capture_output=True, text=True, timeout=30)
    assert described.returncode == 0, described
    assert "own clock" in described.stdout and "skipping on, 2 skips this session" in described.stdout, described.stdout


async def test_a_workflow_waiting_for_a_signal_dies_of_its_execution_timeout(v2_env):
    """Reference: WorkflowFailureError caused by a timeout after 1.01 s wall; TRANSITIONED to start + 10 min."""
    env, task_queue = v2_env
    handle = await env.client.start_workflow(
        WaitsForSignal.run, id=f"s2-{uuid.uuid4()}", task_queue=task_queue, execution_timeout=timedelta(minutes=10))
    began = time.monotonic()
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    assert isinstance(failure.value.cause, WorkflowTimeoutError)
    assert time.monotonic() - began < 1.0
    history = await handle.fetch_history()
    started = history.events[0]
    skips = [event for event in history.events if event.event_type == TRANSITIONED]
    assert len(skips) == 1
    target = skips[0].workflow_execution_time_skipping_transitioned_event_attributes.target_time.ToDatetime()
    assert abs((target - started.event_time.ToDatetime()).total_seconds() - 600) < 1
    assert history.events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT


async def test_without_a_deadline_a_waiting_workflow_does_not_skip(v2_env):
    """Reference (S2b): no timeout, so nothing to skip to; still running after 5 s, then signalled."""
    env, task_queue = v2_env
    handle = await env.client.start_workflow(WaitsForSignal.run, id=f"s2b-{uuid.uuid4()}", task_queue=task_queue)
    await asyncio.sleep(1.5)
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    assert TRANSITIONED not in await event_types(handle)
    await handle.signal(WaitsForSignal.go)
    assert await handle.result() == "signalled"


async def test_a_child_starts_at_its_parents_time_and_skips_on_its_own(v2_env):
    """Reference (S3): the child starts at the parent's virtual time, skips its 30 minutes, and the parent's
    clock does not move with the child's skip."""
    env, task_queue = v2_env
    handle = await env.client.start_workflow(
        ParentOfSleeper.run, f"child-{uuid.uuid4()}", id=f"s3-{uuid.uuid4()}", task_queue=task_queue)
    result = await handle.result()
    before, after_sleep, after_child = result["parent"]
    child_start, child_end = result["child"]
    assert 3600 <= seconds_between(before, after_sleep) < 3605
    assert 0 <= seconds_between(after_sleep, child_start) < 5
    assert 1800 <= seconds_between(child_start, child_end) < 1805
    assert 0 <= seconds_between(after_sleep, after_child) < 60, "the child's skip did not move the parent's clock"
    # The parent's initiated event says what the child inherits, as the reference's does (config enabled with
    # the filled-in skip limit, and the parent's offset: 3599 s there, its skip measured a moment later).
    initiated = [event.start_child_workflow_execution_initiated_event_attributes
                 async for event in handle.fetch_history_events()
                 if event.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED]
    assert len(initiated) == 1
    assert initiated[0].time_skipping_config.enabled and initiated[0].time_skipping_config.max_session_skip_count == 200
    assert 3599 <= initiated[0].time_skipping_state_propagation.initial_skipped_duration.seconds <= 3601


async def test_fast_forward_moves_one_workflow_an_hour_and_stops(v2_env):
    """Reference (S4, probe D): started with skipping off, no time-skipping info; fast_forward(h, 1h) returns
    True, the clock moved +3600 s, OPTIONS_UPDATED then TRANSITIONED (disabled after the fast-forward); a poll
    with another id answers FAILED, "does not match"."""
    env, task_queue = v2_env
    with env.with_time_skipping_disabled():
        handle = await env.client.start_workflow(WaitsForSignal.run, id=f"s4-{uuid.uuid4()}", task_queue=task_queue)
    await asyncio.sleep(0.3)  # the first workflow task is done
    assert await env.get_time_skipping_info(handle) is None
    before = datetime.now().astimezone()
    began = time.monotonic()
    assert await env.fast_forward(handle, timedelta(hours=1)) is True
    assert time.monotonic() - began < 1.0
    moved = (await env.get_current_time(handle)) - before
    assert timedelta(hours=1) <= moved < timedelta(hours=1, seconds=5)
    info = await env.get_time_skipping_info(handle)
    assert info is not None and not info.effective_config.enabled and info.effective_config.fast_forward_config.id
    events = await event_types(handle)
    assert events.index(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_OPTIONS_UPDATED) < events.index(TRANSITIONED)
    history = await handle.fetch_history()
    skip = next(event for event in history.events if event.event_type == TRANSITIONED)
    assert skip.workflow_execution_time_skipping_transitioned_event_attributes.disabled_after_fast_forward
    assert skip.worker_may_ignore
    wrong = await env.client.workflow_service.poll_workflow_execution_time_skipping(
        PollWorkflowExecutionTimeSkippingRequest(
            namespace=env.client.namespace, workflow_execution=WorkflowExecution(workflow_id=handle.id),
            fast_forward_id="another"))
    assert wrong.fast_forward_polling_result == FastForwardPollingResult.FAST_FORWARD_POLLING_RESULT_FAST_FORWARD_FAILED
    assert "does not match" in wrong.failed_reason
    await handle.signal(WaitsForSignal.go)
    assert await handle.result() == "signalled"


async def test_the_session_skip_limit_stops_skipping_until_enabled_again(timekeeper_path):
    """Reference (probe B): max_session_skip_count=3 on five 1-hour timers gives exactly three skips, the
    fourth timer waits in real time with skipping off; fast_forward(h, None) enables it again (a new
    session) and the workflow finishes."""
    async with await WorkflowEnvironment.start_time_skipping_v2(
        dev_server_existing_path=str(timekeeper_path), port=free_loopback_port(), dev_server_log_level="fatal",
        ts_config=TimeSkippingConfig(max_session_skip_count=3),
    ) as env:
        task_queue = f"v2-{uuid.uuid4()}"
        async with Worker(env.client, task_queue=task_queue, workflows=WORKFLOWS, activities=ACTIVITIES):
            handle = await env.client.start_workflow(FiveHourlyTimers.run, id=f"b-{uuid.uuid4()}", task_queue=task_queue)
            await asyncio.sleep(1.0)
            assert (await event_types(handle)).count(TRANSITIONED) == 3
            assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
            info = await env.get_time_skipping_info(handle)
            assert not info.effective_config.enabled and info.effective_config.max_session_skip_count == 3
            assert await env.fast_forward(handle, None) is False  # unbounded: waits for the close
            assert await handle.result() == 5


async def test_an_activity_retry_backoff_is_skipped(v2_env):
    """Reference (probe C): 1.05 s wall, 3601 s virtual; the skip follows ACTIVITY_TASK_SCHEDULED."""
    env, task_queue = v2_env
    began = time.monotonic()
    handle = await env.client.start_workflow(
        RetriesAfterAnHour.run, str(uuid.uuid4()), id=f"c-{uuid.uuid4()}", task_queue=task_queue)
    assert await handle.result() == "succeeded"
    assert time.monotonic() - began < 1.0
    events = await event_types(handle)
    assert events.index(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) < events.index(TRANSITIONED)
    history = await handle.fetch_history()
    elapsed = history.events[-1].event_time.ToDatetime() - history.events[0].event_time.ToDatetime()
    assert timedelta(hours=1) <= elapsed < timedelta(hours=1, seconds=10)


async def test_the_feature_flag_off_refuses_a_time_skipping_config(timekeeper_path):
    async with await WorkflowEnvironment.start_time_skipping_v2(
        dev_server_existing_path=str(timekeeper_path), port=free_loopback_port(), dev_server_log_level="fatal",
        dev_server_extra_args=["--dynamic-config-value", "frontend.WorkflowTimeSkippingEnabled=false"],
    ) as env:
        with pytest.raises(RPCError) as refused:
            await env.client.start_workflow(WaitsForSignal.run, id=f"off-{uuid.uuid4()}", task_queue="tq")
        assert refused.value.status == RPCStatusCode.UNIMPLEMENTED
        assert refused.value.message == "The Time-Skipping feature is not enabled for namespace."


async def test_per_workflow_clocks_work_in_test_mode_too(timekeeper_path):
    """The test form (start_time_skipping) with its own clock held: a workflow started with a
    time_skipping_config still skips its own sleeps, while the server's clock stays where it was."""
    from temporalio.testing import TimeSkipper

    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(timekeeper_path), port=free_loopback_port()) as env:
        skipper = TimeSkipper(env.client)
        task_queue = f"v2-ts-{uuid.uuid4()}"
        async with Worker(env.client, task_queue=task_queue, workflows=WORKFLOWS, activities=ACTIVITIES):
            with env.auto_time_skipping_disabled():
                server_before = await env.get_current_time()
                handle = await skipper.client.start_workflow(
                    SleepActivitySleep.run, id=f"ts-{uuid.uuid4()}", task_queue=task_queue)
                began = time.monotonic()
                t0, after_hour, _, after_two_hours = await handle.result()
                assert time.monotonic() - began < 2.0
                assert 10800 <= seconds_between(t0, after_two_hours) < 10810
                assert (await env.get_current_time()) - server_before < timedelta(minutes=1), \
                    "the server's clock did not move: the workflow skipped its own"
