"""Visibility: ``ListWorkflowExecutions`` and ``CountWorkflowExecutions`` with Temporal's list-filter
language, through the real Python SDK (``list_workflows`` / ``count_workflows``) and the real ``temporal``
CLI (``workflow list --query`` / ``workflow count``).

Timekeeper only: Temporal's Java test server has no visibility (these calls are UNIMPLEMENTED there).
The filter language itself is checked against the real dev server in the engine's
``Tests/TimekeeperEngineTests/Visibility`` (299 queries).
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from pathlib import Path

import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from workflows import FailingWorkflow, HelloWorkflow

timekeeper_only = pytest.mark.parametrize("server_path", ["timekeeper"], indirect=True)

TEMPORAL_CLI = Path(sys.executable).parent / "temporal"
COLOUR = SearchAttributeKey.for_keyword("Colour")
SIZE = SearchAttributeKey.for_int("Size")


async def _start_mix(env, prefix: str) -> dict[str, list[str]]:
    """Two completed, one failed and two running workflows (on a queue no worker polls)."""
    task_queue = f"tq-{uuid.uuid4()}"
    ids: dict[str, list[str]] = {"completed": [], "failed": [], "running": []}
    async with Worker(env.client, task_queue=task_queue, workflows=[HelloWorkflow, FailingWorkflow]):
        for index in range(2):
            handle = await env.client.start_workflow(
                HelloWorkflow.run, "x", id=f"{prefix}-done-{index}", task_queue=task_queue,
                search_attributes=TypedSearchAttributes([SearchAttributePair(COLOUR, "red"), SearchAttributePair(SIZE, index)]))
            await handle.result()
            ids["completed"].append(handle.id)
        failing = await env.client.start_workflow(FailingWorkflow.run, "x", id=f"{prefix}-failed", task_queue=task_queue)
        with pytest.raises(Exception):
            await failing.result()
        ids["failed"].append(failing.id)
    for index in range(2):
        handle = await env.client.start_workflow(
            HelloWorkflow.run, "x", id=f"{prefix}-open-{index}", task_queue=f"nobody-{uuid.uuid4()}",
            search_attributes=TypedSearchAttributes([SearchAttributePair(COLOUR, "blue"), SearchAttributePair(SIZE, 10 + index)]))
        ids["running"].append(handle.id)
    return ids


async def _cli(env, *args: str) -> str:
    """Runs the real ``temporal`` CLI against ``env``'s server; its standard output."""
    process = await asyncio.create_subprocess_exec(
        str(TEMPORAL_CLI), *args, "--address", env.client.service_client.config.target_host,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err.decode()
    return out.decode()


async def _ids(env, query: str, page_size: int = 1000) -> list[str]:
    return [execution.id async for execution in env.client.list_workflows(query, page_size=page_size)]


@timekeeper_only
async def test_list_and_count_filter_by_type_status_and_search_attributes(env) -> None:
    prefix = f"vis-{uuid.uuid4().hex[:8]}"
    ids = await _start_mix(env, prefix)
    everything = sorted(sum(ids.values(), []))

    assert sorted(await _ids(env, f"WorkflowId STARTS_WITH '{prefix}'")) == everything
    assert sorted(await _ids(env, f"WorkflowId STARTS_WITH '{prefix}' AND ExecutionStatus = 'Running'")) == ids["running"]
    assert sorted(await _ids(env, f"WorkflowType = 'FailingWorkflow' AND WorkflowId STARTS_WITH '{prefix}'")) == ids["failed"]
    assert sorted(await _ids(env, f"Colour = 'red' AND WorkflowId STARTS_WITH '{prefix}'")) == ids["completed"]
    assert sorted(await _ids(env, f"Size >= 1 AND Size < 11 AND WorkflowId STARTS_WITH '{prefix}'")) == [
        f"{prefix}-done-1", f"{prefix}-open-0"]
    assert sorted(await _ids(env, f"WorkflowId IN ('{prefix}-done-0', '{prefix}-open-1', 'nobody')")) == [
        f"{prefix}-done-0", f"{prefix}-open-1"]
    # Paging: the SDK follows next_page_token; every run once.
    assert sorted(await _ids(env, f"WorkflowId STARTS_WITH '{prefix}'", page_size=2)) == everything

    listed = [execution async for execution in env.client.list_workflows(f"WorkflowId = '{prefix}-done-0'")]
    assert len(listed) == 1 and listed[0].status == WorkflowExecutionStatus.COMPLETED
    assert listed[0].workflow_type == "HelloWorkflow" and listed[0].close_time is not None
    assert listed[0].typed_search_attributes.get(COLOUR) == "red"

    count = await env.client.count_workflows(f"WorkflowId STARTS_WITH '{prefix}'")
    assert count.count == 5
    grouped = await env.client.count_workflows(f"WorkflowId STARTS_WITH '{prefix}' GROUP BY ExecutionStatus")
    groups = {tuple(group.group_values): group.count for group in grouped.groups}
    assert grouped.count == 5 and groups == {("Completed",): 2, ("Failed",): 1, ("Running",): 2}, groups


@timekeeper_only
async def test_a_malformed_or_unknown_query_is_invalid_argument_naming_it(env) -> None:
    for query, expected in [
        ("WorkflowId = ", "invalid query"),
        ("NoSuchAttribute = 'x'", "NoSuchAttribute"),
        ("WorkflowType = 'a' GROUP BY ExecutionStatus", "group by"),
    ]:
        with pytest.raises(RPCError) as raised:
            await _ids(env, query)
        assert raised.value.status == RPCStatusCode.INVALID_ARGUMENT, raised.value
        assert expected in raised.value.message, raised.value.message
    # Nothing refused changed the server: it still lists.
    assert isinstance(await _ids(env, "ExecutionStatus = 'Running'"), list)


@timekeeper_only
async def test_the_real_cli_lists_and_counts_with_a_query(env) -> None:
    prefix = f"cli-{uuid.uuid4().hex[:8]}"
    ids = await _start_mix(env, prefix)
    listed = await _cli(env, "workflow", "list", "--query", f"WorkflowId STARTS_WITH '{prefix}' AND ExecutionStatus = 'Running'",
                       "-o", "jsonl")
    rows = [json.loads(line) for line in listed.splitlines() if line.strip()]
    assert sorted(row["execution"]["workflowId"] for row in rows) == ids["running"], listed
    counted = await _cli(env, "workflow", "count", "--query", f"WorkflowId STARTS_WITH '{prefix}'")
    assert "5" in counted, counted


@timekeeper_only
async def test_the_real_cli_lists_namespaces_and_the_search_attributes_runs_carry(env) -> None:
    prefix = f"ops-{uuid.uuid4().hex[:8]}"
    await _start_mix(env, prefix)
    namespaces = json.loads(await _cli(env, "operator", "namespace", "list", "-o", "json"))
    names = [entry["namespaceInfo"]["name"] for entry in (namespaces if isinstance(namespaces, list) else [namespaces])]
    assert "default" in names, namespaces
    attributes = await _cli(env, "operator", "search-attribute", "list", "-o", "json")
    listed = json.loads(attributes)
    flat = json.dumps(listed)
    assert "Colour" in flat and "Size" in flat and "WorkflowType" in flat, attributes

    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest

    response = await env.client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace="default"))
    assert response.custom_attributes["Colour"] == IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
    assert response.custom_attributes["Size"] == IndexedValueType.INDEXED_VALUE_TYPE_INT
    assert response.system_attributes["StartTime"] == IndexedValueType.INDEXED_VALUE_TYPE_DATETIME


