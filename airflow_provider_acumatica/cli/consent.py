"""The authorization-code consent: authorize URL with state and PKCE, the redirect, the code exchange.

Every failure becomes a `ConsentError` whose message says what went wrong and what to change. No
message ever contains a code or a token.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from airflow_provider_acumatica.cli.loopback import LoopbackListener
from airflow_provider_acumatica.exceptions import AcumaticaError
from airflow_provider_acumatica.masking import mask
from airflow_provider_acumatica.settings import AcumaticaSettings

DEFAULT_REDIRECT_URI = "http://127.0.0.1:8765/callback"
MAX_CLOCK_SKEW_SECONDS = 300.0
HTTP_TIMEOUT = (15.0, 60.0)
Clock = Callable[[], float]


class ConsentError(AcumaticaError):
    """The consent did not complete; the message says why and what to do."""


@dataclass(frozen=True)
class ConsentRequest:
    """One authorization attempt: its own `state` and PKCE verifier."""

    settings: AcumaticaSettings
    redirect_uri: str
    state: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    verifier: str = field(default_factory=lambda: secrets.token_urlsafe(64), repr=False)

    @property
    def challenge(self) -> str:
        digest = hashlib.sha256(self.verifier.encode("ascii")).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    @property
    def authorize_url(self) -> str:
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.settings.client_id or "",
                "redirect_uri": self.redirect_uri,
                "scope": self.settings.scope,
                "state": self.state,
                "code_challenge": self.challenge,
                "code_challenge_method": "S256",
            }
        )
        return f"{self.settings.url(self.settings.authorize_path)}?{query}"


@dataclass(frozen=True)
class Consent:
    refresh_token: str = field(repr=False)
    clock_skew_seconds: float | None


def check_authorize_endpoint(session: requests.Session, request: ConsentRequest) -> None:
    """Ask the authorize endpoint first: a refused client or redirect URI shows only in the browser otherwise."""
    response = _call(session.get, request.authorize_url, allow_redirects=False)
    if response.status_code < 400:
        return
    text = response.text[:2000].lower()
    if "redirect" in text:
        raise ConsentError(
            f"Redirect URI mismatch: Acumatica does not accept {request.redirect_uri} for this client "
            f"(HTTP {response.status_code} from the authorize endpoint). Add exactly this URI on the Redirect URIs "
            "tab of Connected Applications (SM303010), or pass the registered one with --redirect-uri."
        )
    if response.status_code == 404:
        raise ConsentError(
            f"The authorize endpoint {request.settings.url(request.settings.authorize_path)} does not exist "
            "(HTTP 404). Check the host (instance URL with its site path) and authorize_path."
        )
    raise ConsentError(
        f"The authorize endpoint refused the request (HTTP {response.status_code}). The client ID "
        f"{request.settings.client_id} is probably unknown: it must be GUID@Tenant with the tenant the application "
        "was registered in on Connected Applications (SM303010), and the application's flow must be "
        "Authorization Code."
    )


def code_from_redirect(redirect: str, request: ConsentRequest) -> str:
    """The code from the URL the browser was sent to, once `state` proves it answers this attempt."""
    params = {key: values[0] for key, values in parse_qs(urlsplit(redirect.strip()).query).items()}
    if params.get("state") != request.state:
        raise ConsentError(
            "State mismatch: the redirect does not answer this authorization attempt (an old browser tab, "
            "or a forged link). Start again and use the newest URL."
        )
    error = params.get("error")
    if error == "access_denied":
        raise ConsentError(
            "Consent denied: the user declined the request on Acumatica's consent screen. Run the command "
            "again and approve, signed in as the user the integration should act as."
        )
    if error:
        description = params.get("error_description", "")[:200]
        raise ConsentError(
            f"Acumatica answered the authorization with {error}{': ' + description if description else ''}."
        )
    code = params.get("code")
    if not code:
        raise ConsentError(
            "The redirect carries neither a code nor an error: paste the whole URL from the address bar."
        )
    mask(code)
    return code


def exchange_code(session: requests.Session, request: ConsentRequest, code: str, clock: Clock = time.time) -> Consent:
    settings = request.settings
    body = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": request.redirect_uri,
        "code_verifier": request.verifier,
        "client_id": settings.client_id or "",
        "client_secret": settings.client_secret or "",
    }
    response = _call(session.post, settings.url(settings.token_path), data=body, headers={"Accept": "application/json"})
    skew = clock_skew(response, clock)
    payload = _json(response)
    if not response.ok:
        raise _exchange_error(response.status_code, payload, skew)
    mask(payload.get("access_token"))
    mask(payload.get("refresh_token"))
    if not payload.get("refresh_token"):
        raise ConsentError(
            "Acumatica issued no refresh token. Put offline_access in the connection's scope "
            "(default 'api offline_access') and allow refresh tokens for the application on SM303010."
        )
    sign_out(session, settings, str(payload.get("access_token") or ""))
    return Consent(refresh_token=str(payload["refresh_token"]), clock_skew_seconds=skew)


def sign_out(session: requests.Session, settings: AcumaticaSettings, access_token: str) -> None:
    """The consent's token opened a session that holds an API seat until signed out."""
    if not access_token:
        return
    headers = {"Authorization": f"Bearer {access_token}", "Content-Length": "0"}
    try:
        session.post(settings.url(settings.logout_path), data=b"", headers=headers, timeout=HTTP_TIMEOUT)
    except requests.RequestException:
        return


