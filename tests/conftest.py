"""Shared fixtures: one sandbox for the whole run, reset before each test that asks for it."""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from airflow_provider_acumatica.sandbox import SandboxConfig, SandboxServer
from tests.airflow_runs import AirflowHome
from tests.s3 import running_s3

SANDBOX_RECORDS = 250


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(records=SANDBOX_RECORDS)) as server:
        yield server


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """An S3 API on loopback with one bucket, `tests.s3.BUCKET`."""
    yield from running_s3()


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


@pytest.fixture(scope="session")
def tls_certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate and key for 127.0.0.1, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder: Path = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_path), str(key_path)


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> AirflowHome:
    """A migrated Airflow home for running DAGs with `airflow dags test`."""
    return AirflowHome(tmp_path_factory.mktemp("airflow-home"))


@pytest.fixture(autouse=True)
def fresh_refresh_token_memory() -> Iterator[None]:
    """Refresh tokens kept in this process (no Airflow database here) must not leak from test to test."""
    from airflow_provider_acumatica.auth.token_store import ProcessBackend

    ProcessBackend._tokens.clear()
    yield
    ProcessBackend._tokens.clear()
