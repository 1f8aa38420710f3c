"""Opt-in recorder of every run a Timekeeper server holds, for the engine's replay-equivalence test.

With ``TIMEKEEPER_RECORD_HISTORIES=<dir>`` set, the integration fixtures call ``record_server`` just before
they stop a Timekeeper process (``conftest.start_env``'s environments, and so the ``env`` fixture, and
``h2client.ServerProcess``). It lists every run the server holds (``timekeeper.inspection.v1`` ListWorkflows,
every namespace) and writes one file per run, ``<dir>/<test>__<workflow id>__<run id>.json``: the whole
history (GetWorkflowExecutionHistory, paged) as a base64 ``temporal.api.history.v1.History``, and the live
state the server reported at that moment: Describe's status (and the whole Describe response), the run's
pending timetable entries, the inspection summary and the virtual now. The schema is documented in
``Tests/TimekeeperEngineTests/Fixtures/RecordedHistories/README.md``; ``scripts/record-histories`` records
and selects a corpus.

Recording never fails a test: an error is reported on stderr and the server is stopped as usual. Without
the variable nothing here runs. The inspection messages are built at run time from a hand-written
descriptor (fields as in ``scripts/codegen/proto/timekeeper/inspection/v1/inspection.proto``; the Jump,
Holder and Trap messages are left out, and protobuf skips their fields), so no protoc or grpcio-tools is
needed; the Temporal messages are temporalio's.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ENV_VAR = "TIMEKEEPER_RECORD_HISTORIES"
SCHEMA_VERSION = 1
CALL_TIMEOUT_S = 10.0
# How often a snapshot is retaken when the server's state moved while it was read.
ATTEMPTS = 3


def enabled() -> bool:
    return bool(os.environ.get(ENV_VAR))


def current_test_name() -> str:
    """``test_module.test_name[params]`` of the test pytest is running (setup, call or teardown)."""
    raw = os.environ.get("PYTEST_CURRENT_TEST", "")
    raw = raw.rsplit(" (", 1)[0]  # " (call)", " (teardown)"
    path, _, name = raw.partition("::")
    if not name:
        return "no-test"
    return f"{Path(path).stem}.{name.replace('::', '.')}"


def sanitise(text: str, limit: int) -> str:
    """Only ``[A-Za-z0-9._-]``, no leading dot, at most ``limit`` characters."""
    clean = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "_"
    return clean[:limit].rstrip("-.") or "_"


# --- timekeeper.inspection.v1, from a hand-written descriptor ------------------------------------------

_inspection: dict[str, Any] = {}


def _inspection_messages() -> dict[str, Any]:
    if _inspection:
        return _inspection
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    from google.protobuf import duration_pb2, timestamp_pb2  # noqa: F401  (puts them in the default pool)

    F = descriptor_pb2.FieldDescriptorProto
    file = descriptor_pb2.FileDescriptorProto(
        name="timekeeper/inspection/v1/inspection_recorder.proto", package="timekeeper.inspection.v1",
        syntax="proto3", dependency=["google/protobuf/duration.proto", "google/protobuf/timestamp.proto"])

    def message(name: str, *fields: tuple[str, int, int, str | None, bool]) -> None:
        m = file.message_type.add(name=name)
        for field_name, number, kind, type_name, repeated in fields:
            f = m.field.add(name=field_name, number=number, type=kind,
                            label=F.LABEL_REPEATED if repeated else F.LABEL_OPTIONAL)
            if type_name:
                f.type_name = type_name

    ts, dur, s, i32, i64, b, msg = (".google.protobuf.Timestamp", ".google.protobuf.Duration", F.TYPE_STRING,
                                    F.TYPE_INT32, F.TYPE_INT64, F.TYPE_BOOL, F.TYPE_MESSAGE)
    message("TimetableEntry", ("fire_time", 1, msg, ts, False), ("time_left", 2, msg, dur, False),
            ("kind", 3, s, None, False), ("description", 4, s, None, False), ("namespace", 5, s, None, False),
            ("workflow_id", 6, s, None, False), ("run_id", 7, s, None, False))
    message("GetClockRequest")
    message("GetClockResponse", ("virtual_time", 1, msg, ts, False), ("wall_time", 2, msg, ts, False),
            ("skips_time", 3, b, None, False), ("lock_count", 4, i32, None, False),
            ("client_locks", 5, i32, None, False))
    message("ListTimetableRequest")
    message("ListTimetableResponse", ("virtual_time", 1, msg, ts, False),
            ("entries", 2, msg, ".timekeeper.inspection.v1.TimetableEntry", True))
    message("ListWorkflowsRequest", ("namespace", 1, s, None, False))
    message("WorkflowSummary", ("namespace", 1, s, None, False), ("workflow_id", 2, s, None, False),
            ("run_id", 3, s, None, False), ("workflow_type", 4, s, None, False), ("task_queue", 5, s, None, False),
            ("status", 6, s, None, False), ("start_time", 7, msg, ts, False), ("close_time", 8, msg, ts, False),
            ("history_length", 9, i64, None, False), ("trap", 10, s, None, False))
    message("ListWorkflowsResponse", ("workflows", 1, msg, ".timekeeper.inspection.v1.WorkflowSummary", True))

    pool = descriptor_pool.DescriptorPool()
    for dependency in (timestamp_pb2, duration_pb2):
        pool.Add(descriptor_pb2.FileDescriptorProto.FromString(dependency.DESCRIPTOR.serialized_pb))
    pool.Add(file)
    for name in ("GetClockRequest", "GetClockResponse", "ListTimetableRequest", "ListTimetableResponse",
                 "ListWorkflowsRequest", "ListWorkflowsResponse"):
        _inspection[name] = message_factory.GetMessageClass(pool.FindMessageTypeByName(f"timekeeper.inspection.v1.{name}"))
    return _inspection


# --- encoding --------------------------------------------------------------------------------------------

def _time(timestamp: Any) -> dict[str, Any] | None:
    """A protobuf Timestamp as ``{"unix_nanos": int, "rfc3339": "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ"}``."""
    if timestamp.seconds == 0 and timestamp.nanos == 0:
        return None
    whole = datetime.fromtimestamp(timestamp.seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return {"unix_nanos": timestamp.seconds * 1_000_000_000 + timestamp.nanos,
            "rfc3339": f"{whole}.{timestamp.nanos:09d}Z"}


def _entry(entry: Any) -> dict[str, Any]:
    return {"kind": entry.kind, "description": entry.description, "fire_time": _time(entry.fire_time),
            "owner": {"namespace": entry.namespace, "workflow_id": entry.workflow_id, "run_id": entry.run_id}}


def _b64(message: Any) -> str:
    return base64.b64encode(message.SerializeToString(deterministic=True)).decode("ascii")


# --- recording -------------------------------------------------------------------------------------------

def record_server(address: str, test_name: str | None = None, out_dir: str | os.PathLike[str] | None = None) -> int:
    """Writes one file per run held by the Timekeeper server at ``address``; returns how many (0 on error,
    which is reported on stderr, never raised)."""
    out = Path(out_dir or os.environ.get(ENV_VAR, ""))
    if not str(out):
        return 0
    test = test_name or current_test_name()
    try:
        return _record(address, test, out)
    except Exception as error:  # noqa: BLE001 -- recording must never fail a test
        print(f"history recorder: {test} on {address}: {type(error).__name__}: {error}", file=sys.stderr)
        return 0


def _record(address: str, test: str, out: Path) -> int:
    import grpc
    from temporalio.api.common.v1 import WorkflowExecution
    from temporalio.api.enums.v1 import EventType, WorkflowExecutionStatus
    from temporalio.api.history.v1 import History
    from temporalio.api.workflowservice.v1 import (
        DescribeWorkflowExecutionRequest,
        DescribeWorkflowExecutionResponse,
        GetWorkflowExecutionHistoryRequest,
        GetWorkflowExecutionHistoryResponse,
    )

    ins = _inspection_messages()
    with grpc.insecure_channel(address, options=[("grpc.max_receive_message_length", 64 << 20)]) as channel:
        def unary(service: str, method: str, response_type: Any):
            call = channel.unary_unary(f"/{service}/{method}", request_serializer=lambda m: m.SerializeToString(),
                                       response_deserializer=response_type.FromString)
            return lambda request: call(request, timeout=CALL_TIMEOUT_S)

        inspection = "timekeeper.inspection.v1.InspectionService"
        workflow_service = "temporal.api.workflowservice.v1.WorkflowService"
        get_clock = unary(inspection, "GetClock", ins["GetClockResponse"])
        list_timetable = unary(inspection, "ListTimetable", ins["ListTimetableResponse"])
        list_workflows = unary(inspection, "ListWorkflows", ins["ListWorkflowsResponse"])
        describe = unary(workflow_service, "DescribeWorkflowExecution", DescribeWorkflowExecutionResponse)
        get_history = unary(workflow_service, "GetWorkflowExecutionHistory", GetWorkflowExecutionHistoryResponse)

        try:
            clock = get_clock(ins["GetClockRequest"]())
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.UNIMPLEMENTED:  # not a Timekeeper server
                return 0
            raise

        def snapshot() -> tuple[Any, Any, Any, list[tuple[Any, Any, Any]]]:
            clock = get_clock(ins["GetClockRequest"]())
            timetable = list_timetable(ins["ListTimetableRequest"]())
            runs = list_workflows(ins["ListWorkflowsRequest"]())
            taken = []
            for run in runs.workflows:
                execution = WorkflowExecution(workflow_id=run.workflow_id, run_id=run.run_id)
                described = describe(DescribeWorkflowExecutionRequest(namespace=run.namespace, execution=execution))
                history, token = History(), b""
                while True:
                    page = get_history(GetWorkflowExecutionHistoryRequest(
                        namespace=run.namespace, execution=execution, next_page_token=token))
                    history.events.extend(page.history.events)
                    token = page.next_page_token
                    if not token:
                        break
                taken.append((run, described, history))
            return clock, timetable, runs, taken

        def fingerprint(timetable: Any, runs: Any) -> tuple:
            # Not time_left nor the responses' virtual time: wall time flows while a client holds the clock.
            return (tuple((e.fire_time.seconds, e.fire_time.nanos, e.kind, e.description, e.namespace,
                           e.workflow_id, e.run_id) for e in timetable.entries),
                    tuple((r.run_id, r.status, r.history_length) for r in runs.workflows))

        for _ in range(ATTEMPTS):
            clock, timetable, runs, taken = snapshot()
            again_timetable = list_timetable(ins["ListTimetableRequest"]())
            again_runs = list_workflows(ins["ListWorkflowsRequest"]())
            stable = fingerprint(timetable, runs) == fingerprint(again_timetable, again_runs) and all(
                len(history.events) == run.history_length for run, _, history in taken)
            if stable:
                break
        if not taken:
            return 0

        out.mkdir(parents=True, exist_ok=True)
        test_part = sanitise(test, 120)
        written = 0
        for run, described, history in taken:
            status = described.workflow_execution_info.status
            entries = [_entry(e) for e in timetable.entries
                       if (e.namespace, e.workflow_id, e.run_id) == (run.namespace, run.workflow_id, run.run_id)]
            record = {
                "schema_version": SCHEMA_VERSION,
                "test": test,
                "namespace": run.namespace,
                "workflow_id": run.workflow_id,
                "run_id": run.run_id,
                "workflow_type": run.workflow_type,
                "task_queue": run.task_queue,
                "status": WorkflowExecutionStatus.Name(status),
                "status_code": int(status),
                "inspection_status": run.status,
                "start_time": _time(run.start_time),
                "close_time": _time(run.close_time),
                "history_length": int(run.history_length),
                "trap": run.trap or None,
                "virtual_now": _time(clock.virtual_time),
                "skips_time": clock.skips_time,
                "lock_count": clock.lock_count,
                "snapshot_stable": stable,
                "timetable": entries,
                "event_types": [EventType.Name(e.event_type) for e in history.events],
                "history": _b64(history),
                "describe": _b64(described),
            }
            name = f"{test_part}__{sanitise(run.workflow_id, 60)}__{sanitise(run.run_id, 64)}.json"
            (out / name).write_text(json.dumps(record, indent=1) + "\n")
            written += 1
        return written
