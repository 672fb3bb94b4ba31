"""Pick the strategy for a connection's `auth_type`."""

from __future__ import annotations

from typing import Any

from airflow_provider_acumatica.auth.base import AcumaticaAuth
from airflow_provider_acumatica.auth.basic import ApiKeyAuth, BasicAuth
from airflow_provider_acumatica.auth.oauth2 import (
    OAuth2AuthorizationCodeAuth,
    OAuth2ClientCredentialsAuth,
    OAuth2PasswordAuth,
)
from airflow_provider_acumatica.auth.session import CookieSessionAuth
from airflow_provider_acumatica.settings import AcumaticaSettings

STRATEGIES: dict[str, type[AcumaticaAuth]] = {
    "oauth2_authorization_code": OAuth2AuthorizationCodeAuth,
    "oauth2_password": OAuth2PasswordAuth,
    "oauth2_client_credentials": OAuth2ClientCredentialsAuth,
    "api_key": ApiKeyAuth,
    "basic": BasicAuth,
    "session": CookieSessionAuth,
}


def build_auth(settings: AcumaticaSettings, **kwargs: Any) -> AcumaticaAuth:
    return STRATEGIES[settings.auth_type](settings, **kwargs)
