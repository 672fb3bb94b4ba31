"""Cookie session: sign in with a JSON body, send the cookie jar back, sign out with Content-Length: 0."""

from __future__ import annotations

from typing import Any

import requests

from airflow_provider_acumatica.auth.base import (
    AcumaticaAuth,
    html_error,
    is_html,
    is_login_limit,
    login_limit_error,
)
from airflow_provider_acumatica.auth.basic import (
    forget_session_cookies,
    has_session_cookie,
    mask_session_cookies,
)
from airflow_provider_acumatica.exceptions import (
    AcumaticaAuthError,
    AcumaticaConfigError,
    AcumaticaCredentialsError,
)
from airflow_provider_acumatica.settings import AcumaticaSettings

_ERROR_TEXT_LIMIT = 4000


class CookieSessionAuth(AcumaticaAuth):
    """`POST /entity/auth/login` with {name, password, tenant, branch, locale}, renamed as configured."""

    auth_type = "session"

    def __init__(self, settings: AcumaticaSettings, **kwargs: Any) -> None:
        super().__init__(settings, **kwargs)
        self._signed_in = False

    @property
    def signed_in(self) -> bool:
        return self._signed_in

    def login_body(self) -> dict[str, str]:
        values = {
            "name": self.settings.login,
            "password": self.settings.password,
            "tenant": self.settings.tenant,
            "branch": self.settings.branch,
            "locale": self.settings.locale,
        }
        names = self.settings.login_field_names
        return {names.get(key, key): value for key, value in values.items() if value}

    def _sign_in(self, session: requests.Session) -> None:
        response = self.post_sign_in(
            session,
            self.settings.login_path,
            json=self.login_body(),
            headers={"Accept": "application/json"},
        )
        mask_session_cookies(session)
        if response.status_code in {200, 204} and has_session_cookie(session):
            self._signed_in = True
            self.stats.sessions_opened += 1
            return
        raise self._login_error(response)

    def _login_error(self, response: requests.Response) -> Exception:
        if is_login_limit(response):
            return login_limit_error("sign-in")
        if response.status_code in {200, 204}:
            return AcumaticaAuthError(
                "The sign-in answered success but set no session cookie. Check login_path "
                f"({self.settings.login_path}) and the host URL."
            )
        if is_html(response):
            return html_error("sign-in endpoint", response.status_code)
        text = _safe_text(response)
        if "Invalid credentials" in text or response.status_code == 401:
            return AcumaticaCredentialsError(
                "Acumatica rejected the username or password. Not retrying: repeated failures lock the "
                "account. Check the connection's login and password."
            )
        if "PXUndefinedCompanyException" in text or "company ID cannot be determined" in text:
            return AcumaticaConfigError(
                f"Acumatica does not know the tenant {self.settings.tenant!r}. Set extra.tenant to the "
                "tenant's Login Name on Tenants (SM203520)."
            )
        if "change your password" in text.lower():
            return AcumaticaAuthError(
                "Acumatica requires this user to change the password. Sign in once in a browser, or clear "
                "'change password on next login' for the API user."
            )
        if response.status_code == 404:
            return AcumaticaConfigError(
                f"The sign-in path {self.settings.login_path} does not exist on this server (HTTP 404). "
                "Check login_path and the host URL."
            )
        return AcumaticaAuthError(
            f"Acumatica sign-in failed with HTTP {response.status_code}. Check the connection's login, "
            "tenant and branch."
        )

    def _forget(self, session: requests.Session) -> None:
        forget_session_cookies(session)
        self._signed_in = False

    def logout(self, session: requests.Session) -> None:
        if not self._signed_in:
            return
        self.send_logout(session)
        forget_session_cookies(session)
        self._signed_in = False

    def after_response(self, session: requests.Session) -> None:
        mask_session_cookies(session)


def _safe_text(response: requests.Response) -> str:
    """Login error bodies are only matched against known phrases, never shown."""
    try:
        return response.text[:_ERROR_TEXT_LIMIT]
    except (UnicodeDecodeError, requests.RequestException):
        return ""
