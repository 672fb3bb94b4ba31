"""A real S3 API on loopback (moto's server, started per test session) for the lake tests."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import requests

BUCKET = "lake"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def running_s3() -> Iterator[str]:
    """A real S3 API (moto's server) on loopback with one bucket; CI must have moto, elsewhere it is optional."""
    if importlib.util.find_spec("moto") is None and os.environ.get("CI") != "true":
        pytest.skip("moto is not installed; pip install 'moto[server]' to run the S3 tests")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-p", str(port), "-H", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(endpoint, timeout=1)
                break
            except requests.ConnectionError:
                assert server.poll() is None, "moto server exited at start"
                assert time.monotonic() < deadline, "moto server did not answer within 30 s"
                time.sleep(0.2)
        assert requests.put(f"{endpoint}/{BUCKET}", timeout=10).status_code == 200
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=10)
