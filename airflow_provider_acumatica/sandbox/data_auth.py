"""Who a data request runs as: a session cookie, an OAuth bearer, or HTTP Basic.

HTTP Basic behaves as observed on the real server: without session cookies every request opens a
new session (and seat) and answers with its cookies; sending those cookies back reuses the session.
Basic takes either a user (`name` or `name@Tenant`, the tenant of an OData URL winning) or, as in the
widely published simplified API, a client id and secret used as an "API key".

On OData routes (GI and DAC), Basic with a user name opens a conventional-user session, counted against the
license's concurrent users (`max_users`), not an API seat; a client id as "API key" and a bearer token stay API
users. Past the limit of its kind a request gets 429: "API Login Limit" or "User Login Limit".
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from airflow_provider_acumatica.sandbox.config import SandboxConfig
from airflow_provider_acumatica.sandbox.cookies import session_cookies
from airflow_provider_acumatica.sandbox.faults import FaultSettings
from airflow_provider_acumatica.sandbox.identity import (
    API,
    USER,
    Account,
    IdentityStore,
    SeatLimitError,
    Session,
    SessionKind,
    UserLimitError,
)
from airflow_provider_acumatica.sandbox.protocol import Request, Response, px_error

NOT_LOGGED_IN = "You are not logged in."


@dataclass
class Authenticated:
    session: Session
    set_cookies: list[tuple[str, str]] = field(default_factory=list)


def not_logged_in(headers: list[tuple[str, str]] | None = None) -> Response:
    return Response.json({"message": NOT_LOGGED_IN}, status=401, headers=headers)


def login_limit() -> Response:
    body = px_error(
        "An error has occurred.",
        "API Login Limit: the maximum number of concurrent API sessions allowed by the license is reached.",
        "PX.Data.PXException",
    )
    return Response.json(body, status=429)


def user_limit() -> Response:
    body = px_error(
        "An error has occurred.",
        "User Login Limit: the maximum number of concurrent users allowed by the license is reached. "
        "Sign out unused sessions or wait for them to time out.",
        "PX.Data.PXException",
    )
    return Response.json(body, status=429)


def split_authorization(request: Request) -> tuple[str, str]:
    scheme, _, value = (request.header("Authorization") or "").strip().partition(" ")
    return scheme.lower(), value.strip()


def decode_basic(value: str) -> tuple[str, str] | None:
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    name, sep, secret = decoded.partition(":")
    return (name, secret) if sep else None


class DataAuthenticator:
    def __init__(self, config: SandboxConfig, identity: IdentityStore) -> None:
        self._config = config
        self._identity = identity

    def authenticate(
        self, request: Request, faults: FaultSettings, odata_tenant: str | None
    ) -> Authenticated | Response:
        """Resolve and count the request against its session, or say why it may not run.

        `odata_tenant` is the tenant of an OData URL, None on the other routes."""
        try:
            outcome = self._resolve(request, faults, odata_tenant)
        except SeatLimitError:
            return login_limit()
        except UserLimitError:
            return user_limit()
        if isinstance(outcome, Response):
            return outcome
        if not self._identity.begin_request(outcome.session, faults):
            return not_logged_in()
        return outcome

    def _resolve(self, request: Request, faults: FaultSettings, odata_tenant: str | None) -> Authenticated | Response:
        scheme, value = split_authorization(request)
        if scheme == "bearer":
            return self._bearer(request, value, faults)
        if scheme == "basic":
            found = self._basic_account(value, odata_tenant)
            if found is None:
                return not_logged_in()
            account, is_user = found
            kind: SessionKind = USER if is_user and odata_tenant is not None else API
            return self._cookie_or_new(request, account, kind)
        session = self._identity.cookie_session(request.cookies)
        return not_logged_in() if session is None else Authenticated(session)

    def _bearer(self, request: Request, value: str, faults: FaultSettings) -> Authenticated | Response:
        token = self._identity.find_token(value)
        if token is None or not self._identity.use_token(token, faults):
            return not_logged_in([("WWW-Authenticate", 'Bearer error="invalid_token"')])
        if token.grant.concurrent:
            return self._cookie_or_new(request, token.grant.account)
        return Authenticated(self._identity.token_session(token))

    def _cookie_or_new(self, request: Request, account: Account, kind: SessionKind = API) -> Authenticated:
        session = self._identity.cookie_session(request.cookies)
        if session is not None and session.account == account and session.kind == kind:
            return Authenticated(session)
        session = self._identity.open_session(account, kind)
        return Authenticated(session, session_cookies(session, self._config.tls))

    def _basic_account(self, value: str, odata_tenant: str | None) -> tuple[Account, bool] | None:
        """The account and whether it is a user (True) rather than a client id used as an API key."""
        credentials = decode_basic(value)
        if credentials is None:
            return None
        name, secret = credentials
        client = self._config.find_client(name)
        if client is not None:
            return (Account.of(self._config.client_user(client)), False) if client.secret == secret else None
        user_name, _, tenant = name.partition("@")
        user = self._config.find_user(user_name, odata_tenant or tenant or self._config.default_tenant)
        if user is None or user.password != secret:
            return None
        return Account.of(user), True
