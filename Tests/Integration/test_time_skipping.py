"""The V1 virtual clock, seen through the Python SDK: each test runs against timekeeper and Temporal's
Java test server (the `env` fixture is parametrised over both), so the suite shows equivalence.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
from temporalio.api.enums.v1 import TaskQueueKind
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ActivityError, TimeoutError, TimeoutType
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from timeskipping_workflows import (
    ActivityRacesTimer,
    HeartbeatTimesOut,
    RetriesAfterAnHour,
    SleepActivitySleep,
    SleepsAnHour,
    SleepsThreeSeconds,
    WaitsForSignals,
    echo,
    fail_first_attempt,
    heartbeat_once_then_stall,
    take_one_real_second,
)

WORKFLOWS = [
    ActivityRacesTimer, HeartbeatTimesOut, RetriesAfterAnHour, SleepActivitySleep, SleepsAnHour,
    SleepsThreeSeconds, WaitsForSignals,
]
ACTIVITIES = [echo, fail_first_attempt, heartbeat_once_then_stall, take_one_real_second]


def worker(env: WorkflowEnvironment) -> Worker:
    return Worker(env.client, task_queue=env.task_queue, workflows=WORKFLOWS, activities=ACTIVITIES)


@pytest.fixture
def task_queue(env):
    env.task_queue = f"ts-{uuid.uuid4()}"
    return env.task_queue


async def test_hours_of_sleep_and_an_activity_take_well_under_a_second(env, task_queue, server_path):
    async with worker(env):
        wall = time.monotonic()
        handle = await env.client.start_workflow(SleepActivitySleep.run, id=f"s-{uuid.uuid4()}", task_queue=task_queue)
        seen = await handle.result()
        elapsed = time.monotonic() - wall
    assert seen >= 3 * 3600
    assert elapsed < 1.0, f"took {elapsed:.2f} s of wall time"
    if "timekeeper" not in server_path:
        return  # Java honours sticky queues too but leaves the scheduled event's queue kind unset.
    # After the first task, the worker that has the run cached gets the rest on its sticky queue.
    kinds = [
        event.workflow_task_scheduled_event_attributes.task_queue.kind
        async for event in handle.fetch_history_events()
        if event.HasField("workflow_task_scheduled_event_attributes")
    ]
    assert kinds[0] == TaskQueueKind.TASK_QUEUE_KIND_NORMAL
    assert TaskQueueKind.TASK_QUEUE_KIND_STICKY in kinds[1:], kinds


async def test_awaiting_the_result_of_a_signal_waiting_workflow_jumps_to_its_execution_timeout(env, task_queue):
    async with worker(env):
        handle = await env.client.start_workflow(
            WaitsForSignals.run, 1, id=f"trap-{uuid.uuid4()}", task_queue=task_queue,
            execution_timeout=timedelta(minutes=10),
        )
        wall = time.monotonic()
        with pytest.raises(WorkflowFailureError) as info:
            await handle.result()
        elapsed = time.monotonic() - wall
    assert isinstance(info.value.cause, TimeoutError), info.value.cause
    assert elapsed < 1.0, f"took {elapsed:.2f} s of wall time"


async def test_the_safe_pattern_polls_with_queries_and_signals_and_the_clock_does_not_jump(env, task_queue):
    async with worker(env):
        before = await env.get_current_time()
        handle = await env.client.start_workflow(
            WaitsForSignals.run, 3, id=f"safe-{uuid.uuid4()}", task_queue=task_queue,
            execution_timeout=timedelta(minutes=10),
        )
        for expected in range(3):
            assert await handle.query(WaitsForSignals.progress) == expected
            await handle.signal(WaitsForSignals.step)
        while await handle.query(WaitsForSignals.progress) < 3:
            pass
        assert await handle.result() == 3
        after = await env.get_current_time()
    assert after - before < timedelta(seconds=30), f"clock moved {after - before}"


async def test_a_running_activity_pins_the_clock(env, task_queue):
    async with worker(env):
        winner = await env.client.execute_workflow(ActivityRacesTimer.run, id=f"race-{uuid.uuid4()}", task_queue=task_queue)
    assert winner == "activity"


async def test_env_sleep_moves_the_clock_and_fires_nothing_scheduled_later(env, task_queue):
    async with worker(env):
        handle = await env.client.start_workflow(SleepsAnHour.run, id=f"sleep-{uuid.uuid4()}", task_queue=task_queue)
        # Let the worker run the first task so that the hour-long timer exists.
        await handle.query(SleepsAnHour.woke)
        before = await env.get_current_time()
        await env.sleep(timedelta(minutes=30))
        after = await env.get_current_time()
        assert timedelta(minutes=30) <= after - before < timedelta(minutes=31)
        assert await handle.query(SleepsAnHour.woke) is False
        await handle.terminate()


async def test_an_hour_long_activity_retry_backoff_is_skipped(env, task_queue):
    async with worker(env):
        wall = time.monotonic()
        attempt = await env.client.execute_workflow(RetriesAfterAnHour.run, id=f"retry-{uuid.uuid4()}", task_queue=task_queue)
        elapsed = time.monotonic() - wall
    assert attempt == 2
    assert elapsed < 5.0, f"took {elapsed:.2f} s of wall time"


async def test_a_heartbeat_timeout_fires(env, task_queue):
    async with worker(env):
        with pytest.raises(WorkflowFailureError) as info:
            await env.client.execute_workflow(HeartbeatTimesOut.run, id=f"hb-{uuid.uuid4()}", task_queue=task_queue)
    cause = info.value.cause
    assert isinstance(cause, ActivityError), cause
    assert isinstance(cause.cause, TimeoutError), cause.cause
    assert cause.cause.type == TimeoutType.HEARTBEAT
    assert list(cause.cause.last_heartbeat_details) == ["last words"]


async def test_with_auto_time_skipping_disabled_a_workflow_sleep_takes_real_time(env, task_queue):
    async with worker(env):
        with env.auto_time_skipping_disabled():
            wall = time.monotonic()
            assert await env.client.execute_workflow(SleepsThreeSeconds.run, id=f"real-{uuid.uuid4()}", task_queue=task_queue) == "slept"
            elapsed = time.monotonic() - wall
    assert elapsed >= 3.0, f"took only {elapsed:.2f} s"
