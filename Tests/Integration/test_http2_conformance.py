"""HTTP/2 conformance of the real timekeeper binary, checked frame by frame with a second implementation.

Python's ``h2`` (Tests/Integration/support/h2client.py) drives a prior-knowledge HTTP/2 connection by hand, so the
tests can do what SDK clients never do -- tiny DATA frames, client trailers, resets mid-request, thousands
of streams, wrong methods and content types, too many bytes, SIGTERM mid-call -- and see exactly which
frames come back. Each test starts its own server (``timekeeper PORT``) and checks at the end that it is
still serving. Timekeeper only: these are its announced settings and its answers (issue 10).
"""

from __future__ import annotations

import random
import signal
import socket
import time
import uuid

import pytest
from h2.errors import ErrorCodes
from h2.settings import SettingCodes
from temporalio.api.common.v1 import Payload, Payloads, WorkflowExecution, WorkflowType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    GetWorkflowExecutionHistoryRequest,
    GetWorkflowExecutionHistoryResponse,
    PollWorkflowTaskQueueResponse,
    SignalWorkflowExecutionRequest,
    StartWorkflowExecutionRequest,
    StartWorkflowExecutionResponse,
)

from h2client import (
    GET_SYSTEM_INFO,
    INTERNAL,
    OK,
    POLL_WORKFLOW_TASK_QUEUE,
    RESOURCE_EXHAUSTED,
    UNIMPLEMENTED,
    WORKFLOW_SERVICE,
    H2Client,
    ServerProcess,
    grpc_frame,
    poll_request,
)

MiB = 1024 * 1024


@pytest.fixture
def server(timekeeper_path: str):
    with ServerProcess(timekeeper_path) as running:
        yield running


def payload(data: bytes) -> Payloads:
    return Payloads(payloads=[Payload(metadata={"encoding": b"binary/plain"}, data=data)])


def start_request(task_queue: str, data: bytes | None = None) -> StartWorkflowExecutionRequest:
    return StartWorkflowExecutionRequest(
        namespace="default", workflow_id=f"h2-{uuid.uuid4()}", workflow_type=WorkflowType(name="H2Workflow"),
        task_queue=TaskQueue(name=task_queue), request_id=str(uuid.uuid4()),
        input=payload(data) if data is not None else None)


def start_workflow(client: H2Client, data: bytes | None = None, task_queue: str = "h2-nobody") -> str:
    request = start_request(task_queue, data)
    reply = client.call(WORKFLOW_SERVICE + "StartWorkflowExecution", request.SerializeToString(), timeout=30)
    assert reply.grpc_status == OK, reply.describe()
    assert reply.message(StartWorkflowExecutionResponse).run_id
    return request.workflow_id


def history(client: H2Client, workflow_id: str) -> GetWorkflowExecutionHistoryResponse:
    request = GetWorkflowExecutionHistoryRequest(namespace="default", execution=WorkflowExecution(workflow_id=workflow_id))
    reply = client.call(WORKFLOW_SERVICE + "GetWorkflowExecutionHistory", request.SerializeToString(), timeout=60)
    assert reply.grpc_status == OK, reply.describe()
    return reply.message(GetWorkflowExecutionHistoryResponse)


def assert_ok(client: H2Client) -> None:
    reply = client.call(GET_SYSTEM_INFO)
    assert (reply.status, reply.grpc_status) == (200, OK), reply.describe()


# --- 1. basics ---------------------------------------------------------------------------------------


def test_settings_are_exchanged_and_acknowledged(server: ServerProcess) -> None:
    client = H2Client(server.port, settings={SettingCodes.INITIAL_WINDOW_SIZE: 70_000}).connect(handshake=False)
    client.wait_for(lambda: bool(client.server_settings), "the server's SETTINGS")
    client.wait_for(lambda: client.settings_acks >= 2, "ACKs of both our SETTINGS frames")
    server.clients.append(client)
    assert_ok(client)
    server.assert_serving()


def test_the_announced_settings_and_connection_window(server: ServerProcess) -> None:
    client = server.client()
    assert client.server_settings.get(SettingCodes.MAX_CONCURRENT_STREAMS) == 4096, client.server_settings
    assert client.server_settings.get(SettingCodes.INITIAL_WINDOW_SIZE) == 1_048_576, client.server_settings
    assert client.server_settings.get(SettingCodes.MAX_HEADER_LIST_SIZE) == 16_384, client.server_settings
    client.wait_for(lambda: client.conn.outbound_flow_control_window >= 16 * MiB, "the connection window")
    assert client.conn.outbound_flow_control_window == 16 * MiB
    assert (0, 16 * MiB - 65_535) in client.window_updates


