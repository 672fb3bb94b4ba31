"""What every auth strategy shares: sign-in requests that are safe to retry, and seat bookkeeping.

A strategy is a `requests.auth.AuthBase`: requests calls it to attach credentials. Signing in and out
are explicit (`ensure`, `reauthenticate`, `logout`) so the hook can single-flight them and always
release the API seats it took.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from typing import Any

import requests
from requests.auth import AuthBase

from airflow_provider_acumatica.exceptions import (
    AcumaticaAuthError,
    AcumaticaConfigError,
    AcumaticaLoginLimitError,
    AcumaticaRateLimitError,
)
from airflow_provider_acumatica.masking import mask
from airflow_provider_acumatica.settings import AcumaticaSettings

log = logging.getLogger(__name__)

LOGIN_LIMIT_TEXT = "API Login Limit"
_TRANSIENT_STATUS = frozenset({502, 503, 504})
_TRANSIENT_ATTEMPTS = 3
_TRANSIENT_WAIT = 1.0
REQUEST_LIMIT_TEXT = "ApiRequestLimitExceededException"
_DECLINED_ATTEMPTS = 8
_DECLINED_WAIT = 5.0
_DECLINED_WAIT_CAP = 30.0


@dataclass
class AuthStats:
    """Counts that prove we open one session per extraction and close what we open."""

    auth_requests: int = 0
    sessions_opened: int = 0
    sessions_closed: int = 0


def _no_auth(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """Overrides `Session.auth` so sign-in calls never carry stale credentials."""
    return request


class AcumaticaAuth(AuthBase):
    """Base strategy. Subclasses attach credentials in `__call__` and sign in in `_sign_in`."""

    auth_type: str = ""

    def __init__(
        self,
        settings: AcumaticaSettings,
        *,
        conn_id: str | None = None,
        login_limit_retries: int = 1,
        login_limit_wait: float = 5.0,
    ) -> None:
        self.settings = settings
        self.conn_id = conn_id
        self.stats = AuthStats()
        self.login_limit_retries = login_limit_retries
        self.login_limit_wait = login_limit_wait
        for secret in (settings.password, settings.client_secret, settings.refresh_token):
            mask(secret)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request

    @property
    def signed_in(self) -> bool:
        """Whether credentials are in hand (a cookie session, a token, or static Basic credentials)."""
        return True

    @property
    def can_reauthenticate(self) -> bool:
        """Whether a 401 may be answered by signing in again rather than by failing."""
        return True

    def ensure(self, session: requests.Session) -> None:
        """Sign in if we have no usable credentials; renew ones that are about to expire."""
        if not self.signed_in:
            self._sign_in(session)

    def reauthenticate(self, session: requests.Session) -> None:
        """Drop what the server rejected and sign in again."""
        self._forget(session)
        self._sign_in(session)

    def logout(self, session: requests.Session) -> None:
        """Release the API seat held by our server session, if any."""

    def logout_after_kill(self, session: requests.Session) -> None:
        """Sign out a session that a call in flight during a kill's sign-out may have opened again."""
        self.logout(session)

    def session_headers(self) -> dict[str, str]:
        """Headers besides the cookies that another client needs to act in this session (an OAuth bearer token).

        Empty for cookie and Basic sessions: their cookies carry the session, and a Basic header would hand the
        password itself over."""
        return {}

    def describe(self) -> dict[str, Any]:
        """Non-secret facts about the credentials in hand, for status checks."""
        return {"token_expires_in_seconds": None, "scopes": None}

    def after_response(self, session: requests.Session) -> None:
        """Look at cookies the server just set (to mask them, or to note a session it opened)."""

    def _sign_in(self, session: requests.Session) -> None:
        raise NotImplementedError

    def _forget(self, session: requests.Session) -> None:
        """Drop credentials the server no longer accepts."""

    def post_sign_in(self, session: requests.Session, path: str, **kwargs: Any) -> requests.Response:
        """POST to a sign-in endpoint: transient failures and a full license are retried, briefly.

        A rejection of the credentials themselves is returned to the caller and never retried,
        because Acumatica locks accounts after repeated failed sign-ins.
        """
        limit_retries = self.login_limit_retries
        attempt = declines = 0
        while True:
            attempt += 1
            self.stats.auth_requests += 1
            try:
                response = self._send(session, path, **kwargs)
            except requests.exceptions.SSLError:
                raise tls_error(self.settings.url(path)) from None
            except (requests.ConnectionError, requests.Timeout) as err:
                if attempt >= _TRANSIENT_ATTEMPTS:
                    raise AcumaticaAuthError(
                        f"Could not reach {self.settings.url(path)} to sign in after {attempt} attempts "
                        f"({type(err).__name__}). Check the host and the network."
                    ) from None
                time.sleep(_TRANSIENT_WAIT * attempt)
                continue
            if response.status_code in _TRANSIENT_STATUS and attempt < _TRANSIENT_ATTEMPTS:
                time.sleep(_TRANSIENT_WAIT * attempt)
                continue
            if is_request_declined(response):
                if declines >= _DECLINED_ATTEMPTS:
                    raise request_declined_error(declines)
                declines += 1
                wait = min(_DECLINED_WAIT * declines, _DECLINED_WAIT_CAP) * random.uniform(0.5, 1.0)
                log.warning(
                    "Acumatica declined the sign-in under the licence's request limit; retrying in %.1f s.", wait
                )
                time.sleep(wait)
                continue
            if is_login_limit(response) and limit_retries > 0:
                limit_retries -= 1
                log.warning(
                    "Acumatica answered 'API Login Limit'; waiting %.0f s for a seat to free up.",
                    self.login_limit_wait,
                )
                time.sleep(self.login_limit_wait)
                continue
            return response

    def _send(self, session: requests.Session, path: str, **kwargs: Any) -> requests.Response:
        return session.post(
            self.settings.url(path),
            auth=_no_auth,
            timeout=(self.settings.connect_timeout, self.settings.timeout),
            verify=self.settings.verify,
            allow_redirects=False,
            **kwargs,
        )

    def send_logout(self, session: requests.Session, headers: dict[str, str] | None = None) -> None:
        """POST the logout path with an explicit empty body: without Content-Length IIS answers 411."""
        all_headers = {"Content-Length": "0", **(headers or {})}
        try:
            response = session.post(
                self.settings.url(self.settings.logout_path),
                data=b"",
                headers=all_headers,
                auth=_no_auth,
                timeout=(self.settings.connect_timeout, self.settings.timeout),
                verify=self.settings.verify,
                allow_redirects=False,
            )
        except requests.RequestException as err:
            log.warning("Acumatica sign-out failed (%s); the seat frees at the server's timeout.", type(err).__name__)
            return
        if response.status_code in {200, 204, 401}:
            self.stats.sessions_closed += 1
            return
        log.warning(
            "Acumatica sign-out answered HTTP %s; the seat frees at the server's idle timeout.",
            response.status_code,
        )


