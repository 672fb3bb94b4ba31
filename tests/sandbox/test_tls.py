"""HTTPS with a self-signed certificate made for the test."""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from airflow_provider_acumatica.sandbox import SandboxServer
from tests.sandbox.support import TIMEOUT


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
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


def test_https_with_a_self_signed_certificate(
    make_sandbox: Callable[..., SandboxServer], certificate: tuple[str, str]
) -> None:
    cert_path, key_path = certificate
    server = make_sandbox(tls_cert=cert_path, tls_key=key_path)
    assert server.base_url.startswith("https://127.0.0.1:")
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(server.base_url + "/_sandbox/stats", timeout=TIMEOUT)
    session = requests.Session()
    login = session.post(
        server.base_url + "/entity/auth/login",
        json={"name": "admin", "password": "123"},
        verify=cert_path,
        timeout=TIMEOUT,
    )
    assert login.status_code == 204
    set_cookie = login.raw.headers.getlist("Set-Cookie")
    assert any(line.startswith(".ASPXAUTH=") and "secure" in line for line in set_cookie)
    answer = session.get(
        server.base_url + "/entity/Default/24.200.001/Customer", params={"$top": "1"}, verify=cert_path, timeout=TIMEOUT
    )
    assert answer.status_code == 200
    discovery = session.get(
        server.base_url + "/identity/.well-known/openid-configuration", verify=cert_path, timeout=TIMEOUT
    ).json()
    assert discovery["issuer"].startswith("https://")


def test_plain_http_to_the_tls_port_does_not_break_it(
    make_sandbox: Callable[..., SandboxServer], certificate: tuple[str, str]
) -> None:
    cert_path, key_path = certificate
    server = make_sandbox(tls_cert=cert_path, tls_key=key_path)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(server.base_url.replace("https://", "http://") + "/_sandbox/stats", timeout=TIMEOUT)
    assert requests.get(server.base_url + "/_sandbox/stats", verify=cert_path, timeout=TIMEOUT).status_code == 200
