"""Airflow connections pointing at a running sandbox, one per auth strategy, as users would write them."""

from __future__ import annotations

import json
from typing import Any

import pytest

CLIENT_ID = "0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0@Company"
CLIENT_SECRET = "sandbox-secret"
USER, PASSWORD = "admin", "123"

EXTRAS: dict[str, dict[str, Any]] = {
    "oauth2_password": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
    "oauth2_client_credentials": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
    "oauth2_authorization_code": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
    "api_key": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
    "basic": {"tenant": "Company"},
    "session": {"tenant": "Company", "branch": "HQ"},
}


def connection(base_url: str, auth_type: str, *, login: str = USER, password: str = PASSWORD, **extra: Any) -> str:
    return json.dumps(
        {
            "conn_type": "acumatica",
            "host": base_url,
            "login": login,
            "password": password,
            "extra": {"auth_type": auth_type, **EXTRAS[auth_type], **extra},
        }
    )


def use_connection(
    monkeypatch: pytest.MonkeyPatch, base_url: str, auth_type: str, conn_id: str = "acumatica_default", **kwargs: Any
) -> str:
    """Register the connection as `AIRFLOW_CONN_<ID>`, the way deployments pass secrets."""
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", connection(base_url, auth_type, **kwargs))
    return conn_id


def consent_refresh_token(
    base_url: str, authorize_path: str = "/identity/connect/authorize", client_secret: str = CLIENT_SECRET
) -> str:
    """Run the authorization-code flow with PKCE against the sandbox, which consents without a person."""
    import base64
    import hashlib
    import secrets
    from urllib.parse import parse_qs, urlsplit

    import requests

    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    redirect_uri = "http://127.0.0.1:8765/callback"
    answer = requests.get(
        base_url + authorize_path,
        params={
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": redirect_uri,
            "scope": "api offline_access",
            "state": "test-state",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code in {302, 303}, answer.status_code
    code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
    token_path = authorize_path.replace("authorize", "token")
    token = requests.post(
        base_url + token_path,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
            "client_id": CLIENT_ID,
            "client_secret": client_secret,
        },
        timeout=10,
    )
    token.raise_for_status()
    payload = token.json()
    logout = requests.post(
        base_url + "/entity/auth/logout",
        headers={"Authorization": f"Bearer {payload['access_token']}", "Content-Length": "0"},
        timeout=10,
    )
    assert logout.status_code == 204
    return str(payload["refresh_token"])
