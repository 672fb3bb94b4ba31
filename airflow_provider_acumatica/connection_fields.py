"""The `acumatica` connection form, declared once.

Airflow 3.2+ renders `conn-fields` from the provider info; 3.0 and 3.1 render the Python widgets.
Both are generated from `EXTRA_FIELDS` so they cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

AUTH_TYPES: tuple[str, ...] = (
    "oauth2_authorization_code",
    "oauth2_password",
    "oauth2_client_credentials",
    "api_key",
    "basic",
    "session",
)


@dataclass(frozen=True)
class ExtraField:
    name: str
    label: str
    description: str
    type: str = "string"
    secret: bool = False
    enum: tuple[str, ...] = ()
    default: Any = None
    placeholder: str | None = None

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": [self.type, "null"]}
        if self.secret:
            schema["format"] = "password"
        if self.enum:
            schema["enum"] = list(self.enum)
        if self.default is not None:
            schema["default"] = self.default
        return schema


EXTRA_FIELDS: tuple[ExtraField, ...] = (
    ExtraField(
        "auth_type",
        "Auth type",
        "How to sign in: OAuth 2.0 (authorization code, password, client credentials), API key, "
        "HTTP Basic, or a cookie session.",
        enum=AUTH_TYPES,
        default="oauth2_password",
    ),
    ExtraField(
        "client_id",
        "Client ID",
        "Connected Applications (SM303010) client ID, in the form GUID@Tenant.",
        placeholder="0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0@Company",
    ),
    ExtraField("client_secret", "Client secret", "Shared secret of the connected application.", secret=True),
    ExtraField(
        "refresh_token",
        "Refresh token",
        "Refresh token from a one-time authorization-code consent.",
        secret=True,
    ),
    ExtraField("redirect_uri", "Redirect URI", "Redirect URI registered on the connected application."),
    ExtraField(
        "scope",
        "Scope",
        "OAuth scopes; default 'api offline_access' ('api' for client credentials).",
        placeholder="api offline_access",
    ),
    ExtraField("tenant", "Tenant", "Tenant login name (Tenants, SM203520).", placeholder="Company"),
    ExtraField("branch", "Branch", "Branch ID to sign in to (Branches, CS102000).", placeholder="HQ"),
    ExtraField("locale", "Locale", "Locale for a cookie session, e.g. EN-US.", placeholder="EN-US"),
    ExtraField("endpoint_name", "Endpoint name", "Web service endpoint name.", default="Default"),
    ExtraField("endpoint_version", "Endpoint version", "Web service endpoint version.", default="24.200.001"),
    # No default value: Airflow's UI masks the values of fields whose name contains "token", so a default
    # would show, and be saved, as "***". The settings default it when it is left empty.
    ExtraField(
        "token_path",
        "Token path",
        "OAuth token path; empty means /identity/connect/token (older published docs: /oauth/token).",
    ),
    ExtraField("authorize_path", "Authorize path", "OAuth authorize path.", default="/identity/connect/authorize"),
    ExtraField("login_path", "Login path", "Cookie session sign-in path.", default="/entity/auth/login"),
    ExtraField("logout_path", "Logout path", "Sign-out path.", default="/entity/auth/logout"),
    ExtraField(
        "login_field_names",
        "Login field names",
        'JSON object renaming keys of the login body, e.g. {"name": "username", "tenant": "company"}.',
        placeholder='{"name": "username", "tenant": "company"}',
    ),
    ExtraField(
        "verify",
        "Verify TLS",
        "true (default), false, or the path of a CA bundle.",
        default="true",
    ),
    ExtraField(
        "timeout",
        "Read timeout (s)",
        "Seconds to wait for a response; Acumatica queues requests silently, so keep it generous.",
        type="number",
        default=300,
    ),
    ExtraField(
        "allow_insecure_http",
        "Allow plain HTTP",
        "Allow http:// to a non-loopback host. Credentials then travel unencrypted.",
        type="boolean",
        default=False,
    ),
    ExtraField(
        "max_retries",
        "Max retries",
        "Retries of a transient failure (429, 502-504, connection errors) per request.",
        type="integer",
        default=5,
    ),
    ExtraField(
        "max_requests_per_minute",
        "Licence requests per minute",
        "The licence's Web Services API Requests per Minute (SM604000). Set, every task in a worker paces "
        "its requests below it; empty means no pacing.",
        type="integer",
    ),
    ExtraField(
        "max_concurrent_requests",
        "Licence concurrent requests",
        "The licence's Concurrent Web Services API Requests (SM604000). Set, every task in a worker keeps at "
        "most this many requests in flight; empty means no limit.",
        type="integer",
    ),
)

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden_fields": ["schema", "port"],
    "relabeling": {"host": "Instance URL", "login": "Username", "password": "Password"},
    "placeholders": {
        "host": "https://example.acumatica.com/MyInstance",
        "login": "admin",
        **{field.name: field.placeholder for field in EXTRA_FIELDS if field.placeholder},
    },
}


def conn_fields() -> dict[str, dict[str, Any]]:
    """The declarative `conn-fields` block of the provider info (Airflow 3.2+)."""
    return {
        field.name: {"label": field.label, "description": field.description, "schema": field.json_schema()}
        for field in EXTRA_FIELDS
    }


def ui_field_behaviour_yaml() -> dict[str, Any]:
    """`ui-field-behaviour` in the provider-info spelling (dashes instead of underscores)."""
    return {key.replace("_", "-"): value for key, value in UI_FIELD_BEHAVIOUR.items()}


def form_widgets() -> dict[str, Any]:
    """wtforms widgets for Airflow 3.0 and 3.1, which mock these imports when rendering the form."""
    from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
    from flask_babel import lazy_gettext
    from wtforms import BooleanField, IntegerField, PasswordField, StringField
    from wtforms.validators import Optional, any_of

    widgets: dict[str, Any] = {}
    for field in EXTRA_FIELDS:
        label = lazy_gettext(field.label)
        validators: list[Any] = [Optional()]
        if field.enum:
            validators.append(any_of(list(field.enum)))
        common: dict[str, Any] = {"description": field.description, "validators": validators}
        if field.default is not None:
            common["default"] = field.default
        if field.secret:
            widgets[field.name] = PasswordField(label, widget=BS3PasswordFieldWidget(), **common)
        elif field.type == "boolean":
            widgets[field.name] = BooleanField(label, **common)
        elif field.type == "integer":
            widgets[field.name] = IntegerField(label, widget=BS3TextFieldWidget(), **common)
        else:
            widgets[field.name] = StringField(label, widget=BS3TextFieldWidget(), **common)
    return widgets
