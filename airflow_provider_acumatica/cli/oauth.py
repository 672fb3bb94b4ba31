"""`acumatica-oauth authorize --conn-id ID`: the one-time consent of an authorization-code connection.

The resulting refresh token goes into the Airflow Variable the hook reads (see `auth/token_store.py`),
or, with `--print-connection-json`, into a connection JSON for a secrets backend. Tokens are never
printed otherwise. Prose goes to stderr, so stdout carries only the JSON when it is asked for.
"""

from __future__ import annotations

import argparse
import json
import sys
import webbrowser
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import requests
from airflow.providers.common.compat.sdk import AirflowNotFoundException, BaseHook, conf

from airflow_provider_acumatica.auth.token_store import VariableBackend, variable_key
from airflow_provider_acumatica.cli.consent import (
    DEFAULT_REDIRECT_URI,
    ConsentError,
    ConsentRequest,
    check_authorize_endpoint,
    code_from_redirect,
    exchange_code,
    receive_with_listener,
    skew_warning,
)
from airflow_provider_acumatica.cli.loopback import loopback_address
from airflow_provider_acumatica.exceptions import AcumaticaError
from airflow_provider_acumatica.settings import AcumaticaSettings

DEFAULT_TIMEOUT_SECONDS = 300.0


@dataclass(frozen=True)
class Options:
    conn_id: str
    redirect_uri: str | None
    headless: bool
    open_browser: bool
    timeout: float
    print_connection_json: bool


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="acumatica-oauth", description="OAuth consent for Acumatica connections.")
    commands = root.add_subparsers(dest="command", required=True)
    authorize = commands.add_parser(
        "authorize",
        help="Consent once and store the refresh token where the hook finds it.",
        description="Run the authorization-code flow with PKCE for an oauth2_authorization_code connection.",
    )
    authorize.add_argument("--conn-id", required=True, help="The Airflow connection id.")
    authorize.add_argument(
        "--redirect-uri", help=f"Overrides the connection's redirect_uri (default {DEFAULT_REDIRECT_URI})."
    )
    authorize.add_argument("--headless", action="store_true", help="Print the URL and read the pasted redirect URL.")
    authorize.add_argument("--open-browser", action="store_true", help="Open the URL in the default browser.")
    authorize.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_SECONDS, help="Seconds to wait.")
    authorize.add_argument(
        "--print-connection-json",
        action="store_true",
        help="Print the connection JSON with the refresh token (for a secrets backend) instead of storing it.",
    )
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    options = Options(
        conn_id=args.conn_id,
        redirect_uri=args.redirect_uri,
        headless=args.headless,
        open_browser=args.open_browser,
        timeout=args.timeout,
        print_connection_json=args.print_connection_json,
    )
    try:
        authorize(options)
    except AcumaticaError as err:
        print(f"acumatica-oauth: {err}", file=sys.stderr)
        return 1
    return 0


def authorize(options: Options, read_line: Callable[[], str] | None = None) -> None:
    conn = load_connection(options.conn_id)
    settings = consent_settings(conn, options.conn_id)
    redirect_uri = options.redirect_uri or settings.redirect_uri or DEFAULT_REDIRECT_URI
    if not options.headless:
        loopback_address(redirect_uri)
    request = ConsentRequest(settings, redirect_uri)
    with requests.Session() as session:
        session.verify = settings.verify
        check_authorize_endpoint(session, request)
        redirect = _receive(request, options, read_line or sys.stdin.readline)
        consent = exchange_code(session, request, code_from_redirect(redirect, request))
    warning = skew_warning(consent.clock_skew_seconds)
    if warning:
        _say(f"Warning: {warning}")
    if options.print_connection_json:
        print(connection_json(conn, consent.refresh_token))
        _say("Printed the connection JSON with the new refresh token. Store it in your secrets backend.")
        return
    store_token(options.conn_id, consent.refresh_token)


def _receive(request: ConsentRequest, options: Options, read_line: Callable[[], str]) -> str:
    if options.headless:
        _show_url(request.authorize_url, open_browser=False)
        _say("After approving, paste the whole URL the browser was redirected to (even if the page did not load):")
        return read_line()
    return receive_with_listener(
        request, lambda url: _show_url(url, open_browser=options.open_browser), options.timeout
    )


def _show_url(url: str, *, open_browser: bool) -> None:
    _say(f"Open this URL in a browser and sign in as the user the integration acts as:\n\n  {url}\n")
    if open_browser:
        webbrowser.open(url)
    sys.stderr.flush()


def load_connection(conn_id: str) -> Any:
    """Task-SDK lookup first; outside a task on Airflow 3.1+ it sees no metastore connection, so ask the model."""
    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        pass
    from airflow.models.connection import Connection as MetastoreConnection

    try:
        return MetastoreConnection.get_connection_from_secrets(conn_id)
    except AirflowNotFoundException:
        raise ConsentError(
            f"There is no Airflow connection {conn_id!r}. Create it first (auth_type oauth2_authorization_code, "
            "client_id, client_secret, redirect_uri), as an environment variable, in a secrets backend or with "
            "`airflow connections add`."
        ) from None


def consent_settings(conn: Any, conn_id: str) -> AcumaticaSettings:
    settings = AcumaticaSettings.from_connection(conn)
    if settings.auth_type != "oauth2_authorization_code":
        raise ConsentError(
            f"Connection {conn_id!r} has auth_type {settings.auth_type}; the consent is for "
            "oauth2_authorization_code. Set extra.auth_type to oauth2_authorization_code."
        )
    return settings


def store_token(conn_id: str, refresh_token: str) -> None:
    key = variable_key(conn_id)
    backend = VariableBackend()
    try:
        backend.set(key, refresh_token)
        stored = backend.get(key)
    except Exception as err:
        raise ConsentError(
            f"Consent succeeded, but the refresh token could not be stored in Airflow Variable {key} "
            f"({type(err).__name__}). Run this command where the Airflow metadata database is reachable "
            "(the same AIRFLOW_HOME or sql_alchemy_conn as the scheduler), or use --print-connection-json."
        ) from None
    if stored != refresh_token:
        raise ConsentError(
            f"Stored the refresh token in Airflow Variable {key}, but reading it back gives another value: a "
            f"secrets backend or an AIRFLOW_VAR_{key.upper()} environment variable shadows it. Remove that."
        )
    _say(f"Consent stored: Airflow Variable {key} holds the refresh token; the hook reads it from there.")
    if not conf.get("core", "fernet_key", fallback=""):
        _say("Warning: Airflow has no Fernet key ([core] fernet_key), so the Variable is stored unencrypted.")


def connection_json(conn: Any, refresh_token: str) -> str:
    extra = {**(conn.extra_dejson or {}), "refresh_token": refresh_token}
    fields = {
        "conn_type": conn.conn_type,
        "host": conn.host,
        "login": conn.login,
        "password": conn.password,
        "schema": conn.schema,
        "port": conn.port,
    }
    return json.dumps({**{k: v for k, v in fields.items() if v}, "extra": extra})


def _say(text: str) -> None:
    print(text, file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
