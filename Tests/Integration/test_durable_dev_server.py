"""The durable dev server: ``timekeeper server start-dev --db-filename FILE``.

Every transition is committed to the SQLite file before anyone hears of it, and sdk-core stops a dev server
with SIGKILL, so these tests kill the server with SIGKILL too and start it again on the same file, with the
real Python SDK's client and worker connected throughout. What must hold: runs go on where they were
(timers due while the server was down fire at once, waiting tasks are handed out again), every workflow
completes exactly once with every activity result, every history replays with the SDK's Replayer, and
namespaces, search attributes, schedules and batch operations made before the kill are still there.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.api.batch.v1 import BatchOperationTermination
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import BatchOperationState, BatchOperationType, EventType, IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import (
    DescribeBatchOperationRequest, DescribeNamespaceRequest, ListBatchOperationsRequest, RegisterNamespaceRequest,
    StartBatchOperationRequest,
)
from temporalio.client import (
    Client, Schedule, ScheduleActionStartWorkflow, ScheduleIntervalSpec, ScheduleOverlapPolicy, SchedulePolicy,
    ScheduleSpec, ScheduleState, WorkflowExecutionStatus,
)
from temporalio.worker import Replayer, Worker

from conftest import connect_when_listening
from durable_workflows import EXECUTIONS, SleepsThenAsks, TimersAndActivities, record
from netutil import free_loopback_port


class DevServer:
    """One ``server start-dev`` process on a fixed port and database file, killed and started again."""

    def __init__(self, binary: str, database: Path):
        self.binary, self.database, self.port = binary, database, free_loopback_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    async def start(self) -> Client:
        self.process = subprocess.Popen(
            [self.binary, "server", "start-dev", "--port", str(self.port), "--headless", "--log-level", "error",
             "--db-filename", str(self.database)])
        self.starts += 1
        return await connect_when_listening(self.port)

    def kill(self) -> None:
        assert self.process is not None and self.process.poll() is None, "the server died by itself"
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def dev_server(timekeeper_path, tmp_path):
    server = DevServer(str(timekeeper_path), tmp_path / "timekeeper.sqlite")
    yield server
    server.stop()


async def test_a_killed_server_goes_on_from_its_file(dev_server):
    client = await dev_server.start()
    await client.workflow_service.register_namespace(RegisterNamespaceRequest(namespace="kept"))
    await client.operator_service.add_search_attributes(AddSearchAttributesRequest(
        namespace="default", search_attributes={"Colour": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD}))
    task_queue = f"tq-{uuid.uuid4()}"
    # No worker yet: the workflow task waits in its queue, and its timer will come due while the server is down.
    handle = await client.start_workflow(SleepsThenAsks.run, 1.0, id=f"sleeps-{uuid.uuid4()}", task_queue=task_queue)
    async with Worker(client, task_queue=task_queue, workflows=[SleepsThenAsks], activities=[record]):
        await asyncio.sleep(0.5)  # the first workflow task ran: the timer is started
    dev_server.kill()
    await asyncio.sleep(1.5)  # down past the timer's fire time

    client = await dev_server.start()
    began = time.monotonic()
    async with Worker(client, task_queue=task_queue, workflows=[SleepsThenAsks], activities=[record]):
        assert await handle.result() == "done after the sleep"
    assert time.monotonic() - began < 1.0, "the timer due while the server was down fires at once"
    events = [event.event_type async for event in handle.fetch_history_events()]
    assert events.count(EventType.EVENT_TYPE_TIMER_FIRED) == 1
    assert events[-1] == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED

    dev_server.kill()
    client = await dev_server.start()
    described = await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace="kept"))
    assert described.namespace_info.name == "kept"
    listed = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace="default"))
    assert listed.custom_attributes["Colour"] == IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED


async def test_a_second_server_on_the_same_file_is_refused(dev_server):
    await dev_server.start()
    second = subprocess.run(
        [dev_server.binary, "server", "start-dev", "--port", str(free_loopback_port()), "--headless",
         "--db-filename", str(dev_server.database)], capture_output=True, text=True, timeout=30)
    assert second.returncode != 0 and "is in use by another process" in second.stderr, second


WORKFLOWS = 200
KILLS = 5


async def test_workflows_complete_exactly_once_through_repeated_kills(dev_server):
    """A few hundred workflows with timers and activities in flight; the server killed with SIGKILL at
    random moments and started again on the same file, five times, while the worker stays connected."""
    rng = random.Random(int(os.environ.get("TIMEKEEPER_CRASH_SEED", "12")))
    EXECUTIONS.clear()
    client = await dev_server.start()
    task_queue = f"crash-{uuid.uuid4()}"
    ids = [f"crash-{n}-{uuid.uuid4()}" for n in range(WORKFLOWS)]
    for number, workflow_id in enumerate(ids):
        await client.start_workflow(TimersAndActivities.run, number, id=workflow_id, task_queue=task_queue)
    async with Worker(client, task_queue=task_queue, workflows=[TimersAndActivities], activities=[record],
                      max_concurrent_activities=50):
        # Each kill comes at a random point of the work (a random share of the activities run, then a random
        # moment more), not after a random time: a fast build would otherwise finish everything first.
        shares = sorted(rng.uniform(0.05, 0.85) for _ in range(KILLS))
        for share in shares:
            deadline = time.monotonic() + 60
            while sum(EXECUTIONS.values()) < share * WORKFLOWS * 3:
                assert time.monotonic() < deadline, f"no progress to {share:.0%} of the activities in 60 s"
                await asyncio.sleep(0.01)
            await asyncio.sleep(rng.uniform(0.0, 0.1))
            done_at_last_kill = sum(EXECUTIONS.values())
            dev_server.kill()
            await asyncio.sleep(rng.uniform(0.0, 0.5))
            await dev_server.start()
        # The worker's own client reconnects to the restarted server; results are read with a new one.
        client = await connect_when_listening(dev_server.port)
        results = await asyncio.wait_for(
            asyncio.gather(*(client.get_workflow_handle(workflow_id).result() for workflow_id in ids)), timeout=180)
    assert dev_server.starts == KILLS + 1
    assert done_at_last_kill < WORKFLOWS * 3, "activities were still to run when the server was last killed"
    for number, result in enumerate(results):
        assert result == [f"done {number}-{round_}" for round_ in range(3)], f"workflow {number}"
    # Every activity ran at least once (a crash between its start and its result may run it again).
    assert all(EXECUTIONS[f"{number}-{round_}"] >= 1 for number in range(WORKFLOWS) for round_ in range(3))

    # Exactly once: one run per workflow id, closed once.
    runs = [execution async for execution in client.list_workflows(f"TaskQueue = '{task_queue}'")]
    assert sorted(execution.id for execution in runs) == sorted(ids)
    histories = []
    for workflow_id in ids:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        closes = [event for event in history.events
                  if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED]
        assert len(closes) == 1 and closes[0] is history.events[-1], workflow_id
        assert [event.event_id for event in history.events] == list(range(1, len(history.events) + 1))
        histories.append(history)
    async def each_history():
        for history in histories:
            yield history

    replayed = await Replayer(workflows=[TimersAndActivities]).replay_workflows(
        each_history(), raise_on_replay_failure=False)
    assert not replayed.replay_failures, replayed.replay_failures


async def test_a_graceful_stop_commits_what_is_pending_and_keeps_every_start(timekeeper_path, tmp_path):
    """A hundred starts at once with ``synchronous=FULL`` (an fsync per commit), then SIGTERM: the server
    exits 0 after committing what is pending (its log says how many transitions went in how many commits),
    and every acknowledged start is in the file. How many commits the starts share depends on how they
    arrive (one run here had 100 in 100, most fewer); that commits admitted together share one is shown,
    deterministically, by GroupCommitTests."""
    database, log = tmp_path / "timekeeper.sqlite", tmp_path / "server.log"
    port = free_loopback_port()
    argv = [str(timekeeper_path), "server", "start-dev", "--port", str(port), "--headless", "--log-level", "info",
            "--db-filename", str(database), "--sqlite-pragma", "synchronous=FULL"]
    with open(log, "wb") as stderr:
        process = subprocess.Popen(argv, stderr=stderr)
        try:
            client = await connect_when_listening(port)
            task_queue = f"group-{uuid.uuid4()}"
            ids = [f"group-{n}-{uuid.uuid4()}" for n in range(100)]
            await asyncio.gather(*(client.start_workflow(
                TimersAndActivities.run, n, id=workflow_id, task_queue=task_queue) for n, workflow_id in enumerate(ids)))
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=20) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
    closed = [line for line in log.read_text().splitlines() if "durable store closed" in line]
    assert len(closed) == 1, log.read_text()[-2000:]
    words = closed[0].split("durable store closed: ")[1].split()
    transitions, commits = int(words[0]), int(words[3])
    assert transitions >= 100 and 1 <= commits <= transitions, closed[0]

    process = subprocess.Popen([str(timekeeper_path), "server", "start-dev", "--port", str(port), "--headless",
                                "--log-level", "error", "--db-filename", str(database)])
    try:
        client = await connect_when_listening(port)
        for workflow_id in ids:
            assert (await client.get_workflow_handle(workflow_id).describe()).status == WorkflowExecutionStatus.RUNNING
    finally:
        process.kill()
        process.wait(timeout=10)


async def test_schedules_survive_a_kill_and_go_on(dev_server):
    """A schedule acknowledged is kept like a run: after SIGKILL and a restart, a paused schedule is described
    as it was (spec, memo, notes, conflict token), and a running one goes on starting workflows."""
    client = await dev_server.start()
    task_queue = f"sched-{uuid.uuid4()}"
    paused = await client.create_schedule(f"paused-{uuid.uuid4()}", Schedule(
        action=ScheduleActionStartWorkflow("Nobody", id=f"paused-wf-{uuid.uuid4()}", task_queue=task_queue),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(hours=1))]),
        state=ScheduleState(paused=True, note="kept across the kill")), memo={"owner": "tests"})
    every_second = await client.create_schedule(f"ticking-{uuid.uuid4()}", Schedule(
        action=ScheduleActionStartWorkflow("Nobody", id=f"ticking-wf-{uuid.uuid4()}", task_queue=task_queue),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=1))]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.ALLOW_ALL)))
    await asyncio.sleep(2.5)
    before_paused = await paused.describe()
    before_ticking = (await every_second.describe()).info.num_actions
    assert before_ticking >= 1
    dev_server.kill()

    client = await dev_server.start()
    after = await client.get_schedule_handle(paused.id).describe()
    assert after.schedule.state.paused and after.schedule.state.note == "kept across the kill"
    assert after.schedule.spec.intervals == before_paused.schedule.spec.intervals
    assert await after.memo() == {"owner": "tests"}
    assert after.raw_description.conflict_token == before_paused.raw_description.conflict_token
    ticking = client.get_schedule_handle(every_second.id)
    assert (await ticking.describe()).info.num_actions >= before_ticking
    await asyncio.sleep(2.5)
    assert (await ticking.describe()).info.num_actions > before_ticking, "the schedule fires after the restart"
    listed = {entry.id async for entry in await client.list_schedules()}
    assert {paused.id, every_second.id} <= listed


async def test_a_batch_operation_is_still_described_after_a_kill(dev_server):
    """A batch operation acknowledged is kept like a run (Temporal's batches are workflows): after SIGKILL and
    a restart the job is described and listed as it ended, with its counts, and what it did stays done."""
    client = await dev_server.start()
    task_queue = f"batch-{uuid.uuid4()}"
    handles = [await client.start_workflow("Nobody", id=f"batched-{uuid.uuid4()}", task_queue=task_queue)
               for _ in range(3)]
    job_id = f"job-{uuid.uuid4()}"
    await client.workflow_service.start_batch_operation(StartBatchOperationRequest(
        namespace="default", job_id=job_id, reason="tidy up",
        executions=[WorkflowExecution(workflow_id=handle.id) for handle in handles],
        termination_operation=BatchOperationTermination(identity="tests")))
    deadline = time.monotonic() + 10
    while (await client.workflow_service.describe_batch_operation(DescribeBatchOperationRequest(
            namespace="default", job_id=job_id))).state == BatchOperationState.BATCH_OPERATION_STATE_RUNNING:
        assert time.monotonic() < deadline, "the batch did not finish"
        await asyncio.sleep(0.05)
    dev_server.kill()

    client = await dev_server.start()
    described = await client.workflow_service.describe_batch_operation(DescribeBatchOperationRequest(
        namespace="default", job_id=job_id))
    assert described.state == BatchOperationState.BATCH_OPERATION_STATE_COMPLETED, described
    assert described.operation_type == BatchOperationType.BATCH_OPERATION_TYPE_TERMINATE_WORKFLOW, described
    assert (described.total_operation_count, described.complete_operation_count) == (3, 3), described
    assert (described.reason, described.identity) == ("tidy up", "tests"), described
    listed = await client.workflow_service.list_batch_operations(ListBatchOperationsRequest(namespace="default"))
    assert job_id in [info.job_id for info in listed.operation_info], listed
    for handle in handles:
        assert (await client.get_workflow_handle(handle.id).describe()).status == WorkflowExecutionStatus.TERMINATED
