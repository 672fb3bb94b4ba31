"""Two kinds of licensed users: API users (seats) and conventional users (HTTP Basic on OData), each with its limit."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests

from airflow_provider_acumatica.sandbox import SandboxConfig, SandboxServer
from tests.sandbox.support import CLIENT_ID, CLIENT_SECRET, TIMEOUT, access_token, bearer, get_customers

ODATA_PATHS = ("/t/Company/api/odata/gi/BI-Customers", "/t/Company/api/odata/dac/SOOrder")


def basic_session() -> requests.Session:
    session = requests.Session()
    session.auth = ("admin", "123")
    return session


@pytest.mark.parametrize("path", ODATA_PATHS)
def test_basic_on_odata_is_a_conventional_user_with_its_own_limit(
    make_sandbox: Callable[..., SandboxServer], path: str
) -> None:
    server = make_sandbox(max_users=2, max_seats=1)
    users = [basic_session() for _ in range(2)]
    for session in users:
        assert session.get(server.base_url + path, params={"$top": "1"}, timeout=TIMEOUT).status_code == 200
    refused = basic_session().get(server.base_url + path, timeout=TIMEOUT)
    assert refused.status_code == 429
    body = refused.json()
    assert body["message"] == "An error has occurred."
    assert "User Login Limit" in body["exceptionMessage"] and "concurrent users" in body["exceptionMessage"]
    assert "API Login Limit" not in body["exceptionMessage"]
    assert users[0].get(server.base_url + path, params={"$top": "1"}, timeout=TIMEOUT).status_code == 200
    assert get_customers(server.base_url, auth=("admin", "123")).status_code == 200
    stats = server.stats()
    assert (stats["users_in_use"], stats["peak_users"], stats["max_users"]) == (2, 2, 2)
    assert (stats["seats_in_use"], stats["max_seats"]) == (1, 1)


def test_full_api_seats_do_not_stop_conventional_users(make_sandbox: Callable[..., SandboxServer]) -> None:
    server = make_sandbox(max_seats=1)
    assert get_customers(server.base_url, auth=("admin", "123")).status_code == 200
    assert get_customers(server.base_url, auth=("admin", "123")).status_code == 429
    for path in ODATA_PATHS:
        assert basic_session().get(server.base_url + path, params={"$top": "1"}, timeout=TIMEOUT).status_code == 200
    assert server.stats()["users_in_use"] == 2


def test_bearer_on_odata_is_an_api_user(make_sandbox: Callable[..., SandboxServer]) -> None:
    server = make_sandbox(max_users=0)
    headers = bearer(access_token(server.base_url))
    for path in ODATA_PATHS:
        answer = requests.get(server.base_url + path, params={"$top": "1"}, headers=headers, timeout=TIMEOUT)
        assert answer.status_code == 200
    stats = server.stats()
    assert (stats["seats_in_use"], stats["users_in_use"]) == (1, 0)


def test_a_client_id_used_as_api_key_on_odata_is_an_api_user(make_sandbox: Callable[..., SandboxServer]) -> None:
    server = make_sandbox(max_users=0)
    session = requests.Session()
    session.auth = (CLIENT_ID, CLIENT_SECRET)
    assert session.get(server.base_url + ODATA_PATHS[0], params={"$top": "1"}, timeout=TIMEOUT).status_code == 200
    assert server.stats()["seats_in_use"] == 1


def test_signing_out_frees_a_conventional_user(make_sandbox: Callable[..., SandboxServer]) -> None:
    server = make_sandbox(max_users=1)
    session = basic_session()
    assert session.get(server.base_url + ODATA_PATHS[1], params={"$top": "1"}, timeout=TIMEOUT).status_code == 200
    assert session.post(server.base_url + "/entity/auth/logout", timeout=TIMEOUT).status_code == 204
    stats = server.stats()
    assert (stats["users_in_use"], stats["user_sessions"]["closed"]) == (0, 1)
    assert basic_session().get(server.base_url + ODATA_PATHS[0], timeout=TIMEOUT).status_code == 200


def test_negative_max_users_is_refused() -> None:
    with pytest.raises(ValueError, match="max_users"):
        SandboxConfig(max_users=-1)
