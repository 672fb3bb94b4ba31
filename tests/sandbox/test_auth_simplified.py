"""The widely published simplified API, served beside the real one, and HTTP Basic on data routes."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import requests

from airflow_provider_acumatica.sandbox import SandboxServer
from tests.sandbox.support import (
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    TIMEOUT,
    bearer,
    get_customers,
    logout,
    token,
)

ODATA = "/t/Company/api/odata/gi/BI-Customers"


def test_oauth_token_path(sandbox: SandboxServer) -> None:
    answer = token(sandbox.base_url, path="/oauth/token")
    assert answer.status_code == 200
    assert get_customers(sandbox.base_url, headers=bearer(answer.json()["access_token"])).status_code == 200
    assert sandbox.stats()["routes"]["token"] == {"200": 1}


def test_oauth_authorize_path(sandbox: SandboxServer) -> None:
    answer = requests.get(
        sandbox.base_url + "/oauth/authorize",
        params={"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI, "state": "s1"},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert answer.status_code == 302
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["state"] == ["s1"]
    exchange = token(
        sandbox.base_url,
        path="/oauth/token",
        grant_type="authorization_code",
        code=query["code"][0],
        redirect_uri=REDIRECT_URI,
    )
    assert exchange.status_code == 200


def test_api_auth_login_with_company_username_password(sandbox: SandboxServer) -> None:
    session = requests.Session()
    answer = session.post(
        sandbox.base_url + "/api/auth/login",
        json={"company": "Company", "username": "admin", "password": "123"},
        timeout=TIMEOUT,
    )
    assert answer.status_code == 204
    assert {".ASPXAUTH", "ASP.NET_SessionId", "CompanyID"} <= {cookie.name for cookie in session.cookies}
    assert get_customers(sandbox.base_url, session).status_code == 200
    assert sandbox.stats()["logins"] == 1
    assert logout(sandbox.base_url, session).status_code == 204
    assert sandbox.stats()["seats_in_use"] == 0


def test_api_auth_login_wrong_password(sandbox: SandboxServer) -> None:
    answer = requests.post(
        sandbox.base_url + "/api/auth/login",
        json={"company": "Company", "username": "admin", "password": "nope"},
        timeout=TIMEOUT,
    )
    assert answer.status_code == 500
    assert "Invalid credentials" in answer.json()["exceptionMessage"]


def test_api_key_on_the_screen_route(sandbox: SandboxServer) -> None:
    session = requests.Session()
    session.auth = (CLIENT_ID, CLIENT_SECRET)
    first = session.get(sandbox.base_url + "/api/data/AR303000", params={"$top": "3"}, timeout=TIMEOUT)
    assert first.status_code == 200
    assert len(first.json()) == 3
    assert ".ASPXAUTH" in first.cookies
    second = session.get(sandbox.base_url + "/api/data/AR303000", params={"$top": "3"}, timeout=TIMEOUT)
    assert second.json() == first.json()
    assert sandbox.stats()["sessions"]["opened"] == 1
    assert logout(sandbox.base_url, session).status_code == 204
    assert sandbox.stats()["seats_in_use"] == 0


def test_api_key_with_a_wrong_secret_is_a_401(sandbox: SandboxServer) -> None:
    answer = requests.get(sandbox.base_url + "/api/data/AR303000", auth=(CLIENT_ID, "wrong"), timeout=TIMEOUT)
    assert answer.status_code == 401
    assert sandbox.stats()["seats_in_use"] == 0


def test_basic_user_on_odata_reuses_its_session_through_cookies(sandbox: SandboxServer) -> None:
    session = requests.Session()
    session.auth = ("admin", "123")
    first = session.get(sandbox.base_url + ODATA, params={"$top": "2"}, timeout=TIMEOUT)
    assert first.status_code == 200
    assert {".ASPXAUTH", "ASP.NET_SessionId"} <= set(first.cookies.keys())
    second = session.get(sandbox.base_url + ODATA, params={"$top": "2"}, timeout=TIMEOUT)
    assert second.status_code == 200
    assert "Set-Cookie" not in second.headers
    stats = sandbox.stats()
    assert stats["user_sessions"]["opened"] == 1
    assert stats["users_in_use"] == 1
    assert stats["sessions"]["opened"] == 0
    assert logout(sandbox.base_url, session).status_code == 204
    assert sandbox.stats()["users_in_use"] == 0


def test_basic_without_cookies_opens_a_conventional_session_per_request(
    make_sandbox: Callable[..., SandboxServer],
) -> None:
    server = make_sandbox(max_users=2)
    for _ in range(2):
        answer = requests.get(server.base_url + ODATA, auth=("admin", "123"), params={"$top": "1"}, timeout=TIMEOUT)
        assert answer.status_code == 200
    stats = server.stats()
    assert (stats["users_in_use"], stats["seats_in_use"]) == (2, 0)
    flooded = requests.get(server.base_url + ODATA, auth=("admin", "123"), timeout=TIMEOUT)
    assert flooded.status_code == 429
    assert "User Login Limit" in flooded.json()["exceptionMessage"]
    assert get_customers(server.base_url, auth=("admin", "123")).status_code == 200
    assert server.stats()["seats_in_use"] == 1


def test_basic_user_on_the_contract_api(sandbox: SandboxServer) -> None:
    assert get_customers(sandbox.base_url, auth=("admin", "123")).status_code == 200
    assert get_customers(sandbox.base_url, auth=("admin@Company", "123")).status_code == 200


def test_basic_with_a_wrong_password_is_a_401(sandbox: SandboxServer) -> None:
    answer = requests.get(sandbox.base_url + ODATA, auth=("admin", "wrong"), timeout=TIMEOUT)
    assert answer.status_code == 401
    assert sandbox.stats()["sessions"]["opened"] == 0


def test_basic_on_odata_of_an_unknown_tenant_is_a_401(sandbox: SandboxServer) -> None:
    answer = requests.get(
        sandbox.base_url + "/t/Nowhere/api/odata/gi/BI-Customers", auth=("admin", "123"), timeout=TIMEOUT
    )
    assert answer.status_code == 401
