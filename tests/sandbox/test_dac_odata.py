"""The DAC-based OData v4 interface over real HTTP: service document, $metadata, rows, query options, auth, errors."""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
import requests

from airflow_provider_acumatica.sandbox import SandboxConfig, SandboxServer, catalog
from airflow_provider_acumatica.sandbox.dac_tables import DAC_TABLES
from tests.reference import ENTITY_MAP
from tests.sandbox.support import TIMEOUT, access_token, bearer

DAC = "/t/Company/api/odata/dac"
EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
TABLES = {table.name: table for table in DAC_TABLES}


@pytest.fixture(scope="module")
def still() -> Iterator[SandboxServer]:
    """A sandbox whose data changes only when a test says so, so two reads can be compared."""
    with SandboxServer(SandboxConfig(records=120, changes_per_hour=0, max_users=100)) as server:
        yield server


@pytest.fixture
def basic() -> Iterator[requests.Session]:
    """Plain user name and password, cookies kept: one conventional-user session for the test."""
    session = requests.Session()
    session.auth = ("admin", "123")
    yield session
    session.close()


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def get(session: requests.Session, server: SandboxServer, resource: str, **query: str) -> requests.Response:
    return session.get(f"{server.base_url}{DAC}/{resource}", params=query, timeout=TIMEOUT)


def rows(session: requests.Session, server: SandboxServer, resource: str, **query: str) -> list[dict[str, Any]]:
    answer = get(session, server, resource, **query)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"@odata.context", "value"}
    return list(body["value"])


def test_every_dac_table_is_the_primary_dac_of_its_entity_in_the_entity_map() -> None:
    with ENTITY_MAP.open(newline="") as handle:
        primary = {row["entity"]: row["primary_dac"] for row in csv.DictReader(handle)}
    for table in DAC_TABLES:
        if table.detail is None:
            assert primary[table.entity] == table.full_name, table.name
        else:
            assert table.full_name == "PX.Objects.SO.SOLine" and table.detail in catalog.children(table.entity)
    assert {table.entity for table in DAC_TABLES} <= set(catalog.ENTITIES)
    assert {"Customer", "SalesOrder", "StockItem", "Vendor"} <= {table.entity for table in DAC_TABLES}


def test_every_property_reads_a_field_that_exists() -> None:
    for table in DAC_TABLES:
        schema = catalog.ENTITIES[table.entity].schema
        detail = catalog.children(schema.name)[table.detail].schema if table.detail else None
        names = {f.name for f in schema.fields} | {"NoteID", "CreatedDateTime", "BAccountID"}
        line_names = {f.name for f in catalog.SCHEMAS[detail].fields} | {"_id"} if detail else set()
        for prop in table.properties:
            source = prop.source
            if source.startswith("line:"):
                assert source[5:] in line_names, (table.name, prop.name)
            elif not source.startswith("index:"):
                assert source in names, (table.name, prop.name)
        assert set(table.keys) <= {prop.name for prop in table.properties}


def test_service_document_lists_both_set_names_of_every_dac(still: SandboxServer, basic: requests.Session) -> None:
    for resource in ("", "/"):
        answer = basic.get(f"{still.base_url}{DAC}{resource}", timeout=TIMEOUT)
        assert answer.status_code == 200
        body = answer.json()
        assert body["@odata.context"] == f"{still.base_url}{DAC}/$metadata"
        names = {entry["name"] for entry in body["value"]}
        assert {"SOOrder", "PX_Objects_SO_SOOrder", "SOLine", "Customer", "InventoryItem", "ARInvoice"} <= names
        assert all(entry["kind"] == "EntitySet" and entry["url"] == entry["name"] for entry in body["value"])


