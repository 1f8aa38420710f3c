#!/usr/bin/env python3
"""Whole-server scaling benchmark: cost per workflow at 1k / 10k / 100k open workflows.

Timekeeper vs. Temporal's Java test server, side by side in one run, driven by
the Python SDK.  For every target of ``e2e.make_targets()`` the server is
started once, fresh, on a free 127.0.0.1 port; then, for each size N
(default 1,000 / 10,000 / 100,000, growing):

1. **open**: workflows are started (``start_workflow``, ``--concurrency`` in
   flight, default 200) on a task queue no worker polls, until N are open;
   each stays open with a pending workflow task.  Recorded: starts/s of this
   step's batch, server CPU per start, Python CPU / wall (≈1: client-bound).
2. **burst**: with a worker on another task queue, ``e2e.scenario_burst``
   (the very code of e2e.py's scenario 3): a few untimed warm-up workflows,
   then B (``--burst``, default 200) ``OneActivity`` workflows started
   concurrently and awaited.  Recorded: server CPU ms per workflow
   (/proc/PID/stat utime+stime), wall, workflows/s, Python CPU / wall.
3. **describe**: median time of ``describe()`` on open workflows.
4. server RSS (VmRSS) at the end of the step, and the RSS added per open
   workflow since the previous step.

One table is printed (rows = open workflows; per target CPU ms/wf, burst wall,
start rate, RSS; plus timekeeper / java ratios for CPU/wf and RSS), then how
each target's CPU/wf grows from the smallest to the largest size (the rule is
printed with it), then a details table.  All of it, with machine facts, goes
to ``Benchmarks/Servers/results/scaling-<YYYY-MM-DD>.md``.  A step that fails for a
target leaves "error: ..." in its cells and the run goes on (after a failed
open phase or a server crash, that target's larger sizes are not run).  Every
server is SIGKILLed and reaped at the end, also on errors and Ctrl-C.

Usage::

    .venv/bin/python Benchmarks/Servers/scaling.py            # 1k, 10k, 100k; both targets
    .venv/bin/python Benchmarks/Servers/scaling.py --quick    # 1k, 5k; burst 50
    .venv/bin/python Benchmarks/Servers/scaling.py --sizes 500,2000 --burst 50 --only timekeeper

Binaries and targets are e2e.py's (``$TIMEKEEPER_BIN``, else
``.build/release/timekeeper``; ``.build-test/java-test-server``).  Server logs
go to ``Benchmarks/Servers/.work/scaling-logs/`` (git-ignored).  See Benchmarks/Servers/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Awaitable, Callable

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

# e2e.py puts Tests/Integration/support on sys.path, and holds the targets, the server runner,
# the /proc helpers, the burst scenario and the report helpers shared here.
from e2e import (  # noqa: E402
    CLK_TCK,
    CORE_LOGS,
    LOOPBACK,
    RATIO,
    Cell,
    Options,
    Plan,
    Server,
    Target,
    begin_run,
    binary_desc,
    fmt_cell,
    gather_all,
    loadavg,
    log,
    machine_facts,
    md_report_tail,
    md_table,
    print_report_tail,
    results_path,
    proc_cpu_s,
    rss_mib,
    scenario_burst,
    selected_targets,
    self_cpu_s,
    short_error,
    unique,
)

from temporalio.client import Client, WorkflowExecutionStatus  # noqa: E402

from bench_workflows import OneActivity  # noqa: E402

DEFAULT_SIZES = [1_000, 10_000, 100_000]
QUICK_SIZES = [1_000, 5_000]
DEFAULT_BURST = 200
QUICK_BURST = 50
DEFAULT_WARMUP = 5
DEFAULT_CONCURRENCY = 200
DESCRIBE_RUNS = 20  # timed describe() calls per step (after 2 untimed)
PROGRESS_EVERY = 10_000  # log progress of an open batch every this many starts

# Growth rule for CPU/wf between the smallest and the largest size.
FLAT_BELOW = 1.3
LOG_LIKE_BELOW = 3.0

# Servers started by this process and not yet killed (killed again, to be sure, on exit).
LIVE: list[Server] = []


# --------------------------------------------------------------------------
# Columns
# --------------------------------------------------------------------------


@dataclass
class Col:
    key: str
    label: str
    fmt: str


MAIN_COLS = [
    Col("cpu_per_wf", "CPU ms/wf", ".2f"),
    Col("burst_wall", "burst s", ".2f"),
    Col("start_rate", "starts/s", ".0f"),
    Col("rss", "RSS MiB", ".0f"),
]
RATIO_COLS = [Col("cpu_per_wf", "CPU/wf", ""), Col("rss", "RSS", "")]
DETAIL_COLS = [
    Col("start_cpu_us", "start: server µs/start", ".0f"),
    Col("start_py_util", "start: py CPU/wall", ".2f"),
    Col("burst_rate", "burst wf/s", ".1f"),
    Col("burst_py_util", "burst: py CPU/wall", ".2f"),
    Col("describe_ms", "describe ms", ".2f"),
    Col("kib_per_open", "KiB/open wf", ".1f"),
]
DETAILS_LEGEND = (
    "start: server µs/start = server CPU per start while opening this size's batch; "
    "py CPU/wall = CPU of this Python process (client, worker, SDK core) / wall, >= ~1 means the Python side "
    "was saturated, so that rate is a client limit (compare server CPU instead); "
    f"describe ms = median of {DESCRIBE_RUNS} describe() calls on open workflows; "
    "KiB/open wf = RSS added since the previous step / workflows opened since (includes the step's burst, "
    "and for the first step everything since the idle server)")
OPEN_KEYS = ["start_rate", "start_cpu_us", "start_py_util"]
BURST_KEYS = ["cpu_per_wf", "burst_wall", "burst_rate", "burst_py_util"]
ALL_KEYS = OPEN_KEYS + BURST_KEYS + ["describe_ms", "rss", "kib_per_open"]


@dataclass
class Results:
    cells: dict[str, dict[int, dict[str, Cell]]] = field(default_factory=dict)  # target -> n -> key -> cell
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    retries: dict[str, int] = field(default_factory=dict)  # target -> SDK-core RPC-retry warnings

    def row(self, target: str, n: int) -> dict[str, Cell]:
        return self.cells.setdefault(target, {}).setdefault(n, {})

    def get(self, target: str, n: int, key: str) -> Cell | None:
        return self.cells.get(target, {}).get(n, {}).get(key)

    def fail(self, target: str, n: int, keys: list[str], text: str) -> None:
        row = self.row(target, n)
        for k in keys:
            row.setdefault(k, text)


@dataclass
class Settings:
    sizes: list[int]
    burst: int
    warmup: int
    concurrency: int
    timeout: float
    unsandboxed: bool
    quick: bool


# --------------------------------------------------------------------------
# Phases
# --------------------------------------------------------------------------


async def open_workflows(client: Client, task_queue: str, id_prefix: str, first: int, last: int,
                         concurrency: int) -> None:
    """Start workflows ``first .. last-1`` on ``task_queue`` (nobody polls it), ``concurrency`` in flight."""
    next_i = first

    async def pump() -> None:
        nonlocal next_i
        while next_i < last:
            i = next_i
            next_i += 1
            await client.start_workflow(OneActivity.run, f"open{i}", id=f"{id_prefix}-{i}", task_queue=task_queue)
            if i and i % PROGRESS_EVERY == 0:
                log(f"    {i:,} open")

    await gather_all(pump() for _ in range(min(concurrency, last - first)))


async def time_describe(client: Client, id_prefix: str, n_open: int) -> float:
    """Median ms of ``describe()`` on open workflows spread over the ids (2 untimed first)."""
    times: list[float] = []
    for k in range(2 + DESCRIBE_RUNS):
        wf_id = f"{id_prefix}-{(k * 7919) % n_open}"
        t0 = time.perf_counter()
        desc = await client.get_workflow_handle(wf_id).describe()
        if k >= 2:
            times.append((time.perf_counter() - t0) * 1e3)
        if desc.status != WorkflowExecutionStatus.RUNNING:
            raise RuntimeError(f"{wf_id} is {desc.status}, expected RUNNING")
    return statistics.median(times)


async def bench_target(target: Target, st: Settings, res: Results, log_dir: Path) -> None:
    name = target.name
    exe = target.argv[0]
    if not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
        for n in st.sizes:
            res.fail(name, n, ALL_KEYS, "n/a: binary not found")
        res.errors.append(f"{name}: {exe} not found")
        log(f"[{name}] skipped: {exe} not found")
        return

    server = Server(target, log_dir)
    LIVE.append(server)
    CORE_LOGS.take()
    try:
        try:
            server.start()
            log(f"[{name}] server pid {server.pid} on {LOOPBACK}:{server.port}, log {server.log_path}")
            client = await asyncio.wait_for(server.connect(), st.timeout)
            await asyncio.sleep(1.0)
            prev_rss = rss_mib(server.pid)
            log(f"[{name}] connected; idle RSS {prev_rss:.1f} MiB")
        except Exception as e:  # noqa: BLE001 -- record and carry on with the next target
            msg = short_error(e)
            log(f"[{name}] start/connect FAILED: {msg}")
            res.errors.append(f"{name} / connect: {msg}")
            for n in st.sizes:
                res.fail(name, n, ALL_KEYS, "error: no server")
            return

        e2e_opts = Options(plan=Plan(burst=st.burst, burst_warmup=st.warmup),
                           scenario_timeout=st.timeout, unsandboxed=st.unsandboxed)
        open_tq, id_prefix = unique("scaling-open"), unique("open")
        opened, prev_n = 0, 0
        stop: str | None = None  # why the remaining sizes are not run

        async def phase(n: int, what: str, keys: list[str], fn: Callable[[], Awaitable[None]]) -> bool:
            """Run one phase; on failure fill ``keys`` with the error and return False."""
            t0 = time.perf_counter()
            try:
                server.check_alive()
                try:
                    await fn()
                except Exception:
                    server.check_alive()  # report a crash rather than its symptom
                    raise
                log(f"[{name}] n={n:,} {what} done in {time.perf_counter() - t0:.1f} s")
                return True
            except Exception as e:  # noqa: BLE001 -- record and carry on
                msg = short_error(e)
                log(f"[{name}] n={n:,} {what} FAILED: {msg}")
                if os.environ.get("E2E_TRACEBACK"):
                    traceback.print_exc()
                res.errors.append(f"{name} / {n:,} open / {what}: {msg}")
                res.fail(name, n, keys, cell_error(e, server))
                return False

        for n in st.sizes:
            row = res.row(name, n)
            if stop is not None:
                res.fail(name, n, ALL_KEYS, stop)
                continue

            async def do_open() -> None:
                nonlocal opened
                count = n - opened
                log(f"[{name}] opening {count:,} workflows ({opened:,} -> {n:,}) ...")
                cpu0, py0, t0 = proc_cpu_s(server.pid), self_cpu_s(), time.perf_counter()
                await asyncio.wait_for(open_workflows(client, open_tq, id_prefix, opened, n, st.concurrency),
                                       st.timeout)
                wall = time.perf_counter() - t0
                cpu, py = proc_cpu_s(server.pid) - cpu0, self_cpu_s() - py0
                opened = n
                row.update(start_rate=count / wall, start_cpu_us=cpu * 1e6 / count, start_py_util=py / wall)
                log(f"    {count:,} started in {wall:.1f} s ({count / wall:.0f}/s)")
                await asyncio.sleep(1.0)  # let the server settle before the burst

            if not await phase(n, "open", ALL_KEYS, do_open):
                stop = "error: not run"  # the open count is unknown now
                continue

            async def do_burst() -> None:
                out = await scenario_burst(client, server, e2e_opts)
                row.update(cpu_per_wf=out["burst_cpu_per_wf"], burst_wall=out["burst_wall"],
                           burst_rate=out["burst_rate"], burst_py_util=out["burst_py_util"])

            async def do_describe() -> None:
                row["describe_ms"] = await asyncio.wait_for(time_describe(client, id_prefix, n), st.timeout)

            await phase(n, f"burst of {st.burst}", BURST_KEYS, do_burst)
            if _alive(server):
                await phase(n, "describe", ["describe_ms"], do_describe)
            if not _alive(server):
                stop = "error: not run"
                res.fail(name, n, ALL_KEYS, "error: server died")
                continue
            rss = rss_mib(server.pid)
            row["rss"] = rss
            row["kib_per_open"] = (rss - prev_rss) * 1024 / (n - prev_n)
            prev_rss, prev_n = rss, n
    finally:
        _kill(server)
        await asyncio.sleep(0.2)  # let the core's buffered logs arrive
        n_retries, sample = CORE_LOGS.take()
        res.retries[name] = n_retries
        if n_retries:
            res.notes.append(f"{name}: {n_retries} RPC-retry warnings from the SDK core, e.g. {sample}")


def cell_error(e: BaseException, server: Server) -> str:
    """A short table cell for a failure; the full message goes under "errors"."""
    if not _alive(server):
        return "error: server died"
    if isinstance(e, (asyncio.TimeoutError, TimeoutError)):
        return "error: timed out"
    return f"error: {short_error(e, 40)}"


def _alive(server: Server) -> bool:
    return server.proc is not None and server.proc.poll() is None


def _kill(server: Server) -> None:
    server.kill()
    if server in LIVE:
        LIVE.remove(server)


# --------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------


def short_name(t: Target) -> str:
    return t.name.split("-")[0]


def ratio(a: Cell | None, b: Cell | None) -> str:
    if not isinstance(a, float | int) or not isinstance(b, float | int) or b == 0:
        return "-"
    return f"{a / b:.2f}x"


def has_ratio(targets: list[Target]) -> bool:
    names = {t.name for t in targets}
    return RATIO[0] in names and RATIO[1] in names


def main_table(st: Settings, targets: list[Target], res: Results) -> tuple[list[tuple[str, int]], list[str],
                                                                           list[list[str]]]:
    """(header groups, header, rows) of the main table."""
    groups: list[tuple[str, int]] = [("", 1)]
    header = ["open wfs"]
    for t in targets:
        groups.append((t.name, len(MAIN_COLS)))
        header += [c.label for c in MAIN_COLS]
    if has_ratio(targets):
        groups.append((f"{RATIO[0]} / {RATIO[1].split('-')[0]}", len(RATIO_COLS)))
        header += [c.label for c in RATIO_COLS]
    rows = []
    for n in st.sizes:
        r = [f"{n:,}"]
        for t in targets:
            r += [fmt_cell(res.get(t.name, n, c.key), c.fmt) for c in MAIN_COLS]
        if has_ratio(targets):
            r += [ratio(res.get(RATIO[0], n, c.key), res.get(RATIO[1], n, c.key)) for c in RATIO_COLS]
        rows.append(r)
    return groups, header, rows


def detail_table(st: Settings, targets: list[Target], res: Results) -> tuple[list[str], list[list[str]]]:
    header = ["target", "open wfs"] + [c.label for c in DETAIL_COLS]
    rows = [[t.name, f"{n:,}"] + [fmt_cell(res.get(t.name, n, c.key), c.fmt) for c in DETAIL_COLS]
            for t in targets for n in st.sizes]
    return header, rows


def growth_rule() -> str:
    return (f"growth = CPU ms/wf at the largest size / at the smallest; flat < {FLAT_BELOW}x, "
            f"log-like < {LOG_LIKE_BELOW:g}x, linear-like otherwise (thresholds meant for a 100x range of "
            "sizes, over which a per-workflow cost linear in n could grow up to ~100x); "
            "k = log(growth) / log(size ratio), i.e. cost ~ n^k")


def growth_lines(st: Settings, targets: list[Target], res: Results) -> list[str]:
    out = []
    for t in targets:
        pts = [(n, v) for n in st.sizes if isinstance(v := res.get(t.name, n, "cpu_per_wf"), float | int)]
        if len(pts) < 2 or pts[0][1] <= 0:
            out.append(f"{t.name}: not enough data")
            continue
        (n0, c0), (n1, c1) = pts[0], pts[-1]
        g = c1 / c0
        k = math.log(g) / math.log(n1 / n0)
        verdict = "flat" if g < FLAT_BELOW else "log-like" if g < LOG_LIKE_BELOW else "linear-like"
        caveat = "" if n1 / n0 >= 50 else f" (only a {n1 / n0:g}x size range: read with care)"
        out.append(f"{t.name}: CPU/wf {c0:.2f} ms at {n0:,} -> {c1:.2f} ms at {n1:,} open: "
                   f"x{g:.2f} over x{n1 / n0:g} the open workflows (k={k:.2f}) -> {verdict}{caveat}")
    return out


def grouped_text_table(groups: list[tuple[str, int]], header: list[str], rows: list[list[str]]) -> str:
    """Plain-text table with a row of group labels spanning columns above the header."""
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    col = 0
    for label, span in groups:  # widen a group's last column if its label does not fit
        have = sum(widths[col:col + span]) + 2 * (span - 1)
        for i in range(max(0, len(label) - have)):  # spread the extra width over the group
            widths[col + i % span] += 1
        col += span

    def line(r: list[str]) -> str:
        return "  ".join([r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:])])

    top, col = [], 0
    for label, span in groups:
        w = sum(widths[col:col + span]) + 2 * (span - 1)
        top.append(label.center(w, "-") if label else " " * w)
        col += span
    return "\n".join(["  ".join(top).rstrip(), line(header), "  ".join("-" * w for w in widths)]
                     + [line(r) for r in rows])


def plain_text_table(header: list[str], rows: list[list[str]]) -> str:
    return grouped_text_table([], header, rows).split("\n", 1)[1]


def flat_header(groups: list[tuple[str, int]], header: list[str]) -> list[str]:
    """Header with each group's label prefixed, for Markdown."""
    out, col = [], 0
    for label, span in groups:
        short = label.split("-")[0] if "/" not in label else label
        out += [f"{short} {h}".strip() if label else h for h in header[col:col + span]]
        col += span
    return out


