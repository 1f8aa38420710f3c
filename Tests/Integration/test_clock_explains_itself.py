"""Issue 4: the clock explains itself (timekeeper only: no other server has any of this)."""

from __future__ import annotations

import asyncio
import html
import json
import os
import re
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import timedelta

import pytest
from temporalio.api.testservice.v1 import LockTimeSkippingRequest, UnlockTimeSkippingRequest
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from conftest import REPO_ROOT, start_env
from netutil import free_loopback_port
from timeskipping_workflows import (
    SleepActivitySleep,
    SleepsWithActivityPending,
    WaitsForSignals,
    echo,
)

pytestmark = pytest.mark.parametrize("server_path", ["timekeeper"], indirect=True)

TRAP_LINE = re.compile(r"time-skipping trap: (.*)")


def _address(env: WorkflowEnvironment) -> str:
    return env.client.service_client.config.target_host


async def cli_result(server_path: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Runs `timekeeper ARGS` without blocking the event loop the SDK's worker runs on."""
    return await asyncio.to_thread(
        subprocess.run, [server_path, *args], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL
    )


async def cli(server_path: str, *args: str) -> str:
    result = await cli_result(server_path, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


async def test_the_trap_is_explained_once_and_the_safe_pattern_is_not_flagged(server_path, capfd):
    env = await start_env(server_path)
    try:
        task_queue = f"trap-{uuid.uuid4()}"
        async with Worker(env.client, task_queue=task_queue, workflows=[WaitsForSignals]):
            trapped = await env.client.start_workflow(
                WaitsForSignals.run, 1, id=f"trapped-{uuid.uuid4()}", task_queue=task_queue,
                execution_timeout=timedelta(minutes=10),
            )
            with pytest.raises(WorkflowFailureError):
                await trapped.result()

            safe = await env.client.start_workflow(
                WaitsForSignals.run, 1, id=f"safe-{uuid.uuid4()}", task_queue=task_queue,
                execution_timeout=timedelta(minutes=10),
            )
            await safe.query(WaitsForSignals.progress)
            await safe.signal(WaitsForSignals.step)
            assert await safe.result() == 1

            listed = json.loads(await cli(server_path, "workflow", "list", "--address", _address(env), "--output", "json"))
            clock_text = await cli(server_path, "clock", "--address", _address(env))
    finally:
        await env.shutdown()
    output = capfd.readouterr()
    warnings = TRAP_LINE.findall(output.out + output.err)
    assert len(warnings) == 1, warnings
    warning = warnings[0]
    assert trapped.id in warning
    assert "600 s" in warning and "execution timeout" in warning
    assert "awaited the result" in warning and trapped.id in warning.split("awaited the result")[1]
    assert "signal before awaiting the result" in warning
    assert safe.id not in warning

    by_id = {w["workflow_id"]: w for w in listed["workflows"]}
    assert "time" in by_id[trapped.id]["trap"] and "Fix:" in by_id[trapped.id]["trap"]
    assert "trap" not in by_id[safe.id]
    assert trapped.id in clock_text and "WARNING" in clock_text


async def test_the_timetable_lists_a_sleep_and_a_pending_activity(env, server_path):
    task_queue = f"tt-{uuid.uuid4()}"
    async with Worker(env.client, task_queue=task_queue, workflows=[SleepsWithActivityPending]):
        handle = await env.client.start_workflow(
            SleepsWithActivityPending.run, id=f"tt-{uuid.uuid4()}", task_queue=task_queue
        )
        for _ in range(100):
            table = json.loads(await cli(server_path, "timetable", "--address", _address(env), "--output", "json"))
            mine = [e for e in table.get("entries", []) if e.get("workflow_id") == handle.id]
            if any(e["kind"] == "user-timer" for e in mine):
                break
            await asyncio.sleep(0.05)
        text = await cli(server_path, "timetable", "--address", _address(env))
        await handle.terminate()
    kinds = {e["kind"]: e for e in mine}
    assert "user-timer" in kinds and "activity-schedule-to-start-timeout" in kinds, kinds
    now = _parse(table["virtual_time"])
    timer_in = _parse(kinds["user-timer"]["fire_time"]) - now
    assert 3590 <= timer_in <= 3600, timer_in
    assert handle.id in text and "user-timer" in text and "activity-schedule-to-start-timeout" in text
    assert text.index("user-timer") < text.index("workflow-run-timeout"), "soonest first"


def _parse(timestamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


async def test_the_clock_command_shows_the_lock_count_moving(env, server_path):
    async def lock_count() -> int:
        return json.loads(await cli(server_path, "clock", "--address", _address(env), "--output", "json")).get("lock_count", 0)

    before = await lock_count()
    await env.client.test_service.lock_time_skipping(LockTimeSkippingRequest())
    assert await lock_count() == before + 1
    text = await cli(server_path, "clock", "--address", _address(env))
    assert f"lock count   {before + 1}" in text and "test clients" in text
    await env.client.test_service.unlock_time_skipping(UnlockTimeSkippingRequest())
    assert await lock_count() == before


async def test_workflow_show_and_describe_read_like_the_temporal_cli(env, server_path):
    task_queue = f"wf-{uuid.uuid4()}"
    async with Worker(env.client, task_queue=task_queue, workflows=[SleepActivitySleep], activities=[echo]):
        handle = await env.client.start_workflow(SleepActivitySleep.run, id=f"show-{uuid.uuid4()}", task_queue=task_queue)
        await handle.result()
    shown = await cli(server_path, "workflow", "show", "--address", _address(env), "-w", handle.id)
    assert "WorkflowExecutionStarted" in shown and "TimerFired" in shown and "WorkflowExecutionCompleted" in shown
    described = await cli(server_path, "workflow", "describe", "--address", _address(env), "-w", handle.id)
    assert handle.id in described and "Completed" in described
    history = json.loads(await cli(server_path, "workflow", "show", "--address", _address(env), "-w", handle.id, "--output", "json"))
    assert len(history["events"]) > 5


async def test_workflow_list_takes_a_list_filter_query(env, server_path):
    task_queue = f"wfq-{uuid.uuid4()}"
    async with Worker(env.client, task_queue=task_queue, workflows=[SleepActivitySleep, WaitsForSignals], activities=[echo]):
        done = await env.client.start_workflow(SleepActivitySleep.run, id=f"q-done-{uuid.uuid4()}", task_queue=task_queue)
        await done.result()
        running = await env.client.start_workflow(
            WaitsForSignals.run, 1, id=f"q-running-{uuid.uuid4()}", task_queue=task_queue
        )
        await running.query(WaitsForSignals.progress)
        address = _address(env)
        mine = f"TaskQueue = '{task_queue}'"

        everything = json.loads(await cli(server_path, "workflow", "list", "--address", address, "--output", "json"))
        listed = {w["workflow_id"] for w in everything["workflows"]}
        assert {done.id, running.id} <= listed

        query = f"{mine} AND WorkflowType = 'WaitsForSignals' AND ExecutionStatus = 'Running'"
        matched = json.loads(await cli(
            server_path, "workflow", "list", "--address", address, "--output", "json", "--query", query))
        assert [w["workflow_id"] for w in matched["workflows"]] == [running.id], matched
        text = await cli(server_path, "workflow", "list", "--address", address, "-q", f"{mine} AND ExecutionStatus = 'Completed'")
        assert done.id in text and running.id not in text, text
        nothing = json.loads(await cli(
            server_path, "workflow", "list", "--address", address, "--output", "json", "--query", f"{mine} AND WorkflowId = 'no-such'"))
        assert nothing.get("workflows", []) == []

        bad = await cli_result(server_path, "workflow", "list", "--address", address, "--query", "WorkflowType = ")
        await running.terminate()
    assert bad.returncode != 0
    assert bad.stdout == ""
    # The server's own message, which says where the query went wrong.
    assert "invalid query" in bad.stderr and "position" in bad.stderr, bad.stderr


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


async def test_the_web_page_draws_the_timeline_with_labelled_jumps(server_path):
    browser = _chromium()
    if browser is None:
        if os.environ.get("TIMEKEEPER_REQUIRED") == "1":
            pytest.fail("chromium is not installed (scripts/test installs it)")
        pytest.skip("chromium is not installed")
    ui_port = free_loopback_port()
    env = await start_env(server_path, test_server_extra_args=["--ui-port", str(ui_port)])
    try:
        task_queue = f"ui-{uuid.uuid4()}"
        async with Worker(env.client, task_queue=task_queue, workflows=[SleepActivitySleep, WaitsForSignals], activities=[echo]):
            await env.client.execute_workflow(SleepActivitySleep.run, id=f"ui-sleeper-{uuid.uuid4()}", task_queue=task_queue)
            trapped = await env.client.start_workflow(
                WaitsForSignals.run, 1, id=f"ui-trapped-{uuid.uuid4()}", task_queue=task_queue,
                execution_timeout=timedelta(minutes=10),
            )
            with pytest.raises(WorkflowFailureError):
                await trapped.result()
        out_dir = REPO_ROOT / ".build-test"
        out_dir.mkdir(exist_ok=True)
        screenshot = out_dir / "ui-timeline.png"
        screenshot.unlink(missing_ok=True)
        url = f"http://127.0.0.1:{ui_port}/"
        common = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                  "--window-size=1200,1100", "--virtual-time-budget=4000"]

        async def dump(page: str) -> str:
            return (await asyncio.to_thread(
                subprocess.run, common + ["--dump-dom", page], capture_output=True, text=True, timeout=120)).stdout

        dom = await dump(url)
        await asyncio.to_thread(subprocess.run, common + [f"--screenshot={screenshot}", url], capture_output=True, timeout=120)
        # The filter box, as the page's URL keeps it (#query=…): a good query and a bad one.
        good_query = "WorkflowType = 'SleepActivitySleep' AND ExecutionStatus = 'Completed'"
        filtered = await dump(url + "#query=" + urllib.parse.quote(good_query))
        bad_query = "WorkflowType = "
        refused = await dump(url + "#query=" + urllib.parse.quote(bad_query))
        api_good = await asyncio.to_thread(_get, url + "api/workflows?" + urllib.parse.urlencode({"query": f"WorkflowId = '{trapped.id}'"}))
        api_bad = await asyncio.to_thread(_get, url + "api/workflows?query=" + urllib.parse.quote(bad_query))
    finally:
        await env.shutdown()

    # The DOM after the page's scripts ran: a timeline with three labelled jumps (two timers and the
    # execution timeout), each with its cause listed.
    assert dom.count('class="jump-group"') >= 3, dom[:2000]
    assert "user-timer of ui-sleeper" in dom
    assert "workflow-run-timeout of " + trapped.id in dom
    assert "awaited the result of workflow" in dom
    assert trapped.id in dom and "Fix:" in dom

    # The screenshot: the jumps are drawn in the timeline's red (#d62728).
    from PIL import Image

    image = Image.open(screenshot).convert("RGB")
    # The timeline sits in the top half of the page.
    pixels = list(image.crop((0, 0, image.size[0], min(image.size[1], 520))).getdata())
    red = sum(1 for pixel in pixels if _close(pixel, (0xD6, 0x27, 0x28)))
    blue = sum(1 for pixel in pixels if _close(pixel, (0x1F, 0x77, 0xB4)))
    assert red > 400, f"only {red} red pixels: the jumps are not drawn ({screenshot})"
    assert blue > 400, f"only {blue} blue pixels: the virtual-time line is not drawn ({screenshot})"

    _assert_jumps_are_laid_out_apart(dom)

    # The filter box: the table shows only the runs the query matches, still after several polls (the
    # page redraws the table each second), and the query is in the box.
    assert f'data-applied="{good_query}"' in html.unescape(filtered), "the query is not the one applied"
    assert int(re.search(r'data-polls="(\d+)"', filtered).group(1)) >= 2, "the page did not poll"
    table = _workflows_table(filtered)
    assert "ui-sleeper-" in table and trapped.id not in table, table
    assert table.count('class="workflow"') == 1, table
    assert _workflows_table(dom).count('class="workflow"') == 2, "without a query the table lists every run"
    # A bad query: the server's message next to the box, and no table.
    error = re.search(r'<span id="query-error"[^>]*>([^<]*)</span>', refused).group(1)
    assert "invalid query" in error and "position" in error, error
    assert re.search(r'<table id="workflows"[^>]*\shidden', refused), _workflows_table(refused)[:300]
    # The JSON behind it.
    status, body = api_good
    assert status == 200 and [w["workflow_id"] for w in body["workflows"]] == [trapped.id], body
    status, body = api_bad
    assert status == 400 and "invalid query" in body["error"] and "position" in body["error"], body


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _workflows_table(dom: str) -> str:
    match = re.search(r'<table id="workflows".*?</table>', dom, re.S)
    assert match, "no workflows table"
    return match.group(0)


Box = tuple[float, float, float, float]  # x, y, width, height, in the timeline's coordinates


def _apart(a: Box, b: Box) -> bool:
    return a[0] + a[2] <= b[0] or b[0] + b[2] <= a[0] or a[1] + a[3] <= b[1] or b[1] + b[3] <= a[1]


def _inside(inner: Box, outer: Box, slack: float = 1.0) -> bool:
    return (inner[0] >= outer[0] - slack and inner[1] >= outer[1] - slack
            and inner[0] + inner[2] <= outer[0] + outer[2] + slack and inner[1] + inner[3] <= outer[1] + outer[3] + slack)


def _assert_jumps_are_laid_out_apart(dom: str) -> None:
    """Jumps made at the same wall instant (the sleeper's two timers and the trap's timeout come within
    milliseconds) would draw their markers and labels on top of each other; the page lays them out apart.
    Reads where the browser actually drew each marker, number and label (their getBBox, which the page
    writes on each jump's group) and checks that none of them overlaps another."""
    groups = []
    for tag in re.findall(r'<g class="jump-group"[^>]*>', dom):
        attrs = dict(re.findall(r'(data-[a-z]+)="([^"]*)"', tag))
        missing = {"data-jump", "data-anchor", "data-marker", "data-number", "data-label"} - attrs.keys()
        assert not missing, f"the page did not say where it drew a jump ({missing}): {tag}"
        box = lambda name: tuple(float(v) for v in attrs[name].split(","))  # noqa: E731
        groups.append({"n": int(attrs["data-jump"]), "anchor": box("data-anchor"),
                       "marker": box("data-marker"), "number": box("data-number"), "label": box("data-label")})
    assert len(groups) >= 3, dom[:2000]
    # The case at hand: two jumps whose markers, or labels, drawn where they would go by themselves (the
    # marker at the top of the step, the label right of it at the same height) would overlap.
    def alone(g: dict) -> tuple[Box, Box]:
        x, y = g["anchor"]
        return (x - 8, y - 8, 16, 16), (x + 12, y - 10, g["label"][2], g["label"][3])

    crowded = [(a["n"], b["n"]) for a in groups for b in groups if a["n"] < b["n"]
               and any(not _apart(p, q) for p, q in zip(alone(a), alone(b)))]
    assert crowded, f"no two jumps at nearly the same instant, so nothing to lay out: {[g['anchor'] for g in groups]}"
    for g in groups:
        assert g["marker"][2] > 10 and g["label"][2] > 100, g  # drawn, at their size
        assert _inside(g["number"], g["marker"]), f"jump {g['n']}'s number is off its marker: {g}"
        for box in (g["marker"], g["label"]):
            assert box[0] >= 0 and box[1] >= 0 and box[0] + box[2] <= 1100 and box[1] + box[3] <= 360, g
    labels = {g["n"]: g["label"] for g in groups}
    for g in groups:
        match = re.search(rf'<g class="jump-group" data-jump="{g["n"]}"[^>]*>.*?<text class="jump-label"[^>]*>([^<]*)<', dom, re.S)
        assert match and match.group(1).startswith(f"{g['n']}: "), f"jump {g['n']}'s label is not numbered"
    boxes = [(f"marker {g['n']}", g["marker"]) for g in groups] + [(f"label {n}", box) for n, box in labels.items()]
    for i, (name_a, a) in enumerate(boxes):
        for name_b, b in boxes[i + 1:]:
            assert _apart(a, b), f"{name_a} {a} overlaps {name_b} {b} (crowded jumps {crowded})"


def _close(pixel, colour, tolerance=40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour))
