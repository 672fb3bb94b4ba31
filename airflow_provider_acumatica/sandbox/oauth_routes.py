"""The built-in identity server under `/identity/`, answering as RFC 6749 and the real server do.

Grants: `password`, `refresh_token` (rotating: each refresh invalidates the refresh token it used),
`authorization_code` with PKCE S256, and `client_credentials`, which real Acumatica does not have
and which is refused with `unsupported_grant_type` unless the sandbox is configured to allow it.

The authorize endpoint needs no person: it signs in the client's configured user and redirects
straight back, or redirects with `access_denied` when the `consent` setting is "deny".

When every API seat is taken, the token endpoint answers 429
`{"error": "temporarily_unavailable", "error_description": "API Login Limit ..."}`: a refused sign-in,
not a dead grant, so clients must not take it for `invalid_grant`.

OpenID Connect ID tokens are not emulated; only the API scopes are offered.
"""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
import uuid
from collections.abc import Callable
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from airflow_provider_acumatica.sandbox.config import CLIENT_ID_PATTERN, OAuthClient, SandboxConfig
from airflow_provider_acumatica.sandbox.data_auth import decode_basic, split_authorization
from airflow_provider_acumatica.sandbox.faults import FaultSettings
from airflow_provider_acumatica.sandbox.identity import (
    AccessToken,
    Account,
    IdentityStore,
    InvalidGrantError,
    SeatLimitError,
)
from airflow_provider_acumatica.sandbox.protocol import Request, Response
from airflow_provider_acumatica.sandbox.stats import SandboxStats

SCOPES = ("api", "offline_access", "api:concurrent_access")
SCOPE_HINT = f"Scopes offered: {' '.join(SCOPES)}."
NO_STORE = [("Cache-Control", "no-store"), ("Pragma", "no-cache")]
Form = dict[str, str]


def oauth_error(error: str, description: str, status: int = 400) -> Response:
    return Response.json({"error": error, "error_description": description}, status=status, headers=NO_STORE)


def parse_scopes(raw: str | None) -> frozenset[str] | None:
    """None when a scope is unknown; no scope at all means `api`."""
    requested = frozenset((raw or "api").split())
    return requested if requested and requested <= set(SCOPES) else None


def pkce_matches(challenge: str, verifier: str) -> bool:
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return secrets.compare_digest(computed, challenge)


def with_query(uri: str, params: dict[str, str]) -> str:
    parts = urlsplit(uri)
    query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), *params.items()])
    return urlunsplit(parts._replace(query=query))


def error_page(message: str) -> Response:
    """Shown instead of redirecting when the redirect target itself cannot be trusted."""
    page = (
        "<!DOCTYPE html><html><head><title>Error</title></head>"
        f"<body><h1>Error</h1><p>{html.escape(message)}</p></body></html>"
    )
    return Response(status=400, body=page.encode("utf-8"), headers=[("Content-Type", "text/html; charset=utf-8")])