def clock_skew(response: requests.Response, clock: Clock) -> float | None:
    """Server time minus ours, from the `Date` header; None when the server sends none."""
    header = response.headers.get("Date")
    if not header:
        return None
    try:
        return parsedate_to_datetime(header).timestamp() - clock()
    except (TypeError, ValueError):
        return None


def skew_warning(skew: float | None) -> str | None:
    if skew is None or abs(skew) <= MAX_CLOCK_SKEW_SECONDS:
        return None
    direction = "behind" if skew > 0 else "ahead of"
    return (
        f"Clock skew: this machine's clock is {abs(skew):.0f} s {direction} the Acumatica server's. Tokens and "
        "authorization codes are checked against time windows of a few minutes; sync the clock (NTP)."
    )


def _exchange_error(status: int, payload: dict[str, Any], skew: float | None) -> ConsentError:
    error = str(payload.get("error") or "")[:60]
    if error == "invalid_client":
        return ConsentError(
            "Acumatica rejected the client (invalid_client) when exchanging the code. Check client_secret (a shared "
            "secret of the application, not expired) and the tenant in client_id (GUID@Tenant: the tenant the "
            "application was registered in)."
        )
    if error == "invalid_grant":
        causes = (
            "The authorization code was rejected (invalid_grant): it expired (codes live a few minutes), was "
            "already used, or the redirect URI or PKCE verifier differ from the authorization request."
        )
        warning = skew_warning(skew)
        return ConsentError(f"{warning} {causes}" if warning else f"{causes} Run the command again.")
    if error == "unauthorized_client":
        return ConsentError(
            "The application may not use the authorization-code flow (unauthorized_client). Set its "
            "OAuth 2.0 Flow to Authorization Code on Connected Applications (SM303010)."
        )
    return ConsentError(f"The code exchange failed with HTTP {status} {error or 'error'}. Check token_path.")


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError:
        raise ConsentError(
            f"The token endpoint answered HTTP {response.status_code} with a body that is not JSON. "
            "Check the host (instance URL with its site path) and token_path."
        ) from None
    return payload if isinstance(payload, dict) else {}


def _call(method: Callable[..., requests.Response], url: str, **kwargs: Any) -> requests.Response:
    try:
        return method(url, timeout=HTTP_TIMEOUT, **kwargs)
    except requests.RequestException as err:
        raise ConsentError(f"Could not reach {urlsplit(url).netloc} ({type(err).__name__}). Check the host.") from None


def receive_with_listener(request: ConsentRequest, show_url: Callable[[str], None], timeout: float) -> str:
    """Listen on the loopback redirect URI, show the URL, and return the redirect the browser delivers."""
    with LoopbackListener(request.redirect_uri) as listener:
        show_url(request.authorize_url)
        redirect = listener.wait(timeout)
    if redirect is None:
        raise ConsentError(
            f"No redirect reached {request.redirect_uri} within {timeout:.0f} s. If the browser showed an error, "
            "read it; if it was sent to another address, that is the redirect URI registered on SM303010 (pass "
            "it with --redirect-uri); on a machine without a browser use --headless."
        )
    return redirect
