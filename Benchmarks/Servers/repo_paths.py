"""Where the benchmarks live; importing this module also puts this folder and Tests/Integration/support on
``sys.path`` (the benchmarks share the integration tests' ``build_support``, ``netutil`` and ``h2load``)."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent.parent  # Benchmarks/Servers -> the repository
SUPPORT_DIR = REPO_ROOT / "Tests" / "Integration" / "support"

for _p in (str(BENCH_DIR), str(SUPPORT_DIR)):
    if _p not in sys.path:
        sys.path.insert(0, _p)
