"""Workflows for test_same_results_as_dev_server.py: one client script run against Timekeeper's dev mode and
Temporal's dev server. Standard library and temporalio only, so that the sandbox can re-import them."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError


@activity.defn
async def greet(name: str) -> str:
    return f"hello {name}"


@activity.defn
async def always_fails(name: str) -> str:
    raise ApplicationError(f"no greeting for {name}", type="Refused")


@workflow.defn
class Child:
    @workflow.run
    async def run(self, name: str) -> str:
        # Returns at once, so its result often comes while the parent's workflow task (the one that saw
        # the child start) still runs: both servers hold it until that task has completed.
        return name.upper()


@workflow.defn
class Conversation:
    """A timer, an activity, a signal, a query, an update and a child, then a result."""

    def __init__(self) -> None:
        self.names: list[str] = []

    @workflow.run
    async def run(self, first: str) -> list[str]:
        await workflow.sleep(timedelta(milliseconds=300))
        self.names.append(await workflow.execute_activity(greet, first, start_to_close_timeout=timedelta(seconds=10)))
        await workflow.wait_condition(lambda: len(self.names) >= 3)
        self.names.append(await workflow.execute_child_workflow(Child.run, self.names[-1], id=f"{workflow.info().workflow_id}-child"))
        return self.names

    @workflow.signal
    def add(self, name: str) -> None:
        self.names.append(name)

    @workflow.query
    def count(self) -> int:
        return len(self.names)

    @workflow.update
    def add_and_count(self, name: str) -> int:
        self.names.append(name)
        return len(self.names)


@workflow.defn
class FailsAfterRetries:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(
            always_fails, name, start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(maximum_attempts=2, initial_interval=timedelta(milliseconds=100)))


@workflow.defn
class ContinuesOnce:
    @workflow.run
    async def run(self, round_: int) -> int:
        if round_ == 0:
            workflow.continue_as_new(1)
        return round_
