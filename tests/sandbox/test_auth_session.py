"""Cookie sign-in and sign-out, checked against the real server's recorded behaviour."""

from __future__ import annotations

import http.client
from collections.abc import Callable
from urllib.parse import urlsplit

import requests

from airflow_provider_acumatica.sandbox import SandboxServer, SandboxUser
from tests.sandbox.support import TIMEOUT, get_customers, logout

LOGIN_COOKIES = {".ASPXAUTH", "ASP.NET_SessionId", "CompanyID", "UserBranch", "Locale", "requestid", "requeststat"}


def login(base_url: str, **fields: str) -> requests.Response:
    body = {"name": "admin", "password": "123", "tenant": "Company", "branch": "HQ", "locale": "EN-US", **fields}
    return requests.post(f"{base_url}/entity/auth/login", json=body, timeout=TIMEOUT)


def set_cookie_lines(response: requests.Response) -> dict[str, str]:
    lines = response.raw.headers.getlist("Set-Cookie")
    return {line.split("=", 1)[0]: line for line in lines}


def test_login_sets_the_real_cookies_with_their_flags(sandbox: SandboxServer) -> None:
    answer = login(sandbox.base_url)
    assert answer.status_code == 204
    assert answer.content == b""
    lines = set_cookie_lines(answer)
    assert set(lines) == LOGIN_COOKIES
    for name in (".ASPXAUTH", "ASP.NET_SessionId"):
        assert "HttpOnly" in lines[name] and "path=/" in lines[name]
        assert "secure" not in lines[name].lower()
    assert "HttpOnly" not in lines["CompanyID"]
    assert answer.cookies["CompanyID"] == "Company"
    assert sandbox.stats()["logins"] == 1
    assert sandbox.stats()["seats_in_use"] == 1


def test_cookies_authenticate_data_requests(
    sandbox_login: Callable[..., requests.Session], sandbox: SandboxServer
) -> None:
    session = sandbox_login()
    answer = get_customers(sandbox.base_url, session)
    assert answer.status_code == 200
    assert len(answer.json()) == 2


def test_form_encoded_login(sandbox: SandboxServer) -> None:
    answer = requests.post(
        f"{sandbox.base_url}/entity/auth/login", data={"name": "admin", "password": "123"}, timeout=TIMEOUT
    )
    assert answer.status_code == 204
    assert answer.cookies["CompanyID"] == "Company"


def test_empty_or_omitted_tenant_means_the_default_tenant(sandbox: SandboxServer) -> None:
    assert login(sandbox.base_url, tenant="").cookies["CompanyID"] == "Company"
    omitted = requests.post(
        f"{sandbox.base_url}/entity/auth/login", json={"name": "admin", "password": "123"}, timeout=TIMEOUT
    )
    assert omitted.status_code == 204
    assert omitted.cookies["CompanyID"] == "Company"


def test_wrong_password_is_a_500_pxexception(sandbox: SandboxServer) -> None:
    answer = login(sandbox.base_url, password="wrong")
    assert answer.status_code == 500
    body = answer.json()
    assert body["message"] == "An error has occurred."
    assert body["exceptionMessage"] == "Error: Invalid credentials. Please try again."
    assert body["exceptionType"] == "PX.Data.PXException"
    assert body["stackTrace"]
    assert "Set-Cookie" not in answer.headers
    assert sandbox.stats()["seats_in_use"] == 0
    assert sandbox.stats()["logins"] == 0


def test_unknown_user_is_also_invalid_credentials(sandbox: SandboxServer) -> None:
    answer = login(sandbox.base_url, name="nobody")
    assert answer.status_code == 500
    assert "Invalid credentials" in answer.json()["exceptionMessage"]


def test_unknown_tenant_is_a_500_undefined_company(sandbox: SandboxServer) -> None:
    answer = login(sandbox.base_url, tenant="NoSuchTenant")
    assert answer.status_code == 500
    body = answer.json()
    assert body["exceptionType"] == "PX.Data.PXUndefinedCompanyException"
    assert "A proper company ID cannot be determined" in body["exceptionMessage"]


