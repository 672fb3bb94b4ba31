"""Airflow's UI (`airflow api-server`) in a process of its own, and a headless Chromium to look at it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests.airflow_runs import AirflowHome

CHROMIUM = Path("/usr/bin/chromium")
# Without the networking switches Chromium calls Google's services, which a closed network refuses.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STARTUP_SECONDS = 120


def require_chromium() -> None:
    """Skip where there is no browser, except in CI, where `.ci/install-chromium` must have provided it."""
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} is missing: install Debian's chromium package (.ci/install-chromium does)."
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def api_server(home: AirflowHome) -> Iterator[str]:
    """`airflow api-server` on a free loopback port with login switched off; yields its base URL."""
    port = free_port()
    env = home.environment({"AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True"})
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "airflow", "api-server", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_until_healthy(url, process, log)
            yield url
        finally:
            _stop(process)


def _wait_until_healthy(url: str, process: subprocess.Popen[bytes], log: tempfile._TemporaryFileWrapper[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"airflow api-server exited with {process.returncode}:\n{log.read().decode()[-4000:]}")
        try:
            if requests.get(f"{url}/api/v2/monitor/health", timeout=2).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    log.seek(0)
    raise RuntimeError(f"airflow api-server did not answer in {STARTUP_SECONDS} s:\n{log.read().decode()[-4000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """The api-server starts worker processes: signal the whole process group."""
    if process.poll() is None:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait(timeout=10)


@contextmanager
def chromium_profile() -> Iterator[str]:
    """A new empty user-data directory, so no state of an earlier run is reused."""
    profile = tempfile.mkdtemp(prefix="chromium-")
    try:
        yield profile
    finally:
        shutil.rmtree(profile, ignore_errors=True)
