"""API seats: the license limit, what frees a seat, and one-request-at-a-time per session."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import requests

from airflow_provider_acumatica.sandbox import SandboxServer
from tests.sandbox.support import TIMEOUT, access_token, bearer, get_customers, logout, seats, token


def try_login(base_url: str) -> requests.Response:
    return requests.post(base_url + "/entity/auth/login", json={"name": "admin", "password": "123"}, timeout=TIMEOUT)


def test_third_login_on_two_seats_is_api_login_limit(
    sandbox_login: Callable[..., requests.Session], sandbox: SandboxServer
) -> None:
    first = sandbox_login()
    sandbox_login()
    refused = try_login(sandbox.base_url)
    assert refused.status_code == 429
    body = refused.json()
    assert "API Login Limit" in body["exceptionMessage"]
    assert body["message"] == "An error has occurred."
    assert "Set-Cookie" not in refused.headers
    assert logout(sandbox.base_url, first).status_code == 204
    assert try_login(sandbox.base_url).status_code == 204
    assert sandbox.stats()["peak_seats"] == 2


def test_token_endpoint_past_the_limit(sandbox_login: Callable[..., requests.Session], sandbox: SandboxServer) -> None:
    sandbox_login()
    sandbox_login()
    refused = token(sandbox.base_url)
    assert refused.status_code == 429
    assert refused.json()["error"] == "temporarily_unavailable"
    assert "API Login Limit" in refused.json()["error_description"]
    assert sandbox.stats()["token_grants"] == {}


def test_refused_refresh_keeps_the_refresh_token(sandbox: SandboxServer) -> None:
    payload = token(sandbox.base_url).json()
    logout(sandbox.base_url, headers=bearer(payload["access_token"]))
    sandbox.set_faults(max_seats=0)
    refused = token(sandbox.base_url, grant_type="refresh_token", refresh_token=payload["refresh_token"])
    assert refused.status_code == 429
    sandbox.set_faults(max_seats=None)
    again = token(sandbox.base_url, grant_type="refresh_token", refresh_token=payload["refresh_token"])
    assert again.status_code == 200


def test_bearer_that_needs_a_new_session_past_the_limit(
    sandbox_login: Callable[..., requests.Session], sandbox: SandboxServer
) -> None:
    value = access_token(sandbox.base_url)
    logout(sandbox.base_url, headers=bearer(value))
    sandbox_login()
    sandbox_login()
    answer = get_customers(sandbox.base_url, headers=bearer(value))
    assert answer.status_code == 429
    assert "API Login Limit" in answer.json()["exceptionMessage"]


def test_max_seats_changes_at_runtime(sandbox_login: Callable[..., requests.Session], sandbox: SandboxServer) -> None:
    sandbox.set_faults(max_seats=3)
    for _ in range(3):
        sandbox_login()
    assert try_login(sandbox.base_url).status_code == 429
    assert sandbox.stats()["max_seats"] == 3


def test_config_max_seats(make_sandbox: Callable[..., SandboxServer]) -> None:
    server = make_sandbox(max_seats=1)
    assert try_login(server.base_url).status_code == 204
    assert try_login(server.base_url).status_code == 429


def test_idle_sessions_time_out_and_free_their_seats(make_sandbox: Callable[..., SandboxServer]) -> None:
    server = make_sandbox(session_timeout=0.5)
    session = requests.Session()
    assert (
        session.post(
            server.base_url + "/entity/auth/login", json={"name": "admin", "password": "123"}, timeout=TIMEOUT
        ).status_code
        == 204
    )
    access_token(server.base_url)
    assert seats(server.base_url) == 2
    time.sleep(0.7)
    assert seats(server.base_url) == 0
    assert server.stats()["sessions"]["expired"] == 2
    assert get_customers(server.base_url, session).status_code == 401


def test_activity_keeps_a_session_alive(make_sandbox: Callable[..., SandboxServer]) -> None:
    server = make_sandbox(session_timeout=0.45)
    session = requests.Session()
    session.post(server.base_url + "/entity/auth/login", json={"name": "admin", "password": "123"}, timeout=TIMEOUT)
    for _ in range(3):
        time.sleep(0.2)
        assert get_customers(server.base_url, session).status_code == 200
    assert server.stats()["sessions"]["expired"] == 0


def concurrent_elapsed(calls: list[Callable[[], requests.Response]]) -> float:
    answers: list[int] = []
    threads = [threading.Thread(target=lambda call=call: answers.append(call().status_code)) for call in calls]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [200] * len(calls)
    return time.monotonic() - started


def test_one_session_serves_one_request_at_a_time(
    sandbox_login: Callable[..., requests.Session], sandbox: SandboxServer
) -> None:
    latency = 0.3
    sandbox.set_faults(latency_ms=int(latency * 1000))
    first, second = sandbox_login(), sandbox_login()
    cookies = dict(first.cookies)
    same_session = concurrent_elapsed([lambda: get_customers(sandbox.base_url, cookies=cookies)] * 2)
    assert same_session >= 1.8 * latency
    two_sessions = concurrent_elapsed(
        [lambda: get_customers(sandbox.base_url, first), lambda: get_customers(sandbox.base_url, second)]
    )
    assert two_sessions < 1.6 * latency


def test_issued_credentials_lists_every_token_and_session(sandbox: SandboxServer) -> None:
    session = requests.Session()
    session.post(sandbox.base_url + "/entity/auth/login", json={"name": "admin", "password": "123"}, timeout=TIMEOUT)
    grant = token(sandbox.base_url).json()
    issued = set(sandbox.issued_credentials())
    assert session.cookies[".ASPXAUTH"] in issued
    assert session.cookies["ASP.NET_SessionId"] in issued
    assert {grant["access_token"], grant["refresh_token"]} <= issued
