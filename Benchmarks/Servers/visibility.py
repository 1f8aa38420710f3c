#!/usr/bin/env python3
"""Visibility benchmark: ListWorkflowExecutions and CountWorkflowExecutions with selective filters over
1k / 10k / 100k runs, Timekeeper side by side with Temporal's real dev server on the same data.

For every target -- timekeeper, timekeeper-baseline if ``$TIMEKEEPER_BASELINE_BIN`` is set, and
``temporal server start-dev`` (in memory, on 127.0.0.1, with ``--search-attribute Tenant=Keyword``) --
the server is started once, fresh, and grown through the sizes (default 1,000 / 10,000 / 100,000).
``Tenant`` is registered as a Keyword with AddSearchAttributes where the server lacks it (a server without
that call types it by the payloads' metadata, as Temporal's test servers do).  Then, for each size:

1. **populate**: runs are started (``start_workflow`` by type name, ``--concurrency`` in flight, default
   100) on a task queue nobody polls, so they stay open; 1 in 5 is terminated right after its start, so
   there are closed runs too.  Each run has one of 100 workflow types (T0..T99) and a Keyword search
   attribute ``Tenant`` (tenant-0..tenant-99), drawn from a fixed seed: the same runs on every target.
   Recorded: starts/s of the batch, server CPU per run, Python CPU / wall.
2. **consistent**: ``Count ... GROUP BY ExecutionStatus`` is polled until it reports the expected Running
   and Terminated counts (the dev server's visibility is eventually consistent; Timekeeper's is not), then
   the server is left to settle until it idles.
3. **queries**: for each query (a list's first page of 100, or a count) a few untimed calls, then
   ``--calls`` (default 30) timed sequential calls -- more, up to 10x, until the batch lasted 1 s, for
   the CPU reading's sake.  Recorded: latency p50 / p95 and server CPU per call (/proc/PID/stat over the
   batch / calls).  Every answer is checked: the count, the groups, the page's length and that each
   listed run matches.  The queries: ``WorkflowType = 'T7' AND ExecutionStatus = 'Running'`` (~0.8 % of
   the runs) and ``Tenant = 'tenant-7'`` (~1 %), each listed and counted; ``Tenant = 'tenant-7' GROUP BY
   ExecutionStatus``; ``GROUP BY ExecutionStatus`` over all runs.

One table is printed (rows = runs x query; per target p50, p95, CPU ms/query; timekeeper / temporal-dev
ratios), then the populating figures and details, and all of it, with machine facts, goes to
``Benchmarks/Servers/results/visibility-<YYYY-MM-DD>.md`` (``-quick`` appended for ``--quick``).  A step
that fails leaves "error: ..." in its cells and the run goes on (after a failed populate or a server
crash, that target's larger sizes are not run).  Every server is SIGKILLed and reaped at the end, also on
errors and Ctrl-C.

Usage::

    .venv/bin/python Benchmarks/Servers/visibility.py                    # 1k, 10k, 100k; every target
    .venv/bin/python Benchmarks/Servers/visibility.py --quick            # 200, 2k (a smoke run)
    .venv/bin/python Benchmarks/Servers/visibility.py --only temporal-dev --sizes 1000,10000

Timekeeper is servers.py's (``$TIMEKEEPER_BIN``, else ``.build/release/timekeeper``, else the debug
build); the dev server is ``$TEMPORAL_CLI_BIN``, else the ``temporal`` next to this Python (the
virtualenv's).  Server logs go to ``Benchmarks/Servers/.work/visibility-logs/``.  The data set, the
queries and the tables are in ``visibility_results.py``.  See Benchmarks/Servers/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import repo_paths  # noqa: E402,F401 -- first: puts Tests/Integration/support on sys.path


from temporalio.api.enums.v1 import IndexedValueType  # noqa: E402
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest  # noqa: E402
from temporalio.api.workflowservice.v1 import (  # noqa: E402
    CountWorkflowExecutionsRequest,
    ListWorkflowExecutionsRequest,
)
from temporalio.client import Client  # noqa: E402
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes  # noqa: E402
from temporalio.service import RPCError, RPCStatusCode  # noqa: E402

from command_line import add_only_option, begin_run, bench_each_target, run_and_exit  # noqa: E402
from proc_readings import UsageSince, proc_cpu_s, rss_mib  # noqa: E402
from run_log import log  # noqa: E402
from scaling_results import ScalingResults  # noqa: E402
from sdk_driver import gather_all, unique  # noqa: E402
from servers import Target, selected_targets  # noqa: E402
from growing_server import (  # noqa: E402
    connect_failed,
    kill_live_servers,
    new_server,
    parse_sizes,
    phase_runner,
    skipped_as_missing,
    start,
    stop_server,
)
from visibility_results import (  # noqa: E402
    ALL_KEYS,
    PAGE_SIZE,
    QUERIES,
    QUERY_KEYS,
    SEARCH_ATTRIBUTE,
    Dataset,
    Query,
    Settings,
    decode_groups,
    percentile,
    qkey,
    report,
    tenant_name,
    type_name,
)

DEFAULT_SIZES = [1_000, 10_000, 100_000]
QUICK_SIZES = [200, 2_000]
DEFAULT_CONCURRENCY = 100
DEFAULT_CALLS = 30
WARMUP_CALLS = 3
MIN_BATCH_S = 1.0  # timed calls go on (up to 10x --calls) until the batch lasted this long
NAMESPACE = "default"
PROGRESS_EVERY = 10_000
POLL_S = 0.2  # while waiting for visibility to catch up
SETTLE_MAX_S = 60.0
SETTLE_IDLE_CPU_S = 0.05  # server CPU in a 1 s window below which it counts as idle
TENANT = SearchAttributeKey.for_keyword(SEARCH_ATTRIBUTE)
# The dev server limits visibility calls to 10 per second per namespace (frontend.namespaceRPS.visibility): a
# policy, not a cost, and sequential timed calls exceed it at once ("namespace rate limit exceeded").
DEV_SERVER_ARGS = ["--search-attribute", f"{SEARCH_ATTRIBUTE}=Keyword",
                   "--dynamic-config-value", "frontend.namespaceRPS.visibility=100000"]



async def populate(client: Client, ds: Dataset, task_queue: str, id_prefix: str, first: int, last: int,
                   concurrency: int) -> None:
    """Start runs ``first .. last-1`` (terminating the closed ones), ``concurrency`` in flight."""
    next_i = first

    async def pump() -> None:
        nonlocal next_i
        while next_i < last:
            i = next_i
            next_i += 1
            handle = await client.start_workflow(
                type_name(ds.types[i]), id=f"{id_prefix}-{i}", task_queue=task_queue,
                search_attributes=TypedSearchAttributes([SearchAttributePair(TENANT, tenant_name(ds.tenants[i]))]))
            if ds.closed[i]:
                await handle.terminate(reason="visibility benchmark: a closed run")
            if i and i % PROGRESS_EVERY == 0:
                log(f"    {i:,} started")

    await gather_all(pump() for _ in range(min(concurrency, last - first)))


async def count(client: Client, query: str) -> Any:
    return await client.workflow_service.count_workflow_executions(
        CountWorkflowExecutionsRequest(namespace=NAMESPACE, query=query))


async def wait_ready(client: Client, timeout: float) -> None:
    """Until the namespace answers a count (the dev server may accept connections a little earlier)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            await count(client, "")
            return
        except Exception:  # noqa: BLE001 -- not ready yet
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def register_search_attribute(client: Client) -> str:
    """Registers the Keyword attribute unless the server has it already (the dev server, from its command
    line); a server without AddSearchAttributes types unregistered attributes by their payloads' metadata, as
    Temporal's test servers do. Returns how the attribute came to be known."""
    have = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=NAMESPACE))
    if SEARCH_ATTRIBUTE in have.custom_attributes:
        return "registered at start-up"
    try:
        await client.operator_service.add_search_attributes(AddSearchAttributesRequest(
            namespace=NAMESPACE, search_attributes={SEARCH_ATTRIBUTE: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD}))
    except RPCError as e:
        if e.status != RPCStatusCode.UNIMPLEMENTED:
            raise
        return "not registered (AddSearchAttributes unimplemented: typed by the payloads' metadata)"
    return "registered with AddSearchAttributes"