def test_ping_is_answered_with_the_same_data(server: ServerProcess) -> None:
    client = server.client()
    for opaque in (b"\x00" * 8, b"timekeep", bytes(range(8))):
        client.ping(opaque)
        client.wait_for(lambda: opaque in client.ping_acks, f"the PING ACK of {opaque!r}")
    assert client.ping_acks == [b"\x00" * 8, b"timekeep", bytes(range(8))]
    server.assert_serving()


def test_window_updates_on_the_connection_and_on_a_stream_are_accepted(server: ServerProcess) -> None:
    client = server.client()
    stream = client.open(GET_SYSTEM_INFO, end_stream=False)
    client.conn.increment_flow_control_window(1 * MiB)
    client.conn.increment_flow_control_window(100_000, stream_id=stream)
    client.flush()
    client.send(stream, grpc_frame(b""), end_stream=True)
    reply = client.wait_done(stream)
    assert (reply.status, reply.grpc_status) == (200, OK), reply.describe()
    assert_ok(client)


def test_client_trailers_end_the_request(server: ServerProcess) -> None:
    client = server.client()
    stream = client.open(GET_SYSTEM_INFO, b"", end_stream=False)
    client.conn.send_headers(stream, [("x-client-trailer", "done")], end_stream=True)
    client.flush()
    reply = client.wait_done(stream)
    assert (reply.status, reply.grpc_status, reply.ended) == (200, OK, True), reply.describe()
    assert len(reply.messages()) == 1
    assert_ok(client)


def test_a_request_split_into_one_byte_data_frames(server: ServerProcess) -> None:
    client = server.client()
    body = grpc_frame(start_request("h2-split").SerializeToString())
    stream = client.open(WORKFLOW_SERVICE + "StartWorkflowExecution", end_stream=False)
    client.send(stream, body, end_stream=True, frame_size=1)
    reply = client.wait_done(stream, timeout=30)
    assert reply.grpc_status == OK, reply.describe()
    assert reply.message(StartWorkflowExecutionResponse).run_id
    assert len(body) > 50  # that many DATA frames


def test_a_request_larger_than_the_initial_windows(server: ServerProcess) -> None:
    client = server.client()
    workflow_id = start_workflow(client)
    big = random.Random(10).randbytes(3 * MiB)
    signal_request = SignalWorkflowExecutionRequest(
        namespace="default", workflow_execution=WorkflowExecution(workflow_id=workflow_id), signal_name="big",
        input=payload(big), identity="h2", request_id=str(uuid.uuid4()))
    reply = client.call(WORKFLOW_SERVICE + "SignalWorkflowExecution", signal_request.SerializeToString(), timeout=60)
    assert reply.grpc_status == OK, reply.describe()
    signals = [e.workflow_execution_signaled_event_attributes for e in history(client, workflow_id).history.events
               if e.HasField("workflow_execution_signaled_event_attributes")]
    assert len(signals) == 1 and signals[0].input.payloads[0].data == big
    server.assert_serving()


def test_a_response_larger_than_the_clients_window(server: ServerProcess) -> None:
    big = random.Random(11).randbytes(200 * 1024)
    workflow_id = start_workflow(server.client(), big)
    # A stream window of 1 KiB (and h2's default connection window of 64 KiB): the server must send at
    # most what we grant, and h2 grants more only as it reads. (h2 fails the connection on an overrun.)
    small = server.client(settings={SettingCodes.INITIAL_WINDOW_SIZE: 1024})
    started = history(small, workflow_id).history.events[0].workflow_execution_started_event_attributes
    assert started.input.payloads[0].data == big
    stream = max(small.replies)
    assert small.replies[stream].events.count("DataReceived") >= len(big) // 1024
    assert small.protocol_error is None
    assert_ok(small)


def test_rst_stream_mid_request_leaves_the_connection_usable(server: ServerProcess) -> None:
    client = server.client()
    stream = client.open(WORKFLOW_SERVICE + "StartWorkflowExecution", end_stream=False)
    client.send(stream, grpc_frame(start_request("h2-reset").SerializeToString())[:20])
    client.reset(stream, ErrorCodes.CANCEL)
    client.idle(0.3)
    assert client.goaway is None and not client.eof
    assert_ok(client)
    client.ping(b"afterrst")
    client.wait_for(lambda: b"afterrst" in client.ping_acks, "a PING ACK after the reset")
    server.assert_serving()


