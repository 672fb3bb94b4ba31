"""OAuth 2.0 strategies against Acumatica's identity server (or the simplified /oauth/token).

Access tokens are cached with their expiry and renewed shortly before they run out. Every token is
masked the moment it arrives. Token endpoint bodies are never logged or put into errors.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import requests

from airflow_provider_acumatica.auth.base import (
    AcumaticaAuth,
    html_error,
    is_html,
    is_login_limit,
    login_limit_error,
)
from airflow_provider_acumatica.auth.token_store import RefreshTokenStore
from airflow_provider_acumatica.exceptions import (
    AcumaticaAuthError,
    AcumaticaConfigError,
    AcumaticaCredentialsError,
)
from airflow_provider_acumatica.masking import mask

log = logging.getLogger(__name__)

RENEWAL_MARGIN_SECONDS = 60.0
MAX_CHAIN_ATTEMPTS = 5


@dataclass
class Token:
    access_token: str
    expires_at: float
    refresh_token: str | None
    scope: str | None

    def seconds_left(self) -> float:
        return self.expires_at - time.monotonic()

    def needs_renewal(self, lifetime: float) -> bool:
        return self.seconds_left() <= min(RENEWAL_MARGIN_SECONDS, lifetime / 10)


@dataclass(frozen=True)
class TokenError:
    """An RFC 6749 error from the token endpoint, reduced to what is safe to show."""

    status: int
    error: str
    description: str


class TokenRequestError(AcumaticaAuthError):
    """A token request the server refused, with its RFC 6749 error code."""

    def __init__(self, message: str, error: str) -> None:
        super().__init__(message)
        self.error = error


class OAuth2Auth(AcumaticaAuth):
    """Bearer-token strategy; subclasses choose the grant."""

    grant_type: str = ""

    def __init__(self, settings: Any, **kwargs: Any) -> None:
        super().__init__(settings, **kwargs)
        self.token: Token | None = None
        self._signed_out_token = ""
        self._lifetime = 3600.0

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if self.token is not None:
            request.headers["Authorization"] = f"Bearer {self.token.access_token}"
        return request

    @property
    def signed_in(self) -> bool:
        return self.token is not None

    def ensure(self, session: requests.Session) -> None:
        if self.token is None:
            self._sign_in(session)
        elif self.token.needs_renewal(self._lifetime):
            self._renew(session)

    def session_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token.access_token}"} if self.token is not None else {}

    def describe(self) -> dict[str, Any]:
        if self.token is None:
            return super().describe()
        scopes = (self.token.scope or self.settings.scope).split()
        return {"token_expires_in_seconds": max(0, int(self.token.seconds_left())), "scopes": scopes}

    def logout(self, session: requests.Session) -> None:
        """Sign the token's server session out: revoking alone does not free the seat."""
        if self.token is None:
            return
        self._signed_out_token = self.token.access_token
        self._send_bearer_logout(session)
        self.token = None

    def logout_after_kill(self, session: requests.Session) -> None:
        """The token stays valid after a sign-out: a call that reached the server just after it opened a new
        session with it (Acumatica does so too), which only that token can sign out."""
        if self.token is not None:
            self.logout(session)
        elif self._signed_out_token:
            self._send_bearer_logout(session)

    def _send_bearer_logout(self, session: requests.Session) -> None:
        self.send_logout(session, {"Authorization": f"Bearer {self._signed_out_token}"})

    def _forget(self, session: requests.Session) -> None:
        if self.token is not None:
            self.token.access_token = ""
            self.token.expires_at = 0.0

    def _sign_in(self, session: requests.Session) -> None:
        self._store(self._request_token(session, self._grant_body()), new_session=True)

    def _renew(self, session: requests.Session) -> None:
        self._sign_in(session)

    def reauthenticate(self, session: requests.Session) -> None:
        self._forget(session)
        self._renew(session)

    def _grant_body(self) -> dict[str, str]:
        raise NotImplementedError

    def _client_body(self) -> dict[str, str]:
        return {
            "client_id": self.settings.client_id or "",
            "client_secret": self.settings.client_secret or "",
        }

    def _request_token(self, session: requests.Session, body: dict[str, str]) -> dict[str, Any]:
        response = self.post_sign_in(
            session,
            self.settings.token_path,
            data={**body, **self._client_body()},
            headers={"Accept": "application/json"},
        )
        if response.ok:
            return self._parse_token(response)
        if is_html(response):
            raise html_error("token endpoint", response.status_code)
        if is_login_limit(response):
            raise login_limit_error("token request")
        raise self._error_for(body.get("grant_type", ""), token_error(response))

    def _parse_token(self, response: requests.Response) -> dict[str, Any]:
        try:
            payload = response.json()
        except ValueError:
            raise AcumaticaAuthError(
                f"The token endpoint answered HTTP {response.status_code} with a body that is not JSON. "
                "Check token_path and the host URL."
            ) from None
        if not isinstance(payload, dict) or not payload.get("access_token"):
            raise AcumaticaAuthError("The token endpoint's answer has no access_token. Check token_path.")
        mask(payload.get("access_token"))
        mask(payload.get("refresh_token"))
        return payload

    def _store(self, payload: dict[str, Any], *, new_session: bool) -> None:
        lifetime = float(payload.get("expires_in") or 3600)
        self._lifetime = lifetime
        refresh = payload.get("refresh_token") or (self.token.refresh_token if self.token else None)
        self.token = Token(
            access_token=str(payload["access_token"]),
            expires_at=time.monotonic() + lifetime,
            refresh_token=refresh,
            scope=payload.get("scope"),
        )
        if new_session:
            self.stats.sessions_opened += 1

    def _error_for(self, grant_type: str, error: TokenError) -> Exception:
        if error.error == "invalid_client":
            return AcumaticaCredentialsError(
                "Acumatica rejected the client ID or secret (invalid_client). Check client_id (GUID@Tenant, "
                "with the tenant the application was registered in) and that the shared secret on "
                "Connected Applications (SM303010) has not expired."
            )
        if error.error == "unauthorized_client":
            return AcumaticaConfigError(
                f"The connected application is not allowed the {grant_type} flow (unauthorized_client). "
                "Check its OAuth 2.0 Flow on Connected Applications (SM303010)."
            )
        if error.error == "invalid_scope":
            return AcumaticaConfigError(
                f"Acumatica rejected the scope {self.settings.scope!r} (invalid_scope). "
                "Use 'api offline_access' or 'api'."
            )
        return TokenRequestError(
            f"The token request ({grant_type}) failed with HTTP {error.status} {error.error or 'error'}"
            f"{': ' + error.description if error.description else ''}.",
            error.error,
        )

    def _refresh(self, session: requests.Session, refresh_token: str) -> dict[str, Any]:
        return self._request_token(session, {"grant_type": "refresh_token", "refresh_token": refresh_token})


