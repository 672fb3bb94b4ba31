"""`acumatica-oauth authorize` against the sandbox's authorize and token endpoints, with a robot for a browser."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from airflow_provider_acumatica.cli import oauth
from airflow_provider_acumatica.cli.consent import (
    ConsentError,
    ConsentRequest,
    code_from_redirect,
    exchange_code,
    skew_warning,
)
from airflow_provider_acumatica.exceptions import AcumaticaConfigError
from airflow_provider_acumatica.sandbox import SandboxServer
from airflow_provider_acumatica.settings import AcumaticaSettings
from tests.airflow_runs import AirflowHome
from tests.auth.test_refresh_token_variables import refresh_works, stored_token
from tests.connections import CLIENT_ID, connection, use_connection

CONN_ID = "acumatica_consent"


def free_redirect_uri() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/callback"


def options(**changes: object) -> oauth.Options:
    values: dict[str, object] = {
        "conn_id": CONN_ID,
        "redirect_uri": free_redirect_uri(),
        "headless": False,
        "open_browser": True,
        "timeout": 10.0,
        "print_connection_json": True,
        **changes,
    }
    return oauth.Options(**values)  # type: ignore[arg-type]


def robot_browser(url: str) -> bool:
    """Follows the authorize redirect to the loopback listener, as a browser would after consent."""
    requests.get(url, timeout=10)
    return True


@pytest.fixture
def consent_conn(monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer) -> SandboxServer:
    use_connection(monkeypatch, sandbox.base_url, "oauth2_authorization_code", conn_id=CONN_ID)
    monkeypatch.setattr(oauth.webbrowser, "open", robot_browser)
    return sandbox


def test_listener_flow_prints_a_working_connection_json_and_frees_the_seat(
    consent_conn: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    oauth.authorize(options())
    out, err = capsys.readouterr()
    conn = json.loads(out.strip().splitlines()[-1])  # Airflow 3.0 may log to stdout before it
    token = conn["extra"]["refresh_token"]
    assert conn["host"] == consent_conn.base_url
    assert conn["extra"]["auth_type"] == "oauth2_authorization_code"
    assert token not in err
    assert "code_challenge_method=S256" in err and "state=" in err
    assert consent_conn.stats()["seats_in_use"] == 0
    assert refresh_works(consent_conn.base_url, token)


def test_denied_consent_is_explained(consent_conn: SandboxServer) -> None:
    consent_conn.set_faults(consent="deny")
    with pytest.raises(ConsentError, match="Consent denied"):
        oauth.authorize(options())


def test_redirect_uri_mismatch_is_explained(consent_conn: SandboxServer) -> None:
    with pytest.raises(ConsentError, match="Redirect URI mismatch"):
        oauth.authorize(options(redirect_uri="https://app.example.com/callback", headless=True))


def test_non_loopback_redirect_needs_headless(consent_conn: SandboxServer) -> None:
    with pytest.raises(AcumaticaConfigError, match="--headless"):
        oauth.authorize(options(redirect_uri="https://app.example.com/callback"))


def test_wrong_tenant_in_the_client_id_is_explained(monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer) -> None:
    wrong = CLIENT_ID.replace("@Company", "@OtherTenant")
    use_connection(monkeypatch, sandbox.base_url, "oauth2_authorization_code", conn_id=CONN_ID, client_id=wrong)
    with pytest.raises(ConsentError, match="tenant the application was registered in"):
        oauth.authorize(options(headless=True))


def test_wrong_secret_is_explained(monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer) -> None:
    use_connection(
        monkeypatch, sandbox.base_url, "oauth2_authorization_code", conn_id=CONN_ID, client_secret="wrong-secret"
    )
    monkeypatch.setattr(oauth.webbrowser, "open", robot_browser)
    with pytest.raises(ConsentError, match="invalid_client"):
        oauth.authorize(options())


def test_headless_rejects_a_redirect_with_another_state(consent_conn: SandboxServer) -> None:
    forged = "http://127.0.0.1:9/callback?code=abc&state=forged"
    with pytest.raises(ConsentError, match="State mismatch"):
        oauth.authorize(options(headless=True), read_line=lambda: forged)


def test_headless_accepts_the_pasted_redirect(consent_conn: SandboxServer, capsys: pytest.CaptureFixture[str]) -> None:
    def paste() -> str:
        url = next(line.strip() for line in capsys.readouterr().err.splitlines() if "/authorize?" in line)
        return requests.get(url, allow_redirects=False, timeout=10).headers["Location"]

    oauth.authorize(options(headless=True, redirect_uri="http://127.0.0.1:1/cb"), read_line=paste)
    assert refresh_works(
        consent_conn.base_url, json.loads(capsys.readouterr().out.strip().splitlines()[-1])["extra"]["refresh_token"]
    )


def test_no_redirect_times_out_with_advice(consent_conn: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(oauth.webbrowser, "open", lambda url: True)
    with pytest.raises(ConsentError, match="No redirect reached"):
        oauth.authorize(options(timeout=0.3))


def test_clock_skew_is_measured_and_named(sandbox: SandboxServer) -> None:
    settings = AcumaticaSettings.from_values(
        host=sandbox.base_url,
        extra=json.loads(connection(sandbox.base_url, "oauth2_authorization_code"))["extra"],
    )
    request = ConsentRequest(settings, "http://127.0.0.1:8765/callback")
    location = requests.get(request.authorize_url, allow_redirects=False, timeout=10).headers["Location"]
    code = code_from_redirect(location, request)
    consent = exchange_code(requests.Session(), request, code, clock=lambda: time.time() + 3600)
    assert consent.clock_skew_seconds is not None and consent.clock_skew_seconds < -3500
    assert "ahead of" in (skew_warning(consent.clock_skew_seconds) or "")
    with pytest.raises(ConsentError, match=r"^Clock skew.*already used"):
        exchange_code(requests.Session(), request, code, clock=lambda: time.time() - 3600)


def test_main_explains_a_missing_connection(capsys: pytest.CaptureFixture[str]) -> None:
    assert oauth.main(["authorize", "--conn-id", "no_such_connection_here"]) == 1
    assert "There is no Airflow connection 'no_such_connection_here'" in capsys.readouterr().err


def test_a_connection_of_another_auth_type_is_refused(monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer) -> None:
    use_connection(monkeypatch, sandbox.base_url, "oauth2_password", conn_id=CONN_ID)
    with pytest.raises(ConsentError, match="auth_type oauth2_password"):
        oauth.authorize(options())


def test_console_script_stores_the_token_in_the_variable(airflow_home: AirflowHome, sandbox: SandboxServer) -> None:
    """End to end: the installed `acumatica-oauth`, a listener, the sandbox, a real Airflow Variable."""
    env = airflow_home.environment(
        {f"AIRFLOW_CONN_{CONN_ID.upper()}": connection(sandbox.base_url, "oauth2_authorization_code")}
    )
    command = [str(Path(sys.executable).with_name("acumatica-oauth")), "authorize", "--conn-id", CONN_ID]
    command += ["--redirect-uri", free_redirect_uri(), "--timeout", "60"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    url = next(line.strip() for line in process.stderr if "/authorize?" in line)
    requests.get(url, timeout=10)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err[-3000:]
    assert "Consent stored: Airflow Variable acumatica_refresh_token__acumatica_consent" in err
    token = stored_token(airflow_home, CONN_ID)
    assert token not in out + err
    assert "refresh_token" not in out
    assert sandbox.stats()["seats_in_use"] == 0  # the consent's own session was signed out
    assert refresh_works(sandbox.base_url, token)
