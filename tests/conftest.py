"""Shared fixtures: one sandbox for the whole run, reset before each test that asks for it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from airflow_provider_acumatica.sandbox import SandboxConfig, SandboxServer

SANDBOX_RECORDS = 250


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(records=SANDBOX_RECORDS)) as server:
        yield server


@pytest.fixture
def sandbox(sandbox_server: SandboxServer) -> SandboxServer:
    """The shared sandbox with no sessions, tokens, counters or faults left by an earlier test."""
    sandbox_server.reset(faults=True)
    return sandbox_server


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., SandboxServer]]:
    """Start a sandbox with its own settings (e.g. a short token TTL); stopped after the test."""
    started: list[SandboxServer] = []

    def start(**settings: Any) -> SandboxServer:
        server = SandboxServer(SandboxConfig(**{"records": 50, **settings})).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def sandbox_login(sandbox: SandboxServer) -> Iterator[Callable[..., requests.Session]]:
    """Cookie-login to the shared sandbox as `admin`; each argument overrides a field of the login body."""
    sessions: list[requests.Session] = []

    def login(base_url: str | None = None, **fields: str) -> requests.Session:
        session = requests.Session()
        body = {"name": "admin", "password": "123", "tenant": "Company", "branch": "HQ", **fields}
        answer = session.post(f"{base_url or sandbox.base_url}/entity/auth/login", json=body, timeout=10)
        assert answer.status_code == 204, answer.text
        sessions.append(session)
        return session

    yield login
    for session in sessions:
        session.close()
