"""visibility.py's settings, data set, queries, results (target -> runs -> column) and report: the query
table (latency p50 / p95 and server CPU per query, side by side, with timekeeper / temporal-dev ratios),
the populating table, the facts."""

from __future__ import annotations

import json
import math
import random
import subprocess
from collections import Counter
from dataclasses import dataclass
from typing import Callable

from machine_facts import RunRecord, machine_facts
from proc_readings import CLK_TCK
from reports import fmt_cell, md_table, print_report_tail, ratio, write_results_file
from scaling_results import ScalingResults, grouped_text_table, has_ratio, plain_text_table, size_table
from servers import Target, temporal_cli

VIS_RATIO = ("timekeeper", "temporal-dev")  # ratio columns = VIS_RATIO[0] / VIS_RATIO[1]

# The data set: run i has workflow type T<k> (N_TYPES of them), the Keyword search attribute Tenant =
# tenant-<k> (N_TENANTS values), and is terminated (closed) with probability 1 / CLOSED_ONE_IN; each drawn
# independently from a fixed seed, so every size is a prefix of the next and every target gets the same runs.
N_TYPES = 100
N_TENANTS = 100
CLOSED_ONE_IN = 5
SEED = 20261207
SEARCH_ATTRIBUTE = "Tenant"  # registered on the dev server with --search-attribute Tenant=Keyword
SELECTED_TYPE = 7
SELECTED_TENANT = 7
PAGE_SIZE = 100
RUNNING, TERMINATED = "Running", "Terminated"


def type_name(k: int) -> str:
    return f"T{k}"


def tenant_name(k: int) -> str:
    return f"tenant-{k}"


class Dataset:
    """Types, tenants and closed flags of runs 0 .. size-1."""

    def __init__(self, size: int) -> None:
        rng = random.Random(SEED)
        self.types = [rng.randrange(N_TYPES) for _ in range(size)]
        rng = random.Random(SEED + 1)
        self.tenants = [rng.randrange(N_TENANTS) for _ in range(size)]
        rng = random.Random(SEED + 2)
        self.closed = [rng.randrange(CLOSED_ONE_IN) == 0 for _ in range(size)]

    def status(self, i: int) -> str:
        return TERMINATED if self.closed[i] else RUNNING

    def statuses(self, n: int) -> Counter[str]:
        return Counter(self.status(i) for i in range(n))


@dataclass(frozen=True)
class Query:
    key: str
    label: str
    kind: str  # "list" (first page of PAGE_SIZE) or "count"
    text: str
    match: Callable[[Dataset, int], bool]  # does run i match the filter (before any GROUP BY)
    group_by_status: bool = False

    def expected(self, ds: Dataset, n: int) -> tuple[int, dict[str, int]]:
        """(matching runs among the first n, their counts by status)."""
        groups = Counter(ds.status(i) for i in range(n) if self.match(ds, i))
        return sum(groups.values()), dict(groups)


TYPE_FILTER = f"WorkflowType = '{type_name(SELECTED_TYPE)}' AND ExecutionStatus = '{RUNNING}'"
TENANT_FILTER = f"{SEARCH_ATTRIBUTE} = '{tenant_name(SELECTED_TENANT)}'"


def _by_type(ds: Dataset, i: int) -> bool:
    return ds.types[i] == SELECTED_TYPE and not ds.closed[i]


def _by_tenant(ds: Dataset, i: int) -> bool:
    return ds.tenants[i] == SELECTED_TENANT


QUERIES = [
    Query("list_type", "list type+Running", "list", TYPE_FILTER, _by_type),
    Query("list_tenant", "list Tenant", "list", TENANT_FILTER, _by_tenant),
    Query("count_type", "count type+Running", "count", TYPE_FILTER, _by_type),
    Query("count_tenant", "count Tenant", "count", TENANT_FILTER, _by_tenant),
    Query("group_tenant", "count Tenant by status", "count", f"{TENANT_FILTER} GROUP BY ExecutionStatus",
          _by_tenant, group_by_status=True),
    Query("group_all", "count all by status", "count", "GROUP BY ExecutionStatus", lambda ds, i: True,
          group_by_status=True),
]


def decode_groups(response) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """A CountWorkflowExecutions response's groups as {status name: count}."""
    out = {}
    for g in response.groups:
        key = json.loads(g.group_values[0].data) if g.group_values else None
        out[str(key)] = g.count
    return out


@dataclass
class Settings:
    sizes: list[int]
    concurrency: int
    calls: int
    warmup: int
    min_batch_s: float
    timeout: float
    quick: bool


# Columns of one target in the query table (per size and query), and of the populating table (per size).
@dataclass
class Col:
    key: str
    label: str
    fmt: str


