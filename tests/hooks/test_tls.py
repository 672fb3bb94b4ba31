"""The hook over HTTPS: verification is on by default, and `verify` takes a CA bundle."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from airflow_provider_acumatica.exceptions import AcumaticaConfigError
from airflow_provider_acumatica.hooks.acumatica import AcumaticaHook
from airflow_provider_acumatica.sandbox import SandboxServer
from tests.connections import use_connection


def test_self_signed_certificate_given_by_verify(
    monkeypatch: pytest.MonkeyPatch, make_sandbox: Callable[..., SandboxServer], tls_certificate: tuple[str, str]
) -> None:
    cert_path, key_path = tls_certificate
    server = make_sandbox(tls_cert=cert_path, tls_key=key_path)
    assert server.base_url.startswith("https://")
    for auth_type in ("session", "oauth2_password"):
        use_connection(monkeypatch, server.base_url, auth_type, verify=cert_path)
        with AcumaticaHook() as hook:
            assert len(list(hook.iter_records("Customer", page_size=20))) == 50
            cookies = [cookie for cookie in hook.get_conn().cookies if cookie.name == ".ASPXAUTH"]
            assert all(cookie.secure for cookie in cookies)
    assert server.stats()["seats_in_use"] == 0


def test_verification_is_on_by_default(
    monkeypatch: pytest.MonkeyPatch, make_sandbox: Callable[..., SandboxServer], tls_certificate: tuple[str, str]
) -> None:
    cert_path, key_path = tls_certificate
    server = make_sandbox(tls_cert=cert_path, tls_key=key_path)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    use_connection(monkeypatch, server.base_url, "session")
    with pytest.raises(AcumaticaConfigError, match="TLS certificate verification failed"):
        AcumaticaHook().get_conn()
    ok, message = AcumaticaHook().test_connection()
    assert not ok
    assert "set verify" in message
    assert server.stats()["logins"] == 0
