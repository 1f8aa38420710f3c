"""Workflows for the update tests (Tests/Integration/test_updates.py).

Kept in their own module, importing only the standard library and temporalio, so that the workflow
sandbox can re-import them.
"""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import ApplicationError

REJECTION = "only non-negative amounts can be added"


@workflow.defn
class Updatable:
    """Runs until signalled `finish`, returning its running total.

    Updates: `add` (validated: negative amounts are rejected) adds to the total and returns it;
    `wait_for_release` is accepted at once but returns only after the `release` signal; `sleep_an_hour`
    sleeps one (virtual) hour and returns the virtual seconds it saw pass; `wait_forever` never returns.
    Query `handled` counts how many times the `add` handler ran.
    """

    def __init__(self) -> None:
        self.total = 0
        self.add_runs = 0
        self.released = False
        self.finished = False

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self.finished)
        return self.total

    @workflow.signal
    def finish(self) -> None:
        self.finished = True

    @workflow.signal
    def release(self) -> None:
        self.released = True

    @workflow.query
    def handled(self) -> int:
        return self.add_runs

    @workflow.update
    def add(self, amount: int) -> int:
        self.add_runs += 1
        self.total += amount
        return self.total

    @add.validator
    def reject_negative(self, amount: int) -> None:
        if amount < 0:
            raise ApplicationError(f"{REJECTION} (got {amount})")

    @workflow.update
    async def wait_for_release(self) -> str:
        await workflow.wait_condition(lambda: self.released)
        return "released"

    @workflow.update
    async def sleep_an_hour(self) -> float:
        started = workflow.now()
        await asyncio.sleep(3600)
        return (workflow.now() - started).total_seconds()

    @workflow.update
    async def wait_forever(self) -> str:
        await workflow.wait_condition(lambda: False)
        return "unreachable"
