"""Report writing: a results table (rows = metrics, columns = targets, plus the timekeeper / java ratio) as
plain text and Markdown, the facts, errors and notes under it, and the results file."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from repo_paths import BENCH_DIR
from servers import RATIO, Target

Cell = float | str  # a number, or "error: ..." / "n/a ..."


@dataclass
class Metric:
    key: str
    label: str
    fmt: str  # format spec for numbers
    better: str | None = "lower"  # "lower", "higher", or None (informational, no ratio)


@dataclass
class Results:
    cells: dict[str, dict[str, Cell]] = field(default_factory=dict)  # metric -> target -> cell
    errors: list[str] = field(default_factory=list)  # full messages for the report
    notes: list[str] = field(default_factory=list)

    def put(self, target: str, values: dict[str, Cell]) -> None:
        for k, v in values.items():
            self.cells.setdefault(k, {})[target] = v

    def fill(self, target: str, keys: list[str], text: str) -> None:
        """``text`` in the target's cells of ``keys`` that have no value yet."""
        for k in keys:
            self.cells.setdefault(k, {}).setdefault(target, text)


def fmt_cell(v: Cell | None, spec: str) -> str:
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    return format(v, spec)


def ratio(a: Cell | None, b: Cell | None) -> str:
    """``a / b`` as "0.55x", or "-" unless both are numbers."""
    if not isinstance(a, float | int) or not isinstance(b, float | int) or b == 0:
        return "-"
    return f"{a / b:.2f}x"


def ratio_cell(m: Metric, row: dict[str, Cell], pair: tuple[str, str] = RATIO) -> str:
    return "-" if m.better is None else ratio(row.get(pair[0]), row.get(pair[1]))


def table_rows(metrics: list[Metric], targets: list[Target], res: Results,
               pair: tuple[str, str] = RATIO) -> tuple[list[str], list[list[str]]]:
    """The table's header and rows; the last column is ``pair[0] / pair[1]`` (default RATIO)."""
    header = ["metric"] + [t.name for t in targets] + [f"{pair[0]} / {pair[1].split('-')[0]}"]
    rows = []
    for m in metrics:
        row = res.cells.get(m.key, {})
        rows.append([m.label] + [fmt_cell(row.get(t.name), m.fmt) for t in targets] + [ratio_cell(m, row, pair)])
    return header, rows


def text_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    widths = [min(w, 72) for w in widths]

    def line(r: list[str]) -> str:
        cells = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:])]
        return "  ".join(cells)

    out = [line(header), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in rows]
    return "\n".join(out)


def md_table(header: list[str], rows: list[list[str]]) -> str:
    esc = lambda s: s.replace("|", "\\|")  # noqa: E731
    out = ["| " + " | ".join(esc(h) for h in header) + " |",
           "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    out += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def print_report(title: str, header: list[str], rows: list[list[str]], fact_list: list[tuple[str, str]],
                 res: Results) -> None:
    """The results table on stdout, with the facts, errors and notes under it."""
    print()
    print(title)
    print(text_table(header, rows))
    print()
    print_report_tail(fact_list, res.errors, res.notes)


def print_report_tail(fact_list: list[tuple[str, str]], errors: list[str], notes: list[str]) -> None:
    """Machine facts, errors and notes under a printed table."""
    for k, v in fact_list:
        print(f"{k}: {v}")
    for heading, lines in (("errors", errors), ("notes", notes)):
        if lines:
            print(f"\n{heading}:")
            for line in lines:
                print(f"  {line}")


def write_results_file(out: str | None, stem: str, quick: bool, body: list[str],
                       fact_list: list[tuple[str, str]], errors: list[str], notes: list[str]) -> None:
    """``body``, then the machine facts, errors, notes and the command that produced the file, written to
    ``--out`` or else Benchmarks/Servers/results/<stem>-<date>[-quick].md (the script is <stem>.py)."""
    path = Path(out) if out else (
        BENCH_DIR / "results" / f"{stem}-{time.strftime('%Y-%m-%d')}{'-quick' if quick else ''}.md")
    path.parent.mkdir(parents=True, exist_ok=True)
    md = body + ["## Machine and settings", ""] + [f"- **{k}**: {v}" for k, v in fact_list]
    for heading, lines in (("Errors", errors), ("Notes", notes)):
        if lines:
            md += ["", f"## {heading}", ""] + [f"- {line}" for line in lines]
    script = f"Benchmarks/Servers/{stem}.py"
    md += ["", f"Command: `{' '.join([Path(sys.executable).name, script] + sys.argv[1:])}`", ""]
    path.write_text("\n".join(md))
    print(f"\nwrote {path}")
