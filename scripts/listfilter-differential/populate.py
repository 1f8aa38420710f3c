"""Creates a small, varied set of workflow executions on a running dev server, for the differential.

Run with the Python SDK from Timekeeper's pinned environment:
    /work/main/.venv/bin/python differential/populate.py 127.0.0.1:17233
Prints the wall-clock anchor (RFC 3339) the queries use for time comparisons.
"""

import asyncio
import sys
from datetime import datetime, timedelta, timezone

from temporalio import workflow
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleSpec,
    WorkflowFailureError,
)
from temporalio.common import SearchAttributeKey, TypedSearchAttributes, SearchAttributePair
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

TASK_QUEUE = "differential"

KEYWORD = SearchAttributeKey.for_keyword("CustomKeyword")
TEXT = SearchAttributeKey.for_text("CustomText")
INT = SearchAttributeKey.for_int("CustomInt")
DOUBLE = SearchAttributeKey.for_float("CustomDouble")
BOOL = SearchAttributeKey.for_bool("CustomBool")
DATETIME = SearchAttributeKey.for_datetime("CustomDatetime")
KEYWORD_LIST = SearchAttributeKey.for_keyword_list("CustomKeywordList")


@workflow.defn(name="OrderWorkflow")
class OrderWorkflow:
    """Mode 'wait' waits for a signal forever, 'done' completes, 'sleep' sleeps 2 s, 'child' starts a child."""

    def __init__(self) -> None:
        self.released = False

    @workflow.signal
    def release(self) -> None:
        self.released = True

    @workflow.run
    async def run(self, mode: str) -> str:
        if mode == "sleep":
            await asyncio.sleep(2)
        elif mode == "child":
            await workflow.execute_child_workflow(OrderWorkflow.run, "done", id="order-1-child")
            await workflow.wait_condition(lambda: self.released)
        elif mode == "wait":
            await workflow.wait_condition(lambda: self.released)
        elif mode == "continue":
            workflow.continue_as_new("done")
        return mode


@workflow.defn(name="PaymentWorkflow")
class PaymentWorkflow:
    @workflow.run
    async def run(self, mode: str) -> str:
        if mode == "fail":
            raise ApplicationError("payment declined", non_retryable=True)
        await workflow.wait_condition(lambda: False)
        return mode


def attributes(*pairs) -> TypedSearchAttributes:
    return TypedSearchAttributes([SearchAttributePair(key, value) for key, value in pairs])


async def main(address: str) -> None:
    client = await Client.connect(address)
    anchor = datetime.now(timezone.utc).replace(microsecond=0)
    async with Worker(client, task_queue=TASK_QUEUE, workflows=[OrderWorkflow, PaymentWorkflow]):
        start = client.start_workflow
        await start(OrderWorkflow.run, "child", id="order-1", task_queue=TASK_QUEUE, search_attributes=attributes(
            (KEYWORD, "alpha"), (INT, 5), (TEXT, "the quick brown fox"), (KEYWORD_LIST, ["red", "green"]),
            (BOOL, True), (DATETIME, datetime(2024, 6, 1, tzinfo=timezone.utc)), (DOUBLE, 1.25)))
        h = await start(OrderWorkflow.run, "done", id="order-2", task_queue=TASK_QUEUE, search_attributes=attributes(
            (KEYWORD, "beta"), (DOUBLE, 2.5), (KEYWORD_LIST, ["Red"]), (TEXT, "Lazy-dog jumps")))
        await h.result()
        h = await start(PaymentWorkflow.run, "fail", id="payment-1", task_queue=TASK_QUEUE, search_attributes=attributes(
            (KEYWORD_LIST, ["blue"]), (TEXT, "lazy dog"), (INT, 20)))
        try:
            await h.result()
        except WorkflowFailureError:
            pass
        h = await start(PaymentWorkflow.run, "wait", id="payment-2", task_queue=TASK_QUEUE, search_attributes=attributes(
            (KEYWORD, "ALPHA"), (BOOL, False), (DATETIME, datetime(2023, 1, 1, 12, 30, tzinfo=timezone.utc))))
        await asyncio.sleep(0.5)
        await h.terminate("differential")
        h = await start(OrderWorkflow.run, "sleep", id="Order-3", task_queue=TASK_QUEUE, search_attributes=attributes(
            (KEYWORD, "alpha-beta"), (INT, -3), (KEYWORD_LIST, ["red", "blue", "red green"])))
        await h.result()
        await start(OrderWorkflow.run, "wait", id="slow-1", task_queue=TASK_QUEUE,
                    execution_timeout=timedelta(seconds=2))
        h = await start(OrderWorkflow.run, "wait", id="cancel-1", task_queue=TASK_QUEUE)
        await asyncio.sleep(0.5)
        await h.cancel()
        h = await start(OrderWorkflow.run, "continue", id="can-1", task_queue=TASK_QUEUE)
        await h.result()
        try:
            await client.create_schedule("sched-1", Schedule(
                action=ScheduleActionStartWorkflow(OrderWorkflow.run, "done", id="sched-wf", task_queue=TASK_QUEUE),
                spec=ScheduleSpec(intervals=[])), trigger_immediately=True)
        except Exception as error:  # schedules are a bonus; the rest stands without them
            print(f"schedule not created: {error}", file=sys.stderr)
        await asyncio.sleep(4)  # slow-1 times out, sched-wf runs, visibility catches up
    print(anchor.isoformat().replace("+00:00", "Z"))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:17233"))
