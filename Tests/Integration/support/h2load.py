"""Held HTTP/2 load: many connections, each with many concurrent gRPC streams, kept open in a thread.

``HeldLoad(port, connections=200, streams=20)`` opens the connections (``h2client.H2Client``) and keeps
``streams`` requests in flight on each, of two kinds:

* long polls (``PollWorkflowTaskQueue`` on queues nobody feeds, ``grpc-timeout`` ``poll_timeout``), which
  the server holds; when one is answered (empty, at its deadline) another takes its place;
* ``GetSystemInfo`` calls held by the client: HEADERS and the message are sent at once, END_STREAM only
  ``hold_s`` later; once answered another is opened.

Every answer is checked (gRPC status 0, and the empty poll response a long poll gets at its deadline);
anything else is recorded in ``failures``. ``start()`` returns once every stream is open; ``stop()``
closes all connections.

``LoadProcess`` runs the same load in a child Python process (``python h2load.py PORT ...``), so that
its work on the GIL does not slow an SDK client and worker in the measuring process: that is how
Tests/Integration/test_load_held.py and Benchmarks/Servers/load.py use it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import selectors
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from h2client import GET_SYSTEM_INFO, OK, POLL_WORKFLOW_TASK_QUEUE, H2Client, poll_request


@dataclass
class LoadStats:
    calls_answered: int = 0  # GetSystemInfo calls answered OK
    polls_answered: int = 0  # long polls answered (empty, at their deadline)
    failures: list[str] = field(default_factory=list)
    open_streams: int = 0  # requests in flight right now
    peak_streams: int = 0


class HeldLoad:
    def __init__(self, port: int, *, connections: int = 200, streams: int = 20, polls: int | None = None,
                 hold_s: float = 3.0, poll_timeout: str = "50S", queue_prefix: str = "held-load") -> None:
        self.port, self.connections, self.streams = port, connections, streams
        self.polls = streams // 2 if polls is None else polls  # long polls per connection; the rest are calls
        self.hold_s, self.poll_timeout, self.queue_prefix = hold_s, poll_timeout, queue_prefix
        self.clients: list[H2Client] = []
        self.stats = LoadStats()
        self._held: dict[tuple[int, int], float] = {}  # (client index, stream id) -> when to end it
        self._kinds: dict[tuple[int, int], str] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> "HeldLoad":
        for index in range(self.connections):
            client = H2Client(self.port, timeout=30).connect()
            self.clients.append(client)
            for slot in range(self.streams):
                self._open(index, "poll" if slot < self.polls else "call")
        self._update_open()
        self._thread = threading.Thread(target=self._run, name="held-load", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> LoadStats:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        for client in self.clients:
            client.close()
        self.clients = []
        return self.stats

    def __enter__(self) -> "HeldLoad":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _open(self, index: int, kind: str) -> None:
        client = self.clients[index]
        if kind == "poll":
            queue = f"{self.queue_prefix}-{index}"
            stream = client.open(POLL_WORKFLOW_TASK_QUEUE, poll_request(queue), grpc_timeout=self.poll_timeout)
        else:
            stream = client.open(GET_SYSTEM_INFO, b"", end_stream=False)
            self._held[(index, stream)] = time.monotonic() + self.hold_s
        self._kinds[(index, stream)] = kind

    def _run(self) -> None:
        selector = selectors.DefaultSelector()
        for index, client in enumerate(self.clients):
            selector.register(client.fileno(), selectors.EVENT_READ, index)
        swept = time.monotonic()
        while not self._stop.is_set():
            try:
                if time.monotonic() - swept > 1.0:  # answers read while sending, outside the selector's view
                    swept = time.monotonic()
                    for index in range(len(self.clients)):
                        self._collect(index)
                for key, _ in selector.select(timeout=0.1):
                    index = key.data
                    client = self.clients[index]
                    if not client.receive(0) and client.eof:
                        selector.unregister(key.fd)
                        self._fail(f"connection {index} closed by the server (goaway={client.goaway})")
                    self._collect(index)
                self._end_held()
                self._update_open()
            except Exception as error:  # noqa: BLE001 -- a broken load is a failure, not a hang
                self._fail(f"load thread: {type(error).__name__}: {error}")
                return
        selector.close()

    def _end_held(self) -> None:
        now = time.monotonic()
        due = [key for key, when in self._held.items() if when <= now]
        for index, stream in due:
            del self._held[(index, stream)]
            client = self.clients[index]
            if not client.replies[stream].done:
                client.end(stream)

    def _collect(self, index: int) -> None:
        client = self.clients[index]
        for stream in [s for s, reply in client.replies.items() if reply.done]:
            reply = client.replies.pop(stream)
            kind = self._kinds.pop((index, stream))
            self._held.pop((index, stream), None)
            if reply.grpc_status != OK or reply.reset not in (None, 0):
                self._fail(f"{kind} on connection {index}: {reply.describe()}")
            elif kind == "poll":
                self.stats.polls_answered += 1
            else:
                self.stats.calls_answered += 1
            if not self._stop.is_set() and not client.eof:
                self._open(index, kind)

    def _update_open(self) -> None:
        with self._lock:
            self.stats.open_streams = len(self._kinds)
            self.stats.peak_streams = max(self.stats.peak_streams, self.stats.open_streams)

    def _fail(self, message: str) -> None:
        with self._lock:
            if len(self.stats.failures) < 100:
                self.stats.failures.append(message)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


class LoadProcess:
    """``HeldLoad`` in a child process; ``stats()`` asks it for its current figures."""

    def __init__(self, port: int, *, connections: int = 200, streams: int = 20, hold_s: float = 3.0,
                 queue_prefix: str = "held-load") -> None:
        self.argv = [sys.executable, str(Path(__file__).resolve()), str(port), "--connections", str(connections),
                     "--streams", str(streams), "--hold", str(hold_s), "--queue-prefix", queue_prefix]
        self.proc: subprocess.Popen[str] | None = None
        self.open_s = 0.0

    def start(self) -> "LoadProcess":
        started = time.monotonic()
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.stats()  # answers once every stream is open
        self.open_s = time.monotonic() - started
        return self

    def stats(self) -> LoadStats:
        assert self.proc is not None and self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("stats\n")
        self.proc.stdin.flush()
        return self._read()

    def stop(self) -> LoadStats:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.close()  # the child closes its connections and prints its last figures
        stats = self._read()
        self.proc.wait(timeout=60)
        return stats

    def _read(self) -> LoadStats:
        assert self.proc is not None and self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the load process exited with {self.proc.wait(timeout=30)}")
        return LoadStats(**json.loads(line))

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="Hold an HTTP/2 load; 'stats' on stdin prints its figures, "
                                                 "end of input stops it (and prints them once more).")
    parser.add_argument("port", type=int)
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--streams", type=int, default=20)
    parser.add_argument("--hold", type=float, default=3.0)
    parser.add_argument("--queue-prefix", default="held-load")
    args = parser.parse_args()
    load = HeldLoad(args.port, connections=args.connections, streams=args.streams, hold_s=args.hold,
                    queue_prefix=args.queue_prefix).start()
    for line in sys.stdin:
        if line.strip() == "stats":
            with load._lock:
                print(json.dumps(dataclasses.asdict(load.stats)), flush=True)
    print(json.dumps(dataclasses.asdict(load.stop())), flush=True)


if __name__ == "__main__":
    main()
