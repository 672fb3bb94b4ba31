"""HTTPS with a self-signed certificate made for the test."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests

from airflow_provider_acumatica.sandbox import SandboxServer
from tests.sandbox.support import TIMEOUT


def test_https_with_a_self_signed_certificate(
    make_sandbox: Callable[..., SandboxServer], tls_certificate: tuple[str, str]
) -> None:
    cert_path, key_path = tls_certificate
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
    make_sandbox: Callable[..., SandboxServer], tls_certificate: tuple[str, str]
) -> None:
    cert_path, key_path = tls_certificate
    server = make_sandbox(tls_cert=cert_path, tls_key=key_path)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(server.base_url.replace("https://", "http://") + "/_sandbox/stats", timeout=TIMEOUT)
    assert requests.get(server.base_url + "/_sandbox/stats", verify=cert_path, timeout=TIMEOUT).status_code == 200
