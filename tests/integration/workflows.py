"""Workflow definitions used by the integration tests.

They live in their own module (not in a test file) so the Temporal workflow
sandbox can re-import them cleanly: this module must import nothing but the
standard library and ``temporalio``, and have no side effects at import time.

Each workflow is deliberately tiny; it exercises one server behaviour that the
tests assert on, and is run against both Timekeeper and Temporal's Java test
server to compare them.
"""

from __future__ import annotations

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
