"""Workflows for the CLI command tests (Tests/Integration/test_cli_workflow_commands.py).

Kept in their own module, importing only the standard library and temporalio, so that the workflow
sandbox can re-import them.
"""

from __future__ import annotations

from temporalio import workflow


@workflow.defn
class Mailbox:
    """Collects texts until it is signalled `close`, then returns them in the order they came.

    Texts arrive by the signal `post` or the update `append` (which returns how many texts there are
    now); the query `texts` answers the texts so far. Cancelling it cancels its wait, so it ends
    cancelled.
    """

    def __init__(self) -> None:
        self.received: list[str] = []
        self.closed = False

    @workflow.run
    async def run(self) -> list[str]:
        await workflow.wait_condition(lambda: self.closed)
        return self.received

    @workflow.signal
    def post(self, text: str) -> None:
        self.received.append(text)

    @workflow.signal
    def close(self) -> None:
        self.closed = True

    @workflow.query
    def texts(self) -> list[str]:
        return self.received

    @workflow.update
    def append(self, text: str) -> int:
        self.received.append(text)
        return len(self.received)
