"""Schedules (the Schedules API) and cron workflows (a start's `cron_schedule`) through the Python SDK.

Temporal's Java test server has neither (its schedule calls answer UNIMPLEMENTED and it ignores
`cron_schedule`), so these run against timekeeper only. The same script, pointed at
`temporal server start-dev`, gave the same outcomes (checked by hand): the duplicate create raising
ScheduleAlreadyRunningError, the described defaults (overlap SKIP, a catch-up window of 365 days), the
action's workflow id `<id>-<RFC 3339 second>` and its TemporalScheduledById attribute, the last result
carried from action to action and from cron run to cron run, and NOT_FOUND after a delete.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from temporalio.api.enums.v1 import ContinueAsNewInitiator, EventType
from temporalio.client import (
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    ScheduleSpec,
    ScheduleState,
)
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from workflows import RemembersLastResult

timekeeper_only = pytest.mark.parametrize("server_path", ["timekeeper"], indirect=True)


def schedule(task_queue: str, *, paused: bool, every: timedelta = timedelta(hours=1)) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(RemembersLastResult.run, id=f"sched-wf-{uuid.uuid4()}", task_queue=task_queue),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        state=ScheduleState(paused=paused),
    )


@timekeeper_only
async def test_a_schedule_is_described_as_created_refuses_a_duplicate_and_is_gone_after_delete(env):
    task_queue = f"sched-{uuid.uuid4()}"
    schedule_id = f"sched-{uuid.uuid4()}"
    handle = await env.client.create_schedule(schedule_id, schedule(task_queue, paused=True))
    with pytest.raises(ScheduleAlreadyRunningError):
        await env.client.create_schedule(schedule_id, schedule(task_queue, paused=True))
    description = await handle.describe()
    assert description.schedule.state.paused
    assert description.schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
    assert description.schedule.policy.catchup_window == timedelta(days=365)
    assert len(description.info.next_action_times) == 10
    assert description.info.num_actions == 0
    await handle.delete()
    with pytest.raises(RPCError) as info:
        await handle.describe()
    assert info.value.status == RPCStatusCode.NOT_FOUND


@timekeeper_only
async def test_triggered_actions_start_workflows_that_carry_the_last_result(env):
    task_queue = f"sched-{uuid.uuid4()}"
    schedule_id = f"sched-{uuid.uuid4()}"
    async with Worker(env.client, task_queue=task_queue, workflows=[RemembersLastResult]):
        handle = await env.client.create_schedule(schedule_id, schedule(task_queue, paused=True), trigger_immediately=True)
        first = (await handle.describe()).info.recent_actions  # started before create returned
        assert len(first) == 1
        first_id = first[0].action.workflow_id
        assert first_id.startswith("sched-wf-") and first_id.endswith("Z"), first_id
        first_handle = env.client.get_workflow_handle(first_id, run_id=first[0].action.first_execution_run_id)
        assert await first_handle.result() == "after None"
        attributes = (await first_handle.describe()).search_attributes
        assert attributes["TemporalScheduledById"] == [schedule_id]

        await env.sleep(timedelta(seconds=2))  # a second later: its own workflow id
        await handle.trigger()
        actions = (await handle.describe()).info.recent_actions
        assert len(actions) == 2
        second = env.client.get_workflow_handle(actions[1].action.workflow_id, run_id=actions[1].action.first_execution_run_id)
        assert await second.result() == "after after None"
        await handle.delete()


@timekeeper_only
async def test_an_interval_schedule_acts_when_the_clock_reaches_its_times(env):
    task_queue = f"sched-{uuid.uuid4()}"
    async with Worker(env.client, task_queue=task_queue, workflows=[RemembersLastResult]):
        handle = await env.client.create_schedule(
            f"sched-{uuid.uuid4()}", schedule(task_queue, paused=False, every=timedelta(hours=1)))
        # Virtual: any two hours hold exactly two of the times (they fall on the hour, from the epoch).
        await env.sleep(timedelta(hours=2))
        info = (await handle.describe()).info
        assert info.num_actions == 2, info
        await handle.delete()


@timekeeper_only
async def test_a_cron_workflow_waits_for_its_times_and_each_run_carries_the_last_result(env):
    task_queue = f"cron-{uuid.uuid4()}"
    workflow_id = f"cron-{uuid.uuid4()}"
    async with Worker(env.client, task_queue=task_queue, workflows=[RemembersLastResult]):
        handle = await env.client.start_workflow(
            RemembersLastResult.run, id=workflow_id, task_queue=task_queue, cron_schedule="0 * * * *")
        await env.sleep(timedelta(hours=2, minutes=30))  # the hours at :00 pass twice
        first = await env.client.get_workflow_handle(workflow_id, run_id=handle.first_execution_run_id).fetch_history()
        started = first.events[0].workflow_execution_started_event_attributes
        assert started.cron_schedule == "0 * * * *"
        assert started.HasField("first_workflow_task_backoff")  # waits for the next full hour
        close = first.events[-1]
        assert close.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED
        second_id = close.workflow_execution_completed_event_attributes.new_execution_run_id
        second = await env.client.get_workflow_handle(workflow_id, run_id=second_id).fetch_history()
        second_started = second.events[0].workflow_execution_started_event_attributes
        assert second_started.initiator == ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_CRON_SCHEDULE
        assert second_started.first_workflow_task_backoff.seconds > 3000  # an hour after the first run's time
        assert second.events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED
        await env.client.get_workflow_handle(workflow_id).terminate("done")
