"""Workflow definitions used by the integration tests.

They live in their own module (not in a test file) so the Temporal workflow
sandbox can re-import them cleanly: this module must import nothing but the
standard library and ``temporalio``, and have no side effects at import time.

Each workflow is deliberately tiny; it exercises one server behaviour that the
tests assert on, and is run against both Timekeeper and Temporal's Java test
server to compare them.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError


@workflow.defn
class HelloWorkflow:
    """Completes immediately with ``"hello, <name>"``.

    Exercises: StartWorkflowExecution, a single workflow task poll/complete
    with a CompleteWorkflowExecution command, and result retrieval
    (GetWorkflowExecutionHistory long-poll).
    """

    @workflow.run
    async def run(self, name: str) -> str:
        return f"hello, {name}"


@workflow.defn
class FailingWorkflow:
    """Fails immediately with a non-retryable ``ApplicationError``.

    The message is ``"boom: <name>"``.  Exercises the FailWorkflowExecution
    command and failure propagation: the client must raise
    ``WorkflowFailureError`` whose ``cause`` is an ``ApplicationError`` with
    that message and ``non_retryable`` set.
    """

    @workflow.run
    async def run(self, name: str) -> str:
        raise ApplicationError(f"boom: {name}", non_retryable=True)


@workflow.defn
class LargePayloadWorkflow:
    """Sends ``size`` characters of hard-to-compress text through an activity and back; returns what came
    back.

    Exercises messages larger than HTTP/2's flow-control windows in both directions: the workflow-task
    completion that schedules the activity and the activity's completion are requests of ``size`` bytes,
    the activity task and the workflow task that sees the activity's result are responses of that size.
    """

    @workflow.run
    async def run(self, size: int) -> str:
        return await workflow.execute_activity(
            "echo_text", incompressible_text(size), start_to_close_timeout=timedelta(seconds=30)
        )


def incompressible_text(size: int) -> str:
    """``size`` characters that gzip (which the SDK applies to every request) barely shrinks: 64 symbols
    drawn by a fixed linear congruential generator, so every run and both servers see the same text."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    state, chars = 12345, []
    for _ in range(size):
        state = (state * 1103515245 + 12345) & 0x7FFFFFFF
        chars.append(alphabet[state >> 25])
    return "".join(chars)


@workflow.defn
class ContinueOnceWorkflow:
    """Continues as new once, then completes with ``"continued"``: a chain of two runs, for checking what
    the server says about the chain's first run."""

    @workflow.run
    async def run(self, continued: bool) -> str:
        if not continued:
            workflow.continue_as_new(True)
        return "continued"


@workflow.defn
class RemembersLastResult:
    """Returns ``"after <the last completion result>"`` (``"after None"`` the first time): a schedule's
    actions and a cron workflow's runs carry the previous one's result."""

    @workflow.run
    async def run(self) -> str:
        return f"after {workflow.get_last_completion_result(str)}"
