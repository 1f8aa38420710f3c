"""A second HTTP/2 implementation for talking to the real server frame by frame: Python's ``h2``.

``H2Client`` is a prior-knowledge HTTP/2 client (plain TCP, no TLS) on a blocking socket: it sends the
preface and SETTINGS, opens gRPC requests, and records what arrives per stream (response headers, DATA,
trailers, RST_STREAM) and per connection (SETTINGS, ACKs, PING ACKs, WINDOW_UPDATEs, GOAWAY, EOF). Nothing
happens behind the caller's back except what h2 does itself (it ACKs the server's SETTINGS and answers its
PINGs) and, unless ``auto_window=False``, granting flow-control window for the DATA it reads.

``ServerProcess`` launches ``timekeeper PORT`` on a free 127.0.0.1 port, waits until it listens, and stops
it (SIGTERM, then SIGKILL).

Usage::

    with ServerProcess(binary) as server:
        with server.client() as client:
            reply = client.call(GET_SYSTEM_INFO, b"")
            assert reply.grpc_status == 0
"""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import h2.config
import h2.connection
import h2.events
import h2.exceptions
from h2.connection import ConnectionInputs, ConnectionState
from h2.errors import ErrorCodes
from h2.settings import SettingCodes

import history_recorder

from netutil import LOOPBACK, free_loopback_port, listening_addresses

WORKFLOW_SERVICE = "/temporal.api.workflowservice.v1.WorkflowService/"
TEST_SERVICE = "/temporal.api.testservice.v1.TestService/"
GET_SYSTEM_INFO = WORKFLOW_SERVICE + "GetSystemInfo"
POLL_WORKFLOW_TASK_QUEUE = WORKFLOW_SERVICE + "PollWorkflowTaskQueue"

# gRPC status codes used by the tests.
OK, CANCELLED, UNKNOWN, DEADLINE_EXCEEDED = 0, 1, 2, 4
RESOURCE_EXHAUSTED, UNIMPLEMENTED, INTERNAL = 8, 12, 13


def grpc_frame(payload: bytes, *, announced: int | None = None) -> bytes:
    """One length-prefixed, uncompressed gRPC message (``announced`` overrides the length field)."""
    length = len(payload) if announced is None else announced
    return b"\x00" + length.to_bytes(4, "big") + payload


def poll_request(task_queue: str) -> bytes:
    """A serialized PollWorkflowTaskQueueRequest on ``task_queue`` in namespace "default"."""
    from temporalio.api.taskqueue.v1 import TaskQueue
    from temporalio.api.workflowservice.v1 import PollWorkflowTaskQueueRequest

    return PollWorkflowTaskQueueRequest(
        namespace="default", task_queue=TaskQueue(name=task_queue), identity="h2client").SerializeToString()


@dataclass
class Reply:
    """What one stream received from the server."""

    stream_id: int
    headers: list[tuple[str, str]] | None = None
    data: bytearray = field(default_factory=bytearray)
    trailers: list[tuple[str, str]] | None = None
    ended: bool = False  # the server ended its side (END_STREAM)
    reset: int | None = None  # RST_STREAM error code, if the stream was reset (by either side)
    reset_by_us: bool = False
    events: list[str] = field(default_factory=list)  # event names in arrival order
    opened_at: float = field(default_factory=time.monotonic)
    finished_at: float | None = None

    @property
    def done(self) -> bool:
        return self.ended or self.reset is not None

    def header(self, name: str) -> str | None:
        """A field of the trailers, else of the response headers (a trailers-only answer has one block)."""
        for block in (self.trailers, self.headers):
            for key, value in block or ():
                if key == name:
                    return value
        return None

    @property
    def status(self) -> int | None:
        value = dict(self.headers or ()).get(":status")
        return int(value) if value is not None else None

    @property
    def grpc_status(self) -> int | None:
        value = self.header("grpc-status")
        return int(value) if value is not None else None

    @property
    def grpc_message(self) -> str:
        return urllib.parse.unquote(self.header("grpc-message") or "")

    def messages(self) -> list[bytes]:
        """The length-prefixed messages of the response body."""
        out, body = [], bytes(self.data)
        while body:
            assert len(body) >= 5 and body[0] == 0, f"malformed gRPC body {body[:16]!r}"
            length = int.from_bytes(body[1:5], "big")
            assert len(body) >= 5 + length, "gRPC body ends inside a message"
            out.append(body[5 : 5 + length])
            body = body[5 + length :]
        return out

    def message(self, cls: Any) -> Any:
        """The one response message, parsed as protobuf class ``cls``."""
        messages = self.messages()
        assert len(messages) == 1, f"expected one message, got {len(messages)}: {self.describe()}"
        return cls.FromString(messages[0])

    def describe(self) -> str:
        return (f"stream {self.stream_id}: headers={self.headers} trailers={self.trailers} "
                f"data={len(self.data)} B ended={self.ended} reset={self.reset} events={self.events}")


