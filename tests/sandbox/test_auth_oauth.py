"""The identity server under /identity/, checked with plain requests and with authlib's OAuth client."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session

from airflow_provider_acumatica.sandbox import SandboxServer
from tests.sandbox.support import (
    CLIENT_ID,
    CLIENT_SECRET,
    CUSTOMERS,
    REDIRECT_URI,
    TIMEOUT,
    access_token,
    bearer,
    get_customers,
    logout,
    token,
)

AUTHORIZE = "/identity/connect/authorize"


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize(base_url: str, **params: str) -> requests.Response:
    query = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "scope": "api offline_access",
        "state": "xyz-state",
        **params,
    }
    return requests.get(base_url + AUTHORIZE, params=query, allow_redirects=False, timeout=TIMEOUT)


def redirect_query(answer: requests.Response) -> dict[str, str]:
    assert answer.status_code == 302, answer.text
    location = answer.headers["Location"]
    assert location.startswith(REDIRECT_URI)
    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}


def test_discovery_document(sandbox: SandboxServer) -> None:
    answer = requests.get(sandbox.base_url + "/identity/.well-known/openid-configuration", timeout=TIMEOUT)
    assert answer.status_code == 200
    document = answer.json()
    assert document["issuer"] == sandbox.base_url + "/identity"
    assert document["token_endpoint"] == sandbox.base_url + "/identity/connect/token"
    assert document["authorization_endpoint"] == sandbox.base_url + AUTHORIZE
    assert document["userinfo_endpoint"].endswith("/identity/connect/userinfo")
    assert document["revocation_endpoint"].endswith("/identity/connect/revocation")
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert {"password", "refresh_token", "authorization_code"} == set(document["grant_types_supported"])
    assert {"api", "offline_access"} <= set(document["scopes_supported"])


def test_password_grant(sandbox: SandboxServer) -> None:
    answer = token(sandbox.base_url)
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    payload = answer.json()
    assert payload["token_type"] == "Bearer"
    assert payload["expires_in"] == 3600
    assert set(payload["scope"].split()) == {"api", "offline_access"}
    assert payload["refresh_token"]
    assert get_customers(sandbox.base_url, headers=bearer(payload["access_token"])).status_code == 200
    assert sandbox.stats()["token_grants"] == {"password": 1}
    assert sandbox.stats()["seats_in_use"] == 1


def test_no_refresh_token_without_offline_access(sandbox: SandboxServer) -> None:
    payload = token(sandbox.base_url, scope="api").json()
    assert "refresh_token" not in payload
    assert payload["scope"] == "api"


def test_wrong_user_password_is_invalid_grant(sandbox: SandboxServer) -> None:
    answer = token(sandbox.base_url, password="wrong")
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"
    assert sandbox.stats()["seats_in_use"] == 0


@pytest.mark.parametrize(
    "client",
    [
        {"client_secret": "wrong"},
        {"client_id": "0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0@OtherTenant"},
        {"client_id": "11111111-2222-3333-4444-555555555555@Company"},
        {"client_id": "not-a-guid@Company"},
        {"client_id": ""},
    ],
)
def test_bad_client_is_invalid_client_401(sandbox: SandboxServer, client: dict[str, str]) -> None:
    answer = token(sandbox.base_url, **client)
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"
    assert "error_description" in answer.json()


def test_unknown_scope_is_invalid_scope(sandbox: SandboxServer) -> None:
    answer = token(sandbox.base_url, scope="api admin")
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_scope"


def test_token_endpoint_needs_a_form(sandbox: SandboxServer) -> None:
    answer = requests.post(
        sandbox.base_url + "/identity/connect/token", json={"grant_type": "password"}, timeout=TIMEOUT
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"


def test_refresh_rotates_and_the_old_refresh_token_dies(sandbox: SandboxServer) -> None:
    first = token(sandbox.base_url).json()
    refreshed = token(sandbox.base_url, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert refreshed.status_code == 200
    second = refreshed.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    reused = token(sandbox.base_url, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    assert get_customers(sandbox.base_url, headers=bearer(second["access_token"])).status_code == 200
    assert sandbox.stats()["token_grants"] == {"password": 1, "refresh_token": 1}


def test_offline_grant_keeps_one_session_across_refreshes(sandbox: SandboxServer) -> None:
    current = token(sandbox.base_url).json()
    for _ in range(3):
        current = token(sandbox.base_url, grant_type="refresh_token", refresh_token=current["refresh_token"]).json()
        assert get_customers(sandbox.base_url, headers=bearer(current["access_token"])).status_code == 200
    assert sandbox.stats()["sessions"]["opened"] == 1
    assert sandbox.stats()["seats_in_use"] == 1


def test_api_only_tokens_are_each_a_session(sandbox: SandboxServer) -> None:
    access_token(sandbox.base_url, scope="api")
    access_token(sandbox.base_url, scope="api")
    assert sandbox.stats()["seats_in_use"] == 2


def test_refresh_token_of_another_client_is_invalid_grant(make_sandbox: Callable[..., SandboxServer]) -> None:
    from airflow_provider_acumatica.sandbox import OAuthClient

    other = "AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE@Company"
    server = make_sandbox(clients=(OAuthClient(), OAuthClient(client_id=other, secret="other")))
    refresh_token = token(server.base_url).json()["refresh_token"]
    stolen = token(
        server.base_url,
        grant_type="refresh_token",
        refresh_token=refresh_token,
        client_id=other,
        client_secret="other",
    )
    assert stolen.status_code == 400
    assert stolen.json()["error"] == "invalid_grant"


def test_authorization_code_with_pkce(sandbox: SandboxServer) -> None:
    verifier, challenge = pkce_pair()
    query = redirect_query(authorize(sandbox.base_url, code_challenge=challenge, code_challenge_method="S256"))
    assert query["state"] == "xyz-state"
    exchange = {
        "grant_type": "authorization_code",
        "code": query["code"],
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
    }
    answer = token(sandbox.base_url, **exchange)
    assert answer.status_code == 200, answer.text
    assert answer.json()["refresh_token"]
    assert get_customers(sandbox.base_url, headers=bearer(answer.json()["access_token"])).status_code == 200
    replay = token(sandbox.base_url, **exchange)
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    assert sandbox.stats()["token_grants"] == {"authorization_code": 1}


def test_authorization_code_with_a_wrong_verifier(sandbox: SandboxServer) -> None:
    _, challenge = pkce_pair()
    query = redirect_query(authorize(sandbox.base_url, code_challenge=challenge, code_challenge_method="S256"))
    answer = token(
        sandbox.base_url,
        grant_type="authorization_code",
        code=query["code"],
        redirect_uri=REDIRECT_URI,
        code_verifier=pkce_pair()[0],
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"


def test_plain_pkce_is_refused(sandbox: SandboxServer) -> None:
    query = redirect_query(authorize(sandbox.base_url, code_challenge="abc", code_challenge_method="plain"))
    assert query["error"] == "invalid_request"
    assert query["state"] == "xyz-state"


def test_token_redirect_uri_must_match_the_authorize_one(sandbox: SandboxServer) -> None:
    query = redirect_query(authorize(sandbox.base_url))
    answer = token(
        sandbox.base_url,
        grant_type="authorization_code",
        code=query["code"],
        redirect_uri="http://127.0.0.1:8765/other",
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("redirect_uri", ["https://evil.example.com/callback", "http://127.0.0.1.evil.com/cb", ""])
def test_unregistered_redirect_uri_is_a_400_page_without_redirect(sandbox: SandboxServer, redirect_uri: str) -> None:
    answer = authorize(sandbox.base_url, redirect_uri=redirect_uri)
    assert answer.status_code == 400
    assert "Location" not in answer.headers
    assert answer.headers["Content-Type"].startswith("text/html")


def test_extra_registered_redirect_uri(make_sandbox: Callable[..., SandboxServer]) -> None:
    server = make_sandbox(redirect_uris=("https://app.example.com/oauth/return",))
    answer = authorize(server.base_url, redirect_uri="https://app.example.com/oauth/return")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("https://app.example.com/oauth/return?code=")


def test_unknown_client_at_authorize_is_a_400_page(sandbox: SandboxServer) -> None:
    answer = authorize(sandbox.base_url, client_id="11111111-2222-3333-4444-555555555555@Company")
    assert answer.status_code == 400
    assert "Location" not in answer.headers


def test_consent_denied_redirects_with_access_denied(sandbox: SandboxServer) -> None:
    sandbox.set_faults(consent="deny")
    query = redirect_query(authorize(sandbox.base_url))
    assert query == {
        "error": "access_denied",
        "error_description": "The user denied the request.",
        "state": "xyz-state",
    }


def test_consent_switch_from_the_config(make_sandbox: Callable[..., SandboxServer]) -> None:
    from airflow_provider_acumatica.sandbox import FaultSettings

    server = make_sandbox(faults=FaultSettings(consent="deny"))
    assert redirect_query(authorize(server.base_url))["error"] == "access_denied"


def test_unsupported_response_type(sandbox: SandboxServer) -> None:
    assert redirect_query(authorize(sandbox.base_url, response_type="token"))["error"] == "unsupported_response_type"


def test_authlib_authorization_code_flow(sandbox: SandboxServer) -> None:
    client = OAuth2Session(
        CLIENT_ID,
        CLIENT_SECRET,
        scope="api offline_access",
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_post",
    )
    verifier = secrets.token_urlsafe(48)
    url, state = client.create_authorization_url(sandbox.base_url + AUTHORIZE, code_verifier=verifier)
    answer = requests.get(url, allow_redirects=False, timeout=TIMEOUT)
    assert answer.status_code == 302
    issued = client.fetch_token(
        sandbox.base_url + "/identity/connect/token",
        authorization_response=answer.headers["Location"],
        code_verifier=verifier,
        state=state,
    )
    assert issued["token_type"] == "Bearer"
    assert client.get(sandbox.base_url + CUSTOMERS, params={"$top": "1"}, timeout=TIMEOUT).status_code == 200
    refreshed = client.refresh_token(sandbox.base_url + "/identity/connect/token")
    assert refreshed["refresh_token"] != issued["refresh_token"]


def test_authlib_password_grant_with_basic_client_auth(sandbox: SandboxServer) -> None:
    client = OAuth2Session(CLIENT_ID, CLIENT_SECRET, scope="api", token_endpoint_auth_method="client_secret_basic")
    issued = client.fetch_token(sandbox.base_url + "/identity/connect/token", username="admin", password="123")
    assert issued["access_token"]
    assert client.get(sandbox.base_url + CUSTOMERS, params={"$top": "1"}, timeout=TIMEOUT).status_code == 200


def test_client_credentials_is_unsupported_by_default(sandbox: SandboxServer) -> None:
    answer = token(sandbox.base_url, grant_type="client_credentials", scope="api")
    assert answer.status_code == 400
    assert answer.json()["error"] == "unsupported_grant_type"
    client = OAuth2Session(CLIENT_ID, CLIENT_SECRET, scope="api", token_endpoint_auth_method="client_secret_post")
    with pytest.raises(OAuthError, match="unsupported_grant_type"):
        client.fetch_token(sandbox.base_url + "/identity/connect/token", grant_type="client_credentials")


def test_client_credentials_when_allowed(make_sandbox: Callable[..., SandboxServer]) -> None:
    server = make_sandbox(allow_client_credentials=True)
    discovery = requests.get(server.base_url + "/identity/.well-known/openid-configuration", timeout=TIMEOUT).json()
    assert "client_credentials" in discovery["grant_types_supported"]
    payload = token(server.base_url, grant_type="client_credentials", scope="api offline_access").json()
    assert "refresh_token" not in payload
    assert get_customers(server.base_url, headers=bearer(payload["access_token"])).status_code == 200
    client = OAuth2Session(CLIENT_ID, CLIENT_SECRET, scope="api", token_endpoint_auth_method="client_secret_basic")
    issued = client.fetch_token(server.base_url + "/oauth/token", grant_type="client_credentials")
    assert client.get(server.base_url + CUSTOMERS, params={"$top": "1"}, timeout=TIMEOUT).status_code == 200
    assert issued["expires_in"] == 3600
    assert server.stats()["token_grants"] == {"client_credentials": 2}


def test_unknown_grant_type(sandbox: SandboxServer) -> None:
    answer = token(sandbox.base_url, grant_type="urn:ietf:params:oauth:grant-type:device_code")
    assert answer.status_code == 400
    assert answer.json()["error"] == "unsupported_grant_type"


def test_bearer_logout_frees_the_seat_and_the_token_reopens_a_session(sandbox: SandboxServer) -> None:
    value = access_token(sandbox.base_url)
    assert sandbox.stats()["seats_in_use"] == 1
    answer = logout(sandbox.base_url, headers=bearer(value))
    assert answer.status_code == 204
    assert sandbox.stats()["seats_in_use"] == 0
    assert sandbox.stats()["logouts"] == 1
    assert get_customers(sandbox.base_url, headers=bearer(value)).status_code == 200
    assert sandbox.stats()["seats_in_use"] == 1
    assert sandbox.stats()["sessions"]["opened"] == 2


def test_revocation_kills_the_refresh_token_but_keeps_the_seat(sandbox: SandboxServer) -> None:
    payload = token(sandbox.base_url).json()
    answer = requests.post(
        sandbox.base_url + "/identity/connect/revocation",
        data={"token": payload["refresh_token"], "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        timeout=TIMEOUT,
    )
    assert answer.status_code == 200
    reused = token(sandbox.base_url, grant_type="refresh_token", refresh_token=payload["refresh_token"])
    assert reused.json()["error"] == "invalid_grant"
    assert sandbox.stats()["seats_in_use"] == 1


def test_userinfo(sandbox: SandboxServer) -> None:
    value = access_token(sandbox.base_url)
    answer = requests.get(sandbox.base_url + "/identity/connect/userinfo", headers=bearer(value), timeout=TIMEOUT)
    assert answer.status_code == 200
    assert answer.json()["preferred_username"] == "admin"
    assert answer.json()["sub"]
    refused = requests.get(sandbox.base_url + "/identity/connect/userinfo", headers=bearer("nope"), timeout=TIMEOUT)
    assert refused.status_code == 401


def test_unknown_bearer_is_a_401(sandbox: SandboxServer) -> None:
    answer = get_customers(sandbox.base_url, headers=bearer("not-a-token"))
    assert answer.status_code == 401
    assert answer.json() == {"message": "You are not logged in."}


def test_bearer_works_on_odata(sandbox: SandboxServer) -> None:
    value = access_token(sandbox.base_url)
    answer = requests.get(
        sandbox.base_url + "/t/Company/api/odata/gi/BI-Customers",
        params={"$top": "3"},
        headers=bearer(value),
        timeout=TIMEOUT,
    )
    assert answer.status_code == 200
    assert len(answer.json()["value"]) == 3


def test_short_token_ttl_expires_the_token(make_sandbox: Callable[..., SandboxServer]) -> None:
    server = make_sandbox(token_ttl=1)
    payload = token(server.base_url, scope="api").json()
    assert payload["expires_in"] == 1
    assert get_customers(server.base_url, headers=bearer(payload["access_token"])).status_code == 200
    time.sleep(1.1)
    assert get_customers(server.base_url, headers=bearer(payload["access_token"])).status_code == 401
    assert server.stats()["seats_in_use"] == 0


def test_concurrent_access_grant_uses_cookie_sessions(sandbox: SandboxServer) -> None:
    value = access_token(sandbox.base_url, scope="api api:concurrent_access")
    assert sandbox.stats()["seats_in_use"] == 0
    first, second = requests.Session(), requests.Session()
    for session in (first, second):
        assert get_customers(sandbox.base_url, session, headers=bearer(value)).status_code == 200
        assert get_customers(sandbox.base_url, session, headers=bearer(value)).status_code == 200
    assert sandbox.stats()["seats_in_use"] == 2
    for session in (first, second):
        assert logout(sandbox.base_url, session).status_code == 204
    assert sandbox.stats()["seats_in_use"] == 0
