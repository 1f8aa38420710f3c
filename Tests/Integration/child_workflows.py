"""Workflows for the child-workflow and external signal / cancel tests
(Tests/Integration/test_children_and_external.py).

Kept in their own module, importing only the standard library and temporalio, so that the workflow
sandbox can re-import them.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ApplicationError, ChildWorkflowError, WorkflowAlreadyStartedError

# ---------------------------------------------------------------------------------------------------
# Children (and targets of external signals and cancel requests)


@workflow.defn
class Child:
    """Completes at once with a greeting."""

    @workflow.run
    async def run(self, name: str) -> str:
        return f"child says hello, {name}"


@workflow.defn
class FailingChild:
    """Fails at once (non-retryable) with `message`."""

    @workflow.run
    async def run(self, message: str) -> str:
        raise ApplicationError(message, non_retryable=True)


@workflow.defn
class Waiter:
    """Waits for the `finish` signal (no timer of its own) and returns what it carried; a cancel request
    cancels it (the wait raises CancelledError, which ends the run CANCELED)."""

    def __init__(self) -> None:
        self.finished: str | None = None

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.finished is not None)
        return self.finished or ""

    @workflow.signal
    def finish(self, word: str) -> None:
        self.finished = word


@workflow.defn
class ParentOfChild:
    """Executes `Child` with id `child_id` and returns its result."""

    @workflow.run
    async def run(self, child_id: str) -> str:
        return await workflow.execute_child_workflow(Child.run, "parent", id=child_id)


@workflow.defn
class ParentOfFailingChild:
    """Executes `FailingChild`; its ChildWorkflowError is not caught, so the parent fails with it."""

    @workflow.run
    async def run(self, child_id: str, message: str) -> str:
        return await workflow.execute_child_workflow(FailingChild.run, message, id=child_id)


@workflow.defn
class ParentOfTakenChild:
    """Starts a `Waiter` child with an id another workflow already runs under; returns what
    start_child_workflow raised: [exception type, its workflow id, its workflow type]."""

    @workflow.run
    async def run(self, child_id: str) -> list[str]:
        try:
            await workflow.start_child_workflow(Waiter.run, id=child_id)
        except WorkflowAlreadyStartedError as error:
            return [type(error).__name__, error.workflow_id, error.workflow_type]
        return ["started"]


@workflow.defn
class ParentLeavesChild:
    """Starts a `Waiter` child with the named parent close policy and completes once the child has started,
    returning the child's run id."""

    @workflow.run
    async def run(self, child_id: str, policy: str) -> str:
        handle = await workflow.start_child_workflow(
            Waiter.run, id=child_id, parent_close_policy=workflow.ParentClosePolicy[policy]
        )
        return handle.first_execution_run_id or ""


@workflow.defn
class ParentCancelsChild:
    """Starts a `Waiter` child, cancels it and waits for it to end; returns the type of the
    ChildWorkflowError's cause."""

    @workflow.run
    async def run(self, child_id: str) -> str:
        handle = await workflow.start_child_workflow(Waiter.run, id=child_id)
        handle.cancel()
        try:
            await handle
        except ChildWorkflowError as error:
            return type(error.cause).__name__
        return "the child was not cancelled"


@workflow.defn
class ParentAwaitsChild:
    """Starts a `Waiter` child and returns its result (the child ends when the test signals it)."""

    @workflow.run
    async def run(self, child_id: str) -> str:
        handle = await workflow.start_child_workflow(Waiter.run, id=child_id)
        return await handle


# ---------------------------------------------------------------------------------------------------
# External signals and cancel requests


@workflow.defn
class Signaller:
    """Signals `Waiter.finish` with `word` to the workflow `target_id` (not its child); returns "sent"."""

    @workflow.run
    async def run(self, target_id: str, word: str) -> str:
        await workflow.get_external_workflow_handle(target_id).signal(Waiter.finish, word)
        return "sent"


@workflow.defn
class SignallerOfNobody:
    """Signals a workflow id nobody runs; returns [type of what the signal raised, its message]."""

    @workflow.run
    async def run(self, target_id: str) -> list[str]:
        try:
            await workflow.get_external_workflow_handle(target_id).signal(Waiter.finish, "hello?")
        except Exception as error:  # noqa: BLE001 -- what the SDK raises is what the test reports
            return [type(error).__name__, str(error)]
        return ["no exception"]


@workflow.defn
class Canceller:
    """Requests cancellation of the workflow `target_id` (not its child); returns "requested"."""

    @workflow.run
    async def run(self, target_id: str) -> str:
        await workflow.get_external_workflow_handle(target_id).cancel()
        return "requested"
