"""Load held: 200 connections x 20 concurrent streams against the real binary, with the SDK still working.

Tests/Integration/support/h2load.py keeps 4,000 streams in flight -- long polls the server holds, GetSystemInfo calls
the client holds for a few seconds before ending them -- from a child process (so that its work does not
compete with the SDK for this process's GIL), while the real Python SDK (Client + Worker) runs a workflow
on the same server. The server's RSS (VmRSS) is read before, during and after; once the load's connections
are gone it must come back near the baseline, and a second round of the same load must not keep more than
the first. A correctness test, not a timing test: the only times are generous timeouts. Timekeeper only
(issue 10); Benchmarks/Servers/load.py compares with the Java server.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Awaitable, Callable

from temporalio.worker import Worker

from conftest import connect_when_listening
from h2client import ServerProcess
from h2load import LoadProcess, LoadStats
from workflows import HelloWorkflow

CONNECTIONS, STREAMS = 200, 20
HOLD_S = 8.0  # at least two rounds of the held GetSystemInfo calls (3 s each)
MiB = 1024  # in KiB, as /proc/PID/status reports


async def hold_load(server: ServerProcess, workflow: Callable[[str], Awaitable[None]],
                    queue: str) -> tuple[int, int, int, LoadStats]:
    """Hold the load while the SDK runs a workflow; returns RSS during, peak, after (KiB) and the stats."""
    load = LoadProcess(server.port, connections=CONNECTIONS, streams=STREAMS, queue_prefix=queue)
    await asyncio.to_thread(load.start)
    try:
        held_from = time.monotonic()
        assert (await asyncio.to_thread(load.stats)).open_streams == CONNECTIONS * STREAMS
        await workflow("under load")  # the SDK's own calls go through while the load is held
        await asyncio.sleep(max(0.0, HOLD_S - (time.monotonic() - held_from)))
        during, peak = server.status_kib("VmRSS"), server.status_kib("VmHWM")
        holding = await asyncio.to_thread(load.stats)
        assert holding.open_streams >= CONNECTIONS * STREAMS * 0.95, holding
        assert server.alive, server.log_tail()
        stats = await asyncio.to_thread(load.stop)
    finally:
        load.kill()
    assert not stats.failures, f"{len(stats.failures)} failed streams, e.g. {stats.failures[:3]}"
    assert stats.calls_answered >= CONNECTIONS * STREAMS // 2, stats  # every held call, at least once
    await asyncio.sleep(5)  # the server notices the closed connections and frees their streams
    after = server.status_kib("VmRSS")
    await workflow("after the load")
    return during, peak, after, stats


async def test_a_held_load_leaves_the_sdk_working_and_memory_comes_back(timekeeper_path: str) -> None:
    with ServerProcess(timekeeper_path) as server:
        client = await connect_when_listening(server.port)
        queue = f"held-{uuid.uuid4().hex[:8]}"
        async with Worker(client, task_queue=queue, workflows=[HelloWorkflow]):
            async def workflow(name: str) -> None:
                async with asyncio.timeout(120):
                    result = await client.execute_workflow(HelloWorkflow.run, name, id=f"held-{uuid.uuid4()}",
                                                           task_queue=queue)
                assert result == f"hello, {name}"

            await workflow("warm-up")
            await asyncio.sleep(1)
            before = server.status_kib("VmRSS")

            rounds = [await hold_load(server, workflow, f"{queue}-load{n}") for n in (1, 2)]

        (during, peak, after, stats), (_, _, again, _) = rounds
        print(f"\nheld {stats.peak_streams} streams on {CONNECTIONS} connections: RSS before {before / MiB:.1f} MiB, "
              f"during {during / MiB:.1f}, peak {peak / MiB:.1f}, after {after / MiB:.1f}, "
              f"after a second round {again / MiB:.1f}; {stats.calls_answered} calls answered")
        assert during > before, "holding 4,000 streams cost no memory at all: was the load really held?"
        assert again - after <= 8 * MiB, f"a second identical load kept {(again - after) / MiB:.1f} MiB more"
        allowed = max(16 * MiB, (peak - before) // 2)
        assert after - before <= allowed, (
            f"RSS {after / MiB:.1f} MiB after the load, {before / MiB:.1f} before (peak {peak / MiB:.1f}): "
            f"{(after - before) / MiB:.1f} MiB kept, {allowed / MiB:.1f} allowed")
        server.assert_serving()