async def wait_consistent(client: Client, ds: Dataset, n: int) -> None:
    """Until Count GROUP BY ExecutionStatus reports every run with its expected status."""
    want = {k: v for k, v in ds.statuses(n).items() if v}
    while True:
        got = decode_groups(await count(client, "GROUP BY ExecutionStatus"))
        if got == want:
            return
        await asyncio.sleep(POLL_S)


async def settle(pid: int) -> tuple[float, float]:
    """Wait until the server uses < SETTLE_IDLE_CPU_S of CPU in a 1 s window (at most SETTLE_MAX_S);
    returns (seconds waited, CPU ms/s in the last window)."""
    t0 = time.perf_counter()
    while True:
        cpu0 = proc_cpu_s(pid)
        await asyncio.sleep(1.0)
        used = proc_cpu_s(pid) - cpu0
        if used < SETTLE_IDLE_CPU_S or time.perf_counter() - t0 > SETTLE_MAX_S:
            return time.perf_counter() - t0, used * 1e3


def checker(q: Query, ds: Dataset, n: int, id_prefix: str) -> Callable[[Any], None]:
    """Raises if a response is not what the data set says ``q`` must answer at ``n`` runs."""
    matches, groups = q.expected(ds, n)

    def check_list(r: Any) -> None:
        if len(r.executions) != min(matches, PAGE_SIZE):
            raise RuntimeError(f"{q.label}: {len(r.executions)} runs on the first page, expected "
                               f"{min(matches, PAGE_SIZE)} of {matches}")
        for e in r.executions:
            wf_id = e.execution.workflow_id
            if not wf_id.startswith(id_prefix + "-") or not q.match(ds, int(wf_id.rsplit("-", 1)[1])):
                raise RuntimeError(f"{q.label}: listed {wf_id}, which does not match")
        if (matches > PAGE_SIZE) != bool(r.next_page_token):
            raise RuntimeError(f"{q.label}: next_page_token {'missing' if matches > PAGE_SIZE else 'unexpected'}")

    def check_count(r: Any) -> None:
        if r.count != matches:
            raise RuntimeError(f"{q.label}: count {r.count}, expected {matches}")
        if q.group_by_status and decode_groups(r) != groups:
            raise RuntimeError(f"{q.label}: groups {decode_groups(r)}, expected {groups}")

    return check_list if q.kind == "list" else check_count