def test_unreadable_login_body_is_a_400(sandbox: SandboxServer) -> None:
    answer = requests.post(
        f"{sandbox.base_url}/entity/auth/login",
        data="{not json",
        headers={"Content-Type": "application/json"},
        timeout=TIMEOUT,
    )
    assert answer.status_code == 400
    assert answer.json()["message"] == "The request is invalid."


def test_data_request_without_auth_is_a_401(sandbox: SandboxServer) -> None:
    answer = get_customers(sandbox.base_url)
    assert answer.status_code == 401
    assert answer.json() == {"message": "You are not logged in."}


def test_forged_or_mismatched_cookies_are_a_401(
    sandbox_login: Callable[..., requests.Session], sandbox: SandboxServer
) -> None:
    session = sandbox_login()
    ticket = session.cookies[".ASPXAUTH"]
    forged = get_customers(sandbox.base_url, cookies={".ASPXAUTH": ticket, "ASP.NET_SessionId": "x" * 24})
    assert forged.status_code == 401


def test_logout_frees_the_seat_and_expires_the_cookies(
    sandbox_login: Callable[..., requests.Session], sandbox: SandboxServer
) -> None:
    session = sandbox_login()
    assert sandbox.stats()["seats_in_use"] == 1
    answer = logout(sandbox.base_url, session)
    assert answer.status_code == 204
    assert answer.request.headers["Content-Length"] == "0"
    assert sandbox.stats()["seats_in_use"] == 0
    assert sandbox.stats()["logouts"] == 1
    assert not {".ASPXAUTH", "ASP.NET_SessionId"} & {cookie.name for cookie in session.cookies}
    assert get_customers(sandbox.base_url, session).status_code == 401


def test_old_cookies_after_logout_are_a_401(
    sandbox_login: Callable[..., requests.Session], sandbox: SandboxServer
) -> None:
    session = sandbox_login()
    saved = {".ASPXAUTH": session.cookies[".ASPXAUTH"], "ASP.NET_SessionId": session.cookies["ASP.NET_SessionId"]}
    logout(sandbox.base_url, session)
    assert get_customers(sandbox.base_url, cookies=saved).status_code == 401


def test_logout_without_content_length_is_a_411_and_keeps_the_seat(
    sandbox_login: Callable[..., requests.Session], sandbox: SandboxServer
) -> None:
    session = sandbox_login()
    cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
    url = urlsplit(sandbox.base_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=TIMEOUT)
    connection.putrequest("POST", "/entity/auth/logout")
    connection.putheader("Cookie", cookie)
    connection.endheaders()
    answer = connection.getresponse()
    body = answer.read()
    connection.close()
    assert answer.status == 411
    assert b"Length Required" in body
    assert answer.getheader("Content-Type", "").startswith("text/html")
    assert sandbox.stats()["seats_in_use"] == 1
    assert get_customers(sandbox.base_url, session).status_code == 200
    assert logout(sandbox.base_url, session).status_code == 204
    assert sandbox.stats()["seats_in_use"] == 0


def test_logout_without_a_session_is_still_a_204(sandbox: SandboxServer) -> None:
    assert logout(sandbox.base_url).status_code == 204
    assert sandbox.stats()["logouts"] == 0


def test_login_is_post_only(sandbox: SandboxServer) -> None:
    answer = requests.get(f"{sandbox.base_url}/entity/auth/login", timeout=TIMEOUT)
    assert answer.status_code == 405
    assert "GET" in answer.json()["message"]


def test_user_names_are_case_insensitive(sandbox: SandboxServer) -> None:
    assert login(sandbox.base_url, name="ADMIN").status_code == 204


def test_several_tenants_and_users(make_sandbox: Callable[..., SandboxServer]) -> None:
    server = make_sandbox(
        tenants=("Company", "Branch2"),
        users=(SandboxUser(), SandboxUser(name="clerk", password="pw", tenant="Branch2", branch="B2")),
    )
    answer = login(server.base_url, name="clerk", password="pw", tenant="Branch2", branch="")
    assert answer.status_code == 204
    assert answer.cookies["CompanyID"] == "Branch2"
    assert login(server.base_url, name="clerk", password="pw", tenant="Company").status_code == 500
    assert login(server.base_url, tenant="Branch2").status_code == 500
