"""Auth strategies: small `requests` auth objects, one per connection `auth_type`."""

from __future__ import annotations

from airflow_provider_acumatica.auth.base import AcumaticaAuth, AuthStats
from airflow_provider_acumatica.auth.basic import ApiKeyAuth, BasicAuth
from airflow_provider_acumatica.auth.factory import build_auth
from airflow_provider_acumatica.auth.oauth2 import (
    OAuth2AuthorizationCodeAuth,
    OAuth2ClientCredentialsAuth,
    OAuth2PasswordAuth,
)
from airflow_provider_acumatica.auth.session import CookieSessionAuth

__all__ = [
    "AcumaticaAuth",
    "ApiKeyAuth",
    "AuthStats",
    "BasicAuth",
    "CookieSessionAuth",
    "OAuth2AuthorizationCodeAuth",
    "OAuth2ClientCredentialsAuth",
    "OAuth2PasswordAuth",
    "build_auth",
]
