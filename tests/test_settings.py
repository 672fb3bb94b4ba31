"""A wrong connection field fails before any request, with a message naming the field and the fix."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from airflow_provider_acumatica.exceptions import AcumaticaConfigError
from airflow_provider_acumatica.settings import AcumaticaSettings, is_loopback

CLIENT = "0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0@Company"


def settings(host: str = "https://erp.example.com/Inst", **extra: object) -> AcumaticaSettings:
    values = {"client_id": CLIENT, "client_secret": "sandbox-secret", **extra}
    return AcumaticaSettings.from_values(host=host, login="admin", password="123", extra=values)


def test_defaults_follow_the_real_api() -> None:
    result = settings()
    assert result.base_url == "https://erp.example.com/Inst"
    assert result.auth_type == "oauth2_password"
    assert result.scope == "api offline_access"
    assert (result.endpoint_name, result.endpoint_version) == ("Default", "24.200.001")
    assert result.token_path == "/identity/connect/token"
    assert result.login_path == "/entity/auth/login"
    assert result.logout_path == "/entity/auth/logout"
    assert result.verify is True
    assert result.timeout >= 120
    assert result.url("/entity/auth/login") == "https://erp.example.com/Inst/entity/auth/login"


def test_client_credentials_default_scope_is_api() -> None:
    assert settings(auth_type="oauth2_client_credentials").scope == "api"


def test_tenant_falls_back_to_the_client_id_suffix() -> None:
    assert settings().effective_tenant == "Company"
    assert settings(tenant="Other").effective_tenant == "Other"


def test_connection_object_with_legacy_prefixed_and_empty_extras() -> None:
    conn = SimpleNamespace(
        host="erp.example.com/Inst/",
        login="admin",
        password="123",
        schema=None,
        extra_dejson={
            "extra__acumatica__auth_type": "session",
            "extra__acumatica__tenant": "Company",
            "branch": "",
            "timeout": "60",
        },
    )
    result = AcumaticaSettings.from_connection(conn)
    assert result.base_url == "https://erp.example.com/Inst"
    assert result.auth_type == "session"
    assert result.tenant == "Company"
    assert result.branch is None
    assert result.timeout == 60.0


@pytest.mark.parametrize(
    ("host", "extra", "fragment"),
    [
        (None, {}, "has no host"),
        ("ftp://erp.example.com", {}, "not an http(s) URL"),
        ("http://erp.example.com/Inst", {}, "Refusing plain http://"),
        ("https://u:p@erp.example.com", {}, "must not embed credentials"),
        ("https://erp.example.com?x=1", {}, "query string"),
        ("https://erp.example.com", {"auth_type": "oauth2"}, "Unknown auth_type 'oauth2'"),
        ("https://erp.example.com", {"endpoint_version": "24.2"}, "YY.R00.001"),
        ("https://erp.example.com", {"timeout": "soon"}, "timeout must be a number"),
        ("https://erp.example.com", {"timeout": 0}, "greater than zero"),
        ("https://erp.example.com", {"max_retries": 99}, "between 0 and 20"),
        ("https://erp.example.com", {"max_requests_per_minute": "lots"}, "max_requests_per_minute must be a whole"),
        ("https://erp.example.com", {"max_requests_per_minute": 0}, ">= 1 or empty"),
        ("https://erp.example.com", {"max_concurrent_requests": 1.5}, "max_concurrent_requests must be a whole"),
        ("https://erp.example.com", {"allow_insecure_http": "maybe"}, "true or false"),
        ("https://erp.example.com", {"login_field_names": "{oops"}, "must be a JSON object"),
        ("https://erp.example.com", {"login_field_names": {"user": "username"}}, "unknown keys ['user']"),
        ("https://erp.example.com", {"token_path": "https://evil.example.com/t"}, "not a full URL"),
        ("https://erp.example.com", {"token_path": "***"}, "Clear the field"),
        ("https://erp.example.com", {"client_id": "no-tenant-suffix"}, "GUID@Tenant"),
    ],
)
def test_bad_fields_are_named_with_the_fix(host: str | None, extra: dict[str, object], fragment: str) -> None:
    with pytest.raises(AcumaticaConfigError, match=None) as caught:
        settings(host, **extra) if host is not None else AcumaticaSettings.from_values(host=None)
    assert fragment in str(caught.value)


@pytest.mark.parametrize(
    ("auth_type", "missing"),
    [
        ("oauth2_authorization_code", "extra.client_secret"),
        ("oauth2_password", "password"),
        ("api_key", "extra.client_secret"),
        ("basic", "login"),
        ("session", "password"),
    ],
)
def test_missing_credentials_are_named(auth_type: str, missing: str) -> None:
    extra = {"auth_type": auth_type, "client_id": CLIENT}
    if missing != "extra.client_secret":
        extra["client_secret"] = "sandbox-secret"
    login = None if missing == "login" else "admin"
    password = None if missing == "password" else "123"
    with pytest.raises(AcumaticaConfigError) as caught:
        AcumaticaSettings.from_values(host="https://erp.example.com", login=login, password=password, extra=extra)
    assert missing in str(caught.value)
    assert auth_type in str(caught.value)


def test_plain_http_is_allowed_on_loopback_or_when_asked() -> None:
    assert settings("http://127.0.0.1:8085").base_url == "http://127.0.0.1:8085"
    assert settings("http://localhost:8085/Site").base_url == "http://localhost:8085/Site"
    assert settings("http://erp.internal", allow_insecure_http=True).base_url == "http://erp.internal"
    assert is_loopback("::1") and is_loopback("127.9.9.9") and not is_loopback("10.0.0.1")


def test_verify_accepts_booleans_strings_and_bundle_paths() -> None:
    assert settings(verify="false").verify is False
    assert settings(verify=True).verify is True
    assert settings(verify="/etc/ssl/ca.pem").verify == "/etc/ssl/ca.pem"


def test_login_field_names_from_json_text() -> None:
    renames = {"name": "username", "tenant": "company"}
    assert settings(login_field_names=json.dumps(renames)).login_field_names == renames


def test_secrets_stay_out_of_repr() -> None:
    text = repr(settings(refresh_token="rt-secret-value"))
    assert "sandbox-secret" not in text and "rt-secret-value" not in text and "'123'" not in text


def test_licence_limits_are_empty_by_default_and_read_when_set() -> None:
    default = settings("https://erp.example.com")
    assert (default.max_requests_per_minute, default.max_concurrent_requests) == (None, None)
    paced = settings("https://erp.example.com", max_requests_per_minute="120", max_concurrent_requests=2)
    assert (paced.max_requests_per_minute, paced.max_concurrent_requests) == (120, 2)
    assert settings("https://erp.example.com", max_requests_per_minute="").max_requests_per_minute is None