def test_metadata_has_an_entity_type_per_dac_with_its_key_and_types(
    still: SandboxServer, basic: requests.Session
) -> None:
    answer = get(basic, still, "$metadata")
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("application/xml")
    root = ET.fromstring(answer.content)
    schemas = {schema.get("Namespace"): schema for schema in root.iter(f"{EDM}Schema")}
    so = schemas["PX.Objects.SO"].find(f"{EDM}EntityType[@Name='SOOrder']")
    assert so is not None
    assert [ref.get("Name") for ref in so.iter(f"{EDM}PropertyRef")] == ["OrderNbr", "OrderType"]
    types = {prop.get("Name"): prop.get("Type") for prop in so.iter(f"{EDM}Property")}
    assert types["NoteID"] == "Edm.Guid"
    assert types["LastModifiedDateTime"] == "Edm.DateTimeOffset"
    assert types["CuryOrderTotal"] == "Edm.Decimal"
    customer = schemas["PX.Objects.AR"].find(f"{EDM}EntityType[@Name='Customer']")
    assert customer is not None
    assert {p.get("Name"): p.get("Type") for p in customer.iter(f"{EDM}Property")}["DeletedDatabaseRecord"] == (
        "Edm.Boolean"
    )
    result = schemas["PX.Api.OData.DAC"].find(f"{EDM}ComplexType[@Name='DeletedRecordResult']")
    assert result is not None
    assert [p.get("Name") for p in result.iter(f"{EDM}Property")] == ["RefNoteID", "DeleteDate"]
    container = schemas["Default"].find(f"{EDM}EntityContainer[@Name='Container']")
    assert container is not None
    sets = {entity_set.get("Name"): entity_set.get("EntityType") for entity_set in container}
    assert sets["SOOrder"] == sets["PX_Objects_SO_SOOrder"] == "PX.Objects.SO.SOOrder"
    declared = {f"{schema.get('Namespace')}.{t.get('Name')}" for schema in schemas.values() for t in schema}
    assert {table.full_name for table in DAC_TABLES} <= declared


def test_rows_agree_with_the_contract_records(still: SandboxServer, basic: requests.Session) -> None:
    orders = rows(basic, still, "SOOrder")
    records = list(still.store.iter_records("SalesOrder", expand=("Details",)))
    assert len(orders) == len(records) == still.store.count("SalesOrder")
    by_id = {record["id"]: record for record in records}
    labels = dict(next(f for f in catalog.SCHEMAS["SalesOrder"].fields if f.name == "Status").options)
    for row in orders:
        record = by_id[row["NoteID"]]
        assert row["OrderNbr"] == record["OrderNbr"]["value"]
        assert row["CustomerID"] == record["CustomerID"]["value"]
        assert row["CuryOrderTotal"] == record["OrderTotal"]["value"]
        assert row["LastModifiedDateTime"] == record["LastModified"]["value"]
        assert labels[row["Status"]] == record["Status"]["value"]
    lines = rows(basic, still, "SOLine")
    expected = {line["id"]: (record["OrderNbr"]["value"], line) for record in records for line in record["Details"]}
    assert {line["NoteID"] for line in lines} == set(expected)
    for row in lines:
        order_nbr, line = expected[row["NoteID"]]
        assert (row["OrderNbr"], row["LineNbr"], row["OrderQty"]) == (
            order_nbr,
            line["LineNbr"]["value"],
            line["OrderQty"]["value"],
        )


@pytest.mark.parametrize("table", DAC_TABLES, ids=lambda table: table.name)
def test_every_dac_serves_its_properties_with_noteid_as_the_contract_id(
    still: SandboxServer, basic: requests.Session, table: Any
) -> None:
    first = rows(basic, still, table.set_name, **{"$top": "2"})
    assert len(first) == 2
    assert list(first[0]) == [prop.name for prop in table.all_properties]
    if table.detail is None:
        record = next(still.store.iter_records(table.entity))
        assert first[0]["NoteID"] == record["id"]
        assert first[0]["CreatedDateTime"] is not None


