"""Values and small calls shared by the sandbox's own tests."""

from __future__ import annotations

from typing import Any

import requests

CLIENT_ID = "0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0@Company"
CLIENT_SECRET = "sandbox-secret"
CUSTOMERS = "/entity/Default/24.200.001/Customer"
REDIRECT_URI = "http://127.0.0.1:8765/callback"
TIMEOUT = 10


def token(base_url: str, path: str = "/identity/connect/token", **form: str) -> requests.Response:
    """A password grant for `admin` unless `form` says otherwise."""
    body = {
        "grant_type": "password",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "username": "admin",
        "password": "123",
        "scope": "api offline_access",
        **form,
    }
    return requests.post(base_url + path, data=body, timeout=TIMEOUT)


def access_token(base_url: str, **form: str) -> str:
    answer = token(base_url, **form)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def get_customers(base_url: str, session: requests.Session | None = None, **kwargs: Any) -> requests.Response:
    return (session or requests).get(base_url + CUSTOMERS, params={"$top": "2"}, timeout=TIMEOUT, **kwargs)


def logout(base_url: str, session: requests.Session | None = None, **kwargs: Any) -> requests.Response:
    return (session or requests).post(base_url + "/entity/auth/logout", timeout=TIMEOUT, **kwargs)


def seats(base_url: str) -> int:
    """Read over HTTP, as a client outside the test process would."""
    return int(requests.get(base_url + "/_sandbox/stats", timeout=TIMEOUT).json()["seats_in_use"])
