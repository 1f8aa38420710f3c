"""Smoke test of the test harness against the reference (Java) test server.

Proves the plumbing works end to end: shim + wrapper build, the SDK starting
the server on a loopback port, a Worker running a trivial workflow, and
failure propagation.  Parametrised on "java" only for now; once Timekeeper
serves these calls, widen the parametrisation to ["timekeeper", "java"] (or
drop the override to use the fixture's default of both).
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from netutil import is_loopback, listening_addresses
from workflows import FailingWorkflow, HelloWorkflow

# Overrides the `server_path` fixture's params (["timekeeper", "java"]).
both = pytest.mark.parametrize("server_path", ["timekeeper", "java"], indirect=True)

TIMEOUT_S = 60


def _port_of(env: WorkflowEnvironment) -> int:
    return int(env.client.service_client.config.target_host.rsplit(":", 1)[1])


@both
@pytest.mark.asyncio
async def test_server_listens_on_loopback_only(env: WorkflowEnvironment) -> None:
    addrs = listening_addresses(_port_of(env))
    assert addrs, "server port not found in /proc/net/tcp{,6}"
    assert all(is_loopback(a) for a in addrs), f"non-loopback listener: {addrs}"


@both
@pytest.mark.asyncio
async def test_hello_and_failure(env: WorkflowEnvironment) -> None:
    task_queue = f"smoke-{uuid.uuid4()}"
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=[HelloWorkflow, FailingWorkflow],
    ):
        async with asyncio.timeout(TIMEOUT_S):
            result = await env.client.execute_workflow(
                HelloWorkflow.run,
                "x",
                id=f"hello-{uuid.uuid4()}",
                task_queue=task_queue,
            )
            assert result == "hello, x"

            with pytest.raises(WorkflowFailureError) as exc_info:
                await env.client.execute_workflow(
                    FailingWorkflow.run,
                    "x",
                    id=f"fail-{uuid.uuid4()}",
                    task_queue=task_queue,
                )
    cause = exc_info.value.cause
    assert isinstance(cause, ApplicationError), f"cause is {type(cause)!r}: {cause!r}"
    assert cause.message == "boom: x"
    assert cause.non_retryable