def caller(client: Client, q: Query) -> Callable[[], Awaitable[Any]]:
    if q.kind == "list":
        request = ListWorkflowExecutionsRequest(namespace=NAMESPACE, query=q.text, page_size=PAGE_SIZE)
        return lambda: client.workflow_service.list_workflow_executions(request)
    request = CountWorkflowExecutionsRequest(namespace=NAMESPACE, query=q.text)
    return lambda: client.workflow_service.count_workflow_executions(request)


async def time_query(call: Callable[[], Awaitable[Any]], check: Callable[[Any], None], pid: int,
                     st: Settings) -> dict[str, float]:
    """Warm-up calls, then the timed batch: p50 / p95 ms, server CPU ms per call, calls."""
    for _ in range(st.warmup):
        check(await call())
    times: list[float] = []
    usage = UsageSince(pid)
    while len(times) < st.calls or (usage.wall_s() < st.min_batch_s and len(times) < 10 * st.calls):
        t0 = time.perf_counter()
        r = await call()
        times.append((time.perf_counter() - t0) * 1e3)
        check(r)
    cpu = usage.server_cpu_s()
    return {"p50": statistics.median(times), "p95": percentile(times, 95), "cpu": cpu * 1e3 / len(times),
            "calls": float(len(times))}


async def bench_target(target: Target, st: Settings, ds: Dataset, res: ScalingResults, log_dir: Path) -> None:
    name = target.name
    if skipped_as_missing(target, st.sizes, res, ALL_KEYS):
        return
    server = new_server(target, log_dir)
    try:
        try:
            start(server, name)
            client = await asyncio.wait_for(server.connect(), st.timeout)
            await server.checked(lambda: wait_ready(client, 60.0))
            how = await server.checked(lambda: register_search_attribute(client))
            res.notes.append(f"{name}: {SEARCH_ATTRIBUTE} (Keyword) {how}")
            await asyncio.sleep(1.0)
            log(f"[{name}] connected; {SEARCH_ATTRIBUTE} {how}; idle RSS {rss_mib(server.pid):.1f} MiB")
        except Exception as e:  # noqa: BLE001 -- record and carry on with the next target
            connect_failed(name, e, st.sizes, res, ALL_KEYS)
            return

        task_queue, id_prefix = unique("visibility-idle"), unique("vis")
        populated = 0
        stop: str | None = None  # why the remaining sizes are not run

        phase = phase_runner(name, server, res, "runs", timeout=st.timeout, error_chars=300)

        for n in st.sizes:
            row = res.row(name, n)
            if stop is not None:
                res.fail(name, n, ALL_KEYS, stop)
                continue

            async def do_populate() -> None:
                nonlocal populated
                added = n - populated
                log(f"[{name}] populating {added:,} runs ({populated:,} -> {n:,}) ...")
                usage = UsageSince(server.pid)
                await populate(client, ds, task_queue, id_prefix, populated, n, st.concurrency)
                wall = usage.wall_s()
                populated = n
                row.update(start_rate=added / wall, pop_cpu_us=usage.server_cpu_s() * 1e6 / added, pop_wall=wall,
                           pop_py_util=usage.python_cpu_s() / wall)
                log(f"    {added:,} started in {wall:.1f} s ({added / wall:.0f}/s)")

            async def do_consistent() -> None:
                t0 = time.perf_counter()
                await wait_consistent(client, ds, n)
                row["consistent_s"] = time.perf_counter() - t0
                row["settle_s"], row["idle_cpu"] = await settle(server.pid)

            if not await phase(n, "populate", ALL_KEYS, do_populate):
                stop = "error: not run"  # the number of runs is unknown now
                continue
            if not await phase(n, "wait for visibility", ["consistent_s", "settle_s", "idle_cpu"] + QUERY_KEYS,
                               do_consistent):
                stop = "error: not run"
                continue
            for q in QUERIES:
                async def do_query(q: Query = q) -> None:
                    out = await time_query(caller(client, q), checker(q, ds, n, id_prefix), server.pid, st)
                    row.update({qkey(q, k): v for k, v in out.items()})
                    log(f"    {q.label}: p50 {out['p50']:.2f} ms, p95 {out['p95']:.2f} ms, "
                        f"CPU {out['cpu']:.2f} ms/q ({out['calls']:.0f} calls)")

                if not server.alive():
                    break
                await phase(n, q.label, [qkey(q, k) for k in ("p50", "p95", "cpu", "calls")], do_query)
            if not server.alive():
                stop = "error: not run"
                res.fail(name, n, ALL_KEYS, "error: server died")
                continue
            row["rss"] = rss_mib(server.pid)
    finally:
        await stop_server(name, server, res)