def test_paging_filter_select_and_orderby(still: SandboxServer, basic: requests.Session) -> None:
    everything = rows(basic, still, "Customer")
    pages = [rows(basic, still, "Customer", **{"$top": "40", "$skip": str(skip)}) for skip in range(0, 160, 40)]
    assert [len(page) for page in pages] == [40, 40, 40, 0]
    assert [row for page in pages for row in page] == everything
    assert [row["BAccountID"] for row in everything] == sorted(row["BAccountID"] for row in everything)
    contract = {record["id"]: record["BAccountID"]["value"] for record in still.store.iter_records("Customer")}
    assert {row["NoteID"]: row["BAccountID"] for row in everything} == contract
    group = everything[0]["CustomerClassID"]
    query = {"$filter": f"CustomerClassID eq '{group}'", "$select": "BAccountID,CustomerClassID"}
    same = rows(basic, still, "Customer", **query)
    assert same == [
        {"BAccountID": r["BAccountID"], "CustomerClassID": group} for r in everything if r["CustomerClassID"] == group
    ]
    assert 0 < len(same) < len(everything)
    pivot = everything[60]["BAccountID"]
    by_key = rows(basic, still, "Customer", **{"$filter": f"BAccountID gt {pivot}", "$top": "7", "$skip": "3"})
    assert by_key == [row for row in everything if row["BAccountID"] > pivot][3:10]
    mixed = rows(basic, still, "Customer", **{"$filter": f"BAccountID le {pivot} and CustomerClassID ne '{group}'"})
    assert mixed == [r for r in everything if r["BAccountID"] <= pivot and r["CustomerClassID"] != group]
    richest = rows(basic, still, "Customer", **{"$orderby": "CreditLimit desc", "$top": "5", "$select": "CreditLimit"})
    assert [row["CreditLimit"] for row in richest] == sorted((r["CreditLimit"] for r in everything), reverse=True)[:5]
    cutoff = everything[100]["LastModifiedDateTime"]
    recent = rows(basic, still, "Customer", **{"$filter": f"LastModifiedDateTime gt {cutoff}"})
    newer = {r["NoteID"] for r in everything if moment(r["LastModifiedDateTime"]) > moment(cutoff)}
    assert recent and {r["NoteID"] for r in recent} == newer


def test_keyset_paging_by_the_keys_visits_every_line_once(still: SandboxServer, basic: requests.Session) -> None:
    everything = rows(basic, still, "SOLine", **{"$select": "OrderNbr,LineNbr"})
    seen: list[dict[str, Any]] = []
    query = {"$orderby": "OrderType,OrderNbr,LineNbr", "$top": "100", "$select": "OrderNbr,LineNbr"}
    page = rows(basic, still, "SOLine", **query)
    while page:
        seen.extend(page)
        last = page[-1]
        keyset = (
            f"OrderNbr gt '{last['OrderNbr']}' or (OrderNbr eq '{last['OrderNbr']}' and LineNbr gt {last['LineNbr']})"
        )
        page = rows(basic, still, "SOLine", **query, **{"$filter": keyset})
    assert seen == everything


def test_no_next_link_even_for_a_large_answer(still: SandboxServer, basic: requests.Session) -> None:
    answer = get(basic, still, "SOLine")
    assert "@odata.nextLink" not in answer.json()
    assert len(answer.json()["value"]) > 120


def test_a_bearer_token_reads_the_dac_interface_as_an_api_user(sandbox: SandboxServer) -> None:
    headers = bearer(access_token(sandbox.base_url))
    answer = requests.get(f"{sandbox.base_url}{DAC}/SOOrder", params={"$top": "1"}, headers=headers, timeout=TIMEOUT)
    assert answer.status_code == 200 and len(answer.json()["value"]) == 1
    stats = sandbox.stats()
    assert (stats["seats_in_use"], stats["users_in_use"]) == (1, 0)


def test_basic_reads_as_a_conventional_user(sandbox: SandboxServer, basic: requests.Session) -> None:
    assert len(rows(basic, sandbox, "InventoryItem", **{"$top": "3"})) == 3
    assert len(rows(basic, sandbox, "VendorR", **{"$top": "3"})) == 3
    stats = sandbox.stats()
    assert (stats["seats_in_use"], stats["users_in_use"], stats["user_sessions"]["opened"]) == (0, 1, 1)


def test_without_credentials_is_a_401(sandbox: SandboxServer) -> None:
    assert requests.get(f"{sandbox.base_url}{DAC}/SOOrder", timeout=TIMEOUT).status_code == 401


