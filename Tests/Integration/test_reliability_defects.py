"""Regression tests for the defects issue 10 found by reading the code, through real clients.

Each failed on the server before the fix. Where the Java test server shares the defect (it answers a
history long poll that reaches its 20 s bound with no ``history`` either), the test runs against
timekeeper only and checks the shape Temporal's real dev server gives (CLI 1.9.1, server 1.32.0).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.api.common.v1 import WorkflowExecution, WorkflowType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.worker.v1 import WorkerHeartbeat
from temporalio.api.workflowservice.v1 import (
    DescribeNamespaceRequest,
    DescribeWorkerRequest,
    DescribeWorkflowExecutionRequest,
    GetSystemInfoRequest,
    GetWorkflowExecutionHistoryRequest,
    RecordWorkerHeartbeatRequest,
    StartWorkflowExecutionRequest,
    UpdateWorkflowExecutionRequest,
)
from temporalio.api.update.v1 import Input as UpdateInput
from temporalio.api.update.v1 import Meta as UpdateMeta
from temporalio.api.update.v1 import Request as UpdateRequest
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from workflows import ContinueOnceWorkflow

timekeeper_only = pytest.mark.parametrize("server_path", ["timekeeper"], indirect=True)

TEMPORAL_CLI = Path(sys.executable).parent / "temporal"


def _target(env) -> str:
    return env.client.service_client.config.target_host


@timekeeper_only
async def test_the_real_cli_describes_the_default_namespace(env) -> None:
    """The Temporal CLI dereferenced ``replication_config``, which we left unset, and panicked."""
    table = await asyncio.create_subprocess_exec(
        str(TEMPORAL_CLI), "operator", "namespace", "describe", "-n", "default", "--address", _target(env),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await asyncio.wait_for(table.communicate(), 60)
    assert table.returncode == 0, err.decode()
    assert "ReplicationConfig.ActiveClusterName" in out.decode() and "active" in out.decode()
    proc = await asyncio.create_subprocess_exec(
        str(TEMPORAL_CLI), "operator", "namespace", "describe", "-n", "default",
        "--address", _target(env), "-o", "json",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    described = json.loads(out)
    assert described["namespaceInfo"]["name"] == "default"
    assert described["replicationConfig"]["activeClusterName"] == "active"
    assert described["replicationConfig"]["clusters"] == [{"clusterName": "active"}]


@timekeeper_only
async def test_namespace_capabilities_advertise_only_what_is_served(env) -> None:
    """Updates answered UNIMPLEMENTED while the namespace advertised sync and async updates. Now exactly
    the capabilities that are served are advertised, and a call shows each one served."""
    described = await env.client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace="default"))
    capabilities = described.namespace_info.capabilities
    advertised = {field.name for field, value in capabilities.ListFields() if value}
    assert advertised == {"eager_workflow_start", "sync_update", "async_update", "worker_heartbeats"}
    info = await env.client.workflow_service.get_system_info(GetSystemInfoRequest())
    assert info.capabilities.eager_workflow_start
    # Served: an update of a missing workflow is NOT_FOUND, not UNIMPLEMENTED.
    with pytest.raises(RPCError) as raised:
        await env.client.workflow_service.update_workflow_execution(
            UpdateWorkflowExecutionRequest(
                namespace="default",
                workflow_execution=WorkflowExecution(workflow_id="no-such-workflow"),
                request=UpdateRequest(meta=UpdateMeta(update_id="u1"), input=UpdateInput(name="anything")),
            ))
    assert raised.value.status == RPCStatusCode.NOT_FOUND
    # Served: a worker heartbeat is kept and read back.
    await env.client.workflow_service.record_worker_heartbeat(RecordWorkerHeartbeatRequest(
        namespace="default", worker_heartbeat=[WorkerHeartbeat(worker_instance_key="w-1", task_queue="q")]))
    described_worker = await env.client.workflow_service.describe_worker(
        DescribeWorkerRequest(namespace="default", worker_instance_key="w-1"))
    assert described_worker.worker_info.worker_heartbeat.task_queue == "q"


@timekeeper_only
async def test_a_history_long_poll_that_runs_out_answers_an_empty_history_and_a_token(env) -> None:
    """The Go SDK inside the CLI (``temporal workflow result``) dereferences ``history`` of such an answer."""
    workflow_id = f"wf-{uuid.uuid4()}"
    await env.client.workflow_service.start_workflow_execution(StartWorkflowExecutionRequest(
        namespace="default", workflow_id=workflow_id, workflow_type=WorkflowType(name="Nobody"),
        task_queue=TaskQueue(name=f"tq-{uuid.uuid4()}"), request_id=str(uuid.uuid4())))
    execution = WorkflowExecution(workflow_id=workflow_id)
    first = await env.client.workflow_service.get_workflow_execution_history(
        GetWorkflowExecutionHistoryRequest(namespace="default", execution=execution, wait_new_event=True))
    assert len(first.history.events) == 2 and first.next_page_token
    # Nothing else happens to the run: the poll ends just before the client's 3 s deadline.
    waited = await env.client.workflow_service.get_workflow_execution_history(
        GetWorkflowExecutionHistoryRequest(namespace="default", execution=execution, wait_new_event=True,
                                           next_page_token=first.next_page_token),
        timeout=timedelta(seconds=3))
    assert waited.HasField("history"), "history must be present, with no events"
    assert len(waited.history.events) == 0
    assert waited.next_page_token == first.next_page_token, "poll again from the same place"


async def test_describe_names_the_first_run_after_continue_as_new(env) -> None:
    """``first_run_id`` was the current run's id."""
    task_queue = f"tq-{uuid.uuid4()}"
    async with Worker(env.client, task_queue=task_queue, workflows=[ContinueOnceWorkflow]):
        handle = await env.client.start_workflow(
            ContinueOnceWorkflow.run, False, id=f"wf-{uuid.uuid4()}", task_queue=task_queue)
        first_run = handle.result_run_id
        assert await handle.result() == "continued"
    described = await env.client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(namespace="default",
                                         execution=WorkflowExecution(workflow_id=handle.id)))
    info = described.workflow_execution_info
    assert info.execution.run_id != first_run
    assert info.first_run_id == first_run
