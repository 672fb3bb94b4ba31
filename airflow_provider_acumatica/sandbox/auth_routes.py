"""Cookie sign-in and sign-out, with the real server's status codes and error bodies.

Also the widely published simplified sign-in, `POST /api/auth/login` with `{company, username,
password}`, which opens the same kind of session (sign-out is the real route).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from airflow_provider_acumatica.sandbox.config import SandboxConfig
from airflow_provider_acumatica.sandbox.cookies import expired_session_cookies, login_cookies
from airflow_provider_acumatica.sandbox.data_auth import login_limit, split_authorization
from airflow_provider_acumatica.sandbox.identity import Account, IdentityStore, SeatLimitError
from airflow_provider_acumatica.sandbox.protocol import Request, Response, px_error
from airflow_provider_acumatica.sandbox.stats import SandboxStats

SIMPLIFIED_FIELDS = {"company": "tenant", "username": "name", "password": "password", "branch": "branch"}


def invalid_credentials() -> Response:
    body = px_error("An error has occurred.", "Error: Invalid credentials. Please try again.", "PX.Data.PXException")
    body["stackTrace"] = "   at PX.Data.PXLogin.LoginUser(String& userName, String password)"
    return Response.json(body, status=500)


def undefined_company() -> Response:
    body = px_error(
        "An error has occurred.",
        "A proper company ID cannot be determined for the request.",
        "PX.Data.PXUndefinedCompanyException",
    )
    return Response.json(body, status=500)


def invalid_request(reason: str) -> Response:
    """The real server's 400 for a body it cannot read."""
    return Response.json({"message": "The request is invalid.", "modelState": {"": [reason]}}, status=400)


def read_fields(request: Request) -> dict[str, str] | Response:
    """A JSON object or a form; values that are not strings count as missing."""
    content_type = (request.header("Content-Type") or "").lower()
    if content_type.startswith("application/x-www-form-urlencoded"):
        return dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
    if not request.body:
        return invalid_request("The request body should not be empty.")
    try:
        payload: Any = request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return invalid_request("The request body is not valid JSON.")
    if not isinstance(payload, dict):
        return invalid_request("The request body should be a JSON object.")
    return {key: value for key, value in payload.items() if isinstance(value, str)}


class SessionRoutes:
    def __init__(self, config: SandboxConfig, identity: IdentityStore, stats: SandboxStats) -> None:
        self._config = config
        self._identity = identity
        self._stats = stats

    def login(self, request: Request) -> Response:
        fields = read_fields(request)
        return fields if isinstance(fields, Response) else self._sign_in(fields, "/entity/auth/login")

    def simplified_login(self, request: Request) -> Response:
        fields = read_fields(request)
        if isinstance(fields, Response):
            return fields
        renamed = {SIMPLIFIED_FIELDS[key]: value for key, value in fields.items() if key in SIMPLIFIED_FIELDS}
        return self._sign_in(renamed, "/api/auth/login")

    def _sign_in(self, fields: dict[str, str], route: str) -> Response:
        """An empty or omitted tenant means the default one, as on a multi-tenant site."""
        tenant = fields.get("tenant") or self._config.default_tenant
        if tenant not in self._config.tenants:
            return undefined_company()
        user = self._config.find_user(fields.get("name", ""), tenant)
        if user is None or user.password != fields.get("password"):
            return invalid_credentials()
        account = Account(user=user.name, tenant=tenant, branch=fields.get("branch") or user.branch)
        try:
            session = self._identity.open_session(account)
        except SeatLimitError:
            return login_limit()
        self._stats.event("login")
        locale = fields.get("locale") or "en-US"
        return Response.empty(204, login_cookies(session, self._config.tls, locale, route))

    def logout(self, request: Request) -> Response:
        """Always 204; frees the bearer's token session and the cookie session, whichever are present."""
        closed = False
        scheme, value = split_authorization(request)
        token = self._identity.find_token(value) if scheme == "bearer" else None
        if token is not None:
            closed = self._identity.sign_out_token(token)
        session = self._identity.cookie_session(request.cookies)
        if session is not None:
            closed = self._identity.close(session) or closed
        if closed:
            self._stats.event("logout")
        return Response.empty(204, expired_session_cookies())