def test_a_user_without_the_odata_role_gets_a_403(sandbox: SandboxServer) -> None:
    for resource in ("SOOrder", "$metadata", ""):
        answer = requests.get(f"{sandbox.base_url}{DAC}/{resource}", auth=("reader", "123"), timeout=TIMEOUT)
        assert answer.status_code == 403
        assert "OData4 User" in answer.json()["error"]["message"]
    inquiry = requests.get(
        f"{sandbox.base_url}/t/Company/api/odata/gi/BI-Customers", auth=("reader", "123"), timeout=TIMEOUT
    )
    assert inquiry.status_code == 200


@pytest.mark.parametrize(
    ("resource", "query", "status", "fragment"),
    [
        ("SOOrdr", {}, 404, "Did you mean SOOrder"),
        ("SOOrder/Lines", {}, 404, "px.GetDeletedRecords()"),
        ("SOOrder", {"$select": "Nope"}, 400, "Could not find a property named 'Nope'"),
        ("SOOrder", {"$orderby": "OrderNbr sideways"}, 400, "Invalid $orderby item"),
        ("SOOrder", {"$top": "-1"}, 400, "non-negative integer"),
        ("SOOrder", {"$filter": "Status eq"}, 400, "Syntax error"),
        ("SOOrder", {"$filter": "Hold eq 'x'"}, 400, "incompatible types"),
        ("SOOrder", {"$expand": "SOLineCollection"}, 400, "$expand"),
    ],
)
def test_errors_are_odata_bodies(
    still: SandboxServer,
    basic: requests.Session,
    resource: str,
    query: dict[str, str],
    status: int,
    fragment: str,
) -> None:
    answer = get(basic, still, resource, **query)
    assert answer.status_code == status
    assert fragment in answer.json()["error"]["message"]


def test_deleted_customers_show_only_with_the_header(make_sandbox: Callable[..., SandboxServer]) -> None:
    server = make_sandbox(changes_per_hour=0)
    deleted = requests.post(
        f"{server.base_url}/_sandbox/changes", json={"entity": "Customer", "deletes": 3}, timeout=TIMEOUT
    ).json()["deleted"]
    session = requests.Session()
    session.auth = ("admin", "123")
    live = rows(session, server, "Customer", **{"$select": "NoteID,DeletedDatabaseRecord"})
    shown = session.get(
        f"{server.base_url}{DAC}/Customer",
        params={"$select": "NoteID,DeletedDatabaseRecord"},
        headers={"PX-ApiDeleted": "SHOW"},
        timeout=TIMEOUT,
    ).json()["value"]
    assert len(live) == 47 and not any(row["DeletedDatabaseRecord"] for row in live)
    assert len(shown) == 50
    assert {row["NoteID"] for row in shown if row["DeletedDatabaseRecord"]} == set(deleted)
    orders = session.get(f"{server.base_url}{DAC}/SOOrder", headers={"PX-ApiDeleted": "SHOW"}, timeout=TIMEOUT).json()[
        "value"
    ]
    assert len(orders) == 50 and "DeletedDatabaseRecord" not in orders[0]


def test_rows_written_through_the_contract_api_sort_by_key(make_sandbox: Callable[..., SandboxServer]) -> None:
    server = make_sandbox(changes_per_hour=0)
    session = requests.Session()
    session.auth = ("admin", "123")
    body = {"CustomerID": {"value": "A-FIRST"}, "CustomerName": {"value": "Alphabetical"}}
    created = session.put(f"{server.base_url}/entity/Default/24.200.001/Customer", json=body, timeout=TIMEOUT)
    assert created.status_code == 200, created.text
    by_code = rows(session, server, "Customer", **{"$orderby": "AcctCD", "$top": "1"})
    assert by_code[0]["NoteID"] == created.json()["id"] and by_code[0]["AcctName"] == "Alphabetical"
    orders = rows(session, server, "SOOrder", **{"$select": "OrderNbr,OrderType"})
    assert [row["OrderNbr"] for row in orders] == sorted(row["OrderNbr"] for row in orders)