def test_rst_stream_on_a_waiting_long_poll(server: ServerProcess) -> None:
    client = server.client()
    queue = f"h2-poll-{uuid.uuid4().hex[:8]}"
    poll = client.open(POLL_WORKFLOW_TASK_QUEUE, poll_request(queue), grpc_timeout="30S")
    client.idle(0.5)
    assert not client.replies[poll].done, client.replies[poll].describe()
    client.reset(poll, ErrorCodes.CANCEL)
    assert_ok(client)
    # The reset poll is gone: a task for its queue goes to the next poller, not to the cancelled one.
    workflow_id = start_workflow(client, task_queue=queue)
    reply = client.call(POLL_WORKFLOW_TASK_QUEUE, poll_request(queue), timeout=15, grpc_timeout="10S")
    task = reply.message(PollWorkflowTaskQueueResponse)
    assert task.task_token and task.workflow_execution.workflow_id == workflow_id, reply.describe()


def test_a_thousand_concurrent_streams_on_one_connection(server: ServerProcess) -> None:
    client = server.client()
    # Held open: each request's message is sent, its END_STREAM only once all 1,000 are open.
    streams = [client.open(GET_SYSTEM_INFO, b"", end_stream=False) for _ in range(1000)]
    client.receive(0.1)
    assert not any(client.replies[s].reset for s in streams), "a stream under the limit was reset"
    for stream in streams:
        client.end(stream)
    client.wait_for(lambda: all(client.replies[s].done for s in streams), "1,000 answers", timeout=60)
    bad = [client.replies[s].describe() for s in streams if client.replies[s].grpc_status != OK]
    assert not bad, f"{len(bad)} of 1,000 streams not answered OK, e.g. {bad[:3]}"
    assert_ok(client)


def test_streams_beyond_the_announced_limit_end_that_connection_only(server: ServerProcess) -> None:
    """A client that ignores the announced MAX_CONCURRENT_STREAMS breaks HTTP/2. RFC 9113 §5.1.2 lets the
    server treat the excess stream as a stream error (REFUSED_STREAM); swift-nio-http2 1.46 treats it as a
    connection error: GOAWAY PROTOCOL_ERROR, and that connection's calls are lost. Well-behaved clients
    (the SDKs' h2, grpc-go, netty) queue instead and never see it. What must hold: the server survives and
    serves every other connection."""
    bystander = server.client()
    assert_ok(bystander)
    client = server.client()
    limit = client.server_settings.get(SettingCodes.MAX_CONCURRENT_STREAMS)
    assert limit == 4096, f"announced MAX_CONCURRENT_STREAMS {limit}"
    client.allow_streams_beyond_server_limit()
    queue = f"h2-limit-{uuid.uuid4().hex[:8]}"
    try:
        for _ in range(limit + 10):
            client.open(POLL_WORKFLOW_TASK_QUEUE, poll_request(queue), grpc_timeout="60S")
        client.wait_for(lambda: client.goaway is not None, "the server's GOAWAY", timeout=30)
    except ConnectionError:
        pass  # closed while we were still sending: the kernel may drop the GOAWAY with the reset
    assert client.eof or client.goaway is not None, "the connection goes on as if nothing happened"
    if client.goaway is not None:
        assert client.goaway.error_code == ErrorCodes.PROTOCOL_ERROR, client.goaway
    assert_ok(bystander)  # the other connection is untouched
    server.assert_serving()


def test_client_goaway_then_close(server: ServerProcess) -> None:
    client = server.client()
    assert_ok(client)
    client.conn.close_connection()
    client.flush()
    client.idle(0.3)
    client.close(goaway=False)
    server.assert_serving()


