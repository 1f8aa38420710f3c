#!/usr/bin/env python3
"""Start-up time benchmark: Timekeeper vs. Temporal's Java test server.

Start-up time = from just before ``subprocess.Popen`` (``time.perf_counter``)
to the first successful ``WorkflowService/GetSystemInfo`` gRPC call.

Each trial picks a free port on 127.0.0.1, starts the server, polls until the
call succeeds, then stops the server.  Polling is two-phase so the client's
own overhead stays small:

1. a plain TCP connect to 127.0.0.1:PORT every ~1 ms until it is accepted
   (refused connects return immediately) -- recorded as "listen" time;
2. then GetSystemInfo (empty request, raw bytes, no stubs) on a gRPC channel
   created before the process was started, retried every ~1 ms until it
   returns OK.

Usage::

    .venv/bin/python Benchmarks/Servers/startup.py         # all targets, 20 trials
    .venv/bin/python Benchmarks/Servers/startup.py -n 50 --only java-test-server

The Java server is launched through ``.build-test/java-test-server`` (built on
demand by Tests/Integration/support/build_support.py), which keeps it on loopback.
Timekeeper is ``$TIMEKEEPER_BIN`` or ``<repo>/.build/debug/timekeeper`` (use a
release build for meaningful numbers); it is skipped if it doesn't exist.

Needs ``grpcio`` (in Tests/Integration/requirements.txt).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]  # Benchmarks/Servers -> the repository
sys.path.insert(0, str(REPO_ROOT / "Tests" / "Integration" / "support"))

from build_support import ensure_java_test_server_wrapper  # noqa: E402
from netutil import LOOPBACK, free_loopback_port  # noqa: E402

try:
    import grpc
except ImportError:  # pragma: no cover
    sys.exit("grpcio is required: .venv/bin/pip install -r Tests/Integration/requirements.txt")

GET_SYSTEM_INFO = "/temporal.api.workflowservice.v1.WorkflowService/GetSystemInfo"
POLL_INTERVAL_S = 0.001


@dataclass
class Target:
    """A server to benchmark.  ``argv`` items may contain ``{port}``."""

    name: str
    argv: list[str]
    reference: bool = False  # ratios are relative to the first reference target
    listen_ms: list[float] = field(default_factory=list)
    ready_ms: list[float] = field(default_factory=list)
    error: str | None = None


def timekeeper_bin() -> str:
    raw = os.environ.get("TIMEKEEPER_BIN", ".build/debug/timekeeper")
    path = Path(raw)
    return str(path if path.is_absolute() else REPO_ROOT / path)


def make_targets() -> list[Target]:
    # Add a target with one line: Target("name", [exe, ..., "{port}"]).
    return [
        Target("timekeeper", [timekeeper_bin(), "{port}"]),
        Target("java-test-server", [str(ensure_java_test_server_wrapper()), "{port}"], reference=True),
    ]


class TrialError(RuntimeError):
    pass


def _tcp_accepting(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        return s.connect_ex((LOOPBACK, port)) == 0


def run_trial(argv_template: list[str], timeout_s: float,
              stop_signal: int = signal.SIGTERM) -> tuple[float, float]:
    """Start one server; return (listen_ms, ready_ms) measured from Popen.  The server is then stopped with
    ``stop_signal`` (SIGKILL after 5 s if it is still there)."""
    port = free_loopback_port()
    argv = [a.replace("{port}", str(port)) for a in argv_template]
    channel = grpc.insecure_channel(
        f"{LOOPBACK}:{port}",
        options=[
            ("grpc.initial_reconnect_backoff_ms", 1),
            ("grpc.min_reconnect_backoff_ms", 1),
            ("grpc.max_reconnect_backoff_ms", 10),
            ("grpc.enable_http_proxy", 0),
        ],
    )
    call = channel.unary_unary(GET_SYSTEM_INFO)  # bytes in, bytes out
    with tempfile.TemporaryFile() as errlog:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errlog
        )
        deadline = t0 + timeout_s
        try:
            def check_alive() -> None:
                if proc.poll() is not None:
                    errlog.seek(0)
                    tail = errlog.read()[-2000:].decode(errors="replace")
                    raise TrialError(f"exited with {proc.returncode}: {tail.strip()}")
                if time.perf_counter() > deadline:
                    raise TrialError(f"not ready after {timeout_s:.0f} s")

            while not _tcp_accepting(port):
                check_alive()
                time.sleep(POLL_INTERVAL_S)
            t_listen = time.perf_counter()

            while True:
                try:
                    call(b"", timeout=max(0.05, deadline - time.perf_counter()))
                    break
                except grpc.RpcError:
                    check_alive()
                    time.sleep(POLL_INTERVAL_S)
            t_ready = time.perf_counter()
        finally:
            channel.close()
            proc.send_signal(stop_signal)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return (t_listen - t0) * 1e3, (t_ready - t0) * 1e3


def p90(xs: list[float]) -> float:
    if len(xs) < 2:
        return xs[0]
    return statistics.quantiles(xs, n=10, method="inclusive")[8]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", "--trials", type=int, default=20, help="timed trials per target (default 20)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed trials first, to warm caches (default 1)")
    ap.add_argument("--timeout", type=float, default=30.0, help="per-trial readiness timeout, s")
    ap.add_argument("--only", action="append", metavar="NAME", help="run only this target (repeatable)")
    args = ap.parse_args()

    targets = make_targets()
    if args.only:
        unknown = set(args.only) - {t.name for t in targets}
        if unknown:
            ap.error(f"unknown target(s) {sorted(unknown)}; have {[t.name for t in targets]}")
        targets = [t for t in targets if t.name in args.only]

    for t in targets:
        exe = t.argv[0]
        if not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
            t.error = f"skipped: {exe} not found"
            print(f"[{t.name}] {t.error}", file=sys.stderr)
            continue
        print(f"[{t.name}] {args.warmup} warm-up + {args.trials} trials ...", file=sys.stderr)
        try:
            for i in range(args.warmup + args.trials):
                listen, ready = run_trial(t.argv, args.timeout)
                if i >= args.warmup:
                    t.listen_ms.append(listen)
                    t.ready_ms.append(ready)
        except TrialError as e:
            t.error = f"failed: {e}"
            print(f"[{t.name}] {t.error}", file=sys.stderr)

    ref = next((t for t in targets if t.reference and t.ready_ms), None)
    ref_median = statistics.median(ref.ready_ms) if ref else None

    print()
    print(f"start-up to first GetSystemInfo OK, {args.trials} trials"
          f" (load avg {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs)")
    hdr = f"{'target':<20} {'median ms':>10} {'p90 ms':>9} {'min ms':>9} {'listen med':>11} {'vs ' + (ref.name if ref else 'ref'):>22}"
    print(hdr)
    print("-" * len(hdr))
    for t in targets:
        if not t.ready_ms:
            print(f"{t.name:<20} {t.error or 'no data'}")
            continue
        med = statistics.median(t.ready_ms)
        ratio = f"{med / ref_median:.2f}x" if ref_median else "n/a"
        print(f"{t.name:<20} {med:>10.1f} {p90(t.ready_ms):>9.1f} {min(t.ready_ms):>9.1f}"
              f" {statistics.median(t.listen_ms):>11.1f} {ratio:>22}")
    return 0 if all(t.ready_ms or (t.error or "").startswith("skipped") for t in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