def token_error(response: requests.Response) -> TokenError:
    try:
        payload = response.json()
    except ValueError:
        payload = {}
    if not isinstance(payload, dict):
        payload = {}
    error = str(payload.get("error") or "")[:60]
    description = str(payload.get("error_description") or "")[:200]
    return TokenError(response.status_code, error, description)


class OAuth2PasswordAuth(OAuth2Auth):
    """Resource-owner password grant: headless, and Acumatica's most widely used integration flow."""

    auth_type = "oauth2_password"
    grant_type = "password"

    def _grant_body(self) -> dict[str, str]:
        return {
            "grant_type": "password",
            "username": self.settings.login or "",
            "password": self.settings.password or "",
            "scope": self.settings.scope,
        }

    def _renew(self, session: requests.Session) -> None:
        """Refresh within the same server session when we can; otherwise sign in afresh."""
        refresh_token = self.token.refresh_token if self.token else None
        if refresh_token:
            try:
                self._store(self._refresh(session, refresh_token), new_session=False)
                return
            except TokenRequestError as err:
                if err.error != "invalid_grant":
                    raise
                log.info("The refresh token was rejected; signing in again with the password grant.")
        previous = self.token
        self._sign_in(session)
        self._release_previous(session, previous)

    def _release_previous(self, session: requests.Session, previous: Token | None) -> None:
        """Without a refresh token each grant is its own session: sign the old one out."""
        if previous is not None and previous.access_token and previous.refresh_token is None:
            self.send_logout(session, {"Authorization": f"Bearer {previous.access_token}"})

    def _error_for(self, grant_type: str, error: TokenError) -> Exception:
        if grant_type == "password" and error.error == "invalid_grant":
            return AcumaticaCredentialsError(
                "Acumatica rejected the username or password (invalid_grant). Not retrying: repeated "
                "failures lock the account. Check the connection's login and password, and that the user "
                "may sign in through the API."
            )
        return super()._error_for(grant_type, error)