@pytest.mark.parametrize("garbage", [b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", bytes(range(1, 64))],
                         ids=["http1", "binary"])
def test_garbage_instead_of_the_preface_closes_the_connection(server: ServerProcess, garbage: bytes) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        raw.sendall(garbage)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if not raw.recv(65536):
                    break
            except ConnectionResetError:
                break
        else:
            pytest.fail("the server kept the connection open after a bad preface")
    server.assert_serving()


# --- 3. headers --------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_a_method_other_than_post_is_405_internal(server: ServerProcess, method: str) -> None:
    reply = server.client().call(GET_SYSTEM_INFO, method=method)
    assert (reply.status, reply.grpc_status) == (405, INTERNAL), reply.describe()
    assert reply.ended and not reply.data, "expected a trailers-only answer"
    server.assert_serving()


# Temporal's server (grpc-go) answers 415 with INVALID_ARGUMENT (3), the Java test server (grpc-java) with
# INTERNAL (13); the gRPC protocol asks only for the 415. We follow Temporal's server.
INVALID_ARGUMENT = 3


@pytest.mark.parametrize("content_type", ["text/plain", "application/grpc-web", "application/json"])
def test_a_non_grpc_content_type_is_415_invalid_argument(server: ServerProcess, content_type: str) -> None:
    reply = server.client().call(GET_SYSTEM_INFO, content_type=content_type)
    assert (reply.status, reply.grpc_status) == (415, INVALID_ARGUMENT), reply.describe()
    server.assert_serving()


@pytest.mark.parametrize("path", [WORKFLOW_SERVICE + "NoSuchMethod", "/no.such.v1.Service/NoSuchMethod"])
def test_an_unknown_path_is_unimplemented_naming_the_method(server: ServerProcess, path: str) -> None:
    reply = server.client().call(path)
    assert (reply.status, reply.grpc_status) == (200, UNIMPLEMENTED), reply.describe()
    assert "NoSuchMethod" in reply.grpc_message, reply.grpc_message
    server.assert_serving()


def test_a_header_list_under_16_kib_is_accepted(server: ServerProcess) -> None:
    reply = server.client().call(GET_SYSTEM_INFO, extra=[("x-padding", "p" * 12_000)])
    assert reply.grpc_status == OK, reply.describe()


def test_a_header_list_over_16_kib_is_refused_and_the_server_survives(server: ServerProcess) -> None:
    client = server.client()
    stream = client.open(GET_SYSTEM_INFO, b"", extra=[("x-padding", "p" * 20_000)])
    try:
        client.wait_for(lambda: client.replies[stream].done or client.goaway is not None, "a refusal")
    except ConnectionError:
        pass  # the connection was closed: refused too
    reply = client.replies[stream]
    assert reply.grpc_status != OK, f"a 20,000-byte header was served: {reply.describe()}"
    assert reply.done or client.goaway is not None or client.eof, reply.describe()
    server.assert_serving()


# --- 7. bounded request bytes ------------------------------------------------------------------------


def test_a_single_message_over_4_mib_is_resource_exhausted(server: ServerProcess) -> None:
    client = server.client()
    stream = client.open(WORKFLOW_SERVICE + "SignalWorkflowExecution", end_stream=False)
    client.send(stream, grpc_frame(b"\x00" * (4 * MiB + 1)), end_stream=True, timeout=60)
    reply = client.wait_done(stream, timeout=30)
    assert reply.grpc_status == RESOURCE_EXHAUSTED, reply.describe()
    assert_ok(client)


def test_buffered_request_bytes_are_bounded_per_connection(server: ServerProcess) -> None:
    """40 streams each send 3.9 MiB of a 4 MiB message and wait: at most 64 MiB may be held for the
    connection; the streams past it are answered RESOURCE_EXHAUSTED and reset, RSS stays bounded, and the
    connection keeps working (HTTP/2 counts the bytes of a reset stream against the connection window
    too, so the server must credit them back: RFC 9113 section 6.9)."""
    client = server.client()
    assert_ok(client)
    baseline_kib = server.status_kib("VmRSS")
    chunk = random.Random(7).randbytes(int(3.9 * MiB))
    streams, stalled = [], []
    for _ in range(40):
        stream = client.open(WORKFLOW_SERVICE + "SignalWorkflowExecution", end_stream=False)
        streams.append(stream)
        try:
            client.send(stream, grpc_frame(chunk, announced=4 * MiB), timeout=5, read_between=False)
        except TimeoutError:
            stalled.append(stream)
            client.reset(stream, ErrorCodes.CANCEL)
    client.idle(1.0)
    grown_mib = (server.status_kib("VmHWM") - baseline_kib) / 1024
    replies = [client.replies[s] for s in streams if s not in stalled]
    refused = [r for r in replies if r.grpc_status == RESOURCE_EXHAUSTED]
    held = [r for r in replies if not r.done]
    assert grown_mib < 110, f"RSS peak grew {grown_mib:.0f} MiB for 64 MiB of allowed buffers"
    assert len(held) * len(chunk) <= 64 * MiB, f"{len(held)} streams of 3.9 MiB held (64 MiB allowed)"
    assert len(refused) >= 40 - 64 // 3.9 - len(stalled), [r.describe() for r in replies][:3]
    assert all(r.reset is not None for r in refused), [r.describe() for r in refused if r.reset is None][:3]
    assert not stalled, (
        f"{len(stalled)} of 40 streams got no flow-control window for 5 s after {len(refused)} were refused: "
        f"connection window {client.conn.outbound_flow_control_window} B (bytes of refused streams never credited?)")
    other = [r.describe() for r in replies if r.done and r.grpc_status != RESOURCE_EXHAUSTED]
    assert not other, other[:3]
    for r in held:
        client.reset(r.stream_id, ErrorCodes.CANCEL)
    assert_ok(client)
    server.assert_serving()


def test_refused_streams_do_not_use_up_the_connection_window(server: ServerProcess) -> None:
    """DATA that arrives on a stream the server has already reset still counts against the connection's
    flow-control window (RFC 9113 section 6.9), so the server must credit it back: otherwise every refused
    stream eats into the window until the connection cannot carry a single request. Six rounds of filling
    the 64 MiB budget, overflowing it with 8 more streams and resetting the held ones."""
    client = server.client()
    chunk = random.Random(8).randbytes(int(3.9 * MiB))
    refused = 0
    for round_number in range(6):
        held = []
        for _ in range(24):
            stream = client.open(WORKFLOW_SERVICE + "SignalWorkflowExecution", end_stream=False)
            try:
                client.send(stream, grpc_frame(chunk, announced=4 * MiB), timeout=5, read_between=False)
            except TimeoutError:
                pytest.fail(f"round {round_number + 1}: no connection window left "
                            f"({client.conn.outbound_flow_control_window} B) after {refused} refused streams")
            reply = client.replies[stream]
            if reply.done:
                assert reply.grpc_status == RESOURCE_EXHAUSTED, reply.describe()
                refused += 1
            else:
                held.append(stream)
        assert len(held) >= 15, f"round {round_number + 1}: only {len(held)} streams held (budget not released?)"
        for stream in held:
            client.reset(stream, ErrorCodes.CANCEL)
        assert_ok(client)
    server.assert_serving()


# --- 8. graceful drain -------------------------------------------------------------------------------


def test_sigterm_drains_gracefully(server: ServerProcess) -> None:
    polling, idle = server.client(), server.client()
    queue = f"h2-drain-{uuid.uuid4().hex[:8]}"
    poll = polling.open(POLL_WORKFLOW_TASK_QUEUE, poll_request(queue), grpc_timeout="30S")
    polling.idle(0.5)
    assert not polling.replies[poll].done
    signalled = time.monotonic()
    server.signal(signal.SIGTERM)
    for client in (polling, idle):
        client.wait_for(lambda c=client: c.goaway is not None, "GOAWAY after SIGTERM", timeout=5)
        assert client.goaway.error_code == ErrorCodes.NO_ERROR, client.goaway
    reply = polling.wait_done(poll, timeout=5)
    assert (reply.grpc_status, reply.ended) == (OK, True), reply.describe()
    assert not reply.message(PollWorkflowTaskQueueResponse).task_token
    assert reply.finished_at is not None and reply.finished_at - signalled < 5
    # A stream opened after the GOAWAY is refused (reset, or the connection closes without an answer).
    # (After a first GOAWAY announcing the largest stream id, a two-phase drain sends the final one.)
    try:
        idle.wait_for(lambda: idle.goaway.last_stream_id < 2**31 - 1 or idle.eof, "the final GOAWAY", timeout=2)
    except (TimeoutError, ConnectionError):
        pass
    late = None
    try:
        late = idle.open(GET_SYSTEM_INFO, b"")
        idle.wait_for(lambda: idle.replies[late].done, "the late stream's refusal", timeout=5)
    except (OSError, ConnectionError):
        pass
    if late is not None:
        assert idle.replies[late].grpc_status is None, f"served after GOAWAY: {idle.replies[late].describe()}"
        assert late > idle.goaway.last_stream_id
    assert server.proc is not None
    assert server.proc.wait(timeout=10) == 0, server.log_tail()
    assert time.monotonic() - signalled < 10


@pytest.mark.parametrize("second", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_second_signal_during_the_drain_exits_at_once(server: ServerProcess, second: int) -> None:
    client = server.client()
    unfinished = client.open(GET_SYSTEM_INFO, end_stream=False)  # the drain waits for this request
    client.send(unfinished, b"\x00\x00")
    server.signal(signal.SIGTERM)
    client.wait_for(lambda: client.goaway is not None, "GOAWAY after SIGTERM", timeout=5)
    client.idle(1.0)
    assert server.alive, "the drain ended while a request was still arriving"
    signalled = time.monotonic()
    server.signal(second)
    assert server.proc is not None
    server.proc.wait(timeout=5)
    assert time.monotonic() - signalled < 2
