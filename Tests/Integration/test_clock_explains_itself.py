"""Issue 4: the clock explains itself (timekeeper only: no other server has any of this)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
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


async def cli(server_path: str, *args: str) -> str:
    """Runs `timekeeper ARGS` without blocking the event loop the SDK's worker runs on."""
    result = await asyncio.to_thread(
        subprocess.run, [server_path, *args], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL
    )
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
        dom = (await asyncio.to_thread(
            subprocess.run, common + ["--dump-dom", url], capture_output=True, text=True, timeout=120)).stdout
        await asyncio.to_thread(subprocess.run, common + [f"--screenshot={screenshot}", url], capture_output=True, timeout=120)
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


def _close(pixel, colour, tolerance=40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour))