class H2Client:
    """One HTTP/2 connection to ``host:port``, driven by hand."""

    def __init__(self, port: int, host: str = LOOPBACK, *, settings: dict[int, int] | None = None,
                 auto_window: bool = True, timeout: float = 10.0) -> None:
        self.port, self.host, self.timeout = port, host, timeout
        self.auto_window = auto_window
        self.settings = settings or {}
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=True, header_encoding="utf-8"))
        # h2 treats a received GOAWAY as the end of the connection and refuses every later frame, but
        # HTTP/2 lets the streams below the GOAWAY's last stream id finish (a graceful drain answers them):
        # keep the connection open in h2's state machine and record the GOAWAY ourselves.
        transitions = dict(self.conn.state_machine._transitions)
        for state in (ConnectionState.IDLE, ConnectionState.CLIENT_OPEN):
            transitions[(state, ConnectionInputs.RECV_GOAWAY)] = (None, state)
        self.conn.state_machine._transitions = transitions
        self.sock: socket.socket | None = None
        self.replies: dict[int, Reply] = {}
        self.events: list[h2.events.Event] = []  # every event, in order
        self.server_settings: dict[int, int] = {}
        self.settings_acks = 0
        self.ping_acks: list[bytes] = []
        self.window_updates: list[tuple[int, int]] = []  # (stream id, increment) received
        self.goaway: h2.events.ConnectionTerminated | None = None
        self.eof = False  # the server closed the TCP connection
        self.protocol_error: Exception | None = None  # h2 rejected what the server sent

    # --- connection -------------------------------------------------------------------------------

    def connect(self, *, handshake: bool = True) -> "H2Client":
        """Open the socket and send the preface + SETTINGS (and ``settings``, if any); with ``handshake``,
        wait until the server's SETTINGS arrived and ours were acknowledged."""
        self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(self.timeout)  # a send the server never reads fails instead of hanging
        self.conn.initiate_connection()
        if self.settings:
            self.conn.update_settings(self.settings)
        self.flush()
        if handshake:
            acks = 2 if self.settings else 1
            self.wait_for(lambda: bool(self.server_settings) and self.settings_acks >= acks, "SETTINGS exchange")
        return self

    def __enter__(self) -> "H2Client":
        return self if self.sock else self.connect()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self, goaway: bool = True) -> None:
        if self.sock is None:
            return
        if goaway and not self.eof:
            try:
                self.conn.close_connection()
                self.flush()
            except (OSError, h2.exceptions.ProtocolError):
                pass
        self.sock.close()
        self.sock = None

    def fileno(self) -> int:
        assert self.sock is not None
        return self.sock.fileno()

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data and self.sock is not None:
            try:
                self.sock.sendall(data)
            except (ConnectionResetError, BrokenPipeError) as error:
                self.eof = True
                raise ConnectionError(f"the server closed the connection ({error}; goaway={self.goaway})") from error

    def send_raw(self, data: bytes) -> None:
        assert self.sock is not None
        self.sock.sendall(data)

    def allow_streams_beyond_server_limit(self) -> None:
        """Let h2 open more concurrent streams than the server's MAX_CONCURRENT_STREAMS (to test refusal)."""
        self.conn.remote_settings.max_concurrent_streams = 2**31 - 1
        self.conn.remote_settings.acknowledge()

    # --- reading ----------------------------------------------------------------------------------

    def receive(self, timeout: float = 0.0) -> bool:
        """Read what has arrived (waiting up to ``timeout`` for something); False on EOF or nothing."""
        if self.sock is None or self.eof:
            return False
        readable, _, _ = select.select([self.sock], [], [], timeout)
        if not readable:
            return False
        try:
            data = self.sock.recv(1 << 20)
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        if not data:
            self.eof = True
            return False
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError as error:
            self.protocol_error = error
            self.eof = True
            return False
        for event in events:
            self._dispatch(event)
        self.flush()
        return True

    def wait_for(self, predicate: Callable[[], bool], what: str, timeout: float | None = None) -> None:
        """Read until ``predicate()`` holds; fail with ``what`` after ``timeout`` s or on EOF."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not predicate():
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"timed out waiting for {what}")
            if not self.receive(min(left, 0.5)) and self.eof and not predicate():
                raise ConnectionError(f"connection closed while waiting for {what} "
                                      f"(goaway={self.goaway}, h2 error={self.protocol_error})")

    def wait_closed(self, timeout: float | None = None) -> None:
        """Read (and record) everything until the server closes the connection."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the server did not close the connection")
            self.receive(min(left, 0.5))

    def idle(self, seconds: float) -> None:
        """Keep reading for ``seconds`` (answers, SETTINGS and PINGs are handled meanwhile)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0 and not self.eof:
            self.receive(min(left, 0.2))

    def _dispatch(self, event: h2.events.Event) -> None:
        self.events.append(event)
        stream_id = getattr(event, "stream_id", None)
        reply = self.replies.get(stream_id) if stream_id else None
        if reply is not None:
            reply.events.append(type(event).__name__)
        if isinstance(event, h2.events.RemoteSettingsChanged):
            self.server_settings.update({code: s.new_value for code, s in event.changed_settings.items()})
        elif isinstance(event, h2.events.SettingsAcknowledged):
            self.settings_acks += 1
        elif isinstance(event, h2.events.PingAckReceived):
            self.ping_acks.append(event.ping_data)
        elif isinstance(event, h2.events.WindowUpdated):
            self.window_updates.append((event.stream_id, event.delta))
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.goaway = event
        elif reply is None:
            return
        elif isinstance(event, h2.events.ResponseReceived):
            reply.headers = list(event.headers)
        elif isinstance(event, h2.events.TrailersReceived):
            reply.trailers = list(event.headers)
        elif isinstance(event, h2.events.DataReceived):
            reply.data += event.data
            if self.auto_window and event.flow_controlled_length:
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.StreamEnded):
            reply.ended, reply.finished_at = True, time.monotonic()
        elif isinstance(event, h2.events.StreamReset):
            reply.reset, reply.finished_at = int(event.error_code), reply.finished_at or time.monotonic()

    # --- writing ----------------------------------------------------------------------------------

    def request_headers(self, path: str, *, method: str = "POST", content_type: str = "application/grpc",
                        grpc_timeout: str | None = None,
                        extra: Iterable[tuple[str, str]] = ()) -> list[tuple[str, str]]:
        headers = [(":method", method), (":scheme", "http"), (":path", path),
                   (":authority", f"{self.host}:{self.port}"), ("content-type", content_type), ("te", "trailers")]
        if grpc_timeout is not None:
            headers.append(("grpc-timeout", grpc_timeout))
        return headers + list(extra)

    def open(self, path: str, body: bytes | None = None, *, end_stream: bool = True,
             headers: list[tuple[str, str]] | None = None, **header_options: Any) -> int:
        """Send HEADERS (and ``body`` as a gRPC message, if given) on a new stream; returns its id.
        With ``end_stream`` the request is complete; otherwise the stream stays open for more DATA."""
        stream_id = self.conn.get_next_available_stream_id()
        self.replies[stream_id] = Reply(stream_id)
        headers = headers or self.request_headers(path, **header_options)
        self.conn.send_headers(stream_id, headers, end_stream=end_stream and body is None)
        self.flush()
        if body is not None:
            self.send(stream_id, grpc_frame(body), end_stream=end_stream)
        return stream_id

    def send(self, stream_id: int, data: bytes, *, end_stream: bool = False, frame_size: int | None = None,
             timeout: float | None = None, read_between: bool = True) -> None:
        """Send ``data`` as DATA frames (at most ``frame_size`` bytes each), waiting for flow-control window
        as needed; stops early, without raising, if the stream gets reset or answered meanwhile. Without
        ``read_between`` the frames go back to back as far as the window allows (an answer or reset is
        noticed only when the window is used up), as a client with a fast pipe would send them."""
        reply = self.replies[stream_id]
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        view = memoryview(data)
        while True:
            if reply.reset is not None or reply.ended:
                return
            if not view:
                if end_stream:
                    self.conn.end_stream(stream_id)
                    self.flush()
                return
            window = self.conn.local_flow_control_window(stream_id)
            if window <= 0:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"stream {stream_id}: no flow-control window for {len(view)} more bytes")
                self.receive(0.2)
                continue
            size = min(window, self.conn.max_outbound_frame_size, frame_size or len(view), len(view))
            last = size == len(view)
            self.conn.send_data(stream_id, bytes(view[:size]), end_stream=end_stream and last)
            self.flush()
            view = view[size:]
            if read_between:
                self.receive(0)
            if last:
                return

    def end(self, stream_id: int) -> None:
        """END_STREAM without more data."""
        self.conn.end_stream(stream_id)
        self.flush()

    def reset(self, stream_id: int, code: ErrorCodes = ErrorCodes.CANCEL) -> None:
        self.conn.reset_stream(stream_id, code)
        self.flush()
        reply = self.replies[stream_id]
        reply.reset, reply.reset_by_us = int(code), True

    def ping(self, data: bytes) -> None:
        self.conn.ping(data)
        self.flush()

    def call(self, path: str, body: bytes = b"", timeout: float | None = None, **options: Any) -> Reply:
        """A complete unary request; returns the stream's record once the server has finished it."""
        stream_id = self.open(path, body, **options)
        return self.wait_done(stream_id, timeout)

    def wait_done(self, stream_id: int, timeout: float | None = None) -> Reply:
        reply = self.replies[stream_id]
        self.wait_for(lambda: reply.done, f"the answer on stream {stream_id}", timeout)
        return reply


