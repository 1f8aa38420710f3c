"""scaling.py's settings, its results (target -> open workflows -> column) and its report: the main table,
each target's CPU/wf growth, the details, the facts."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from machine_facts import RunRecord, machine_facts
from proc_readings import CLK_TCK
from reports import Cell, fmt_cell, md_table, print_report_tail, ratio, write_results_file
from servers import RATIO, Target

DESCRIBE_RUNS = 20  # timed describe() calls per step (after 2 untimed)

# Growth rule for CPU/wf between the smallest and the largest size.
FLAT_BELOW = 1.3
LOG_LIKE_BELOW = 3.0


@dataclass
class Settings:
    sizes: list[int]
    burst: int
    warmup: int
    concurrency: int
    timeout: float
    unsandboxed: bool
    quick: bool


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
class ScalingResults:
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


def has_ratio(targets: list[Target], pair: tuple[str, str] = RATIO) -> bool:
    names = {t.name for t in targets}
    return pair[0] in names and pair[1] in names


def size_table(sizes: list[int], size_label: str, targets: list[Target], res: ScalingResults, cols: list[Col],
               pair: tuple[str, str], pair_label: str, ratio_cols: list[Col]
               ) -> tuple[list[tuple[str, int]], list[str], list[list[str]]]:
    """(header groups, header, rows): a row per size, ``cols`` for each target, then ``pair[0] / pair[1]``
    for ``ratio_cols`` when both targets ran."""
    groups: list[tuple[str, int]] = [("", 1)]
    header = [size_label]
    for t in targets:
        groups.append((t.name, len(cols)))
        header += [c.label for c in cols]
    with_ratio = has_ratio(targets, pair)
    if with_ratio:
        groups.append((pair_label, len(ratio_cols)))
        header += [c.label for c in ratio_cols]
    rows = []
    for n in sizes:
        r = [f"{n:,}"]
        for t in targets:
            r += [fmt_cell(res.get(t.name, n, c.key), c.fmt) for c in cols]
        if with_ratio:
            r += [ratio(res.get(pair[0], n, c.key), res.get(pair[1], n, c.key)) for c in ratio_cols]
        rows.append(r)
    return groups, header, rows


def main_table(st: Settings, targets: list[Target], res: ScalingResults) -> tuple[list[tuple[str, int]], list[str],
                                                                                  list[list[str]]]:
    """(header groups, header, rows) of the main table."""
    return size_table(st.sizes, "open wfs", targets, res, MAIN_COLS, RATIO, f"{RATIO[0]} / {RATIO[1].split('-')[0]}",
                      RATIO_COLS)


def detail_table(st: Settings, targets: list[Target], res: ScalingResults) -> tuple[list[str], list[list[str]]]:
    header = ["target", "open wfs"] + [c.label for c in DETAIL_COLS]
    rows = [[t.name, f"{n:,}"] + [fmt_cell(res.get(t.name, n, c.key), c.fmt) for c in DETAIL_COLS]
            for t in targets for n in st.sizes]
    return header, rows


def growth_rule() -> str:
    return (f"growth = CPU ms/wf at the largest size / at the smallest; flat < {FLAT_BELOW}x, "
            f"log-like < {LOG_LIKE_BELOW:g}x, linear-like otherwise (thresholds meant for a 100x range of "
            "sizes, over which a per-workflow cost linear in n could grow up to ~100x); "
            "k = log(growth) / log(size ratio), i.e. cost ~ n^k")


def growth_lines(st: Settings, targets: list[Target], res: ScalingResults) -> list[str]:
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


def facts(st: Settings, targets: list[Target], run: RunRecord, res: ScalingResults) -> list[tuple[str, str]]:
    return machine_facts(targets, run, st.unsandboxed, worker_label="worker settings (burst only)") + [
        ("sizes", f"open workflows {', '.join(f'{n:,}' for n in st.sizes)} (cumulative, one server per target); "
                  f"opened {st.concurrency} in flight; burst {st.burst} (+{st.warmup} untimed warm-up) per size; "
                  f"describe() {DESCRIBE_RUNS} (+2 untimed) per size"),
        ("CPU resolution", f"/proc/PID/stat ticks of {1e3 / CLK_TCK:g} ms, i.e. {1e3 / CLK_TCK / st.burst:.2f} ms/wf "
                           f"at a burst of {st.burst}"),
        ("timeout per phase", f"{st.timeout:.0f} s"),
        ("SDK-core RPC-retry warnings", ", ".join(f"{k}: {v}" for k, v in res.retries.items()) or "-"),
    ]


def report(st: Settings, targets: list[Target], res: ScalingResults, run: RunRecord, out: str | None) -> None:
    """The tables, the growth and the facts on stdout, and the same in the results file."""
    title = (f"Timekeeper whole-server scaling{' (--quick)' if st.quick else ''}: "
             f"cost per workflow vs. open workflows (burst of {st.burst} one-activity workflows per size)")
    legend = ("CPU ms/wf = server CPU per burst workflow (lower is better); burst s = burst wall; "
              "starts/s = rate of opening this size's batch of idle workflows; RSS = server VmRSS at the end "
              f"of the step; ratios = {RATIO[0]} / {RATIO[1]} (> 1: timekeeper costs more); "
              "error cells: full messages under \"errors\"")
    groups, header, rows = main_table(st, targets, res)
    dheader, drows = detail_table(st, targets, res)
    growth = growth_lines(st, targets, res)
    fact_list = facts(st, targets, run, res)

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

    md = [f"# {title}", "", md_table(flat_header(groups, header), rows), "", legend + ".", "",
          "## CPU/wf growth, smallest -> largest size", "", f"Rule: {growth_rule()}.", ""]
    md += [f"- {g}" for g in growth]
    md += ["", "## Details", "", md_table(dheader, drows), "", DETAILS_LEGEND, ""]
    write_results_file(out, "scaling", st.quick, md, fact_list, res.errors, res.notes)
