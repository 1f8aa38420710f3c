"""What /proc says about a server process: CPU time, RSS, system calls; finding and killing the server
process the SDK started (time-skipping scenarios)."""

from __future__ import annotations

import os
import resource
import signal
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_status_kib(pid: int, field_name: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field_name} not in /proc/{pid}/status")


def rss_mib(pid: int, field_name: str = "VmRSS") -> float:
    return proc_status_kib(pid, field_name) / 1024.0


def stat_fields(pid: int) -> list[str]:
    """/proc/PID/stat from field #3 (state) on."""
    with open(f"/proc/{pid}/stat") as f:
        data = f.read()
    return data[data.rindex(")") + 2 :].split()


def proc_cpu_s(pid: int) -> float:
    """utime + stime of the process (all threads), seconds."""
    rest = stat_fields(pid)
    return (int(rest[11]) + int(rest[12])) / CLK_TCK


def proc_io_syscalls(pid: int) -> int:
    """Read-like plus write-like system calls the process has made (/proc/PID/io syscr + syscw): how
    well a server batches its socket reads and writes."""
    with open(f"/proc/{pid}/io") as f:
        fields = dict(line.split(":", 1) for line in f)
    return int(fields["syscr"]) + int(fields["syscw"])


def self_cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


class UsageSince:
    """From its making on: the wall time, the server process's CPU time and this process's CPU time."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._server_cpu0, self._python_cpu0, self._t0 = proc_cpu_s(pid), self_cpu_s(), time.perf_counter()

    def wall_s(self) -> float:
        return time.perf_counter() - self._t0

    def server_cpu_s(self) -> float:
        return proc_cpu_s(self.pid) - self._server_cpu0

    def python_cpu_s(self) -> float:
        return self_cpu_s() - self._python_cpu0


def cmdline_of(pid: int) -> list[str]:
    """The process's argv, or [] if it is gone."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def find_child_server(port: int, timeout_s: float = 5.0) -> int:
    """PID of our child process whose command line contains ``port`` (the SDK-launched server)."""
    me = os.getpid()
    deadline = time.monotonic() + timeout_s
    while True:
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            try:
                if int(stat_fields(pid)[1]) != me:
                    continue
            except (OSError, ValueError, IndexError):
                continue
            if str(port) in cmdline_of(pid):
                return pid
        if time.monotonic() > deadline:
            raise RuntimeError(f"cannot find the server process for port {port}")
        time.sleep(0.05)


def ensure_dead(pid: int, cmdline: list[str]) -> None:
    """SIGKILL ``pid`` if it is still the same (non-zombie) process, then wait for it."""
    if not cmdline or cmdline_of(pid) != cmdline:
        _reap(pid)
        return
    try:
        if stat_fields(pid)[0] != "Z":
            os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if _reap(pid):
            return
        try:
            if stat_fields(pid)[0] == "Z":
                return  # dead; the SDK's runtime will reap it
        except OSError:
            return
        time.sleep(0.02)


def _reap(pid: int) -> bool:
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == pid
    except ChildProcessError:
        return not os.path.exists(f"/proc/{pid}")
