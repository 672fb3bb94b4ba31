"""The `/_sandbox/` admin routes and the matching Python API of `SandboxServer`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests

from airflow_provider_acumatica.sandbox import SandboxServer
from tests.sandbox.support import CLIENT_ID, TIMEOUT, get_customers, token


def admin(sandbox: SandboxServer, action: str, body: Any = None) -> requests.Response:
    url = f"{sandbox.base_url}/_sandbox/{action}"
    if body is None:
        return requests.get(url, timeout=TIMEOUT)
    return requests.post(url, json=body, timeout=TIMEOUT)


def test_stats_count_what_clients_did(sandbox_login: Callable[..., requests.Session], sandbox: SandboxServer) -> None:
    session = sandbox_login()
    get_customers(sandbox.base_url, session)
    get_customers(sandbox.base_url)
    token(sandbox.base_url)
    stats = admin(sandbox, "stats").json()
    assert stats["seats_in_use"] == 2
    assert stats["peak_seats"] == 2
    assert stats["logins"] == 1
    assert stats["logouts"] == 0
    assert stats["token_grants"] == {"password": 1}
    assert stats["requests"] == {"204": 1, "200": 2, "401": 1}
    assert stats["routes"] == {"login": {"204": 1}, "contract": {"200": 1, "401": 1}, "token": {"200": 1}}
    assert stats["sessions"] == {"open": 2, "opened": 2, "closed": 0, "expired": 0}
    assert stats["faults"]["latency_ms"] == 0
    assert stats == sandbox.stats()


def test_reset_over_http_drops_sessions_and_counters(
    sandbox_login: Callable[..., requests.Session], sandbox: SandboxServer
) -> None:
    session = sandbox_login()
    sandbox.set_faults(latency_ms=5)
    answer = admin(sandbox, "reset", {})
    assert answer.status_code == 200
    assert answer.json()["seats_in_use"] == 0
    assert answer.json()["requests"] == {}
    assert answer.json()["faults"]["latency_ms"] == 5
    assert get_customers(sandbox.base_url, session).status_code == 401
    assert admin(sandbox, "reset", {"faults": True}).json()["faults"]["latency_ms"] == 0


def test_reset_in_python(sandbox_login: Callable[..., requests.Session], sandbox: SandboxServer) -> None:
    sandbox_login()
    sandbox.set_faults(rate_500=0.5)
    sandbox.reset()
    assert sandbox.stats()["seats_in_use"] == 0
    assert sandbox.stats()["faults"]["rate_500"] == 0.5
    sandbox.reset(faults=True)
    assert sandbox.stats()["faults"]["rate_500"] == 0.0


def test_reset_refuses_other_fields(sandbox: SandboxServer) -> None:
    assert admin(sandbox, "reset", {"everything": True}).status_code == 400


def test_config_has_what_a_client_needs(sandbox: SandboxServer) -> None:
    config = admin(sandbox, "config").json()
    assert config["tenants"] == ["Company"]
    assert config["users"] == [
        {"name": "admin", "password": "123", "tenant": "Company", "branch": "HQ", "dac_odata": True},
        {"name": "reader", "password": "123", "tenant": "Company", "branch": "HQ", "dac_odata": False},
    ]
    assert config["clients"][0]["client_id"] == CLIENT_ID
    assert config["max_seats"] == 2
    assert config["max_users"] == 10
    assert config["site_path"] == ""
    assert config["records"] == 250


def test_changes_edit_the_data(make_sandbox: Callable[..., SandboxServer]) -> None:
    server = make_sandbox()
    before = server.store.count("Customer")
    answer = admin(server, "changes", {"entity": "Customer", "inserts": 3, "updates": 2, "deletes": 1, "seed": 9})
    assert answer.status_code == 200, answer.text
    assert server.store.count("Customer") == before + 2
    assert isinstance(answer.json(), dict)


def test_changes_refuse_bad_input(sandbox: SandboxServer) -> None:
    assert admin(sandbox, "changes", {"inserts": 1}).status_code == 400
    assert admin(sandbox, "changes", {"entity": "Customer", "inserts": -1}).status_code == 400
    assert admin(sandbox, "changes", {"entity": "Customer", "inserts": "1"}).status_code == 400
    assert admin(sandbox, "changes", {"entity": "Customer", "colour": "red"}).status_code == 400
    unknown = admin(sandbox, "changes", {"entity": "NoSuchEntity", "inserts": 1})
    assert unknown.status_code == 400
    assert "NoSuchEntity" in unknown.json()["message"]


def test_bad_admin_requests(sandbox: SandboxServer) -> None:
    not_json = requests.post(
        sandbox.base_url + "/_sandbox/faults",
        data="{oops",
        headers={"Content-Type": "application/json"},
        timeout=TIMEOUT,
    )
    assert not_json.status_code == 400
    assert admin(sandbox, "faults", [1, 2]).status_code == 400
    assert admin(sandbox, "nothing").status_code == 404
    assert admin(sandbox, "nothing", {}).status_code == 404


def test_admin_requests_are_not_counted(sandbox: SandboxServer) -> None:
    for _ in range(3):
        admin(sandbox, "stats")
    assert sandbox.stats()["requests"] == {}
