"""The whole endpoint over real HTTP: the endpoint list, every record entity, inquiry forms, custom fields and the
admin state of an entity."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests

from airflow_provider_acumatica.sandbox import SandboxServer, catalog
from tests.sandbox.support import TIMEOUT

BASE = "/entity/Default/24.200.001"


def test_the_endpoint_list_needs_no_sign_in(sandbox: SandboxServer) -> None:
    answer = requests.get(sandbox.base_url + "/entity", timeout=TIMEOUT)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"version", "endpoints"}
    assert {"name": "Default", "version": "24.200.001"}.items() <= body["endpoints"][2].items()
    assert requests.get(sandbox.base_url + BASE + "/Customer", timeout=TIMEOUT).status_code == 401


@pytest.mark.parametrize("name", sorted(catalog.ENTITIES))
def test_every_entity_lists_with_its_details(
    name: str, sandbox: SandboxServer, sandbox_login: Callable[..., requests.Session]
) -> None:
    session = sandbox_login()
    collections = [child.name for child in catalog.SCHEMAS[name].children if child.collection]
    params = {"$top": "3", **({"$expand": ",".join(collections)} if collections else {})}
    answer = session.get(sandbox.base_url + f"{BASE}/{name}", params=params, timeout=TIMEOUT)
    assert answer.status_code == 200, answer.text
    records = answer.json()
    truth = list(sandbox.store.iter_records(name, expand=collections))[:3]
    assert records == truth and len(records) == 3
    for child in collections:
        assert all(isinstance(record[child], list) for record in records)
    expected_fields = {vf.api_name for vf in catalog.version_fields(name, "24.200.001")}
    assert expected_fields <= set(records[0])


@pytest.mark.parametrize("name", sorted(catalog.INQUIRIES))
def test_a_list_of_an_inquiry_form_cannot_be_optimized(
    name: str, sandbox: SandboxServer, sandbox_login: Callable[..., requests.Session]
) -> None:
    session = sandbox_login()
    answer = session.get(sandbox.base_url + f"{BASE}/{name}", params={"$top": "1"}, timeout=TIMEOUT)
    assert answer.status_code == 500
    body = answer.json()
    assert body["message"] == "An error has occurred."
    assert body["exceptionType"] == "PX.Api.ContractBased.OptimizedExport.CannotOptimizeException"
    assert body["exceptionMessage"].startswith("Optimization cannot be performed.The following fields cause the error:")
    assert "View Filter has BQL delegate" in body["exceptionMessage"] and "stackTrace" in body


def _inquiry(session: requests.Session, url: str, name: str, body: dict[str, object], expand: str) -> requests.Response:
    return session.put(f"{url}{BASE}/{name}", params={"$expand": expand}, json=body, timeout=TIMEOUT)


def test_the_inventory_summary_adds_up_the_item_warehouses(
    sandbox: SandboxServer, sandbox_login: Callable[..., requests.Session]
) -> None:
    session = sandbox_login()
    item = next(
        r
        for r in sandbox.store.iter_records("StockItem", expand=["WarehouseDetails"])
        if len(r["WarehouseDetails"]) > 1
    )
    item_id = item["InventoryID"]["value"]
    answer = _inquiry(
        session, sandbox.base_url, "InventorySummaryInquiry", {"InventoryID": {"value": item_id}}, "Results"
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["InventoryID"] == {"value": item_id} and body["WarehouseID"] == {}
    rows = body["Results"]
    expected = {line["WarehouseID"]["value"]: line["QtyOnHand"]["value"] for line in item["WarehouseDetails"]}
    assert {row["WarehouseID"]["value"]: row["QtyOnHand"]["value"] for row in rows} == expected
    cost = item["AverageCost"]["value"]
    assert all(row["EstimatedUnitCost"]["value"] == cost for row in rows)
    assert all(row["BaseUOM"]["value"] == item["BaseUOM"]["value"] for row in rows)
    one = next(iter(expected))
    narrowed = _inquiry(
        session,
        sandbox.base_url,
        "InventorySummaryInquiry",
        {"InventoryID": {"value": item_id}, "WarehouseID": {"value": one}},
        "Results",
    ).json()["Results"]
    assert [row["WarehouseID"]["value"] for row in narrowed] == [one]
    without_expand = _inquiry(
        session, sandbox.base_url, "InventorySummaryInquiry", {"InventoryID": {"value": item_id}}, ""
    )
    assert "Results" not in without_expand.json()


def test_an_inquiry_without_its_required_parameter_is_refused(
    sandbox: SandboxServer, sandbox_login: Callable[..., requests.Session]
) -> None:
    session = sandbox_login()
    answer = _inquiry(
        session, sandbox.base_url, "InventorySummaryInquiry", {"WarehouseID": {"value": "MAIN"}}, "Results"
    )
    assert answer.status_code == 422
    body = answer.json()
    assert body["InventoryID"] == {"error": "'Inventory ID' cannot be empty."}
    assert "raised at least one error" in body["error"]
    unknown = _inquiry(
        session, sandbox.base_url, "InventorySummaryInquiry", {"InventoryID": {"value": "NOPE"}}, "Results"
    )
    assert unknown.status_code == 422
    assert unknown.json()["InventoryID"]["error"] == "Inventory ID 'NOPE' cannot be found in the system."


def test_sales_prices_come_back_whole_and_match_the_stock_items(
    sandbox: SandboxServer, sandbox_login: Callable[..., requests.Session]
) -> None:
    session = sandbox_login()
    answer = _inquiry(session, sandbox.base_url, "SalesPricesInquiry", {}, "SalesPriceDetails")
    assert answer.status_code == 200, answer.text
    rows = answer.json()["SalesPriceDetails"]
    items = list(sandbox.store.iter_records("StockItem"))
    assert len(rows) == len(items) > 100
    by_item = {row["InventoryID"]["value"]: row for row in rows}
    for item in items:
        row = by_item[item["InventoryID"]["value"]]
        assert row["Price"] == item["DefaultPrice"] and row["UOM"] == item["SalesUOM"]
        assert row["PriceType"] == {"value": "Base"}
    item_class = items[0]["ItemClass"]["value"]
    narrowed = _inquiry(
        session, sandbox.base_url, "SalesPricesInquiry", {"ItemClassID": {"value": item_class}}, "SalesPriceDetails"
    ).json()["SalesPriceDetails"]
    expected = [item["InventoryID"]["value"] for item in items if item["ItemClass"]["value"] == item_class]
    assert [row["InventoryID"]["value"] for row in narrowed] == expected


def test_swagger_describes_every_entity_and_inquiry(
    sandbox: SandboxServer, sandbox_login: Callable[..., requests.Session]
) -> None:
    answer = sandbox_login().get(sandbox.base_url + f"{BASE}/swagger.json", timeout=TIMEOUT)
    document = answer.json()
    for name in (*catalog.ENTITIES, *catalog.INQUIRIES):
        assert {f"/{name}", f"/{name}/$adHocSchema"} <= set(document["paths"]), name
        properties = document["components"]["schemas"][name]["allOf"][1]["properties"]
        assert set(catalog.field_map(name, "24.200.001")) <= set(properties)
    results = document["components"]["schemas"]["InventorySummaryInquiry"]["allOf"][1]["properties"]["Results"]
    assert results == {"type": "array", "items": {"$ref": "#/components/schemas/InventorySummaryRow"}}


def test_the_ad_hoc_schema_lists_custom_fields_and_attributes(
    sandbox: SandboxServer, sandbox_login: Callable[..., requests.Session]
) -> None:
    session = sandbox_login()
    for name, view in (("Customer", "BAccount"), ("SalesOrder", "Document")):
        answer = session.get(sandbox.base_url + f"{BASE}/{name}/$adHocSchema", timeout=TIMEOUT)
        assert answer.status_code == 200, answer.text
        schema = answer.json()
        custom = schema["custom"][view]
        assert any(field.startswith("Usr") for field in custom) and any(f.startswith("Attribute") for f in custom)
        assert all(entry["type"].startswith("Custom") and entry["type"].endswith("Field") for entry in custom.values())
        assert set(catalog.field_map(name, "24.200.001")) <= set(schema)
    assert session.get(sandbox.base_url + f"{BASE}/ShipVia/$adHocSchema", timeout=TIMEOUT).json()["custom"] == {}


def test_custom_values_come_only_when_asked(
    sandbox: SandboxServer, sandbox_login: Callable[..., requests.Session]
) -> None:
    session = sandbox_login()
    url = sandbox.base_url + f"{BASE}/Customer"
    plain = session.get(url, params={"$top": "5"}, timeout=TIMEOUT).json()
    assert all(record["custom"] == {} for record in plain)
    asked = session.get(
        url, params={"$top": "5", "$custom": "BAccount.UsrLoyaltyTier,BAccount.AttributeINDUSTRY"}, timeout=TIMEOUT
    ).json()
    for record in asked:
        fields = record["custom"]["BAccount"]
        assert set(fields) == {"UsrLoyaltyTier", "AttributeINDUSTRY"}
        assert fields["UsrLoyaltyTier"]["type"] == "CustomStringField"
    assert [r["custom"] for r in asked] == [
        session.get(
            f"{url}/{r['id']}",
            params={"$custom": "BAccount.UsrLoyaltyTier,BAccount.AttributeINDUSTRY"},
            timeout=TIMEOUT,
        ).json()["custom"]
        for r in asked
    ]
    wrong = session.get(url, params={"$top": "1", "$custom": "BAccount.UsrNothing"}, timeout=TIMEOUT)
    assert wrong.status_code == 500 and "UsrNothing" in wrong.json()["exceptionMessage"]


def test_a_custom_field_published_while_running_has_values_at_once(
    sandbox: SandboxServer, sandbox_login: Callable[..., requests.Session]
) -> None:
    session = sandbox_login()
    field = {"entity": "SalesOrder", "view": "Document", "field": "UsrCarrierRef", "type": "CustomStringField"}
    url = sandbox.base_url + f"{BASE}/SalesOrder"
    before = session.get(url, params={"$top": "1", "$custom": "Document.UsrCarrierRef"}, timeout=TIMEOUT)
    assert before.status_code == 500
    published = requests.post(sandbox.base_url + "/_sandbox/custom_fields", json=field, timeout=TIMEOUT)
    assert published.status_code == 200, published.text
    assert {"view": "Document", "field": "UsrCarrierRef", "type": "CustomStringField"} in published.json()["SalesOrder"]
    after = session.get(url, params={"$top": "20", "$custom": "Document.UsrCarrierRef"}, timeout=TIMEOUT)
    assert after.status_code == 200, after.text
    values = [record["custom"]["Document"]["UsrCarrierRef"]["value"] for record in after.json()]
    assert any(isinstance(value, str) for value in values)
    schema = session.get(url + "/$adHocSchema", timeout=TIMEOUT).json()
    assert schema["custom"]["Document"]["UsrCarrierRef"]["type"] == "CustomStringField"
    clash = requests.post(
        sandbox.base_url + "/_sandbox/custom_fields", json={**field, "type": "CustomIntField"}, timeout=TIMEOUT
    )
    assert clash.status_code == 400 and "already published" in clash.json()["message"]
    bad = requests.post(sandbox.base_url + "/_sandbox/custom_fields", json={**field, "type": "Text"}, timeout=TIMEOUT)
    assert bad.status_code == 400 and "CustomStringField" in bad.json()["message"]


def test_the_state_of_an_entity_is_every_live_record_fully_expanded(
    sandbox: SandboxServer, sandbox_login: Callable[..., requests.Session]
) -> None:
    session = sandbox_login()
    state = requests.get(sandbox.base_url + "/_sandbox/state/Customer", timeout=TIMEOUT)
    assert state.status_code == 200, state.text
    records = state.json()
    listed = session.get(
        sandbox.base_url + f"{BASE}/Customer",
        params={
            "$expand": "MainContact/Address",
            "$custom": "BAccount.UsrLoyaltyTier,BAccount.UsrCreditScore,BAccount.AttributeINDUSTRY",
        },
        timeout=TIMEOUT,
    ).json()
    assert len(records) == sandbox.store.count("Customer")
    assert records == listed
    orders = requests.get(sandbox.base_url + "/_sandbox/state/SalesOrder", timeout=TIMEOUT).json()
    assert all(isinstance(order["Details"], list) and "ShipToAddress" in order for order in orders)
    missing = requests.get(sandbox.base_url + "/_sandbox/state/Nothing", timeout=TIMEOUT)
    assert missing.status_code == 404 and "Customer" in missing.json()["message"]


def _state(sandbox: SandboxServer, name: str) -> dict[str, dict[str, object]]:
    answer = requests.get(sandbox.base_url + f"/_sandbox/state/{name}", timeout=TIMEOUT)
    assert answer.status_code == 200, answer.text
    return {record["id"]: record for record in answer.json()}


def _lines(record: dict[str, object]) -> dict[str, object]:
    collection = next(value for value in record.values() if isinstance(value, list))
    return {line["id"]: line for line in collection}


@pytest.mark.parametrize("name", sorted(catalog.ENTITIES))
def test_admin_changes_reach_every_entity_and_its_lines(name: str, sandbox: SandboxServer) -> None:
    before = _state(sandbox, name)
    body = {"entity": name, "inserts": 2, "updates": 6, "deletes": 2, "seed": 3}
    answer = requests.post(sandbox.base_url + "/_sandbox/changes", json=body, timeout=TIMEOUT)
    assert answer.status_code == 200, answer.text
    result = answer.json()
    after = _state(sandbox, name)
    assert set(after) == (set(before) - set(result["deleted"])) | set(result["inserted"])
    assert len(result["deleted"]) == 2 and not set(result["deleted"]) & set(after)
    has_lines = any(child.collection for child in catalog.SCHEMAS[name].children)
    assert len(result["lines"]) == (6 if has_lines else 0)
    kept = [edit for edit in result["lines"] if edit["id"] in before and edit["id"] in after]
    assert bool(kept) == has_lines
    for edit in kept:
        old, new = _lines(before[edit["id"]]), _lines(after[edit["id"]])
        if edit["action"] == "added":
            assert edit["line"] not in old and edit["line"] in new
        elif edit["action"] == "removed":
            assert edit["line"] in old and edit["line"] not in new
        else:
            assert old[edit["line"]] != new[edit["line"]]


def test_a_change_stream_edits_lines_between_the_pages_of_a_pull(
    sandbox: SandboxServer, sandbox_login: Callable[..., requests.Session]
) -> None:
    session = sandbox_login()
    stream = {"entity": "PurchaseOrder", "every": 1, "updates": 3, "deletes": 1, "inserts": 1, "seed": 11}
    assert requests.post(sandbox.base_url + "/_sandbox/change_stream", json=stream, timeout=TIMEOUT).ok
    before = _state(sandbox, "PurchaseOrder")
    for skip in (0, 50):
        params = {"$top": "50", "$skip": str(skip), "$expand": "Details"}
        assert session.get(sandbox.base_url + f"{BASE}/PurchaseOrder", params=params, timeout=TIMEOUT).ok
    status = requests.get(sandbox.base_url + "/_sandbox/change_stream", timeout=TIMEOUT).json()["PurchaseOrder"]
    assert (status["applied"], status["updated"], status["deleted"]) == (2, 6, 2)
    after = _state(sandbox, "PurchaseOrder")
    assert len(after) == len(before)
    changed = [record_id for record_id in set(before) & set(after) if before[record_id] != after[record_id]]
    assert len(changed) >= 4
    listed = session.get(sandbox.base_url + f"{BASE}/PurchaseOrder", params={"$expand": "Details"}, timeout=TIMEOUT)
    assert {record["id"] for record in listed.json()} == set(_state(sandbox, "PurchaseOrder"))
