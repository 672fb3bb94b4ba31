"""The servers a real deployment needs beside Airflow, started per test module from Debian's packages."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.deployment.postgres import PostgresServer, server_binaries
from tests.deployment.redis import RedisServer, server_binary


def _missing(reason: str) -> None:
    """In CI a missing server fails the test (`.ci/run` installs it); elsewhere it skips."""
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    binaries = server_binaries()
    if binaries is None:
        _missing("PostgreSQL server binaries (initdb, postgres) are not installed: run .ci/install-postgres")
    assert binaries is not None
    server = PostgresServer(binaries)
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    binary = server_binary()
    if binary is None:
        _missing("redis-server is not installed: run .ci/install-redis")
    assert binary is not None
    server = RedisServer(binary)
    try:
        yield server.start()
    finally:
        server.stop()
