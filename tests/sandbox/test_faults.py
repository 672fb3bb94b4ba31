"""Every injected fault, seen from a client over HTTP, and how faults are changed at runtime."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from airflow_provider_acumatica.sandbox import FaultSettings, SandboxServer
from tests.sandbox.support import TIMEOUT, access_token, bearer, get_customers, seats, token


@pytest.fixture
def client(sandbox_login: Callable[..., requests.Session]) -> requests.Session:
    return sandbox_login()


def set_faults(sandbox: SandboxServer, **settings: Any) -> requests.Response:
    return requests.post(sandbox.base_url + "/_sandbox/faults", json=settings, timeout=TIMEOUT)


def test_429_without_retry_after(sandbox: SandboxServer, client: requests.Session) -> None:
    set_faults(sandbox, rate_429=1.0)
    answer = get_customers(sandbox.base_url, client)
    assert answer.status_code == 429
    assert "Retry-After" not in answer.headers
    assert answer.json()["message"] == "An error has occurred."
    assert "API Login Limit" not in answer.text
    assert sandbox.stats()["faults_injected"] == {"429": 1}


def test_429_with_retry_after(sandbox: SandboxServer, client: requests.Session) -> None:
    set_faults(sandbox, rate_429=1.0, retry_after_share=1.0, retry_after_seconds=7)
    answer = get_customers(sandbox.base_url, client)
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "7"


def test_retry_after_share_mixes_both(sandbox: SandboxServer, client: requests.Session) -> None:
    set_faults(sandbox, rate_429=1.0, retry_after_share=0.5, fault_seed=11)
    headers = [get_customers(sandbox.base_url, client).headers.get("Retry-After") for _ in range(20)]
    assert "1" in headers and None in headers


def test_500_has_the_px_error_shape(sandbox: SandboxServer, client: requests.Session) -> None:
    set_faults(sandbox, rate_500=1.0)
    answer = get_customers(sandbox.base_url, client)
    assert answer.status_code == 500
    assert set(answer.json()) == {"message", "exceptionMessage", "exceptionType", "stackTrace"}


@pytest.mark.parametrize(("setting", "status"), [("rate_502", 502), ("rate_503", 503)])
def test_gateway_errors_are_iis_html(
    sandbox: SandboxServer, client: requests.Session, setting: str, status: int
) -> None:
    set_faults(sandbox, **{setting: 1.0})
    answer = get_customers(sandbox.base_url, client)
    assert answer.status_code == status
    assert answer.headers["Content-Type"].startswith("text/html")
    assert str(status) in answer.text
    assert sandbox.stats()["faults_injected"] == {str(status): 1}


def test_dropped_connection(sandbox: SandboxServer, client: requests.Session) -> None:
    set_faults(sandbox, rate_drop=1.0)
    with pytest.raises(requests.exceptions.ConnectionError):
        get_customers(sandbox.base_url, client)
    set_faults(sandbox, rate_drop=0.0)
    assert get_customers(sandbox.base_url, client).status_code == 200
    assert sandbox.stats()["faults_injected"] == {"drop": 1}


def test_malformed_bodies(sandbox: SandboxServer, client: requests.Session) -> None:
    set_faults(sandbox, rate_malformed=1.0, fault_seed=5)
    kinds = set()
    for _ in range(12):
        answer = get_customers(sandbox.base_url, client)
        assert answer.status_code == 200
        assert int(answer.headers["Content-Length"]) == len(answer.content)
        with pytest.raises(json.JSONDecodeError):
            json.loads(answer.text)
        kinds.add(answer.headers["Content-Type"].split(";")[0])
    assert kinds == {"application/json", "text/html"}


def test_latency(sandbox: SandboxServer, client: requests.Session) -> None:
    set_faults(sandbox, latency_ms=250)
    started = time.monotonic()
    assert get_customers(sandbox.base_url, client).status_code == 200
    assert time.monotonic() - started >= 0.25


def test_same_seed_same_faults(sandbox: SandboxServer, client: requests.Session) -> None:
    def statuses() -> list[int]:
        set_faults(sandbox, rate_500=0.3, rate_503=0.3, fault_seed=42)
        return [get_customers(sandbox.base_url, client).status_code for _ in range(15)]

    first = statuses()
    assert first == statuses()
    assert {200, 500, 503} == set(first)


def test_token_expires_after_n_requests(sandbox: SandboxServer) -> None:
    set_faults(sandbox, token_expire_after_requests=2)
    payload = token(sandbox.base_url).json()
    for _ in range(2):
        assert get_customers(sandbox.base_url, headers=bearer(payload["access_token"])).status_code == 200
    expired = get_customers(sandbox.base_url, headers=bearer(payload["access_token"]))
    assert expired.status_code == 401
    assert "invalid_token" in expired.headers["WWW-Authenticate"]
    renewed = token(sandbox.base_url, grant_type="refresh_token", refresh_token=payload["refresh_token"]).json()
    assert get_customers(sandbox.base_url, headers=bearer(renewed["access_token"])).status_code == 200
    assert sandbox.stats()["faults_injected"] == {"token_expired": 1}


def test_token_expires_after_n_seconds(sandbox: SandboxServer) -> None:
    set_faults(sandbox, token_expire_after_seconds=0.4)
    value = access_token(sandbox.base_url)
    assert get_customers(sandbox.base_url, headers=bearer(value)).status_code == 200
    time.sleep(0.5)
    assert get_customers(sandbox.base_url, headers=bearer(value)).status_code == 401


def test_zero_requests_means_tokens_never_work(sandbox: SandboxServer) -> None:
    set_faults(sandbox, token_expire_after_requests=0)
    assert get_customers(sandbox.base_url, headers=bearer(access_token(sandbox.base_url))).status_code == 401


def test_cookie_session_expires_after_n_requests(sandbox: SandboxServer, client: requests.Session) -> None:
    set_faults(sandbox, session_expire_after_requests=2)
    assert [get_customers(sandbox.base_url, client).status_code for _ in range(3)] == [200, 200, 401]
    assert get_customers(sandbox.base_url, client).json() == {"message": "You are not logged in."}
    assert seats(sandbox.base_url) == 0
    assert sandbox.stats()["sessions"]["expired"] == 1


def test_cookie_session_expires_after_n_seconds(sandbox: SandboxServer, client: requests.Session) -> None:
    set_faults(sandbox, session_expire_after_seconds=0.4)
    assert get_customers(sandbox.base_url, client).status_code == 200
    time.sleep(0.5)
    assert get_customers(sandbox.base_url, client).status_code == 401
    assert seats(sandbox.base_url) == 0


def test_token_session_expiry_is_one_401_then_a_new_session(sandbox: SandboxServer) -> None:
    set_faults(sandbox, session_expire_after_requests=1)
    value = access_token(sandbox.base_url)
    statuses = [get_customers(sandbox.base_url, headers=bearer(value)).status_code for _ in range(3)]
    assert statuses == [200, 401, 200]
    assert sandbox.stats()["sessions"]["opened"] == 2


def test_faults_are_changed_and_read_over_http(sandbox: SandboxServer, client: requests.Session) -> None:
    answer = set_faults(sandbox, rate_503=1.0)
    assert answer.status_code == 200
    assert answer.json()["rate_503"] == 1.0
    assert get_customers(sandbox.base_url, client).status_code == 503
    stats = requests.get(sandbox.base_url + "/_sandbox/stats", timeout=TIMEOUT).json()
    assert stats["faults"]["rate_503"] == 1.0
    set_faults(sandbox, rate_503=0)
    assert get_customers(sandbox.base_url, client).status_code == 200


@pytest.mark.parametrize(
    ("settings", "fragment"),
    [
        ({"rate_4299": 0.5}, "unknown fault setting"),
        ({"rate_500": 1.5}, "rate_500"),
        ({"rate_500": 0.6, "rate_502": 0.6}, "add up to at most 1"),
        ({"latency_ms": -1}, "latency_ms"),
        ({"latency_ms": "100"}, "latency_ms"),
        ({"token_expire_after_seconds": 0}, "token_expire_after_seconds"),
        ({"consent": "maybe"}, "consent"),
        ({"faults_on_auth": "yes"}, "faults_on_auth"),
    ],
)
def test_bad_fault_settings_are_refused(sandbox: SandboxServer, settings: dict[str, Any], fragment: str) -> None:
    answer = set_faults(sandbox, **settings)
    assert answer.status_code == 400
    assert fragment in answer.json()["message"]
    assert sandbox.stats()["faults"] == FaultSettings().as_dict()


def test_set_faults_in_python_validates_too(sandbox: SandboxServer) -> None:
    with pytest.raises(ValueError, match="unknown fault setting"):
        sandbox.set_faults(rate_404=1.0)


def test_admin_routes_are_never_faulted(sandbox: SandboxServer) -> None:
    set_faults(sandbox, rate_drop=0.5, rate_500=0.5)
    for _ in range(5):
        assert requests.get(sandbox.base_url + "/_sandbox/stats", timeout=TIMEOUT).status_code == 200


def test_login_is_not_faulted_unless_asked(sandbox: SandboxServer) -> None:
    set_faults(sandbox, rate_503=1.0)
    assert token(sandbox.base_url).status_code == 200
    set_faults(sandbox, faults_on_auth=True)
    assert token(sandbox.base_url).status_code == 503
    login = requests.post(
        sandbox.base_url + "/entity/auth/login", json={"name": "admin", "password": "123"}, timeout=TIMEOUT
    )
    assert login.status_code == 503
    assert seats(sandbox.base_url) == 1


def test_faults_from_the_config(make_sandbox: Callable[..., SandboxServer]) -> None:
    server = make_sandbox(faults=FaultSettings(rate_500=1.0))
    value = access_token(server.base_url)
    assert get_customers(server.base_url, headers=bearer(value)).status_code == 500
    server.reset(faults=True)
    assert server.stats()["faults"]["rate_500"] == 1.0
