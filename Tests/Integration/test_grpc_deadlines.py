"""Deadlines against the real timekeeper binary: the grpc-timeout header, client deadlines and cancellation.

grpcio's own client (a second gRPC implementation, raw method calls) checks what a deadline does to a
Sleep, an UnlockTimeSkippingWithSleep and a long poll; h2 (Tests/Integration/support/h2client.py) checks the header's
parsing and the server's own request read timeout, which no well-behaved client exercises. Each test starts
its own server and checks at the end that it is still serving. Timekeeper only (issue 10).
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from typing import Any, Iterator

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from google.protobuf.empty_pb2 import Empty
from temporalio.api.common.v1 import WorkflowType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.testservice.v1 import (
    GetCurrentTimeResponse,
    LockTimeSkippingRequest,
    LockTimeSkippingResponse,
    SleepRequest,
    SleepResponse,
    UnlockTimeSkippingRequest,
    UnlockTimeSkippingResponse,
)
from temporalio.api.workflowservice.v1 import (
    GetSystemInfoRequest,
    GetSystemInfoResponse,
    PollWorkflowTaskQueueRequest,
    PollWorkflowTaskQueueResponse,
    StartWorkflowExecutionRequest,
    StartWorkflowExecutionResponse,
)

from h2client import (
    DEADLINE_EXCEEDED,
    GET_SYSTEM_INFO,
    INTERNAL,
    OK,
    POLL_WORKFLOW_TASK_QUEUE,
    TEST_SERVICE,
    WORKFLOW_SERVICE,
    ServerProcess,
    grpc_frame,
    poll_request,
)


@pytest.fixture
def server(timekeeper_path: str) -> Iterator[ServerProcess]:
    with ServerProcess(timekeeper_path) as running:
        yield running


@pytest.fixture
def channel(server: ServerProcess) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as open_channel:
        yield open_channel


def unary(channel: grpc.Channel, path: str, response: Any) -> grpc.UnaryUnaryMultiCallable:
    return channel.unary_unary(path, request_serializer=lambda message: message.SerializeToString(),
                               response_deserializer=response.FromString)


def get_system_info(channel: grpc.Channel) -> None:
    unary(channel, WORKFLOW_SERVICE + "GetSystemInfo", GetSystemInfoResponse)(GetSystemInfoRequest(), timeout=10)


def poll_call(channel: grpc.Channel) -> grpc.UnaryUnaryMultiCallable:
    return unary(channel, POLL_WORKFLOW_TASK_QUEUE, PollWorkflowTaskQueueResponse)


def poll(queue: str) -> PollWorkflowTaskQueueRequest:
    return PollWorkflowTaskQueueRequest(namespace="default", task_queue=TaskQueue(name=queue), identity="grpcio")


def clock(server: ServerProcess, timekeeper_path: str) -> dict[str, Any]:
    """`timekeeper clock --output json`: the inspection command's view of the clock."""
    result = subprocess.run([timekeeper_path, "clock", "--address", f"127.0.0.1:{server.port}", "--output", "json"],
                            capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def rpc_error(call: Any, *args: Any, **kwargs: Any) -> tuple[grpc.RpcError, float]:
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as info:
        call(*args, **kwargs)
    return info.value, time.monotonic() - started


# --- 4. the grpc-timeout header ----------------------------------------------------------------------

MALFORMED_TIMEOUTS = ["99999999999999999H", "999999999S", "10", "10x", "", "-5S", "abcS", "1.5S", "S"]


@pytest.mark.parametrize("method", ["GetSystemInfo", "PollWorkflowTaskQueue"])
@pytest.mark.parametrize("value", MALFORMED_TIMEOUTS)
def test_a_malformed_grpc_timeout_is_internal_naming_the_header(server: ServerProcess, value: str, method: str) -> None:
    body = poll_request(f"dl-{uuid.uuid4().hex[:8]}") if method == "PollWorkflowTaskQueue" else b""
    reply = server.client().call(WORKFLOW_SERVICE + method, body, grpc_timeout=value)
    assert (reply.grpc_status, reply.ended) == (INTERNAL, True), reply.describe()
    assert not reply.data, "expected a trailers-only answer"
    assert "grpc-timeout" in reply.grpc_message, reply.grpc_message
    server.assert_serving()


def test_a_seventeen_digit_grpc_timeout_no_longer_crashes_the_server(server: ServerProcess) -> None:
    """The headline regression: "99999999999999999H" on a long poll overflowed the deadline arithmetic and
    trapped, taking the whole server (and every connection) down."""
    client = server.client()
    reply = client.call(POLL_WORKFLOW_TASK_QUEUE, poll_request("dl-overflow"), grpc_timeout="99999999999999999H")
    assert reply.grpc_status == INTERNAL and "grpc-timeout" in reply.grpc_message, reply.describe()
    time.sleep(0.5)
    assert server.alive, f"the server died: {server.log_tail()}"
    assert client.call(GET_SYSTEM_INFO).grpc_status == OK
    server.assert_serving()


@pytest.mark.parametrize("value", ["10S", "99999999S", "2500m", "1H"])
def test_a_valid_grpc_timeout_works(server: ServerProcess, value: str) -> None:
    reply = server.client().call(GET_SYSTEM_INFO, grpc_timeout=value)
    assert reply.grpc_status == OK, reply.describe()


def test_a_long_poll_with_a_valid_grpc_timeout_answers_empty_within_it(server: ServerProcess) -> None:
    client = server.client()
    started = time.monotonic()
    reply = client.call(POLL_WORKFLOW_TASK_QUEUE, poll_request("dl-short"), grpc_timeout="2S", timeout=10)
    assert reply.grpc_status == OK, reply.describe()
    assert not reply.message(PollWorkflowTaskQueueResponse).task_token
    assert 0.5 < time.monotonic() - started < 2.0


# --- 5. client deadlines -----------------------------------------------------------------------------


def test_a_sleep_past_the_client_deadline_is_deadline_exceeded(server: ServerProcess, channel: grpc.Channel) -> None:
    sleep = unary(channel, TEST_SERVICE + "Sleep", SleepResponse)
    error, elapsed = rpc_error(sleep, SleepRequest(duration=Duration(seconds=60)), timeout=1)
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED, error
    assert 0.8 < elapsed < 3, elapsed
    get_system_info(channel)
    server.assert_serving()


def test_an_unlock_with_sleep_past_the_deadline_leaves_the_lock_count_as_it_was(
    server: ServerProcess, channel: grpc.Channel, timekeeper_path: str
) -> None:
    lock = unary(channel, TEST_SERVICE + "LockTimeSkipping", LockTimeSkippingResponse)
    unlock = unary(channel, TEST_SERVICE + "UnlockTimeSkipping", UnlockTimeSkippingResponse)
    now = unary(channel, TEST_SERVICE + "GetCurrentTime", GetCurrentTimeResponse)
    # Locked twice (the launch's lock and ours), so the unlock inside the call leaves time flowing at wall
    # speed and its one-hour sleep really waits.
    lock(LockTimeSkippingRequest(), timeout=10)
    before = clock(server, timekeeper_path)
    unlock_with_sleep = unary(channel, TEST_SERVICE + "UnlockTimeSkippingWithSleep", SleepResponse)
    error, elapsed = rpc_error(unlock_with_sleep, SleepRequest(duration=Duration(seconds=3600)), timeout=1)
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED, error
    assert elapsed < 3, elapsed
    time.sleep(0.5)
    after = clock(server, timekeeper_path)
    assert after["lock_count"] == before["lock_count"], (before, after)
    # Nothing of the abandoned sleep is left to jump to once every lock is released.
    time_before = now(Empty(), timeout=10).time.ToDatetime()
    for _ in range(after["lock_count"]):
        unlock(UnlockTimeSkippingRequest(), timeout=10)
    time.sleep(0.5)
    jumped = now(Empty(), timeout=10).time.ToDatetime() - time_before
    assert jumped.total_seconds() < 600, f"virtual time jumped {jumped} after the abandoned sleep"
    server.assert_serving()


def test_a_long_poll_with_a_3_s_deadline_answers_empty_before_it(server: ServerProcess, channel: grpc.Channel) -> None:
    started = time.monotonic()
    response = poll_call(channel)(poll(f"dl-{uuid.uuid4().hex[:8]}"), timeout=3)
    elapsed = time.monotonic() - started
    assert response == PollWorkflowTaskQueueResponse(), response
    assert 1.0 < elapsed < 3.0, elapsed


def test_cancelling_a_long_poll_leaves_the_server_answering(server: ServerProcess, channel: grpc.Channel) -> None:
    queue = f"dl-cancel-{uuid.uuid4().hex[:8]}"
    future = poll_call(channel).future(poll(queue), timeout=30)
    time.sleep(0.5)
    assert not future.done()
    assert future.cancel() and future.cancelled()
    get_system_info(channel)
    # The cancelled poll is gone: a new task for its queue reaches the next poller.
    start = unary(channel, WORKFLOW_SERVICE + "StartWorkflowExecution", StartWorkflowExecutionResponse)
    workflow_id = f"dl-{uuid.uuid4()}"
    start(StartWorkflowExecutionRequest(namespace="default", workflow_id=workflow_id, request_id=str(uuid.uuid4()),
                                        workflow_type=WorkflowType(name="W"), task_queue=TaskQueue(name=queue)),
          timeout=10)
    task = poll_call(channel)(poll(queue), timeout=10)
    assert task.task_token and task.workflow_execution.workflow_id == workflow_id, task
    server.assert_serving()


def test_a_request_whose_data_arrives_after_its_deadline_is_deadline_exceeded(server: ServerProcess) -> None:
    client = server.client()
    stream = client.open(GET_SYSTEM_INFO, end_stream=False, grpc_timeout="1S")
    client.idle(2.0)
    client.send(stream, grpc_frame(b""), end_stream=True)  # a no-op if the server already answered
    reply = client.wait_done(stream)
    assert reply.grpc_status == DEADLINE_EXCEEDED, reply.describe()
    assert client.call(GET_SYSTEM_INFO).grpc_status == OK
    server.assert_serving()


# --- 6. the server's request read timeout ------------------------------------------------------------


def test_a_stream_that_sends_only_headers_is_answered_after_the_read_timeout(server: ServerProcess) -> None:
    client = server.client()
    started = time.monotonic()
    stream = client.open(GET_SYSTEM_INFO, end_stream=False)
    reply = client.wait_done(stream, timeout=25)
    elapsed = time.monotonic() - started
    assert reply.grpc_status == DEADLINE_EXCEEDED, reply.describe()
    assert "timeout" in reply.grpc_message.lower() and "10" in reply.grpc_message, reply.grpc_message
    assert 9 < elapsed < 15, elapsed
    client.idle(0.2)
    assert reply.reset is not None, f"the stream was answered but not reset: {reply.describe()}"
    assert client.call(GET_SYSTEM_INFO).grpc_status == OK  # the connection stays usable
    server.assert_serving()