async def amain(args: argparse.Namespace) -> int:
    sizes = parse_sizes(args.sizes, QUICK_SIZES if args.quick else DEFAULT_SIZES)
    if args.calls < 1:
        raise SystemExit("--calls must be positive")
    st = Settings(sizes=sizes, concurrency=args.concurrency, calls=args.calls, warmup=WARMUP_CALLS,
                  min_batch_s=MIN_BATCH_S, timeout=args.timeout, quick=args.quick)

    targets = selected_targets(args.only, java=False, dev_server_args=DEV_SERVER_ARGS)
    run, log_dir = begin_run("visibility-logs", f"; sizes {sizes}")
    ds = Dataset(sizes[-1])
    res = ScalingResults()
    await bench_each_target(run, targets, lambda t: bench_target(t, st, ds, res, log_dir))

    report(st, targets, res, ds, run, args.out)
    return 1 if res.errors else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", metavar="N,N,...",
                    help=f"runs to grow through (default {','.join(map(str, DEFAULT_SIZES))})")
    ap.add_argument("--quick", action="store_true",
                    help=f"sizes {','.join(map(str, QUICK_SIZES))}, for smoke runs")
    ap.add_argument("--calls", type=int, default=DEFAULT_CALLS, metavar="N",
                    help=f"timed calls per query and size, at least (default {DEFAULT_CALLS})")
    ap.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY, metavar="N",
                    help=f"in-flight starts while populating (default {DEFAULT_CONCURRENCY})")
    add_only_option(ap)
    ap.add_argument("--timeout", type=float, default=3600.0, help="per-phase timeout, s (default 3600)")
    ap.add_argument("--out", help="Markdown output path (default Benchmarks/Servers/results/visibility-<date>[-quick].md)")

    run_and_exit(amain, ap.parse_args(), on_interrupt=lambda: log("interrupted"), on_exit=kill_live_servers)


if __name__ == "__main__":
    main()
