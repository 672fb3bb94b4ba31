"""Sessions, API seats, conventional users and OAuth grants: the state that decides whether a client may work.

The license counts two kinds of sessions, each against its own limit:

* **API users** (`kind="api"`): every contract REST session holds one "Web Services API User" seat, as on the
  real server: a cookie login, a Basic-authenticated contract request without session cookies, an OAuth token
  session, and a bearer token on OData. Past `max_seats`, sign-in is refused with **HTTP 429 and "API Login
  Limit" in the body**. The real status code of that refusal is not documented; 429 is what the license request
  limit uses and what the official C# client reports for "API Login Limit", so clients written against either
  will recognise it.
* **Conventional users** (`kind="user"`): HTTP Basic with a plain user name on OData (GI and DAC) counts among
  the concurrent users of the license (Concurrent Users on SM604000), not as an API user. Without session
  cookies each such request opens a new one, as observed on the real server. Past `max_users` the request is
  refused with 429 and a "User Login Limit" message. The reference docs give no text for that refusal; the
  sandbox's wording names the concurrent-users limit so a client can tell it from "API Login Limit".

Idle sessions are reclaimed after `session_timeout` seconds by a lazy sweep on every call.

OAuth session semantics follow the documented behaviour:

* a grant with `offline_access` holds one session, reused by every token refreshed from it;
* with `api` only, each access token is its own grant and session, closed when the token expires;
* with `api:concurrent_access`, the grant holds no session: each request without session cookies
  opens a cookie-managed one, which the client must sign out;
* signing out with a bearer closes its session but leaves the token valid, so the next request
  with it opens a new session;
* revoking a token does not free its seat (observed on the real server).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final, Literal

from airflow_provider_acumatica.sandbox.config import SandboxUser
from airflow_provider_acumatica.sandbox.faults import FaultSettings
from airflow_provider_acumatica.sandbox.protocol import Principal
from airflow_provider_acumatica.sandbox.stats import SandboxStats

OFFLINE = "offline_access"
CONCURRENT = "api:concurrent_access"
CODE_TTL = 300.0


SessionKind = Literal["api", "user"]
API: Final[SessionKind] = "api"
USER: Final[SessionKind] = "user"


class SeatLimitError(Exception):
    """All API seats are taken; the text is what clients match on."""

    def __init__(self) -> None:
        super().__init__("API Login Limit")


class UserLimitError(Exception):
    """All concurrent conventional users of the license are signed in."""

    def __init__(self) -> None:
        super().__init__("User Login Limit")


class InvalidGrantError(Exception):
    """A refresh token that is unknown, already used, or issued to another client."""


@dataclass(frozen=True)
class Account:
    user: str
    tenant: str
    branch: str

    @classmethod
    def of(cls, user: SandboxUser) -> Account:
        return cls(user=user.name, tenant=user.tenant, branch=user.branch)


@dataclass(eq=False)
class Session:
    id: str
    ticket: str
    account: Account
    opened_at: float
    last_seen: float
    requests: int = 0
    open: bool = True
    kind: SessionKind = API
    lock: threading.Lock = field(default_factory=threading.Lock)

    def principal(self) -> Principal:
        return Principal(
            user=self.account.user, tenant=self.account.tenant, branch=self.account.branch, session_id=self.id
        )


@dataclass(eq=False)
class Grant:
    client_id: str
    account: Account
    scopes: frozenset[str]
    refresh_token: str | None = None
    session: Session | None = None

    @property
    def concurrent(self) -> bool:
        return CONCURRENT in self.scopes

    @property
    def offline(self) -> bool:
        return OFFLINE in self.scopes


@dataclass(eq=False)
class AccessToken:
    value: str
    grant: Grant
    issued_at: float
    expires_at: float
    requests: int = 0


@dataclass(frozen=True)
class AuthorizationCode:
    client_id: str
    redirect_uri: str
    account: Account
    scopes: frozenset[str]
    challenge: str | None
    expires_at: float


def _session_id() -> str:
    """24 lowercase letters and digits, the look of an ASP.NET session id."""
    alphabet = "abcdefghijklmnopqrstuvwxyz012345"
    return "".join(secrets.choice(alphabet) for _ in range(24))


def _event(kind: SessionKind, what: str) -> str:
    return f"session_{what}" if kind == API else f"user_session_{what}"


class IdentityStore:
    def __init__(
        self,
        stats: SandboxStats,
        max_seats: Callable[[], int],
        session_timeout: float,
        token_ttl: float,
        max_users: Callable[[], int],
    ) -> None:
        self._stats = stats
        self._max_seats = max_seats
        self._max_users = max_users
        self._session_timeout = session_timeout
        self._token_ttl = token_ttl
        self._lock = threading.RLock()
        self._sessions: dict[str, Session] = {}
        self._tokens: dict[str, AccessToken] = {}
        self._refresh: dict[str, Grant] = {}
        self._codes: dict[str, AuthorizationCode] = {}
        self._issued: list[str] = []

    def seats_in_use(self) -> int:
        """API sessions open now."""
        with self._lock:
            self._sweep()
            return self._count(API)

    def users_in_use(self) -> int:
        """Conventional-user sessions open now."""
        with self._lock:
            self._sweep()
            return self._count(USER)

    def _count(self, kind: SessionKind) -> int:
        return sum(1 for session in self._sessions.values() if session.kind == kind)

    def _publish(self, kind: SessionKind) -> None:
        if kind == API:
            self._stats.seats(self._count(API))
        else:
            self._stats.users(self._count(USER))

    def issued_credentials(self) -> list[str]:
        """Every token, session ticket and session id ever handed out: what a leak test searches logs for."""
        with self._lock:
            return list(self._issued)

    def reset(self) -> None:
        with self._lock:
            for session in self._sessions.values():
                session.open = False
            self._sessions.clear()
            self._tokens.clear()
            self._refresh.clear()
            self._codes.clear()

    def open_session(self, account: Account, kind: SessionKind = API) -> Session:
        """Open a session of `kind`; raises SeatLimitError (API) or UserLimitError (conventional) when full."""
        with self._lock:
            self._sweep()
            if kind == API and self._count(API) >= self._max_seats():
                raise SeatLimitError
            if kind == USER and self._count(USER) >= self._max_users():
                raise UserLimitError
            now = time.monotonic()
            session = Session(
                id=_session_id(),
                ticket=secrets.token_hex(48).upper(),
                account=account,
                opened_at=now,
                last_seen=now,
                kind=kind,
            )
            self._sessions[session.ticket] = session
            self._issued += [session.ticket, session.id]
            self._stats.event(_event(kind, "opened"))
            self._publish(kind)
            return session

    def cookie_session(self, cookies: dict[str, str]) -> Session | None:
        """The session named by `.ASPXAUTH` and `ASP.NET_SessionId`, if both match a live one."""
        with self._lock:
            self._sweep()
            session = self._sessions.get(cookies.get(".ASPXAUTH", ""))
            if session is None or session.id != cookies.get("ASP.NET_SessionId"):
                return None
            return session

    def close(self, session: Session, expired: bool = False) -> bool:
        """Free the session's seat; False when it was already gone."""
        with self._lock:
            if self._sessions.pop(session.ticket, None) is None:
                return False
            session.open = False
            self._stats.event(_event(session.kind, "expired" if expired else "closed"))
            self._publish(session.kind)
            return True

    def begin_request(self, session: Session, faults: FaultSettings) -> bool:
        """Count a data request on the session; False when the session died (timeout or injected expiry)."""
        with self._lock:
            self._sweep()
            if not session.open:
                return False
            now = time.monotonic()
            limit, max_age = faults.session_expire_after_requests, faults.session_expire_after_seconds
            if (limit is not None and session.requests >= limit) or (
                max_age is not None and now - session.opened_at >= max_age
            ):
                self._stats.fault("session_expired")
                self.close(session, expired=True)
                return False
            session.requests += 1
            session.last_seen = now
            return True

    def issue_code(
        self,
        client_id: str,
        redirect_uri: str,
        account: Account,
        scopes: Iterable[str],
        challenge: str | None,
    ) -> str:
        code = AuthorizationCode(
            client_id=client_id,
            redirect_uri=redirect_uri,
            account=account,
            scopes=frozenset(scopes),
            challenge=challenge,
            expires_at=time.monotonic() + CODE_TTL,
        )
        value = secrets.token_urlsafe(32)
        with self._lock:
            self._codes[value] = code
        return value

    def redeem_code(self, value: str) -> AuthorizationCode | None:
        """Codes are single-use: a second redemption finds nothing."""
        with self._lock:
            self._sweep()
            return self._codes.pop(value, None)

    def grant(self, client_id: str, account: Account, scopes: Iterable[str]) -> AccessToken:
        grant = Grant(client_id=client_id, account=account, scopes=frozenset(scopes))
        with self._lock:
            if not grant.concurrent:
                grant.session = self.open_session(account)
            if grant.offline:
                self._rotate(grant)
            return self._mint(grant)

    def refresh(self, client_id: str, refresh_token: str) -> AccessToken:
        with self._lock:
            self._sweep()
            grant = self._refresh.get(refresh_token)
            if grant is None or grant.client_id.lower() != client_id.lower():
                raise InvalidGrantError("invalid_grant")
            if not grant.concurrent:
                self._ensure_session(grant)
            self._rotate(grant)
            return self._mint(grant)

    def revoke(self, client_id: str, token: str) -> None:
        with self._lock:
            grant = self._refresh.get(token)
            if grant is not None and grant.client_id.lower() == client_id.lower():
                del self._refresh[token]
                grant.refresh_token = None
            access = self._tokens.get(token)
            if access is not None and access.grant.client_id.lower() == client_id.lower():
                del self._tokens[token]

    def find_token(self, value: str) -> AccessToken | None:
        with self._lock:
            self._sweep()
            return self._tokens.get(value)

    def use_token(self, token: AccessToken, faults: FaultSettings) -> bool:
        """Count a data request on the token; False once an injected expiry has killed it."""
        with self._lock:
            limit, max_age = faults.token_expire_after_requests, faults.token_expire_after_seconds
            if (limit is not None and token.requests >= limit) or (
                max_age is not None and time.monotonic() - token.issued_at >= max_age
            ):
                self._stats.fault("token_expired")
                self._drop_token(token)
                return False
            token.requests += 1
            return True

    def token_session(self, token: AccessToken) -> Session:
        """The grant's session, opened again if a sign-out or timeout closed it."""
        with self._lock:
            return self._ensure_session(token.grant)

    def sign_out_token(self, token: AccessToken) -> bool:
        with self._lock:
            session = token.grant.session
            token.grant.session = None
            return session is not None and self.close(session)

    def _ensure_session(self, grant: Grant) -> Session:
        if grant.session is None or not grant.session.open:
            grant.session = self.open_session(grant.account)
        return grant.session

    def _rotate(self, grant: Grant) -> None:
        if grant.refresh_token is not None:
            self._refresh.pop(grant.refresh_token, None)
        grant.refresh_token = secrets.token_urlsafe(48)
        self._refresh[grant.refresh_token] = grant
        self._issued.append(grant.refresh_token)

    def _mint(self, grant: Grant) -> AccessToken:
        now = time.monotonic()
        token = AccessToken(
            value=secrets.token_urlsafe(48), grant=grant, issued_at=now, expires_at=now + self._token_ttl
        )
        self._tokens[token.value] = token
        self._issued.append(token.value)
        return token

    def _drop_token(self, token: AccessToken) -> None:
        """A dead `api`-only token takes its session with it; an offline grant keeps its session for the next token."""
        self._tokens.pop(token.value, None)
        if token.grant.session is not None and not token.grant.offline:
            self.close(token.grant.session, expired=True)

    def _sweep(self) -> None:
        now = time.monotonic()
        for session in [s for s in self._sessions.values() if now - s.last_seen >= self._session_timeout]:
            self.close(session, expired=True)
        for token in [t for t in self._tokens.values() if t.expires_at <= now]:
            self._drop_token(token)
        for value in [v for v, code in self._codes.items() if code.expires_at <= now]:
            del self._codes[value]