class OAuth2ClientCredentialsAuth(OAuth2Auth):
    """Client-credentials grant, as the widely published simplified descriptions show it."""

    auth_type = "oauth2_client_credentials"
    grant_type = "client_credentials"

    def _grant_body(self) -> dict[str, str]:
        return {"grant_type": "client_credentials", "scope": self.settings.scope}

    def _renew(self, session: requests.Session) -> None:
        previous = self.token
        self._sign_in(session)
        if previous is not None and previous.access_token:
            self.send_logout(session, {"Authorization": f"Bearer {previous.access_token}"})

    def _error_for(self, grant_type: str, error: TokenError) -> Exception:
        if error.error in {"unsupported_grant_type", "unauthorized_client"}:
            return AcumaticaConfigError(
                "The server does not offer the client_credentials grant "
                f"({error.error}). Acumatica itself supports only authorization code, password (ROPC), "
                "implicit and hybrid flows. Use auth_type oauth2_password, oauth2_authorization_code, "
                "session or basic instead."
            )
        return super()._error_for(grant_type, error)


class OAuth2AuthorizationCodeAuth(OAuth2Auth):
    """Runs on the refresh token from a one-time consent; every refresh rotates it.

    The newest token lives in a `RefreshTokenStore` (an Airflow Variable named from the connection id)
    so that tasks on every worker continue the same chain, and the chain's one server session holds
    one API seat however many tasks use the connection.
    """

    auth_type = "oauth2_authorization_code"
    grant_type = "refresh_token"

    def __init__(self, settings: Any, *, store: RefreshTokenStore | None = None, **kwargs: Any) -> None:
        super().__init__(settings, **kwargs)
        self.store = store or self._default_store()

    def _default_store(self) -> RefreshTokenStore:
        if self.conn_id:
            return RefreshTokenStore.for_connection(self.conn_id)
        return RefreshTokenStore.in_process(f"{self.settings.base_url}|{self.settings.client_id}")

    def _sign_in(self, session: requests.Session) -> None:
        self._renew(session)

    def _renew(self, session: requests.Session) -> None:
        """Refresh with the newest token; a token rejected because a concurrent refresh rotated it is retried."""
        with self.store.lock:
            rejected: list[str] = []
            for _ in range(MAX_CHAIN_ATTEMPTS):
                candidate = self._next_candidate(rejected)
                if candidate is None:
                    break
                try:
                    payload = self._refresh(session, candidate)
                except TokenRequestError as err:
                    if err.error != "invalid_grant":
                        raise
                    rejected.append(candidate)
                    continue
                self._keep(payload, session_is_new=self.token is None)
                return
        raise self._consent_error(rejected)

    def _next_candidate(self, rejected: list[str]) -> str | None:
        """The stored token, else the connection's (a new consent put there), else one a concurrent task is writing."""
        stored = self.store.read()
        if stored and stored not in rejected:
            return stored
        configured = self.settings.refresh_token
        if configured and configured not in rejected:
            return configured
        return self.store.wait_for_other(rejected) if rejected else None

    def _keep(self, payload: dict[str, Any], *, session_is_new: bool) -> None:
        """Publish the rotated token before using the access token, so no other task holds a dead link."""
        rotated = payload.get("refresh_token")
        if rotated:
            self.store.write(str(rotated))
        self._store(payload, new_session=session_is_new)

    def _consent_error(self, rejected: list[str]) -> Exception:
        command = f"acumatica-oauth authorize --conn-id {self.conn_id or '<conn_id>'}"
        if not rejected:
            return AcumaticaConfigError(
                "The connection has no refresh token yet: a person must consent once. "
                f"Run `{command}`, or set extra.refresh_token in the connection."
            )
        return AcumaticaCredentialsError(
            "Acumatica rejected the refresh token (invalid_grant), and the newest stored one too: it expired, "
            f"was revoked, or the chain was broken. The consent must be redone: run `{command}` "
            "or store a new refresh_token in the connection."
        )

    def _error_for(self, grant_type: str, error: TokenError) -> Exception:
        if error.error == "invalid_grant":
            return TokenRequestError("Acumatica rejected the refresh token (invalid_grant).", error.error)
        return super()._error_for(grant_type, error)
