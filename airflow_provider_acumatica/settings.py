"""Validated settings of one `acumatica` connection.

Everything the hook needs is read and checked here, once, so a wrong field fails with a message
that names the field and the fix before any request is sent.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_acumatica.connection_fields import AUTH_TYPES
from airflow_provider_acumatica.exceptions import AcumaticaConfigError

DEFAULT_TIMEOUT = 300.0
DEFAULT_CONNECT_TIMEOUT = 15.0
DEFAULT_MAX_RETRIES = 5
LOGIN_FIELDS = ("name", "password", "tenant", "branch", "locale")
_CLIENT_ID_PATTERN = re.compile(r"^[0-9A-Fa-f-]{36}@(?P<tenant>.+)$")
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
_REQUIRED: dict[str, tuple[str, ...]] = {
    "oauth2_authorization_code": ("client_id", "client_secret"),
    "oauth2_password": ("client_id", "client_secret", "login", "password"),
    "oauth2_client_credentials": ("client_id", "client_secret"),
    "api_key": ("client_id", "client_secret"),
    "basic": ("login", "password"),
    "session": ("login", "password"),
}


@dataclass(frozen=True)
class AcumaticaSettings:
    base_url: str
    auth_type: str
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    redirect_uri: str | None = None
    scope: str = "api offline_access"
    tenant: str | None = None
    branch: str | None = None
    locale: str | None = None
    endpoint_name: str = "Default"
    endpoint_version: str = "24.200.001"
    token_path: str = "/identity/connect/token"
    authorize_path: str = "/identity/connect/authorize"
    login_path: str = "/entity/auth/login"
    logout_path: str = "/entity/auth/logout"
    login_field_names: Mapping[str, str] = field(default_factory=dict)
    verify: bool | str = True
    timeout: float = DEFAULT_TIMEOUT
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    allow_insecure_http: bool = False
    max_retries: int = DEFAULT_MAX_RETRIES
    max_requests_per_minute: int | None = None
    max_concurrent_requests: int | None = None

    @property
    def effective_tenant(self) -> str | None:
        """The tenant named in the connection, else the one encoded in the client ID."""
        if self.tenant:
            return self.tenant
        match = _CLIENT_ID_PATTERN.match(self.client_id or "")
        return match.group("tenant") if match else None

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    @classmethod
    def from_connection(cls, conn: Any) -> AcumaticaSettings:
        """Build from an Airflow `Connection` (anything with host, login, password and extra_dejson)."""
        _check_extra_is_json(getattr(conn, "extra", None))
        extra = _normalize_extra(conn.extra_dejson or {})
        return cls.from_values(
            host=conn.host, login=conn.login, password=conn.password, extra=extra, schema=conn.schema
        )

    @classmethod
    def from_values(
        cls,
        *,
        host: str | None,
        login: str | None = None,
        password: str | None = None,
        extra: Mapping[str, Any] | None = None,
        schema: str | None = None,
    ) -> AcumaticaSettings:
        extra = dict(extra or {})
        auth_type = _auth_type(extra)
        allow_insecure = _to_bool("allow_insecure_http", extra.get("allow_insecure_http", False))
        settings = cls(
            base_url=_base_url(host, schema, allow_insecure),
            auth_type=auth_type,
            login=login or None,
            password=password or None,
            client_id=_text(extra, "client_id"),
            client_secret=_text(extra, "client_secret"),
            refresh_token=_text(extra, "refresh_token"),
            redirect_uri=_text(extra, "redirect_uri"),
            scope=_text(extra, "scope") or _default_scope(auth_type),
            tenant=_text(extra, "tenant"),
            branch=_text(extra, "branch"),
            locale=_text(extra, "locale"),
            endpoint_name=_text(extra, "endpoint_name") or "Default",
            endpoint_version=_endpoint_version(extra),
            token_path=_path(extra, "token_path", "/identity/connect/token"),
            authorize_path=_path(extra, "authorize_path", "/identity/connect/authorize"),
            login_path=_path(extra, "login_path", "/entity/auth/login"),
            logout_path=_path(extra, "logout_path", "/entity/auth/logout"),
            login_field_names=_login_field_names(extra.get("login_field_names")),
            verify=_verify(extra.get("verify", True)),
            timeout=_positive_number("timeout", extra.get("timeout", DEFAULT_TIMEOUT)),
            allow_insecure_http=allow_insecure,
            max_retries=_max_retries(extra.get("max_retries", DEFAULT_MAX_RETRIES)),
            max_requests_per_minute=_licence_limit(extra, "max_requests_per_minute"),
            max_concurrent_requests=_licence_limit(extra, "max_concurrent_requests"),
        )
        _check_required(settings)
        return settings


def _check_extra_is_json(raw: Any) -> None:
    """Airflow logs and ignores an unreadable extra; we stop, without echoing it (it holds secrets)."""
    if not isinstance(raw, str) or not raw.strip():
        return
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as err:
        raise AcumaticaConfigError(
            f"The Acumatica connection's extra is not valid JSON (line {err.lineno}, column {err.colno}). "
            'Write it as a JSON object, e.g. {"auth_type": "oauth2_password", "client_id": "..."}.'
        ) from None
    if not isinstance(parsed, dict):
        raise AcumaticaConfigError("The Acumatica connection's extra must be a JSON object, not a list or a value.")


def _normalize_extra(extra: Mapping[str, Any]) -> dict[str, Any]:
    """Accept both bare keys and the legacy `extra__acumatica__` prefix; empty UI values mean unset."""
    normalized: dict[str, Any] = {}
    for key, value in extra.items():
        name = key.removeprefix("extra__acumatica__")
        if value is None or value == "":
            continue
        if name not in normalized or key == name:
            normalized[name] = value
    return normalized


def _text(extra: Mapping[str, Any], key: str) -> str | None:
    value = extra.get(key)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _auth_type(extra: Mapping[str, Any]) -> str:
    auth_type = _text(extra, "auth_type") or "oauth2_password"
    if auth_type not in AUTH_TYPES:
        raise AcumaticaConfigError(
            f"Unknown auth_type {auth_type!r} in the Acumatica connection. Use one of: {', '.join(AUTH_TYPES)}."
        )
    return auth_type


def _default_scope(auth_type: str) -> str:
    return "api" if auth_type == "oauth2_client_credentials" else "api offline_access"


def _base_url(host: str | None, schema: str | None, allow_insecure: bool) -> str:
    if not host or not host.strip():
        raise AcumaticaConfigError(
            "The Acumatica connection has no host. Set it to the instance URL including the site path, "
            "e.g. https://example.acumatica.com/MyInstance."
        )
    url = host.strip()
    if "://" not in url:
        url = f"https://{url}"
    if schema and schema.strip("/") and not urlsplit(url).path.strip("/"):
        url = f"{url.rstrip('/')}/{schema.strip('/')}"
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise AcumaticaConfigError(
            f"The Acumatica connection host {host!r} is not an http(s) URL. "
            "Use the instance URL, e.g. https://example.acumatica.com/MyInstance."
        )
    if parts.query or parts.fragment:
        raise AcumaticaConfigError(
            "The Acumatica connection host must not carry a query string or fragment; "
            "give only the instance URL, e.g. https://example.acumatica.com/MyInstance."
        )
    if parts.username or parts.password:
        raise AcumaticaConfigError(
            "The Acumatica connection host must not embed credentials; put them in the login and password fields."
        )
    if parts.scheme == "http" and not allow_insecure and not is_loopback(parts.hostname):
        raise AcumaticaConfigError(
            f"Refusing plain http:// to {parts.hostname}: credentials would travel unencrypted. "
            "Use https://, or set allow_insecure_http to true in the connection extra if you accept the risk."
        )
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def is_loopback(hostname: str) -> bool:
    if hostname.lower() in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(hostname.strip("[]")).is_loopback
    except ValueError:
        return False


def _path(extra: Mapping[str, Any], key: str, default: str) -> str:
    value = _text(extra, key) or default
    if value.strip("/") == "***":
        raise AcumaticaConfigError(
            f"{key} is '***', Airflow's mask for values of fields named like secrets, saved back by a form. "
            f"Clear the field (the default is {default})."
        )
    if "://" in value:
        raise AcumaticaConfigError(
            f"{key} must be a path relative to the instance URL (e.g. {default}), not a full URL."
        )
    return "/" + value.lstrip("/")


def _endpoint_version(extra: Mapping[str, Any]) -> str:
    version = _text(extra, "endpoint_version") or "24.200.001"
    if not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise AcumaticaConfigError(f"endpoint_version {version!r} is not of the form YY.R00.001, e.g. 24.200.001.")
    return version


def _login_field_names(value: Any) -> dict[str, str]:
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as err:
            raise AcumaticaConfigError(
                'login_field_names must be a JSON object, e.g. {"name": "username", "tenant": "company"}.'
            ) from err
    if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
        raise AcumaticaConfigError(
            'login_field_names must map login fields to names, e.g. {"name": "username", "tenant": "company"}.'
        )
    unknown = sorted(set(value) - set(LOGIN_FIELDS))
    if unknown:
        raise AcumaticaConfigError(
            f"login_field_names has unknown keys {unknown}; the login fields are {', '.join(LOGIN_FIELDS)}."
        )
    return {str(k): v for k, v in value.items()}


def _to_bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise AcumaticaConfigError(f"{key} must be true or false, not {value!r}.")


def _verify(value: Any) -> bool | str:
    if isinstance(value, bool):
        return value
    text = str(value).strip()
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    return text


def _positive_number(key: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError) as err:
        raise AcumaticaConfigError(f"{key} must be a number of seconds, not {value!r}.") from err
    if number <= 0:
        raise AcumaticaConfigError(f"{key} must be greater than zero, not {value!r}.")
    return number


def _licence_limit(extra: Mapping[str, Any], key: str) -> int | None:
    """Empty means no pacing; otherwise the licence's figure from the License Monitoring Console (SM604000)."""
    value = extra.get(key)
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except (TypeError, ValueError) as err:
        raise AcumaticaConfigError(f"{key} must be a whole number or empty, not {value!r}.") from err
    if isinstance(value, bool) or number < 1 or number != float(value):
        raise AcumaticaConfigError(f"{key} must be a whole number >= 1 or empty (no limit), not {value!r}.")
    return number


def _max_retries(value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError) as err:
        raise AcumaticaConfigError(f"max_retries must be a whole number, not {value!r}.") from err
    if not 0 <= number <= 20:
        raise AcumaticaConfigError(f"max_retries must be between 0 and 20, not {number}.")
    return number


def _check_required(settings: AcumaticaSettings) -> None:
    missing = [name for name in _REQUIRED[settings.auth_type] if not getattr(settings, name)]
    if missing:
        where = ", ".join(name if name in {"login", "password"} else f"extra.{name}" for name in missing)
        raise AcumaticaConfigError(f"auth_type {settings.auth_type} needs {where} in the Acumatica connection.")
    needs_tenant_suffix = settings.auth_type in {"oauth2_password", "oauth2_authorization_code"}
    if needs_tenant_suffix and "@" not in (settings.client_id or ""):
        raise AcumaticaConfigError(
            "client_id must be of the form GUID@Tenant, as shown on Connected Applications (SM303010)."
        )