QUERY_COLS = [Col("p50", "p50 ms", ".2f"), Col("p95", "p95 ms", ".2f"), Col("cpu", "CPU ms/q", ".2f")]
QUERY_RATIO_COLS = [Col("p50", "p50", ""), Col("cpu", "CPU", "")]
POP_COLS = [
    Col("start_rate", "starts/s", ".0f"),
    Col("pop_cpu_us", "server µs/run", ".0f"),
    Col("pop_wall", "batch s", ".1f"),
    Col("consistent_s", "consistent +s", ".1f"),
    Col("rss", "RSS MiB", ".0f"),
]
POP_RATIO_COLS = [Col("pop_cpu_us", "µs/run", ""), Col("rss", "RSS", "")]
DETAIL_COLS = [
    Col("pop_py_util", "populate: py CPU/wall", ".2f"),
    Col("settle_s", "settle s", ".1f"),
    Col("idle_cpu", "idle CPU ms/s", ".1f"),
]


def qkey(query: Query, col: str) -> str:
    return f"{query.key}.{col}"


QUERY_KEYS = [qkey(q, c) for q in QUERIES for c in ("p50", "p95", "cpu", "calls")]
POP_KEYS = ["start_rate", "pop_cpu_us", "pop_wall", "pop_py_util"]
ALL_KEYS = POP_KEYS + ["consistent_s", "settle_s", "idle_cpu", "rss"] + QUERY_KEYS


def md_header(groups: list[tuple[str, int]], header: list[str]) -> list[str]:
    """Header with each group's full label prefixed, for Markdown (timekeeper and timekeeper-baseline apart)."""
    out, col = [], 0
    for label, span in groups:
        out += [f"{label} {h}".strip() for h in header[col:col + span]]
        col += span
    return out


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def ratio_label() -> str:
    return f"{VIS_RATIO[0]} / {VIS_RATIO[1]}"


def query_table(st: Settings, targets: list[Target], res: ScalingResults, ds: Dataset
                ) -> tuple[list[tuple[str, int]], list[str], list[list[str]]]:
    groups: list[tuple[str, int]] = [("", 3)]
    header = ["runs", "query", "matches"]
    for t in targets:
        groups.append((t.name, len(QUERY_COLS)))
        header += [c.label for c in QUERY_COLS]
    if has_ratio(targets, VIS_RATIO):
        groups.append((ratio_label(), len(QUERY_RATIO_COLS)))
        header += [c.label for c in QUERY_RATIO_COLS]
    rows = []
    for n in st.sizes:
        for q in QUERIES:
            matches, _ = q.expected(ds, n)
            shown = f"{min(matches, PAGE_SIZE)} of {matches}" if q.kind == "list" else str(matches)
            r = [f"{n:,}", q.label, shown]
            for t in targets:
                r += [fmt_cell(res.get(t.name, n, qkey(q, c.key)), c.fmt) for c in QUERY_COLS]
            if has_ratio(targets, VIS_RATIO):
                r += [ratio(res.get(VIS_RATIO[0], n, qkey(q, c.key)), res.get(VIS_RATIO[1], n, qkey(q, c.key)))
                      for c in QUERY_RATIO_COLS]
            rows.append(r)
    return groups, header, rows


def populate_table(st: Settings, targets: list[Target], res: ScalingResults
                   ) -> tuple[list[tuple[str, int]], list[str], list[list[str]]]:
    return size_table(st.sizes, "runs", targets, res, POP_COLS, VIS_RATIO, ratio_label(), POP_RATIO_COLS)


def detail_table(st: Settings, targets: list[Target], res: ScalingResults) -> tuple[list[str], list[list[str]]]:
    header = ["target", "runs"] + [c.label for c in DETAIL_COLS] + [f"calls {q.key}" for q in QUERIES]
    rows = [[t.name, f"{n:,}"] + [fmt_cell(res.get(t.name, n, c.key), c.fmt) for c in DETAIL_COLS]
            + [fmt_cell(res.get(t.name, n, qkey(q, "calls")), ".0f") for q in QUERIES]
            for t in targets for n in st.sizes]
    return header, rows


def populate_totals(st: Settings, targets: list[Target], res: ScalingResults) -> list[str]:
    """Each target's total populating time (all batches plus the waits for visibility to catch up)."""
    out = []
    for t in targets:
        walls = [res.get(t.name, n, "pop_wall") for n in st.sizes]
        waits = [res.get(t.name, n, "consistent_s") for n in st.sizes]
        if not all(isinstance(v, float | int) for v in walls + waits):
            out.append(f"{t.name}: incomplete (see errors)")
            continue
        total = sum(walls) + sum(waits)  # type: ignore[arg-type]
        out.append(f"{t.name}: {st.sizes[-1]:,} runs populated in {sum(walls):.0f} s "  # type: ignore[arg-type]
                   f"+ {sum(waits):.1f} s until Count agreed = {total / 60:.1f} min")  # type: ignore[arg-type]
    return out


def temporal_cli_version() -> str:
    try:
        r = subprocess.run([temporal_cli(), "--version"], capture_output=True, text=True, timeout=30)
        return r.stdout.strip() or r.stderr.strip()
    except (OSError, subprocess.SubprocessError) as e:
        return f"unknown ({e})"