class ServerProcess:
    """``timekeeper PORT`` on a free 127.0.0.1 port, its output in a temporary log file."""

    def __init__(self, binary: str, *args: str, ready_timeout: float = 30.0) -> None:
        self.binary, self.args, self.ready_timeout = binary, list(args), ready_timeout
        self.port = free_loopback_port()
        self.log_path = Path(tempfile.mkstemp(prefix="timekeeper-", suffix=".log")[1])
        self.proc: subprocess.Popen[bytes] | None = None
        self.clients: list[H2Client] = []

    def start(self) -> "ServerProcess":
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([self.binary, str(self.port), *self.args],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.ready_timeout
        while not listening_addresses(self.port):
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode} before listening: {self.log_tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"server not listening on {self.port} after {self.ready_timeout} s")
            time.sleep(0.02)
        return self

    def __enter__(self) -> "ServerProcess":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def client(self, **options: Any) -> H2Client:
        """A connected client (closed when the server is stopped)."""
        client = H2Client(self.port, **options).connect()
        self.clients.append(client)
        return client

    def status_kib(self, field_name: str = "VmRSS") -> int:
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
        raise RuntimeError(f"no {field_name}")

    def log_tail(self, size: int = 2000) -> str:
        return self.log_path.read_bytes()[-size:].decode(errors="replace")

    def assert_serving(self) -> None:
        """The process is alive and answers GetSystemInfo on a new connection."""
        assert self.alive, f"server exited with {self.proc.returncode if self.proc else None}: {self.log_tail()}"
        with H2Client(self.port).connect() as fresh:
            reply = fresh.call(GET_SYSTEM_INFO)
        assert reply.status == 200 and reply.grpc_status == OK, reply.describe()

    def signal(self, signum: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(signum)

    def stop(self) -> None:
        for client in self.clients:
            client.close(goaway=False)
        if self.proc is None:
            return
        if self.proc.poll() is None:
            if history_recorder.enabled():  # TIMEKEEPER_RECORD_HISTORIES: every run, before it goes
                history_recorder.record_server(f"127.0.0.1:{self.port}")
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        os.unlink(self.log_path)
