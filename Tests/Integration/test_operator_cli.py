"""Namespaces, the cluster and task queues through the real `temporal` CLI: namespace create, describe,
update and list, `operator cluster describe`, `task-queue describe` and `task-queue list-partition`.

The Java test server serves none of these (UNIMPLEMENTED), so this runs against timekeeper only. The
same commands against `temporal server start-dev` (checked by hand) gave the same effects: the
description, owner and retention as registered and then updated, "Namespace "x" already exists" for a
second registration, the namespace in the list, cluster name "active", and the worker's identity among
the workflow queue's pollers with both queue types' statistics. One difference: the dev server lists four
partitions per queue, timekeeper one.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from pathlib import Path

import pytest
from temporalio.worker import Worker

from workflows import HelloWorkflow

timekeeper_only = pytest.mark.parametrize("server_path", ["timekeeper"], indirect=True)

TEMPORAL_CLI = Path(sys.executable).parent / "temporal"


async def cli(env, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        str(TEMPORAL_CLI), *args, "--address", env.client.service_client.config.target_host,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL)
    out, err = await asyncio.wait_for(process.communicate(), 30)
    return process.returncode, out.decode(), err.decode()


@timekeeper_only
async def test_a_namespace_is_described_as_registered_then_as_updated_and_registering_it_again_fails(env):
    name = f"ns-{uuid.uuid4().hex[:8]}"
    code, _, err = await cli(env, "operator", "namespace", "create", "--namespace", name, "--retention", "72h",
                             "--description", "a probe", "--email", "a@b.c")
    assert code == 0, err
    code, _, err = await cli(env, "operator", "namespace", "create", "--namespace", name)
    assert code != 0 and f'Namespace "{name}" already exists' in err, err

    code, out, err = await cli(env, "operator", "namespace", "describe", "--namespace", name, "-o", "json")
    assert code == 0, err
    described = json.loads(out)
    assert described["namespaceInfo"]["description"] == "a probe"
    assert described["namespaceInfo"]["ownerEmail"] == "a@b.c"
    assert described["config"]["workflowExecutionRetentionTtl"] == "259200s"

    code, _, err = await cli(env, "operator", "namespace", "update", "--namespace", name, "--description", "changed",
                             "--retention", "96h")
    assert code == 0, err
    code, out, err = await cli(env, "operator", "namespace", "describe", "--namespace", name, "-o", "json")
    described = json.loads(out)
    assert described["namespaceInfo"]["description"] == "changed"
    assert described["namespaceInfo"]["ownerEmail"] == "a@b.c"
    assert described["config"]["workflowExecutionRetentionTtl"] == "345600s"

    code, out, err = await cli(env, "operator", "namespace", "list", "-o", "json")
    assert code == 0, err
    assert name in out and '"default"' in out


@timekeeper_only
async def test_cluster_describe_names_the_cluster(env):
    code, out, err = await cli(env, "operator", "cluster", "describe", "-o", "json")
    assert code == 0, err
    described = json.loads(out)
    assert described["clusterName"] == "active"
    assert described["historyShardCount"] == 1


@timekeeper_only
async def test_task_queue_describe_lists_the_workers_poller_and_list_partition_names_the_queue(env):
    task_queue = f"tq-{uuid.uuid4().hex[:8]}"
    async with Worker(env.client, task_queue=task_queue, workflows=[HelloWorkflow], identity="worker-one"):
        for _ in range(100):  # the worker's first poll
            code, out, err = await cli(env, "task-queue", "describe", "--task-queue", task_queue, "-o", "json")
            assert code == 0, err
            described = json.loads(out)
            if described["pollers"]:
                break
            await asyncio.sleep(0.05)
    assert [(p["identity"], p["taskQueueType"]) for p in described["pollers"]] == [("worker-one", "workflow")]
    assert sorted(s["taskQueueType"] for s in described["stats"]) == ["activity", "workflow"]
    code, out, err = await cli(env, "task-queue", "list-partition", "--task-queue", task_queue)
    assert code == 0, err
    assert out.count(task_queue) == 2, out  # one workflow and one activity partition