# The older list calls: filters instead of a query. The Java test server has no visibility; this test's
# body passed unchanged against `temporal server start-dev` (once Colour and Size were registered there).
@timekeeper_only
async def test_list_open_and_closed_filter_by_status_type_and_id_and_scan_lists_like_list(env):
    from temporalio.api.enums.v1 import WorkflowExecutionStatus as Status
    from temporalio.api.filter.v1 import StatusFilter, WorkflowExecutionFilter, WorkflowTypeFilter
    from temporalio.api.workflowservice.v1 import (
        ListClosedWorkflowExecutionsRequest,
        ListOpenWorkflowExecutionsRequest,
        ScanWorkflowExecutionsRequest,
    )

    prefix = f"legacy-{uuid.uuid4()}"
    ids = await _start_mix(env, prefix)
    service = env.client.workflow_service

    def mine(executions) -> list[str]:
        return sorted(e.execution.workflow_id for e in executions if e.execution.workflow_id.startswith(prefix))

    open_ = await service.list_open_workflow_executions(ListOpenWorkflowExecutionsRequest(namespace="default"))
    assert mine(open_.executions) == sorted(ids["running"])
    failed = await service.list_closed_workflow_executions(ListClosedWorkflowExecutionsRequest(
        namespace="default", status_filter=StatusFilter(status=Status.WORKFLOW_EXECUTION_STATUS_FAILED)))
    assert mine(failed.executions) == ids["failed"]
    closed = await service.list_closed_workflow_executions(ListClosedWorkflowExecutionsRequest(
        namespace="default", type_filter=WorkflowTypeFilter(name="HelloWorkflow")))
    assert mine(closed.executions) == sorted(ids["completed"])
    one = await service.list_closed_workflow_executions(ListClosedWorkflowExecutionsRequest(
        namespace="default", execution_filter=WorkflowExecutionFilter(workflow_id=ids["completed"][0])))
    assert mine(one.executions) == [ids["completed"][0]]
    scanned = await service.scan_workflow_executions(ScanWorkflowExecutionsRequest(
        namespace="default", query=f"WorkflowId = '{ids['running'][0]}'"))
    assert mine(scanned.executions) == [ids["running"][0]]
