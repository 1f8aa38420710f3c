"""What a results file records about the machine and the run: CPU, memory, load averages (at the start,
when each target started, at the end), versions, the binaries, the worker settings."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from pathlib import Path

import temporalio

from repo_paths import REPO_ROOT
from sdk_driver import WORKER_SETTINGS
from servers import Target, timekeeper_bin


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def nproc() -> str:
    try:
        return subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return str(os.cpu_count())


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def mem_total() -> str:
    try:
        return f"{meminfo_kib('MemTotal') / 1024 / 1024:.1f} GiB"
    except Exception:  # noqa: BLE001
        return "unknown"


def meminfo_kib(name: str) -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    raise KeyError(name)


def git_head() -> str:
    try:
        r = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
                           capture_output=True, text=True, check=True)
        return r.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def binary_desc(path: str) -> str:
    p = Path(path)
    if not p.exists():
        return f"{path} (missing)"
    mtime = time.strftime("%Y-%m-%d %H:%M", time.localtime(p.stat().st_mtime))
    return f"{path} (modified {mtime}, {p.stat().st_size / 1e6:.0f} MB)"


class RunRecord:
    """A run as it goes: the load average at its start, when each target first started and at its end; its
    length; the timekeeper binary as it was when its target first started and after its target's last run
    (the report warns if it was replaced in between)."""

    def __init__(self, tk_path: str) -> None:
        self.tk_path = tk_path
        self.load_start, self._started = loadavg(), time.perf_counter()
        self.tk_descs = (binary_desc(tk_path), binary_desc(tk_path))
        self.target_loads: dict[str, str] = {}
        self.load_end, self.elapsed_s = "", 0.0

    def target_starting(self, target: Target, first_round: bool = True) -> str:
        """Records the load average (the first time for each target) and, in the first round, the
        timekeeper binary; returns the load average now."""
        load = loadavg()
        self.target_loads.setdefault(target.name, load)
        if first_round and target.argv[0] == self.tk_path:
            self.tk_descs = (binary_desc(self.tk_path), self.tk_descs[1])
        return load

    def target_done(self, target: Target) -> None:
        if target.argv[0] == self.tk_path:
            self.tk_descs = (self.tk_descs[0], binary_desc(self.tk_path))

    def finish(self) -> None:
        self.load_end, self.elapsed_s = loadavg(), time.perf_counter() - self._started


def machine_facts(targets: list[Target], run: RunRecord, unsandboxed: bool,
                  worker_label: str = "worker settings", worker: bool = True) -> list[tuple[str, str]]:
    """The facts every results file records: machine, load, versions, binaries, worker settings (unless the
    benchmark runs no worker, ``worker=False``)."""
    _, tk_how = timekeeper_bin()
    tk_desc = f"{tk_how}: {run.tk_descs[0]}"
    if run.tk_descs[1] != run.tk_descs[0]:
        tk_desc += f" -- REPLACED while it ran (was {run.tk_descs[1]} at its end)"
    facts = [
        ("date", time.strftime("%Y-%m-%d %H:%M:%S %Z")),
        ("repo HEAD", git_head()),
        ("nproc", nproc()),
        ("CPU", cpu_model()),
        ("memory", mem_total()),
        ("load average (1/5/15 min) at start", run.load_start),
        ("load average when each target started", "; ".join(f"{k}: {v}" for k, v in run.target_loads.items())),
        ("load average at end", run.load_end),
        ("run time", f"{run.elapsed_s / 60:.1f} min"),
        ("Python", platform.python_version()),
        ("temporalio", temporalio.__version__),
        ("timekeeper binary", tk_desc),
        ("targets", "; ".join(f"{t.name} = `{' '.join(t.argv)}`" for t in targets)),
    ]
    if worker:
        facts.append((worker_label, ", ".join(f"{k}={v}" for k, v in WORKER_SETTINGS.items())
                      + ", pollers: SDK defaults (5 workflow-task, 5 activity-task)"
                      + f", workflow runner: {'unsandboxed' if unsandboxed else 'sandboxed (default)'}"))
    return facts
