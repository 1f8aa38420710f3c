"""Memory per workflow stays bounded (timekeeper only).

Benchmarks/Servers/e2e.py found the server growing by 34 KiB per trivial workflow: grpc-swift-nio-transport
2.9.2 never ended the zlib inflate state of a gzip-compressed request (~7 KiB each), and the Python SDK
gzips every request. Timekeeper now inflates requests itself (TimekeeperServer/GRPC); what is
left per finished workflow is the engine's own record of it, ~10 KiB. This test drives 1,000 workflows
through the real SDK and bounds the server's RSS growth well below what the leak cost.

Not run against the Java server: a JVM's heap grows by its collector's policy, not per workflow.
"""

from __future__ import annotations

import asyncio
import subprocess
import uuid

from temporalio.worker import Worker

from conftest import connect_when_listening
from netutil import free_loopback_port
from workflows import HelloWorkflow

WARM_UP, MEASURED, IN_FLIGHT = 200, 1_000, 20
LIMIT_BYTES = 20 * 1024  # the leak alone was ~28 KiB per workflow


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


async def test_rss_growth_per_workflow_stays_well_below_the_old_zlib_leak(timekeeper_path: str) -> None:
    port = free_loopback_port()
    process = subprocess.Popen([timekeeper_path, str(port)], stdin=subprocess.DEVNULL)
    try:
        client = await connect_when_listening(port)
        queue = f"memory-{uuid.uuid4().hex[:8]}"

        async def run(count: int) -> None:
            for _ in range(count // IN_FLIGHT):
                results = await asyncio.gather(*(
                    client.execute_workflow(HelloWorkflow.run, "m", id=uuid.uuid4().hex, task_queue=queue)
                    for _ in range(IN_FLIGHT)))
                assert results == ["hello, m"] * IN_FLIGHT

        async with Worker(client, task_queue=queue, workflows=[HelloWorkflow]):
            await run(WARM_UP)  # first-use allocations, caches, malloc arenas
            before = rss_bytes(process.pid)
            await run(MEASURED)
            after = rss_bytes(process.pid)
        per_workflow = (after - before) / MEASURED
        print(f"RSS growth {per_workflow / 1024:.1f} KiB per workflow ({before / 2**20:.1f} -> {after / 2**20:.1f} MiB)")
        assert per_workflow < LIMIT_BYTES, (
            f"RSS grew {per_workflow / 1024:.1f} KiB per workflow over {MEASURED} workflows "
            f"({before / 2**20:.1f} -> {after / 2**20:.1f} MiB); the zlib leak was ~28 KiB")
    finally:
        process.terminate()
        process.wait(timeout=10)