class OAuthRoutes:
    def __init__(
        self,
        config: SandboxConfig,
        identity: IdentityStore,
        stats: SandboxStats,
        faults: Callable[[], FaultSettings],
    ) -> None:
        self._config = config
        self._identity = identity
        self._stats = stats
        self._faults = faults
        self._grants: dict[str, Callable[[OAuthClient, Form], AccessToken | Response]] = {
            "password": self._password,
            "refresh_token": self._refresh,
            "authorization_code": self._authorization_code,
            "client_credentials": self._client_credentials,
        }

    def grant_types(self) -> list[str]:
        allowed = ["authorization_code", "password", "refresh_token"]
        return [*allowed, "client_credentials"] if self._config.allow_client_credentials else allowed

    def discovery(self, request: Request) -> Response:
        scheme = "https" if self._config.tls else "http"
        issuer = f"{scheme}://{request.header('Host', 'localhost')}{self._config.site_path}/identity"
        return Response.json(
            {
                "issuer": issuer,
                "authorization_endpoint": f"{issuer}/connect/authorize",
                "token_endpoint": f"{issuer}/connect/token",
                "userinfo_endpoint": f"{issuer}/connect/userinfo",
                "revocation_endpoint": f"{issuer}/connect/revocation",
                "grant_types_supported": self.grant_types(),
                "response_types_supported": ["code"],
                "scopes_supported": list(SCOPES),
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            }
        )

    def authorize(self, request: Request) -> Response:
        query = request.query
        client = self._find_client(query.get("client_id", ""))
        redirect_uri = query.get("redirect_uri", "")
        if client is None:
            return error_page("The client application is not known.")
        if not self._config.redirect_uri_allowed(redirect_uri):
            return error_page("The redirect_uri is not registered for this client application.")
        state = {"state": query["state"]} if "state" in query else {}

        def back(params: dict[str, str]) -> Response:
            return Response.empty(302, [("Location", with_query(redirect_uri, {**params, **state}))])

        scopes = parse_scopes(query.get("scope"))
        challenge = query.get("code_challenge")
        if query.get("response_type") != "code":
            return back({"error": "unsupported_response_type", "error_description": "Only response_type=code."})
        if scopes is None:
            return back({"error": "invalid_scope", "error_description": SCOPE_HINT})
        # PKCE is optional, but only with S256, and a challenge and its method come together.
        method = query.get("code_challenge_method")
        if (challenge, method) != (None, None) and (challenge is None or method != "S256"):
            return back({"error": "invalid_request", "error_description": "PKCE needs code_challenge_method=S256."})
        if self._faults().consent == "deny":
            return back({"error": "access_denied", "error_description": "The user denied the request."})
        account = Account.of(self._config.client_user(client))
        code = self._identity.issue_code(client.client_id, redirect_uri, account, scopes, challenge)
        return back({"code": code})

    def token(self, request: Request) -> Response:
        form = self._form(request)
        if form is None:
            return oauth_error("invalid_request", "The body must be application/x-www-form-urlencoded.")
        client = self._authenticate_client(request, form)
        if client is None:
            return oauth_error("invalid_client", "Client authentication failed.", status=401)
        grant_type = form.get("grant_type", "")
        handler = self._grants.get(grant_type)
        if handler is None or grant_type not in self.grant_types():
            return oauth_error("unsupported_grant_type", f"The grant type {grant_type!r} is not supported.")
        try:
            outcome = handler(client, form)
        except SeatLimitError:
            return oauth_error(
                "temporarily_unavailable", "API Login Limit: all API sessions of the license are in use.", 429
            )
        if isinstance(outcome, Response):
            return outcome
        self._stats.grant(grant_type)
        return self._token_response(outcome)

    def userinfo(self, request: Request) -> Response:
        scheme, value = split_authorization(request)
        token = self._identity.find_token(value) if scheme == "bearer" else None
        if token is None:
            return Response.json(
                {"error": "invalid_token"}, status=401, headers=[("WWW-Authenticate", 'Bearer error="invalid_token"')]
            )
        account = token.grant.account
        subject = uuid.uuid5(uuid.NAMESPACE_URL, f"acumatica-sandbox:{account.tenant}:{account.user.lower()}")
        return Response.json({"sub": str(subject), "name": account.user, "preferred_username": account.user})

    def revocation(self, request: Request) -> Response:
        """RFC 7009: 200 whatever the token was. The seat stays held, as on the real server."""
        form = self._form(request)
        if form is None:
            return oauth_error("invalid_request", "The body must be application/x-www-form-urlencoded.")
        client = self._authenticate_client(request, form)
        if client is None:
            return oauth_error("invalid_client", "Client authentication failed.", status=401)
        self._identity.revoke(client.client_id, form.get("token", ""))
        return Response.empty(200)

    def _password(self, client: OAuthClient, form: Form) -> AccessToken | Response:
        scopes = parse_scopes(form.get("scope"))
        if scopes is None:
            return oauth_error("invalid_scope", SCOPE_HINT)
        user = self._config.find_user(form.get("username", ""), client.tenant)
        if user is None or user.password != form.get("password"):
            return oauth_error("invalid_grant", "invalid_username_or_password")
        return self._identity.grant(client.client_id, Account.of(user), scopes)

    def _refresh(self, client: OAuthClient, form: Form) -> AccessToken | Response:
        try:
            return self._identity.refresh(client.client_id, form.get("refresh_token", ""))
        except InvalidGrantError:
            return oauth_error("invalid_grant", "The refresh token is invalid, expired or already used.")

    def _authorization_code(self, client: OAuthClient, form: Form) -> AccessToken | Response:
        code = self._identity.redeem_code(form.get("code", ""))
        if code is None or code.client_id != client.client_id:
            return oauth_error("invalid_grant", "The authorization code is invalid, expired or already used.")
        if form.get("redirect_uri") != code.redirect_uri:
            return oauth_error("invalid_grant", "The redirect_uri does not match the authorization request.")
        if code.challenge is not None and not pkce_matches(code.challenge, form.get("code_verifier", "")):
            return oauth_error("invalid_grant", "The code_verifier does not match the code_challenge.")
        return self._identity.grant(client.client_id, code.account, code.scopes)

    def _client_credentials(self, client: OAuthClient, form: Form) -> AccessToken | Response:
        """RFC 6749 says no refresh token here, so `offline_access` is dropped."""
        scopes = parse_scopes(form.get("scope"))
        if scopes is None:
            return oauth_error("invalid_scope", SCOPE_HINT)
        account = Account.of(self._config.client_user(client))
        return self._identity.grant(client.client_id, account, scopes - {"offline_access"})

    def _token_response(self, token: AccessToken) -> Response:
        body: dict[str, str | int] = {
            "access_token": token.value,
            "expires_in": self._config.token_ttl,
            "token_type": "Bearer",
            "scope": " ".join(sorted(token.grant.scopes)),
        }
        if token.grant.refresh_token is not None:
            body["refresh_token"] = token.grant.refresh_token
        return Response.json(body, headers=NO_STORE)

    def _form(self, request: Request) -> Form | None:
        if request.method != "POST" or not (request.header("Content-Type") or "").lower().startswith(
            "application/x-www-form-urlencoded"
        ):
            return None
        return dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))

    def _authenticate_client(self, request: Request, form: Form) -> OAuthClient | None:
        """Secret in the body as documented, or HTTP Basic (form-encoded per RFC 6749 2.3.1)."""
        scheme, value = split_authorization(request)
        credentials = decode_basic(value) if scheme == "basic" else None
        if credentials is not None:
            client_id, secret = unquote(credentials[0]), unquote(credentials[1])
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        client = self._find_client(client_id)
        return client if client is not None and secrets.compare_digest(client.secret, secret) else None

    def _find_client(self, client_id: str) -> OAuthClient | None:
        """`GUID@Tenant`: an unknown tenant makes the client unknown, as its data lives in that tenant."""
        match = CLIENT_ID_PATTERN.match(client_id)
        if match is None or match.group(1) not in self._config.tenants:
            return None
        return self._config.find_client(client_id)
