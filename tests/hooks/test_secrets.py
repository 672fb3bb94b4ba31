"""No password, client secret, token or cookie value reaches a log line or an exception text."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from airflow_provider_acumatica.auth.oauth2 import OAuth2Auth, OAuth2AuthorizationCodeAuth
from airflow_provider_acumatica.exceptions import AcumaticaError
from airflow_provider_acumatica.hooks.acumatica import AcumaticaHook
from airflow_provider_acumatica.retry_policy import RetryPolicy
from airflow_provider_acumatica.sandbox import SandboxConfig, SandboxServer
from airflow_provider_acumatica.sandbox.config import OAuthClient, SandboxUser
from tests.connections import consent_refresh_token, use_connection

PASSWORD = "Pa55-word-for-the-api-user"
SECRET = "cl13nt-secret-never-logged"
FAST = RetryPolicy(max_retries=3, backoff_base=0.01, backoff_cap=0.02, retry_after_cap=0.02)
STRATEGIES = [
    "oauth2_password",
    "oauth2_authorization_code",
    "oauth2_client_credentials",
    "api_key",
    "basic",
    "session",
]


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    config = SandboxConfig(
        records=30,
        max_seats=4,
        allow_client_credentials=True,
        users=(SandboxUser(password=PASSWORD),),
        clients=(OAuthClient(secret=SECRET),),
    )
    with SandboxServer(config) as running:
        yield running


def collected_secrets(hook: AcumaticaHook, refresh_token: str | None) -> set[str]:
    values = {PASSWORD, SECRET}
    if refresh_token:
        values.add(refresh_token)
    if isinstance(hook.auth, OAuth2AuthorizationCodeAuth):
        values.update(t for t in [hook.auth.store.read()] if t)
    if isinstance(hook.auth, OAuth2Auth) and hook.auth.token is not None:
        values.add(hook.auth.token.access_token)
        values.update(t for t in [hook.auth.token.refresh_token] if t)
    return {value for value in values if value}


@pytest.mark.parametrize("auth_type", STRATEGIES)
def test_no_secret_in_debug_logs_or_errors(
    monkeypatch: pytest.MonkeyPatch,
    server: SandboxServer,
    auth_type: str,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger=AcumaticaHook.__module__)
    server.reset(faults=True)
    server.set_faults(token_expire_after_requests=2, session_expire_after_requests=3, rate_429=0.2, fault_seed=1)
    refresh_token = (
        consent_refresh_token(server.base_url, client_secret=SECRET)
        if auth_type == "oauth2_authorization_code"
        else None
    )
    extra = {"client_secret": SECRET} if auth_type not in {"basic", "session"} else {}
    if refresh_token:
        extra["refresh_token"] = refresh_token
    conn_id = use_connection(monkeypatch, server.base_url, auth_type, password=PASSWORD, **extra)
    hook = AcumaticaHook(conn_id, retry_policy=FAST)
    cookies: set[str] = set()
    with hook:
        list(hook.iter_records("Customer", page_size=5))
        cookies = {cookie.value for cookie in hook.get_conn().cookies if cookie.value and len(cookie.value) > 8}
        secrets = collected_secrets(hook, refresh_token) | cookies
    errors = []
    bad = AcumaticaHook(
        use_connection(monkeypatch, server.base_url, auth_type, "acumatica_bad", password=PASSWORD + "x", **extra),
        retry_policy=FAST,
    )
    try:
        with bad:
            list(bad.iter_records("Customer"))
    except AcumaticaError as err:
        errors.append(str(err))
    errors.append(bad.test_connection()[1])
    out, err = capfd.readouterr()
    haystack = "\n".join([caplog.text, out, err, *errors])
    assert len(secrets) >= 2
    assert "-> 200" in caplog.text, "the DEBUG audit lines must be part of what is searched"
    leaked = [secret for secret in secrets | {PASSWORD + "x"} if secret in haystack]
    assert leaked == []
