"""Payloads larger than HTTP/2's flow-control windows, through the SDK, on both servers.

The server reads a request larger than the stream window it announces (1 MiB) only if it tops that window
up while the request arrives, and it answers with a message larger than the client's windows only if it
respects them. 3 MiB of text (random letters, which the SDK's gzip shrinks only to ~2.3 MiB) travels in four messages: two requests (the workflow task completion that
schedules the activity, the activity's completion) and two responses (the activity task, the workflow task
with the activity's result), each under gRPC's 4 MiB message limit.
"""

from __future__ import annotations

import asyncio
import uuid

from temporalio import activity
from temporalio.worker import Worker

from workflows import LargePayloadWorkflow, incompressible_text

SIZE = 3 * 1024 * 1024


@activity.defn(name="echo_text")
async def echo_text(text: str) -> str:
    return text


async def test_a_payload_larger_than_every_window_goes_through_and_back(env):
    task_queue = f"tq-{uuid.uuid4()}"
    async with Worker(env.client, task_queue=task_queue, workflows=[LargePayloadWorkflow], activities=[echo_text]):
        handle = await env.client.start_workflow(
            LargePayloadWorkflow.run, SIZE, id=f"large-{uuid.uuid4()}", task_queue=task_queue
        )
        # A server that stops reading a request (its window never topped up) stalls the SDK: fail, not hang.
        result = await asyncio.wait_for(handle.result(), timeout=60)
    assert len(result) == SIZE
    assert result == incompressible_text(SIZE)
