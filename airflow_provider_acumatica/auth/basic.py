"""HTTP Basic strategies: a user's login:password (OData) and the client_id:client_secret "API key".

The server opens a session for a Basic request that carries no session cookie and answers with
cookies; `requests.Session` sends them back, so one hook holds one seat, which `logout` releases.
"""

from __future__ import annotations

import base64
from typing import Any

import requests

from airflow_provider_acumatica.auth.base import AcumaticaAuth
from airflow_provider_acumatica.masking import mask
from airflow_provider_acumatica.settings import AcumaticaSettings

SESSION_COOKIES = (".ASPXAUTH", "ASP.NET_SessionId")


def has_session_cookie(session: requests.Session) -> bool:
    return any(cookie.name in SESSION_COOKIES for cookie in iter(session.cookies))


def session_cookie_values(session: requests.Session) -> dict[str, str]:
    return {cookie.name: cookie.value or "" for cookie in iter(session.cookies) if cookie.name in SESSION_COOKIES}


def forget_session_cookies(session: requests.Session) -> None:
    for cookie in list(iter(session.cookies)):
        if cookie.name in SESSION_COOKIES:
            session.cookies.clear(cookie.domain, cookie.path, cookie.name)


def mask_session_cookies(session: requests.Session) -> None:
    for cookie in session.cookies:
        if cookie.name in SESSION_COOKIES:
            mask(cookie.value)


class _StaticBasicAuth(AcumaticaAuth):
    def __init__(self, settings: AcumaticaSettings, user: str, secret: str, **kwargs: Any) -> None:
        super().__init__(settings, **kwargs)
        token = base64.b64encode(f"{user}:{secret}".encode()).decode("ascii")
        mask(token)
        self._header = f"Basic {token}"
        self._had_session = False
        self._cookies: dict[str, str] = {}

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self._header
        return request

    @property
    def can_reauthenticate(self) -> bool:
        """A 401 with no session to lose means the credentials themselves are wrong: do not retry."""
        return self._had_session

    def after_response(self, session: requests.Session) -> None:
        """Note (and mask) the session the server opened for our Basic credentials.

        A response that replaces the session cookies (an OData request answered with a session of its own)
        opened another session: the one it replaced is signed out, so one hook never holds two seats.
        """
        current = session_cookie_values(session)
        if not current:
            return
        mask_session_cookies(session)
        if self._had_session and self._cookies and current != self._cookies:
            self._sign_out_replaced(self._cookies)
            self.stats.sessions_opened += 1
        elif not self._had_session:
            self._had_session = True
            self.stats.sessions_opened += 1
        self._cookies = current

    def _sign_out_replaced(self, cookies: dict[str, str]) -> None:
        """Sign out with the replaced session's cookies on a spare session, so the jar keeps the new ones."""
        with requests.Session() as spare:
            spare.cookies.update(cookies)
            self.send_logout(spare, {"Authorization": self._header})

    def _sign_in(self, session: requests.Session) -> None:
        """Basic credentials travel with every request; the next call opens a new server session."""

    def _forget(self, session: requests.Session) -> None:
        forget_session_cookies(session)
        self._had_session = False
        self._cookies = {}

    def logout(self, session: requests.Session) -> None:
        if has_session_cookie(session):
            self.send_logout(session, {"Authorization": self._header})
            forget_session_cookies(session)
        self._had_session = False
        self._cookies = {}


class BasicAuth(_StaticBasicAuth):
    """HTTP Basic with an Acumatica user, as the OData interface expects."""

    auth_type = "basic"

    def __init__(self, settings: AcumaticaSettings, **kwargs: Any) -> None:
        super().__init__(settings, settings.login or "", settings.password or "", **kwargs)


class ApiKeyAuth(_StaticBasicAuth):
    """`Authorization: Basic base64(client_id:client_secret)`, the published "API key" variant."""

    auth_type = "api_key"

    def __init__(self, settings: AcumaticaSettings, **kwargs: Any) -> None:
        super().__init__(settings, settings.client_id or "", settings.client_secret or "", **kwargs)