def test_the_change_stream_disturbs_dac_reads_where_keyset_paging_stays_exact(
    make_sandbox: Callable[..., SandboxServer],
) -> None:
    server = make_sandbox(records=60, changes_per_hour=0)
    session = requests.Session()
    session.auth = ("admin", "123")
    start = {row["NoteID"] for row in rows(session, server, "SOOrder")}
    stream = {"entity": "SalesOrder", "every": 2, "inserts": 1, "deletes": 3, "seed": 8}
    requests.post(f"{server.base_url}/_sandbox/change_stream", json=stream, timeout=TIMEOUT).raise_for_status()

    def pull(next_query: Callable[[list[dict[str, Any]]], dict[str, str]]) -> list[str]:
        seen: list[dict[str, Any]] = []
        query = {"$orderby": "OrderNbr,OrderType", "$top": "10", "$select": "OrderNbr,NoteID"}
        page = rows(session, server, "SOOrder", **query)
        while page:
            seen.extend(page)
            page = rows(session, server, "SOOrder", **query, **next_query(seen))
        return [row["NoteID"] for row in seen]

    by_key = pull(lambda seen: {"$filter": f"OrderNbr gt '{seen[-1]['OrderNbr']}'"})
    kept = start & {row["NoteID"] for row in rows(session, server, "SOOrder")}
    assert len(by_key) == len(set(by_key)) and kept <= set(by_key)
    by_skip = pull(lambda seen: {"$skip": str(len(seen))})
    kept = kept & {row["NoteID"] for row in rows(session, server, "SOOrder")}
    assert kept - set(by_skip), "plain $skip paging should lose rows that stayed when earlier rows are deleted"
    status = requests.get(f"{server.base_url}/_sandbox/change_stream", timeout=TIMEOUT).json()["SalesOrder"]
    assert status["applied"] > 0 and status["deleted"] == 3 * status["applied"]


def test_a_bare_guid_literal_finds_a_row_by_noteid(still: SandboxServer, basic: requests.Session) -> None:
    target = rows(basic, still, "InventoryItem", **{"$top": "1", "$skip": "7"})[0]
    for literal in (target["NoteID"], target["NoteID"].upper(), f"'{target['NoteID']}'"):
        found = rows(basic, still, "InventoryItem", **{"$filter": f"NoteID eq {literal}", "$select": "InventoryCD"})
        assert found == [{"InventoryCD": target["InventoryCD"]}]


def test_a_row_addressed_by_its_key(still: SandboxServer, basic: requests.Session) -> None:
    order = rows(basic, still, "SOOrder", **{"$top": "1", "$skip": "4"})[0]
    segment = f"SOOrder(OrderNbr='{order['OrderNbr']}', OrderType='{order['OrderType']}')"
    answer = get(basic, still, segment)
    assert answer.status_code == 200
    body = answer.json()
    assert body.pop("@odata.context") == f"{still.base_url}{DAC}/$metadata#SOOrder/$entity"
    assert body == order
    customer = rows(basic, still, "Customer", **{"$top": "1", "$skip": "9"})[0]
    only = get(basic, still, f"PX_Objects_AR_Customer({customer['BAccountID']})", **{"$select": "AcctCD"}).json()
    assert only == {
        "@odata.context": f"{still.base_url}{DAC}/$metadata#Customer(AcctCD)/$entity",
        **{"AcctCD": customer["AcctCD"]},
    }
    line = get(basic, still, f"SOLine(OrderType='SO',OrderNbr='{order['OrderNbr']}',LineNbr=1)").json()
    assert (line["OrderNbr"], line["LineNbr"]) == (order["OrderNbr"], 1)


@pytest.mark.parametrize(
    ("segment", "status", "fragment"),
    [
        ("Customer(999999)", 404, "No PX.Objects.AR.Customer has the key (999999)"),
        ("SOOrder('SO0000001')", 400, "The key of PX.Objects.SO.SOOrder is OrderNbr, OrderType"),
        ("SOOrder(OrderNbr=SO1)", 400, "Invalid key segment"),
    ],
)
def test_bad_key_segments(
    still: SandboxServer, basic: requests.Session, segment: str, status: int, fragment: str
) -> None:
    answer = get(basic, still, segment)
    assert answer.status_code == status
    assert fragment in answer.json()["error"]["message"]
