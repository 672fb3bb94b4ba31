"""Actions over HTTP: 204 at once, 202 with a Location to poll, the session busy meanwhile, 404 and 422."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from airflow_provider_acumatica.sandbox import SandboxServer

BASE = "/entity/Default/24.200.001"
Login = Callable[..., requests.Session]


@pytest.fixture
def server(make_sandbox: Callable[..., SandboxServer]) -> SandboxServer:
    return make_sandbox(records=60, changes_per_hour=0)


def in_status(server: SandboxServer, entity: str, code: str, index: int = 3) -> Any:
    """A record put in the status first, so the test does not depend on the generated mix."""
    record_id = server.store.snapshot(entity).view(index).id
    server.store.upsert(entity, "24.200.001", {"id": record_id, "Status": {"value": code}})
    snap = server.store.snapshot(entity)
    return snap.view(snap.find(record_id) or 0)


def order_keys(view: Any) -> dict[str, Any]:
    return {"OrderType": {"value": view.values["OrderType"]}, "OrderNbr": {"value": view.values["OrderNbr"]}}


def status_of(server: SandboxServer, entity: str, record_id: str) -> Any:
    snap = server.store.snapshot(entity)
    return snap.view(snap.find(record_id) or 0).values["Status"]


def test_an_instant_action_answers_204_and_applies_the_transition(server: SandboxServer, sandbox_login: Login) -> None:
    session = sandbox_login(server.base_url)
    held = in_status(server, "SalesOrder", "H")
    answer = session.post(
        f"{server.base_url}{BASE}/SalesOrder/ReleaseFromHold", json={"entity": order_keys(held), "parameters": {}}
    )
    assert (answer.status_code, answer.content) == (204, b"")
    assert status_of(server, "SalesOrder", held.id) == "N"
    invoice = in_status(server, "SalesInvoice", "B")
    answer = session.post(f"{server.base_url}{BASE}/SalesInvoice/ReleaseInvoice", json={"entity": {"id": invoice.id}})
    assert answer.status_code == 204 and status_of(server, "SalesInvoice", invoice.id) == "N"
    customer = server.store.snapshot("Customer").view(0)
    answer = session.post(
        f"{server.base_url}{BASE}/Customer/CreateContactFromCustomer", json={"entity": {"id": customer.id}}
    )
    assert answer.status_code == 204


def test_a_long_action_is_polled_and_keeps_the_session_busy(server: SandboxServer, sandbox_login: Login) -> None:
    session, other = sandbox_login(server.base_url), sandbox_login(server.base_url)
    server.set_faults(action_seconds=0.4)
    opened = in_status(server, "SalesOrder", "N")
    answer = session.post(f"{server.base_url}{BASE}/SalesOrder/PutOnHold", json={"entity": {"id": opened.id}})
    assert answer.status_code == 202
    location = answer.headers["Location"]
    assert re.fullmatch(rf"{BASE}/SalesOrder/PutOnHold/status/[0-9a-f-]{{36}}", location)
    assert session.get(server.base_url + location).status_code == 202
    busy = session.get(f"{server.base_url}{BASE}/SalesOrder", params={"$top": "1"})
    assert busy.status_code == 500 and "has not been completed" in busy.json()["exceptionMessage"]
    assert session.get(f"{server.base_url}{BASE}/Customer", params={"$top": "1"}).status_code == 200
    assert other.get(f"{server.base_url}{BASE}/SalesOrder", params={"$top": "1"}).status_code == 200
    assert status_of(server, "SalesOrder", opened.id) == "N"
    time.sleep(0.45)
    assert session.get(server.base_url + location).status_code == 204
    assert status_of(server, "SalesOrder", opened.id) == "H"
    assert session.get(f"{server.base_url}{BASE}/SalesOrder", params={"$top": "1"}).status_code == 200


def test_unknown_actions_are_404_and_wrong_states_422(server: SandboxServer, sandbox_login: Login) -> None:
    session = sandbox_login(server.base_url)
    opened = in_status(server, "SalesOrder", "N")
    unknown = session.post(f"{server.base_url}{BASE}/SalesOrder/Teleport", json={"entity": {"id": opened.id}})
    assert unknown.status_code == 404 and "No HTTP resource" in unknown.json()["message"]
    refused = session.post(f"{server.base_url}{BASE}/SalesOrder/ReleaseFromHold", json={"entity": order_keys(opened)})
    assert refused.status_code == 422
    body = refused.json()
    assert body["id"] == opened.id and body["OrderNbr"] == {"value": opened.values["OrderNbr"]}
    assert body["error"] == "The 'ReleaseFromHold' action cannot be performed on a record with the 'Open' status."
    missing = session.post(f"{server.base_url}{BASE}/SalesOrder/PutOnHold", json={"entity": {"id": "nope"}})
    assert missing.status_code == 500
    assert session.post(f"{server.base_url}{BASE}/SalesOrder/PutOnHold", json={}).status_code == 400
    server.set_faults(rate_503=1.0)
    assert (
        session.post(f"{server.base_url}{BASE}/SalesOrder/PutOnHold", json={"entity": {"id": opened.id}}).status_code
        == 503
    )
    assert status_of(server, "SalesOrder", opened.id) == "N"