def is_request_declined(response: requests.Response) -> bool:
    """A 429 of the licence's request limit (a full queue), not of its seats: it clears within a minute."""
    return response.status_code == 429 and REQUEST_LIMIT_TEXT.lower() in _body_text(response).lower()


def request_declined_error(declines: int) -> AcumaticaRateLimitError:
    return AcumaticaRateLimitError(
        f"Acumatica declined the sign-in {declines + 1} times under the licence's request limit (429, "
        "ApiRequestLimitExceededException): more requests are waiting than the licence queues. Set "
        "max_requests_per_minute and max_concurrent_requests on the connection, or lower the tasks' parallelism."
    )


def is_login_limit(response: requests.Response) -> bool:
    if is_request_declined(response):
        return False
    return response.status_code == 429 or LOGIN_LIMIT_TEXT.lower() in _body_text(response).lower()


def _body_text(response: requests.Response) -> str:
    try:
        return response.text[:4000]
    except (UnicodeDecodeError, requests.RequestException):
        return ""


def is_html(response: requests.Response) -> bool:
    content_type = response.headers.get("Content-Type", "")
    return "html" in content_type.lower() or _body_text(response).lstrip().startswith("<")


def login_limit_error(where: str) -> AcumaticaLoginLimitError:
    return AcumaticaLoginLimitError(
        f"Acumatica refused the {where} with 'API Login Limit': every API seat of the license is taken. "
        "Sessions that were not signed out hold their seat until the server's idle timeout (10-30 min). "
        "Make sure every client signs out, lower concurrency (e.g. an Airflow pool sized to the seats), "
        "or check License Monitoring Console (SM604000)."
    )


def tls_error(url: str) -> AcumaticaConfigError:
    return AcumaticaConfigError(
        f"TLS certificate verification failed for {url}. If the instance uses a private CA or a "
        "self-signed certificate, set verify in the connection extra to the path of its CA bundle; "
        "check also that the host name matches the certificate."
    )


def html_error(where: str, status: int) -> AcumaticaConfigError:
    return AcumaticaConfigError(
        f"The {where} answered HTTP {status} with an HTML page instead of JSON. The host is probably not "
        "the Acumatica instance URL (it must include the site path, e.g. https://example.acumatica.com/MyInstance) "
        "or a proxy or login page is in the way."
    )
