"""``timekeeper server start-dev``: the launch contract of Temporal's CLI dev server, through the real SDK's
``WorkflowEnvironment.start_local(dev_server_existing_path=…)``, which passes ``--namespace``, ``--ip``,
``--port``, ``--headless``, ``--log-format``, ``--log-level`` and ``--search-attribute`` as it does to the CLI.

The dev form's clock is the wall clock: a three-second sleep takes three seconds. Its store is in memory here;
the durable store (``--db-filename``) has its own tests in test_durable_dev_server.py.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid

import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.common.v1 import WorkflowType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    DescribeNamespaceRequest, ListWorkflowExecutionsRequest, RegisterNamespaceRequest, StartWorkflowExecutionRequest,
)
from temporalio.service import RPCError, RPCStatusCode
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from netutil import free_loopback_port
from timeskipping_workflows import SleepsThreeSeconds

COLOUR = SearchAttributeKey.for_keyword("Colour")


async def test_start_local_runs_a_real_clock_dev_server_with_its_namespace_and_search_attributes(timekeeper_path):
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(timekeeper_path), namespace="dev-ns", port=free_loopback_port(),
        search_attributes=[COLOUR], dev_server_log_level="fatal",
    ) as env:
        assert not env.supports_time_skipping
        task_queue = f"tq-{uuid.uuid4()}"
        async with Worker(env.client, task_queue=task_queue, workflows=[SleepsThreeSeconds]):
            began = time.monotonic()
            handle = await env.client.start_workflow(
                SleepsThreeSeconds.run, id=f"dev-{uuid.uuid4()}", task_queue=task_queue,
                search_attributes=TypedSearchAttributes([SearchAttributePair(COLOUR, "red")]))
            assert await handle.result() == "slept"
            assert time.monotonic() - began >= 3.0  # the wall clock: nothing skipped the sleep
        # Unlike the test server, which registers an attribute on first use, the dev form refuses a name
        # nobody registered, in Temporal's words.
        with pytest.raises(RPCError) as refused:
            await env.client.start_workflow(
                SleepsThreeSeconds.run, id=f"dev-{uuid.uuid4()}", task_queue=task_queue,
                search_attributes=TypedSearchAttributes([SearchAttributePair(SearchAttributeKey.for_int("Size"), 1)]))
        assert "Namespace dev-ns has no mapping defined for search attribute Size" in str(refused.value)
        listed = await env.client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace="dev-ns"))
        assert listed.custom_attributes["Colour"] == IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
        assert [w.id async for w in env.client.list_workflows("Colour = 'red'")] == [handle.id]


@pytest.mark.parametrize("flags, words", [
    (["--db-filename", "/tmp/tk-never-created.sqlite", "--sqlite-pragma", "synchronous=OFF;DROP TABLE runs"],
     "names and values are letters, digits and underscores"),
    (["--db-filename", "/nonexistent-directory/x.sqlite"], "/nonexistent-directory/x.sqlite"),
    (["--no-such-flag", "1"], "--no-such-flag is not a `server start-dev` flag"),
    (["--log-level", "loud"], "--log-level loud is not one of"),
    (["--search-attribute", "Colour=Colourful"], "--search-attribute Colour=Colourful is not NAME=TYPE"),
])
def test_a_flag_it_cannot_honour_is_refused_naming_it(timekeeper_path, flags, words):
    finished = subprocess.run([str(timekeeper_path), "server", "start-dev", "--port", str(free_loopback_port()), *flags],
                              capture_output=True, text=True, timeout=30)
    assert finished.returncode != 0 and words in finished.stderr, finished


async def test_an_unknown_namespace_is_not_found_until_registered(timekeeper_path):
    """As on Temporal's servers, a namespace must exist to be used: every WorkflowService and OperatorService
    call naming another answers NOT_FOUND in Temporal's words, and RegisterNamespace makes it exist. (The test
    server serves any namespace, as Temporal's Java test server does.)"""
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(timekeeper_path), port=free_loopback_port(), dev_server_log_level="fatal",
    ) as env:
        service = env.client.workflow_service
        refused = [
            service.describe_namespace(DescribeNamespaceRequest(namespace="elsewhere")),
            service.start_workflow_execution(StartWorkflowExecutionRequest(
                namespace="elsewhere", workflow_id="w", workflow_type=WorkflowType(name="T"),
                task_queue=TaskQueue(name="tq"), request_id=str(uuid.uuid4()))),
            service.list_workflow_executions(ListWorkflowExecutionsRequest(namespace="elsewhere")),
            env.client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace="elsewhere")),
        ]
        for call in refused:
            with pytest.raises(RPCError) as error:
                await call
            assert error.value.status == RPCStatusCode.NOT_FOUND and error.value.message == "Namespace elsewhere is not found."
        # Nothing was started by the refused call.
        await service.register_namespace(RegisterNamespaceRequest(namespace="elsewhere"))
        listed = await service.list_workflow_executions(ListWorkflowExecutionsRequest(namespace="elsewhere"))
        assert list(listed.executions) == []
        described = await service.describe_namespace(DescribeNamespaceRequest(namespace="elsewhere"))
        assert described.namespace_info.name == "elsewhere"


async def test_a_closed_run_is_deleted_once_its_namespace_retention_has_passed(timekeeper_path):
    """As on Temporal's servers: a closed run is kept for its namespace's retention, then deleted (the dev
    form keeps 24 hours unless the namespace says otherwise; the test server keeps every run)."""
    from google.protobuf.duration_pb2 import Duration

    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(timekeeper_path), port=free_loopback_port(), dev_server_log_level="fatal",
    ) as env:
        service = env.client.workflow_service
        await service.register_namespace(RegisterNamespaceRequest(
            namespace="brief", workflow_execution_retention_period=Duration(seconds=1)))
        brief = await Client.connect(env.client.service_client.config.target_host, namespace="brief")
        handles = []
        for client in (brief, env.client):
            handle = await client.start_workflow("NobodyRunsIt", id=f"kept-{uuid.uuid4()}", task_queue="nobody")
            await handle.terminate("closed for the test")
            handles.append(handle)
        await asyncio.sleep(1.8)
        with pytest.raises(RPCError) as gone:
            await handles[0].describe()
        assert gone.value.status == RPCStatusCode.NOT_FOUND
        # The default namespace keeps its runs for 24 hours.
        assert (await handles[1].describe()).status == WorkflowExecutionStatus.TERMINATED
