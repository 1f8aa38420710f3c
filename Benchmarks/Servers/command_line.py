"""How each benchmark's command runs: the options they share, the start of a run, the exit."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Awaitable, Callable

from machine_facts import RunRecord
from repo_paths import BENCH_DIR
from run_log import log
from sdk_driver import install_core_log_counter
from servers import Target, timekeeper_bin


def add_only_option(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--only", action="append", metavar="NAME", help="run only this target (repeatable)")


def add_run_options(ap: argparse.ArgumentParser, *, timeout_s: float, timeout_per: str, unsandboxed_help: str,
                    stem: str) -> None:
    """--timeout (per ``timeout_per``), --unsandboxed and --out (results/<stem>-...)."""
    ap.add_argument("--timeout", type=float, default=timeout_s, help=f"per-{timeout_per} timeout, s (default {timeout_s:g})")
    ap.add_argument("--unsandboxed", action="store_true", help=unsandboxed_help)
    ap.add_argument("--out", help=f"Markdown output path (default Benchmarks/Servers/results/{stem}-<date>[-quick].md)")


def begin_run(log_subdir: str, detail: str = "") -> tuple[RunRecord, Path]:
    """How every benchmark run starts: count the SDK core's retry warnings, name the timekeeper binary in
    the log, make the folder for the servers' logs, start the run's record. Returns the record and that
    folder."""
    install_core_log_counter()
    tk_path, tk_how = timekeeper_bin()
    log(f"timekeeper binary: {tk_path} ({tk_how}){detail}")
    log_dir = BENCH_DIR / ".work" / log_subdir
    log_dir.mkdir(parents=True, exist_ok=True)
    return RunRecord(tk_path), log_dir


async def bench_each_target(run: RunRecord, targets: list[Target], bench: Callable[[Target], Awaitable[None]]) -> None:
    """``await bench(target)`` for each target in turn, the load average and the binary recorded around each;
    then the end of the run."""
    for t in targets:
        log(f"[{t.name}] load average {run.target_starting(t)}")
        await bench(t)
        run.target_done(t)
    run.finish()


def run_and_exit(amain: Callable[[argparse.Namespace], Awaitable[int]], args: argparse.Namespace, *,
                 on_interrupt: Callable[[], None] | None = None, on_exit: Callable[[], None] | None = None,
                 catch_system_exit: bool = True) -> None:
    """``asyncio.run(amain(args))``, then ``os._exit`` with its status (no waiting for the SDK's threads):
    130 on Ctrl-C; 2 on a SystemExit (an unknown --only name), its message on stderr -- or, without
    ``catch_system_exit``, the SystemExit goes on up (Python prints it and exits 1)."""
    code = 2
    try:
        code = asyncio.run(amain(args))  # type: ignore[arg-type]
    except KeyboardInterrupt:
        if on_interrupt is not None:
            on_interrupt()
        code = 130
    except SystemExit as e:
        if not catch_system_exit:
            raise
        print(e, file=sys.stderr)
        code = 2
    finally:
        if on_exit is not None:
            on_exit()
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)
