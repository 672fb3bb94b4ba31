"""The cookies of an Acumatica session, named and flagged as the real server sets them."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from airflow_provider_acumatica.sandbox.identity import Session

AUTH_COOKIE = ".ASPXAUTH"
SESSION_COOKIE = "ASP.NET_SessionId"
_EXPIRED = "expires=Mon, 11-Oct-1999 00:00:00 GMT"


def parse_cookie_header(header: str | None) -> dict[str, str]:
    """Lenient on purpose: values such as `Locale=Culture=en-US&TimeZone=...` break `http.cookies`."""
    cookies: dict[str, str] = {}
    for part in (header or "").split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name:
            cookies[name] = value
    return cookies


def session_cookies(session: Session, tls: bool) -> list[tuple[str, str]]:
    """The two cookies that carry a session; `secure` only when the sandbox itself serves HTTPS."""
    auth_flags = "path=/; secure; HttpOnly; SameSite=None" if tls else "path=/; HttpOnly"
    session_flags = f"path=/;{' secure;' if tls else ''} HttpOnly; SameSite=Lax"
    return [
        ("Set-Cookie", f"{AUTH_COOKIE}={session.ticket}; {auth_flags}"),
        ("Set-Cookie", f"{SESSION_COOKIE}={session.id}; {session_flags}"),
    ]


def login_cookies(session: Session, tls: bool, locale: str, route: str) -> list[tuple[str, str]]:
    """Everything a real sign-in sets, including the tenant, branch and request-tracing cookies."""
    year_ahead = format_datetime(datetime.now(UTC) + timedelta(days=365), usegmt=True)
    return [
        *session_cookies(session, tls),
        ("Set-Cookie", f"CompanyID={session.account.tenant}; expires={year_ahead}; path=/"),
        ("Set-Cookie", f"Locale=Culture={locale}&TimeZone=GMTM0800A; expires={year_ahead}; path=/"),
        ("Set-Cookie", "UserBranch=1; path=/"),
        ("Set-Cookie", f"requestid={secrets.token_hex(16).upper()}; path=/"),
        (
            "Set-Cookie",
            f"requeststat=+st:12+sc:~{route}+start:{datetime.now(UTC):%Y-%m-%dT%H:%M:%S}+tg:; path=/",
        ),
    ]


def expired_session_cookies() -> list[tuple[str, str]]:
    return [
        ("Set-Cookie", f"{AUTH_COOKIE}=; {_EXPIRED}; path=/; HttpOnly"),
        ("Set-Cookie", f"{SESSION_COOKIE}=; {_EXPIRED}; path=/; HttpOnly"),
    ]
