"""Asks a running dev server every query in queries.txt and writes the answers as a Swift test fixture.

    /work/main/.venv/bin/python scripts/listfilter-differential/run_differential.py 127.0.0.1:17233 ANCHOR \
        > Tests/TimekeeperEngineTests/Visibility/Generated/DifferentialFixture.swift

ANCHOR is the RFC 3339 time populate.py printed; `{ANCHOR}` and `{ANCHOR+Ns}` in queries become times
relative to it. Each query goes through `temporal workflow list --query` (or `workflow count` for lines
starting `COUNT `), as a user would; the fixture keeps every execution the server has (hidden ones
included) and, per query, the run ids it listed in its order, its count, or its error text.
"""

import base64
import json
import re
import subprocess
import sys
from datetime import datetime, timedelta

TEMPORAL = "/work/main/.venv/bin/temporal"
ALL = "TemporalNamespaceDivision IS NULL OR TemporalNamespaceDivision IS NOT NULL"


def cli(address, *args):
    result = subprocess.run([TEMPORAL, *args, "--address", address, "-o", "json"], capture_output=True, text=True, timeout=60)
    return result.returncode, result.stdout, result.stderr.strip()


def nanos(text):
    """RFC 3339 with up to nanoseconds -> nanoseconds since the epoch."""
    match = re.fullmatch(r"(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", text)
    base = datetime.fromisoformat(match.group(1) + (match.group(3).replace("Z", "+00:00")))
    fraction = (match.group(2) or "").ljust(9, "0")[:9]
    return int(base.timestamp()) * 1_000_000_000 + int(fraction)


def swift_string(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def swift_value(kind, value):
    if kind in ("Keyword", "Text"):
        return f".string({swift_string(value)})"
    if kind == "KeywordList":
        return ".strings([" + ", ".join(swift_string(v) for v in value) + "])"
    if kind == "Int":
        return f".int({int(value)})"
    if kind == "Double":
        return f".double({float(value)!r})"
    if kind == "Bool":
        return f".bool({'true' if value else 'false'})"
    if kind == "Datetime":
        return f".datetime({nanos(value)})"
    raise ValueError(kind)


def record_literal(execution):
    fields = {
        "WorkflowId": ("Keyword", execution["execution"]["workflowId"]),
        "RunId": ("Keyword", execution["execution"]["runId"]),
        "WorkflowType": ("Keyword", execution["type"]["name"]),
        "StartTime": ("Datetime", execution["startTime"]),
        "ExecutionTime": ("Datetime", execution["executionTime"]),
        "ExecutionStatus": ("Keyword", "".join(p.capitalize() for p in execution["status"].split("_")[3:])),
        "TaskQueue": ("Keyword", execution["taskQueue"]),
    }
    if "closeTime" in execution:
        fields["CloseTime"] = ("Datetime", execution["closeTime"])
    for key, name in [("historyLength", "HistoryLength"), ("historySizeBytes", "HistorySizeBytes"),
                      ("stateTransitionCount", "StateTransitionCount")]:
        if key in execution:
            fields[name] = ("Int", execution[key])
    if "executionDuration" in execution:
        seconds, _, fraction = execution["executionDuration"].rstrip("s").partition(".")
        fields["ExecutionDuration"] = ("Int", int(seconds) * 1_000_000_000 + int(fraction.ljust(9, "0")[:9]))
    for key, prefix in [("parentExecution", "Parent"), ("rootExecution", "Root")]:
        if key in execution:
            fields[prefix + "WorkflowId"] = ("Keyword", execution[key]["workflowId"])
            fields[prefix + "RunId"] = ("Keyword", execution[key]["runId"])
    for name, payload in execution.get("searchAttributes", {}).get("indexedFields", {}).items():
        kind = base64.b64decode(payload["metadata"]["type"]).decode()
        value = json.loads(base64.b64decode(payload["data"]))
        fields[name] = (kind, value)
    body = ", ".join(f"{swift_string(name)}: {swift_value(kind, value)}" for name, (kind, value) in fields.items())
    return f"        VisibilityRecord([{body}]),"


def expand(query, anchor):
    def replace(match):
        moment = anchor + timedelta(seconds=int(match.group(1) or 0))
        return moment.isoformat().replace("+00:00", "Z")
    return re.sub(r"\{ANCHOR([+-]\d+)?s?\}", replace, query)


def outcome(address, line):
    if line.startswith("COUNT "):
        code, out, err = cli(address, "workflow", "count", "--query", line[len("COUNT "):])
        if code != 0:
            return f".error({swift_string(err.removeprefix('Error: '))})"
        answer = json.loads(out)
        groups = ", ".join(f"{swift_string(g['groupValues'][0])}: {g['count']}" for g in answer.get("groups", []))
        return f".count({answer['count']}, groups: [{groups or ':'}])"
    code, out, err = cli(address, "workflow", "list", "--query", line)
    if code != 0:
        return f".error({swift_string(err.removeprefix('Error: failed listing workflows: '))})"
    runs = [execution["execution"]["runId"] for execution in json.loads(out or "[]")]
    return ".rows([" + ", ".join(swift_string(r) for r in runs) + "])"


def main(address, anchor_text):
    anchor = datetime.fromisoformat(anchor_text.replace("Z", "+00:00"))
    _, out, _ = cli(address, "workflow", "list", "--query", ALL)
    records = [record_literal(execution) for execution in json.loads(out)]
    with open(__file__.rsplit("/", 1)[0] + "/queries.txt") as file:
        queries = [expand(line.rstrip("\n"), anchor) for line in file if line.strip() and not line.startswith("##")]
    print("// Generated by scripts/listfilter-differential/run_differential.py from a run of `temporal server start-dev`")
    print("// (CLI 1.9.1, server 1.32.0). Do not edit; run the script again instead.")
    print("@testable import ListFilter")
    print()
    print("enum DifferentialFixture {")
    print(f"    static let anchor = {swift_string(anchor_text)}")
    print()
    print("    static let records: [VisibilityRecord] = [")
    print("\n".join(records))
    print("    ]")
    print()
    print("    static let cases: [DifferentialCase] = [")
    for query in queries:
        print(f"        DifferentialCase({swift_string(query)}, {outcome(address, query)}),")
    print("    ]")
    print("}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
