"""Deleted-record tracking (SM207010) over real HTTP: every delete path, detail lines, retention and the errors."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
import requests

from airflow_provider_acumatica.sandbox import SandboxServer
from tests.sandbox.support import TIMEOUT

DAC = "/t/Company/api/odata/dac"
ORDERS = "/entity/Default/24.200.001/SalesOrder"
DELETED = "px.GetDeletedRecords()"


@pytest.fixture
def server(make_sandbox: Callable[..., SandboxServer]) -> SandboxServer:
    return make_sandbox(records=40, changes_per_hour=0)


def odata(server: SandboxServer) -> requests.Session:
    session = requests.Session()
    session.auth = ("admin", "123")
    return session


def deleted(server: SandboxServer, dac: str, **query: str) -> list[dict[str, Any]]:
    answer = odata(server).get(f"{server.base_url}{DAC}/{dac}/{DELETED}", params=query, timeout=TIMEOUT)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["@odata.context"].endswith("$metadata#Collection(PX.Api.OData.DAC.DeletedRecordResult)")
    return list(body["value"])


def admin(server: SandboxServer, action: str, body: dict[str, Any] | None = None) -> requests.Response:
    url = f"{server.base_url}/_sandbox/{action}"
    if body is None:
        return requests.get(url, timeout=TIMEOUT)
    return requests.post(url, json=body, timeout=TIMEOUT)


def contract(server: SandboxServer) -> requests.Session:
    session = requests.Session()
    body = {"name": "admin", "password": "123", "tenant": "Company"}
    session.post(f"{server.base_url}/entity/auth/login", json=body, timeout=TIMEOUT).raise_for_status()
    return session


def lines_of(server: SandboxServer, order_ids: set[str]) -> set[str]:
    records = server.store.iter_records("SalesOrder", expand=("Details",))
    return {line["id"] for record in records if record["id"] in order_ids for line in record["Details"]}


def test_defaults_track_orders_lines_and_customers_for_ten_days(server: SandboxServer) -> None:
    assert admin(server, "deleted_records").json() == {
        "tracked": ["Customer", "SOLine", "SOOrder"],
        "days_to_keep": 10,
        "recorded": {},
    }


def test_every_delete_path_is_recorded_with_the_contract_id(server: SandboxServer) -> None:
    start = datetime.now().astimezone().isoformat()
    session = contract(server)
    listed = session.get(server.base_url + ORDERS, timeout=TIMEOUT).json()
    by_rest = {listed[0]["id"], listed[1]["id"]}
    lines = lines_of(server, by_rest)
    for record_id in by_rest:
        assert session.delete(f"{server.base_url}{ORDERS}/{record_id}", timeout=TIMEOUT).status_code == 204
    by_admin = admin(server, "changes", {"entity": "SalesOrder", "deletes": 3, "seed": 2}).json()["deleted"]
    stream = {"entity": "SalesOrder", "every": 1, "deletes": 2, "seed": 3}
    assert admin(server, "change_stream", stream).status_code == 200
    session.get(server.base_url + ORDERS, timeout=TIMEOUT).raise_for_status()
    by_stream = admin(server, "change_stream").json()["SalesOrder"]["deleted"]
    assert by_stream == 2
    recorded = deleted(server, "SOOrder", **{"$filter": f"DeleteDate ge {start}"})
    ids = {row["RefNoteID"] for row in recorded}
    assert len(recorded) == 7 and by_rest | set(by_admin) <= ids
    assert ids.isdisjoint(record["id"] for record in server.store.iter_records("SalesOrder"))
    assert lines and lines <= {row["RefNoteID"] for row in deleted(server, "SOLine")}
    assert admin(server, "deleted_records").json()["recorded"]["SOOrder"] == 7


def test_a_line_removed_from_its_order_is_a_deleted_soline(server: SandboxServer) -> None:
    session = contract(server)
    order = session.get(server.base_url + ORDERS, params={"$top": "1", "$expand": "Details"}, timeout=TIMEOUT).json()[0]
    line = order["Details"][0]
    body = {"id": order["id"], "Details": [{"id": line["id"], "delete": True}]}
    assert session.put(server.base_url + ORDERS, json=body, timeout=TIMEOUT).status_code == 200
    assert [row["RefNoteID"] for row in deleted(server, "SOLine")] == [line["id"]]
    assert deleted(server, "SOOrder") == []


def line_ids(server: SandboxServer) -> set[str]:
    return {
        line["id"]
        for order in server.store.iter_records("SalesOrder", expand=("Details",))
        for line in order["Details"]
    }


def test_updates_and_inserts_delete_no_record_only_lines_an_update_removed(server: SandboxServer) -> None:
    before = line_ids(server)
    for entity in ("SalesOrder", "Customer"):
        answer = admin(server, "changes", {"entity": entity, "inserts": 3, "updates": 10, "seed": 6})
        assert answer.status_code == 200
    assert deleted(server, "SOOrder") == deleted(server, "Customer") == []
    assert {row["RefNoteID"] for row in deleted(server, "SOLine")} == before - line_ids(server)


def test_query_options_on_deleted_records(server: SandboxServer) -> None:
    first = admin(server, "changes", {"entity": "Customer", "deletes": 2, "seed": 1}).json()
    time.sleep(0.01)
    second = admin(server, "changes", {"entity": "Customer", "deletes": 2, "seed": 2}).json()
    everything = deleted(server, "Customer")
    assert [row["RefNoteID"] for row in everything] == first["deleted"] + second["deleted"]
    assert set(everything[0]) == {"RefNoteID", "DeleteDate"}
    window = f"DeleteDate ge {first['at']} and DeleteDate le {everything[1]['DeleteDate']}"
    assert [row["RefNoteID"] for row in deleted(server, "Customer", **{"$filter": window})] == first["deleted"]
    newest = deleted(server, "Customer", **{"$orderby": "DeleteDate desc,RefNoteID", "$top": "1", "$skip": "1"})
    assert newest == [sorted(everything[2:], key=lambda row: row["RefNoteID"])[1]]
    only_ids = deleted(server, "PX_Objects_AR_Customer", **{"$select": "RefNoteID"})
    assert only_ids == [{"RefNoteID": row["RefNoteID"]} for row in everything]


def test_untracked_dac_is_a_400_naming_sm207010_until_it_is_tracked(server: SandboxServer) -> None:
    before = admin(server, "changes", {"entity": "SalesInvoice", "deletes": 1}).json()["deleted"]
    refused = odata(server).get(f"{server.base_url}{DAC}/ARInvoice/{DELETED}", timeout=TIMEOUT)
    assert refused.status_code == 400
    message = refused.json()["error"]["message"]
    assert "not tracked" in message and "Tables to Track Deleted Records (SM207010)" in message
    settings = admin(server, "deleted_records", {"tracked": ["SOOrder", "PX.Objects.AR.ARInvoice"]}).json()
    assert settings["tracked"] == ["ARInvoice", "SOOrder"]
    after = admin(server, "changes", {"entity": "SalesInvoice", "deletes": 1, "seed": 4}).json()["deleted"]
    assert [row["RefNoteID"] for row in deleted(server, "ARInvoice")] == after != before
    untracked = odata(server).get(f"{server.base_url}{DAC}/Customer/{DELETED}", timeout=TIMEOUT)
    assert untracked.status_code == 400


def test_entries_older_than_the_retention_are_gone(server: SandboxServer) -> None:
    ids = admin(server, "changes", {"entity": "SalesOrder", "deletes": 2}).json()["deleted"]
    assert admin(server, "deleted_records", {"age_days": 9}).status_code == 200
    assert [row["RefNoteID"] for row in deleted(server, "SOOrder")] == ids
    admin(server, "deleted_records", {"age_days": 1.5})
    assert deleted(server, "SOOrder") == []
    assert admin(server, "deleted_records").json()["recorded"].get("SOOrder") is None


def test_a_longer_retention_keeps_older_entries(server: SandboxServer) -> None:
    ids = admin(server, "changes", {"entity": "SalesOrder", "deletes": 1}).json()["deleted"]
    admin(server, "deleted_records", {"days_to_keep": 30, "age_days": 20})
    assert [row["RefNoteID"] for row in deleted(server, "SOOrder")] == ids
    assert admin(server, "deleted_records").json()["days_to_keep"] == 30


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"tracked": ["SOOrdr"]}, "Unknown DAC(s): SOOrdr"),
        ({"tracked": "SOOrder"}, "list of DAC names"),
        ({"days_to_keep": 0}, "days_to_keep"),
        ({"age_days": -1}, "age_days"),
        ({"keep": 3}, "Unknown field(s): keep"),
    ],
)
def test_bad_settings_are_a_400(server: SandboxServer, body: dict[str, Any], fragment: str) -> None:
    answer = admin(server, "deleted_records", body)
    assert answer.status_code == 400
    assert fragment in answer.json()["message"]
