"""Each auth strategy alone, plugged into a plain `requests.Session`, against the running sandbox."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from airflow_provider_acumatica.auth import (
    ApiKeyAuth,
    BasicAuth,
    CookieSessionAuth,
    OAuth2AuthorizationCodeAuth,
    OAuth2ClientCredentialsAuth,
    OAuth2PasswordAuth,
)
from airflow_provider_acumatica.exceptions import (
    AcumaticaConfigError,
    AcumaticaCredentialsError,
    AcumaticaLoginLimitError,
)
from airflow_provider_acumatica.sandbox import SandboxConfig, SandboxServer
from airflow_provider_acumatica.settings import AcumaticaSettings
from tests.connections import CLIENT_SECRET, EXTRAS, PASSWORD, USER, consent_refresh_token

CUSTOMERS = "/entity/Default/24.200.001/Customer"


def settings_for(base_url: str, auth_type: str, *, password: str = PASSWORD, **extra: Any) -> AcumaticaSettings:
    return AcumaticaSettings.from_values(
        host=base_url, login=USER, password=password, extra={"auth_type": auth_type, **EXTRAS[auth_type], **extra}
    )


def get_customers(session: requests.Session, base_url: str) -> requests.Response:
    return session.get(base_url + CUSTOMERS, params={"$top": "3"}, timeout=10)


def test_password_grant_signs_in_caches_and_signs_out(sandbox: SandboxServer) -> None:
    auth = OAuth2PasswordAuth(settings_for(sandbox.base_url, "oauth2_password"))
    session = requests.Session()
    session.auth = auth
    auth.ensure(session)
    auth.ensure(session)
    response = get_customers(session, sandbox.base_url)
    assert response.status_code == 200 and len(response.json()) == 3
    assert response.request.headers["Authorization"].startswith("Bearer ")
    stats = sandbox.stats()
    assert stats["token_grants"] == {"password": 1}
    assert stats["seats_in_use"] == 1
    auth.logout(session)
    assert sandbox.stats()["seats_in_use"] == 0
    assert auth.stats.sessions_opened == auth.stats.sessions_closed == 1


def test_a_session_a_call_in_flight_reopened_after_the_sign_out_is_signed_out_after_a_kill(
    sandbox: SandboxServer,
) -> None:
    """A bearer token stays valid after its session's sign-out: a call that reached the server just after it
    opens a new session, as on Acumatica, and only that token can sign it out."""
    auth = OAuth2PasswordAuth(settings_for(sandbox.base_url, "oauth2_password"))
    session = requests.Session()
    session.auth = auth
    auth.ensure(session)
    bearer = {"Authorization": f"Bearer {auth.token.access_token if auth.token else ''}"}
    assert get_customers(session, sandbox.base_url).status_code == 200
    auth.logout(session)
    late_call = requests.get(sandbox.base_url + CUSTOMERS, params={"$top": "1"}, headers=bearer, timeout=10)
    assert late_call.status_code == 200 and sandbox.stats()["seats_in_use"] == 1
    auth.logout_after_kill(session)
    assert sandbox.stats()["seats_in_use"] == 0


def test_password_grant_renews_with_the_refresh_token_before_expiry(sandbox: SandboxServer) -> None:
    auth = OAuth2PasswordAuth(settings_for(sandbox.base_url, "oauth2_password"))
    session = requests.Session()
    session.auth = auth
    auth.ensure(session)
    assert auth.token is not None
    first = auth.token.access_token
    auth.token.expires_at = 0.0
    auth.ensure(session)
    assert auth.token.access_token != first
    assert get_customers(session, sandbox.base_url).status_code == 200
    assert sandbox.stats()["token_grants"] == {"password": 1, "refresh_token": 1}
    auth.logout(session)
    assert sandbox.stats()["seats_in_use"] == 0


def test_wrong_password_is_refused_once_and_never_retried(sandbox: SandboxServer) -> None:
    auth = OAuth2PasswordAuth(settings_for(sandbox.base_url, "oauth2_password", password="wrong-password"))
    with pytest.raises(AcumaticaCredentialsError, match="Not retrying"):
        auth.ensure(requests.Session())
    assert sandbox.stats()["routes"]["token"] == {"400": 1}


def test_authorization_code_rotates_the_refresh_token(sandbox: SandboxServer) -> None:
    refresh_token = consent_refresh_token(sandbox.base_url)
    settings = settings_for(sandbox.base_url, "oauth2_authorization_code", refresh_token=refresh_token)
    auth = OAuth2AuthorizationCodeAuth(settings)
    session = requests.Session()
    session.auth = auth
    auth.ensure(session)
    assert get_customers(session, sandbox.base_url).status_code == 200
    newest = auth.store.read()
    assert newest not in {None, refresh_token}
    second = OAuth2AuthorizationCodeAuth(settings)
    second.ensure(requests.Session())
    assert second.store.read() not in {refresh_token, newest}
    auth.logout(session)
    second.logout(requests.Session())


def test_authorization_code_with_a_dead_refresh_token_says_to_redo_consent(sandbox: SandboxServer) -> None:
    auth = OAuth2AuthorizationCodeAuth(
        settings_for(sandbox.base_url, "oauth2_authorization_code", refresh_token="stale-refresh-token")
    )
    with pytest.raises(AcumaticaCredentialsError, match="consent must be redone"):
        auth.ensure(requests.Session())


def test_client_credentials_explains_that_acumatica_lacks_the_grant(sandbox: SandboxServer) -> None:
    auth = OAuth2ClientCredentialsAuth(settings_for(sandbox.base_url, "oauth2_client_credentials"))
    with pytest.raises(AcumaticaConfigError) as caught:
        auth.ensure(requests.Session())
    assert "unsupported_grant_type" in str(caught.value)
    assert "oauth2_password" in str(caught.value)


def test_client_credentials_where_the_server_allows_it() -> None:
    with SandboxServer(SandboxConfig(records=20, allow_client_credentials=True)) as server:
        settings = settings_for(server.base_url, "oauth2_client_credentials", token_path="/oauth/token")
        auth = OAuth2ClientCredentialsAuth(settings)
        session = requests.Session()
        session.auth = auth
        auth.ensure(session)
        assert get_customers(session, server.base_url).status_code == 200
        assert server.stats()["token_grants"] == {"client_credentials": 1}
        auth.logout(session)
        assert server.stats()["seats_in_use"] == 0


def test_api_key_sends_basic_client_credentials_and_releases_its_session(sandbox: SandboxServer) -> None:
    auth = ApiKeyAuth(settings_for(sandbox.base_url, "api_key"))
    session = requests.Session()
    session.auth = auth
    first = session.get(sandbox.base_url + "/api/data/AR303000", params={"$top": "2"}, timeout=10)
    auth.after_response(session)
    second = get_customers(session, sandbox.base_url)
    auth.after_response(session)
    assert first.status_code == second.status_code == 200
    assert sandbox.stats()["seats_in_use"] == 1
    assert auth.can_reauthenticate
    auth.logout(session)
    assert sandbox.stats()["seats_in_use"] == 0


def test_basic_user_on_odata_reuses_one_session(sandbox: SandboxServer) -> None:
    auth = BasicAuth(settings_for(sandbox.base_url, "basic"))
    session = requests.Session()
    session.auth = auth
    for _ in range(3):
        answer = session.get(
            sandbox.base_url + "/t/Company/api/odata/gi/BI-Customers", params={"$top": "2"}, timeout=10
        )
        auth.after_response(session)
        assert answer.status_code == 200 and len(answer.json()["value"]) == 2
    stats = sandbox.stats()
    assert (stats["peak_users"], stats["peak_seats"]) == (1, 0)
    auth.logout(session)
    assert sandbox.stats()["users_in_use"] == 0


def test_basic_with_bad_credentials_cannot_reauthenticate(sandbox: SandboxServer) -> None:
    auth = BasicAuth(settings_for(sandbox.base_url, "basic", password="wrong-password"))
    session = requests.Session()
    session.auth = auth
    assert get_customers(session, sandbox.base_url).status_code == 401
    auth.after_response(session)
    assert not auth.can_reauthenticate


def test_cookie_session_login_and_logout(sandbox: SandboxServer) -> None:
    auth = CookieSessionAuth(settings_for(sandbox.base_url, "session"))
    session = requests.Session()
    session.auth = auth
    auth.ensure(session)
    assert {".ASPXAUTH", "ASP.NET_SessionId"} <= {cookie.name for cookie in session.cookies}
    assert get_customers(session, sandbox.base_url).status_code == 200
    assert sandbox.stats()["seats_in_use"] == 1
    auth.logout(session)
    assert sandbox.stats()["seats_in_use"] == 0
    assert not {".ASPXAUTH", "ASP.NET_SessionId"} & {cookie.name for cookie in session.cookies}


def test_cookie_session_with_the_simplified_login(sandbox: SandboxServer) -> None:
    settings = settings_for(
        sandbox.base_url,
        "session",
        login_path="/api/auth/login",
        login_field_names={"name": "username", "tenant": "company"},
    )
    auth = CookieSessionAuth(settings)
    assert auth.login_body() == {"username": USER, "password": PASSWORD, "company": "Company", "branch": "HQ"}
    session = requests.Session()
    auth.ensure(session)
    assert get_customers(session, sandbox.base_url).status_code == 200
    auth.logout(session)
    assert sandbox.stats()["seats_in_use"] == 0


@pytest.mark.parametrize(
    ("extra", "error", "fragment"),
    [
        ({"tenant": "NoSuchTenant"}, AcumaticaConfigError, "does not know the tenant"),
        ({"login_path": "/entity/auth/nope"}, AcumaticaConfigError, "does not exist"),
    ],
)
def test_cookie_session_errors_name_the_fix(
    sandbox: SandboxServer, extra: dict[str, str], error: type[Exception], fragment: str
) -> None:
    with pytest.raises(error, match=fragment):
        CookieSessionAuth(settings_for(sandbox.base_url, "session", **extra)).ensure(requests.Session())


def test_cookie_session_wrong_password(sandbox: SandboxServer) -> None:
    auth = CookieSessionAuth(settings_for(sandbox.base_url, "session", password="wrong-password"))
    with pytest.raises(AcumaticaCredentialsError):
        auth.ensure(requests.Session())
    assert sandbox.stats()["logins"] == 0


def test_full_license_is_reported_after_one_short_wait(sandbox: SandboxServer) -> None:
    holders = [CookieSessionAuth(settings_for(sandbox.base_url, "session")) for _ in range(2)]
    sessions = [requests.Session() for _ in holders]
    for auth, session in zip(holders, sessions, strict=True):
        auth.ensure(session)
    blocked = OAuth2PasswordAuth(settings_for(sandbox.base_url, "oauth2_password"), login_limit_wait=0.05)
    with pytest.raises(AcumaticaLoginLimitError, match="API seat"):
        blocked.ensure(requests.Session())
    assert blocked.stats.auth_requests == 2
    for auth, session in zip(holders, sessions, strict=True):
        auth.logout(session)
    assert sandbox.stats()["seats_in_use"] == 0


def test_client_secret_in_body_not_in_url(sandbox: SandboxServer) -> None:
    auth = OAuth2PasswordAuth(settings_for(sandbox.base_url, "oauth2_password"))
    session = requests.Session()
    seen: list[requests.PreparedRequest] = []
    session.hooks["response"].append(lambda response, **_: seen.append(response.request))
    auth.ensure(session)
    assert CLIENT_SECRET not in seen[0].url
    assert seen[0].headers["Content-Type"] == "application/x-www-form-urlencoded"
    auth.logout(session)