def facts(st: Settings, targets: list[Target], run: RunRecord, res: ScalingResults) -> list[tuple[str, str]]:
    out = machine_facts(targets, run, False, worker=False)
    if any(t.name == VIS_RATIO[1] for t in targets):
        out.append(("temporal CLI", f"{temporal_cli()}: {temporal_cli_version()}"))
    return out + [
        ("data", f"runs {', '.join(f'{n:,}' for n in st.sizes)} (cumulative, one server per target), started "
                 f"with StartWorkflowExecution ({st.concurrency} in flight) on a task queue nobody polls, so "
                 f"they stay open; each of {N_TYPES} workflow types T0..T{N_TYPES - 1} and a Keyword search "
                 f"attribute {SEARCH_ATTRIBUTE} of {N_TENANTS} values; 1 in {CLOSED_ONE_IN} terminated right "
                 f"after its start; all drawn from seed {SEED}"),
        ("queries", "; ".join(f"{q.label} = {q.kind} `{q.text}`" for q in QUERIES)
         + f"; lists ask for the first page of {PAGE_SIZE}, no ORDER BY (the dev server's SQL store refuses it)"),
        ("timing", f"per query and size: {st.warmup} untimed calls, then {st.calls} timed sequential calls, more "
                   f"(up to {10 * st.calls}) until the batch has lasted {st.min_batch_s:g} s; latency is the "
                   "round trip through the Python SDK's raw workflow_service (Rust core), every answer checked "
                   "against the expected count / page / groups"),
        ("CPU", f"server utime+stime from /proc/PID/stat over the batch / calls; ticks of {1e3 / CLK_TCK:g} ms, "
                f"i.e. {1e3 / CLK_TCK / st.calls:.2f} ms per query at {st.calls} calls; includes the server's "
                "idle background work (idle CPU ms/s in the details)"),
        ("timeout per phase", f"{st.timeout:.0f} s"),
        ("SDK-core RPC-retry warnings", ", ".join(f"{k}: {v}" for k, v in res.retries.items()) or "-"),
    ]


QUERY_LEGEND = (f"matches = runs the filter matches (lists: returned on the first page of {PAGE_SIZE} of all "
                "matching); p50 / p95 ms = latency of one call (nearest rank); CPU ms/q = server CPU per call "
                f"over the batch; ratios = {ratio_label()} (> 1: timekeeper slower / costs more); "
                "error cells: full messages under \"errors\"")
POP_LEGEND = (f"starts/s = runs started in this size's batch / its wall (1 in {CLOSED_ONE_IN} also terminated "
              "in the batch); server µs/run = server CPU over the batch / runs; batch s = the batch's wall; "
              "consistent +s = from the batch's end until Count GROUP BY ExecutionStatus gave the expected "
              "Running / Terminated counts (the dev server's visibility is eventually consistent); RSS = server "
              "VmRSS after the queries")
DETAILS_LEGEND = ("populate: py CPU/wall = this Python process's CPU / wall while populating (>= ~1: client-bound "
                  "start rate); settle s = wait after consistency until the server used < 5 % of a CPU over 1 s "
                  "(at most 60 s); idle CPU ms/s = the server's CPU in that last 1 s window; calls = timed calls "
                  "per query")


def report(st: Settings, targets: list[Target], res: ScalingResults, ds: Dataset, run: RunRecord,
           out: str | None) -> None:
    """The tables and the facts on stdout, and the same in the results file."""
    title = (f"Timekeeper visibility{' (--quick)' if st.quick else ''}: list and count with selective filters "
             f"over {', '.join(f'{n:,}' for n in st.sizes)} runs; lower is better")
    qgroups, qheader, qrows = query_table(st, targets, res, ds)
    pgroups, pheader, prows = populate_table(st, targets, res)
    dheader, drows = detail_table(st, targets, res)
    totals = populate_totals(st, targets, res)
    fact_list = facts(st, targets, run, res)

    print()
    print(title)
    print(grouped_text_table(qgroups, qheader, qrows))
    print(QUERY_LEGEND)
    print()
    print("Populating (side figures)")
    print(grouped_text_table(pgroups, pheader, prows))
    print(POP_LEGEND)
    for line in totals:
        print(f"  {line}")
    print()
    print("Details")
    print(plain_text_table(dheader, drows))
    print(DETAILS_LEGEND)
    print()
    print_report_tail(fact_list, res.errors, res.notes)

    md = [f"# {title}", "", md_table(md_header(qgroups, qheader), qrows), "", QUERY_LEGEND + ".", "",
          "## Populating (side figures)", "", md_table(md_header(pgroups, pheader), prows), "",
          POP_LEGEND + ".", ""]
    md += [f"- {line}" for line in totals]
    md += ["", "## Details", "", md_table(dheader, drows), "", DETAILS_LEGEND + ".", ""]
    write_results_file(out, "visibility", st.quick, md, fact_list, res.errors, res.notes)
