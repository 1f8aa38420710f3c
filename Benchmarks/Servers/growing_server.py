"""What ``scaling.py`` and ``visibility.py`` share: one server per target, grown through a list of sizes,
each step a named phase whose failure fills its cells and is logged, and the bookkeeping around that (the
servers still alive, the SDK core's retry warnings, the ``--sizes`` option)."""

from __future__ import annotations

import asyncio
import os
import time
import traceback
from pathlib import Path
from typing import Awaitable, Callable

from netutil import LOOPBACK
from run_log import log, short_error
from scaling_results import ScalingResults
from sdk_driver import CORE_LOGS
from servers import Server, Target, binary_missing

# Servers started by this process and not yet killed (killed again, to be sure, on exit).
LIVE: list[Server] = []

Phase = Callable[[int, str, list[str], Callable[[], Awaitable[None]]], Awaitable[bool]]


def parse_sizes(text: str | None, default: list[int]) -> list[int]:
    """``--sizes N,N,...`` (underscores allowed), sorted; ``default`` without it."""
    if text:
        try:
            sizes = sorted({int(s.replace("_", "")) for s in text.split(",") if s.strip()})
        except ValueError:
            raise SystemExit(f"--sizes: expected comma-separated integers, got {text!r}") from None
    else:
        sizes = default
    if not sizes or sizes[0] < 1:
        raise SystemExit("--sizes must be positive integers")
    return sizes


def skipped_as_missing(target: Target, sizes: list[int], res: ScalingResults, keys: list[str]) -> bool:
    """True (and every cell says so) when the target's binary is not there."""
    if not binary_missing(target):
        return False
    for n in sizes:
        res.fail(target.name, n, keys, "n/a: binary not found")
    res.errors.append(f"{target.name}: {target.argv[0]} not found")
    log(f"[{target.name}] skipped: {target.argv[0]} not found")
    return True


def new_server(target: Target, log_dir: Path) -> Server:
    """The target's server, not started yet, remembered in ``LIVE`` until ``kill``; the core's old warnings
    are dropped."""
    server = Server(target, log_dir)
    LIVE.append(server)
    CORE_LOGS.take()
    return server


def start(server: Server, name: str) -> None:
    server.start()
    log(f"[{name}] server pid {server.pid} on {LOOPBACK}:{server.port}, log {server.log_path}")


def connect_failed(name: str, e: BaseException, sizes: list[int], res: ScalingResults, keys: list[str]) -> None:
    msg = short_error(e)
    log(f"[{name}] start/connect FAILED: {msg}")
    res.errors.append(f"{name} / connect: {msg}")
    for n in sizes:
        res.fail(name, n, keys, "error: no server")


def phase_runner(name: str, server: Server, res: ScalingResults, unit: str, *,
                 timeout: float | None = None, error_chars: int = 160) -> Phase:
    """``phase(n, what, keys, fn)`` runs one step at size ``n`` (within ``timeout`` if given); on failure it
    fills ``keys`` with the error, logs it (``E2E_TRACEBACK=1``: with the traceback) and returns False."""

    async def phase(n: int, what: str, keys: list[str], fn: Callable[[], Awaitable[None]]) -> bool:
        t0 = time.perf_counter()
        try:
            await server.checked(fn if timeout is None else (lambda: asyncio.wait_for(fn(), timeout)))
            log(f"[{name}] n={n:,} {what} done in {time.perf_counter() - t0:.1f} s")
            return True
        except Exception as e:  # noqa: BLE001 -- record and carry on
            msg = short_error(e, error_chars)
            log(f"[{name}] n={n:,} {what} FAILED: {msg}")
            if os.environ.get("E2E_TRACEBACK"):
                traceback.print_exc()
            res.errors.append(f"{name} / {n:,} {unit} / {what}: {msg}")
            res.fail(name, n, keys, cell_error(e, server))
            return False

    return phase


def cell_error(e: BaseException, server: Server) -> str:
    """A short table cell for a failure; the full message goes under "errors"."""
    if not server.alive():
        return "error: server died"
    if isinstance(e, (asyncio.TimeoutError, TimeoutError)):
        return "error: timed out"
    return f"error: {short_error(e, 40)}"


async def stop_server(name: str, server: Server, res: ScalingResults) -> None:
    """Kills the server and notes how many RPC retries the SDK core logged meanwhile."""
    kill(server)
    await asyncio.sleep(0.2)  # let the core's buffered logs arrive
    n_retries, sample = CORE_LOGS.take()
    res.retries[name] = n_retries
    if n_retries:
        res.notes.append(f"{name}: {n_retries} RPC-retry warnings from the SDK core, e.g. {sample}")


def kill(server: Server) -> None:
    server.kill()
    if server in LIVE:
        LIVE.remove(server)


def kill_live_servers() -> None:
    """For ``run_and_exit``'s exit hook: normally none are left, as each target's run kills its server."""
    for server in list(LIVE):
        kill(server)
