"""The HTTP layer: keep-alive, lengths, routing, the site path, robustness and the server's life cycle."""

from __future__ import annotations

import http.client
import logging
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
import requests

from airflow_provider_acumatica.sandbox import SandboxConfig, SandboxServer
from tests.sandbox.support import CUSTOMERS, TIMEOUT, access_token, bearer, get_customers, logout


def raw_connection(base_url: str) -> http.client.HTTPConnection:
    url = urlsplit(base_url)
    return http.client.HTTPConnection(url.hostname, url.port, timeout=TIMEOUT)


def test_keep_alive_serves_many_requests_on_one_connection(sandbox: SandboxServer) -> None:
    headers = bearer(access_token(sandbox.base_url))
    connection = raw_connection(sandbox.base_url)
    connection.connect()
    local_port = connection.sock.getsockname()[1]
    for _ in range(5):
        connection.request("GET", CUSTOMERS + "?$top=3", headers=headers)
        answer = connection.getresponse()
        body = answer.read()
        assert answer.status == 200
        assert int(answer.getheader("Content-Length")) == len(body)
        assert answer.version == 11
    assert connection.sock.getsockname()[1] == local_port
    connection.close()


def test_204_has_no_body_and_the_connection_stays_usable(sandbox: SandboxServer) -> None:
    connection = raw_connection(sandbox.base_url)
    connection.request("POST", "/entity/auth/logout", body=b"")
    first = connection.getresponse()
    assert first.status == 204
    assert first.read() == b""
    connection.request("GET", "/identity/.well-known/openid-configuration")
    assert connection.getresponse().status == 200
    connection.close()


def test_query_is_percent_decoded_and_the_last_value_wins(sandbox: SandboxServer) -> None:
    headers = bearer(access_token(sandbox.base_url))
    answer = requests.get(f"{sandbox.base_url}{CUSTOMERS}?%24top=5&%24top=2", headers=headers, timeout=TIMEOUT)
    assert answer.status_code == 200
    assert len(answer.json()) == 2


def test_chunked_request_body(sandbox: SandboxServer) -> None:
    chunks = iter([b'{"name": "admin", ', b'"password": "123"}'])
    answer = requests.post(
        sandbox.base_url + "/entity/auth/login",
        data=chunks,
        headers={"Content-Type": "application/json"},
        timeout=TIMEOUT,
    )
    assert answer.request.headers["Transfer-Encoding"] == "chunked"
    assert answer.status_code == 204


def test_unknown_path_is_a_404(sandbox: SandboxServer) -> None:
    for path in ("/nothing/here", "/entity/auth/whatever", "/t/Company/api/odata/nothing/Customer"):
        answer = requests.get(sandbox.base_url + path, timeout=TIMEOUT)
        assert answer.status_code == 404, path
        assert "No HTTP resource" in answer.json()["message"]
    assert sandbox.stats()["routes"]["unknown"] == {"404": 3}


def test_bad_content_length_is_a_500_px_error(sandbox: SandboxServer) -> None:
    connection = raw_connection(sandbox.base_url)
    connection.putrequest("POST", "/entity/auth/login")
    connection.putheader("Content-Length", "lots")
    connection.endheaders()
    answer = connection.getresponse()
    assert answer.status == 500
    assert b"An error has occurred." in answer.read()
    connection.close()


def test_garbage_on_the_socket_does_not_kill_the_server(sandbox: SandboxServer) -> None:
    url = urlsplit(sandbox.base_url)
    with socket.create_connection((url.hostname, url.port), timeout=TIMEOUT) as raw:
        raw.sendall(b"\x16\x03\x01 not http at all\r\n\r\n")
        raw.recv(1024)
    assert requests.get(sandbox.base_url + "/_sandbox/stats", timeout=TIMEOUT).status_code == 200


def test_handler_exception_is_a_500_px_error(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(sandbox.store, "snapshot", broken)
    headers = bearer(access_token(sandbox.base_url))
    answer = get_customers(sandbox.base_url, headers=headers)
    assert answer.status_code == 500
    assert answer.json()["message"] == "An error has occurred."
    assert "sandbox handler failed" in caplog.text
    monkeypatch.undo()
    assert get_customers(sandbox.base_url, headers=headers).status_code == 200


def test_requests_are_logged_at_debug_not_printed(
    sandbox: SandboxServer, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG, logger="airflow_provider_acumatica.sandbox")
    requests.get(sandbox.base_url + "/identity/.well-known/openid-configuration", timeout=TIMEOUT)
    assert any("openid-configuration" in record.getMessage() for record in caplog.records)
    assert all(record.levelno == logging.DEBUG for record in caplog.records)
    assert "openid-configuration" not in capfd.readouterr().err


def test_server_header_looks_like_iis(sandbox: SandboxServer) -> None:
    answer = requests.get(sandbox.base_url + "/identity/.well-known/openid-configuration", timeout=TIMEOUT)
    assert answer.headers["Server"] == "Microsoft-IIS/10.0"


@pytest.fixture
def prefixed(make_sandbox: Callable[..., SandboxServer]) -> SandboxServer:
    return make_sandbox(site_path="AcumaticaDB/")


def test_site_path_prefix(prefixed: SandboxServer) -> None:
    assert prefixed.config.site_path == "/AcumaticaDB"
    assert urlsplit(prefixed.base_url).path == "/AcumaticaDB"
    session = requests.Session()
    login = session.post(
        prefixed.base_url + "/entity/auth/login", json={"name": "admin", "password": "123"}, timeout=TIMEOUT
    )
    assert login.status_code == 204
    assert get_customers(prefixed.base_url, session).status_code == 200
    discovery = requests.get(prefixed.base_url + "/identity/.well-known/openid-configuration", timeout=TIMEOUT)
    assert discovery.json()["token_endpoint"] == prefixed.base_url + "/identity/connect/token"
    assert get_customers(prefixed.base_url, headers=bearer(access_token(prefixed.base_url))).status_code == 200
    assert requests.get(prefixed.base_url + "/_sandbox/stats", timeout=TIMEOUT).status_code == 200
    assert logout(prefixed.base_url, session).status_code == 204


def test_requests_outside_the_site_path_are_404(prefixed: SandboxServer) -> None:
    root = prefixed.base_url.removesuffix("/AcumaticaDB")
    for path in ("/entity/auth/login", "/identity/connect/token", "/AcumaticaDBX/entity", "/_sandbox/stats"):
        assert requests.post(root + path, data=b"", timeout=TIMEOUT).status_code == 404, path


def test_start_stop_start_keeps_state() -> None:
    server = SandboxServer(SandboxConfig(records=20))
    with server:
        first_url = server.base_url
        value = access_token(first_url)
        pooled = requests.Session()
        assert get_customers(first_url, pooled, headers=bearer(value)).status_code == 200
    with pytest.raises(requests.exceptions.ConnectionError):
        get_customers(first_url, pooled, headers=bearer(value))
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.base_url
    with server:
        assert get_customers(server.base_url, headers=bearer(value)).status_code == 200
        assert server.stats()["token_grants"] == {"password": 1}
    server.stop()


def test_starting_twice_is_refused(make_sandbox: Callable[..., SandboxServer]) -> None:
    server = make_sandbox()
    with pytest.raises(RuntimeError, match="already running"):
        server.start()


def test_invalid_config_is_refused() -> None:
    with pytest.raises(ValueError, match="together"):
        SandboxConfig(tls_cert="cert.pem")
    with pytest.raises(ValueError, match="tenant"):
        SandboxConfig(tenants=("Other",))