def facts(st: Settings, targets: list[Target], load_start: str, load_end: str, elapsed_s: float,
          tk_descs: tuple[str, str], target_loads: dict[str, str], res: Results) -> list[tuple[str, str]]:
    return machine_facts(targets, load_start, load_end, elapsed_s, tk_descs, target_loads, st.unsandboxed,
                         worker_label="worker settings (burst only)") + [
        ("sizes", f"open workflows {', '.join(f'{n:,}' for n in st.sizes)} (cumulative, one server per target); "
                  f"opened {st.concurrency} in flight; burst {st.burst} (+{st.warmup} untimed warm-up) per size; "
                  f"describe() {DESCRIBE_RUNS} (+2 untimed) per size"),
        ("CPU resolution", f"/proc/PID/stat ticks of {1e3 / CLK_TCK:g} ms, i.e. {1e3 / CLK_TCK / st.burst:.2f} ms/wf "
                           f"at a burst of {st.burst}"),
        ("timeout per phase", f"{st.timeout:.0f} s"),
        ("SDK-core RPC-retry warnings", ", ".join(f"{k}: {v}" for k, v in res.retries.items()) or "-"),
    ]


# --------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------


async def amain(args: argparse.Namespace) -> int:
    if args.sizes:
        try:
            sizes = sorted({int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()})
        except ValueError:
            raise SystemExit(f"--sizes: expected comma-separated integers, got {args.sizes!r}") from None
    else:
        sizes = QUICK_SIZES if args.quick else DEFAULT_SIZES
    if not sizes or sizes[0] < 1:
        raise SystemExit("--sizes must be positive integers")
    st = Settings(sizes=sizes, burst=args.burst or (QUICK_BURST if args.quick else DEFAULT_BURST),
                  warmup=args.warmup, concurrency=args.concurrency, timeout=args.timeout,
                  unsandboxed=args.unsandboxed, quick=args.quick)

    targets = selected_targets(args.only)

    tk_path, log_dir = begin_run("scaling-logs", f"; sizes {sizes}; burst {st.burst}")

    load_start, started = loadavg(), time.perf_counter()
    tk_descs = (binary_desc(tk_path), binary_desc(tk_path))
    target_loads: dict[str, str] = {}
    res = Results()
    for t in targets:
        target_loads[t.name] = loadavg()
        log(f"[{t.name}] load average {target_loads[t.name]}")
        if t.argv[0] == tk_path:
            tk_descs = (binary_desc(tk_path), tk_descs[1])
        await bench_target(t, st, res, log_dir)
        if t.argv[0] == tk_path:
            tk_descs = (tk_descs[0], binary_desc(tk_path))
    load_end, elapsed = loadavg(), time.perf_counter() - started

    title = (f"Timekeeper whole-server scaling{' (--quick)' if st.quick else ''}: "
             f"cost per workflow vs. open workflows (burst of {st.burst} one-activity workflows per size)")
    legend = ("CPU ms/wf = server CPU per burst workflow (lower is better); burst s = burst wall; "
              "starts/s = rate of opening this size's batch of idle workflows; RSS = server VmRSS at the end "
              f"of the step; ratios = {RATIO[0]} / {RATIO[1]} (> 1: timekeeper costs more); "
              "error cells: full messages under \"errors\"")
    groups, header, rows = main_table(st, targets, res)
    dheader, drows = detail_table(st, targets, res)
    growth = growth_lines(st, targets, res)
    fact_list = facts(st, targets, load_start, load_end, elapsed, tk_descs, target_loads, res)

    print()
    print(title)
    print(grouped_text_table(groups, header, rows))
    print(legend)
    print()
    print("CPU/wf growth, smallest -> largest size")
    print(f"  rule: {growth_rule()}")
    for g in growth:
        print(f"  {g}")
    print()
    print("Details")
    print(plain_text_table(dheader, drows))
    print(DETAILS_LEGEND)
    print()
    print_report_tail(fact_list, res.errors, res.notes)

    out = results_path(args.out, "scaling", st.quick)
    md = [f"# {title}", "", md_table(flat_header(groups, header), rows), "", legend + ".", "",
          "## CPU/wf growth, smallest -> largest size", "", f"Rule: {growth_rule()}.", ""]
    md += [f"- {g}" for g in growth]
    md += ["", "## Details", "", md_table(dheader, drows), "",
           DETAILS_LEGEND, "",
           "## Machine and settings", ""]
    md += md_report_tail(fact_list, res.errors, res.notes, "Benchmarks/Servers/scaling.py")
    out.write_text("\n".join(md))
    print(f"\nwrote {out}")
    return 1 if res.errors else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", metavar="N,N,...",
                    help=f"open-workflow counts (default {','.join(map(str, DEFAULT_SIZES))})")
    ap.add_argument("--quick", action="store_true",
                    help=f"sizes {','.join(map(str, QUICK_SIZES))} and burst {QUICK_BURST}, for smoke runs")
    ap.add_argument("--burst", type=int, default=None, metavar="B",
                    help=f"timed one-activity workflows per size (default {DEFAULT_BURST}; {QUICK_BURST} with --quick)")
    ap.add_argument("--warmup", type=int, default=DEFAULT_WARMUP, metavar="W",
                    help=f"untimed warm-up workflows before each burst (default {DEFAULT_WARMUP})")
    ap.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY, metavar="N",
                    help=f"in-flight starts while opening workflows (default {DEFAULT_CONCURRENCY})")
    ap.add_argument("--only", action="append", metavar="NAME", help="run only this target (repeatable)")
    ap.add_argument("--timeout", type=float, default=1800.0, help="per-phase timeout, s (default 1800)")
    ap.add_argument("--unsandboxed", action="store_true", help="burst worker uses UnsandboxedWorkflowRunner")
    ap.add_argument("--out", help="Markdown output path (default Benchmarks/Servers/results/scaling-<date>[-quick].md)")
    args = ap.parse_args()
    code = 2
    try:
        code = asyncio.run(amain(args))
    except KeyboardInterrupt:
        log("interrupted")
        code = 130
    except SystemExit as e:
        print(e, file=sys.stderr)
        code = 2
    finally:
        for server in list(LIVE):  # normally empty: bench_target kills its server
            _kill(server)
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
