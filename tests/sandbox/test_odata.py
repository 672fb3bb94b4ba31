"""Generic inquiries over OData v4: rows, paging, $filter/$select/$orderby, $metadata and errors."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest

from airflow_provider_acumatica.sandbox.data import DataStore
from airflow_provider_acumatica.sandbox.odata import INQUIRIES, ODataApi
from airflow_provider_acumatica.sandbox.protocol import Response
from tests.sandbox.data_support import Clock, make_request, payload, store

EDM = "{http://docs.oasis-open.org/odata/ns/edm}"


@pytest.fixture
def data() -> DataStore:
    return store(default_count=120)


@pytest.fixture
def api(data: DataStore) -> ODataApi:
    return ODataApi(data, "/AcumaticaERP")


def get(api: ODataApi, resource: str, headers: dict[str, str] | None = None, **query: str) -> Response:
    return api.handle(
        make_request("GET", f"/t/Company/api/odata/gi/{resource}", query, headers=headers), "Company", resource
    )


def rows(api: ODataApi, resource: str, **query: str) -> list[dict[str, Any]]:
    response = get(api, resource, **query)
    assert response.status == 200, response.body
    return list(payload(response)["value"])


def expected_lines(data: DataStore) -> list[tuple[str, int, float]]:
    return [
        (order["OrderNbr"]["value"], line["LineNbr"]["value"], line["OrderQty"].get("value"))
        for order in data.iter_records("SalesOrder", expand=("Details",))
        for line in order["Details"]
    ]


def paged(api: ODataApi, resource: str, size: int, **query: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while True:
        page = rows(api, resource, **query, **{"$top": str(size), "$skip": str(len(out))})
        out.extend(page)
        if len(page) < size:
            return out


def test_customer_rows_are_plain_values_with_v4_types(api: ODataApi, data: DataStore) -> None:
    response = get(api, "BI-Customers", **{"$top": "2"})
    body = payload(response)
    assert body["@odata.context"] == "/AcumaticaERP/t/Company/api/odata/gi/$metadata#BI-Customers"
    first = body["value"][0]
    assert list(first) == [column.name for column in INQUIRIES["BI-Customers"].columns]
    assert first["CustomerID"] == "C0000001"
    assert isinstance(first["CreditLimit"], float)
    assert first["Status"] in {"Active", "On Hold", "Credit Hold", "Inactive", "One-Time"}
    assert first["LastModifiedDateTime"].endswith("+00:00")
    record = next(data.iter_records("Customer", expand=("MainContact", "MainContact/Address")))
    assert first["City"] == record["MainContact"]["Address"]["City"]["value"]
    assert first["LastModifiedDateTime"] == record["LastModifiedDateTime"]["value"]


def test_context_uses_the_host_header(api: ODataApi) -> None:
    body = payload(get(api, "BI-Customers", {"Host": "erp.example.com"}, **{"$top": "1", "$select": "CustomerID"}))
    assert (
        body["@odata.context"]
        == "http://erp.example.com/AcumaticaERP/t/Company/api/odata/gi/$metadata#BI-Customers(CustomerID)"
    )
    assert body["value"] == [{"CustomerID": "C0000001"}]


def test_sales_order_lines_page_through_every_line_in_key_order(api: ODataApi, data: DataStore) -> None:
    everything = rows(api, "SalesOrderLines")
    got = [(row["OrderNbr"], row["LineNbr"], row["Quantity"]) for row in everything]
    assert got == expected_lines(data)
    assert [(r["OrderNbr"], r["LineNbr"]) for r in paged(api, "SalesOrderLines", 13)] == [g[:2] for g in got]


def test_line_paging_follows_writes_and_deletes(api: ODataApi, data: DataStore) -> None:
    data.apply_changes("SalesOrder", inserts=3, updates=4, deletes=5, seed=2)
    data.upsert(
        "SalesOrder",
        "24.200.001",
        {
            "OrderType": {"value": "SO"},
            "OrderNbr": {"value": "SO0000010"},
            "Details": [{"InventoryID": {"value": "ITEM0000001"}}],
        },
    )
    data.upsert("SalesOrder", "24.200.001", {"CustomerID": {"value": "C0000001"}})
    got = [(r["OrderNbr"], r["LineNbr"], r["Quantity"]) for r in paged(api, "SalesOrderLines", 11)]
    assert got == expected_lines(data)


def test_v4_filters_and_their_dialect_errors(api: ODataApi, data: DataStore) -> None:
    found = rows(api, "BI-Customers", **{"$filter": "contains(CustomerName,'bakery') and Status eq 'Active'"})
    assert found and all("bakery" in r["CustomerName"].lower() and r["Status"] == "Active" for r in found)
    for bad, fragment in [
        ("substringof('a',CustomerName)", "contains"),
        ("LastModifiedDateTime gt datetimeoffset'2024-01-01T00:00:00Z'", "typed literal"),
        ("Nope eq 1", "Nope"),
    ]:
        response = get(api, "BI-Customers", **{"$filter": bad})
        assert response.status == 400
        error = payload(response)["error"]
        assert error["code"] == "" and fragment in error["message"]


def test_last_modified_filter_matches_a_scan(data: DataStore, api: ODataApi) -> None:
    clock = data.clock
    assert isinstance(clock, Clock)
    clock.advance(hours=3)
    everything = rows(api, "BI-Customers")
    since = "2024-07-15T12:30:00+00:00"
    found = rows(api, "BI-Customers", **{"$filter": f"LastModifiedDateTime gt {since.replace('+00:00', 'Z')}"})
    assert found == [r for r in everything if r["LastModifiedDateTime"] > since]
    assert found


def test_filter_on_line_columns_with_paging(api: ODataApi) -> None:
    everything = rows(api, "SalesOrderLines")
    query = {"$filter": "Quantity ge 10 and startswith(InventoryID,'ITEM')"}
    expected = [r for r in everything if r["Quantity"] >= 10]
    assert rows(api, "SalesOrderLines", **query) == expected
    assert paged(api, "SalesOrderLines", 9, **query) == expected


def test_orderby(api: ODataApi) -> None:
    everything = rows(api, "BI-Customers")
    by_limit = rows(api, "BI-Customers", **{"$orderby": "CreditLimit desc, CustomerID asc"})
    assert by_limit == sorted(everything, key=lambda r: (-r["CreditLimit"], r["CustomerID"]))
    assert paged(api, "BI-Customers", 17, **{"$orderby": "CreditLimit desc, CustomerID asc"}) == by_limit
    assert rows(api, "BI-Customers", **{"$orderby": "CustomerID"}) == everything
    lines = rows(api, "SalesOrderLines", **{"$orderby": "ExtendedPrice desc", "$top": "5"})
    assert [r["ExtendedPrice"] for r in lines] == sorted(
        (r["ExtendedPrice"] for r in rows(api, "SalesOrderLines")), reverse=True
    )[:5]
    assert get(api, "BI-Customers", **{"$orderby": "CustomerID sideways"}).status == 400


def test_select(api: ODataApi) -> None:
    assert rows(api, "Customer Contacts", **{"$select": "CustomerID,ContactEmail", "$top": "1"})[0].keys() == {
        "CustomerID",
        "ContactEmail",
    }
    response = get(api, "BI-Customers", **{"$select": "Nope"})
    assert response.status == 400 and "Nope" in payload(response)["error"]["message"]


@pytest.mark.parametrize("option", ["$expand", "$count"])
def test_unsupported_options(api: ODataApi, option: str) -> None:
    response = get(api, "BI-Customers", **{option: "true"})
    assert response.status == 400 and option in payload(response)["error"]["message"]


def test_bad_paging_values(api: ODataApi) -> None:
    assert get(api, "BI-Customers", **{"$skip": "-1"}).status == 400


def test_unknown_inquiry_is_404(api: ODataApi) -> None:
    response = get(api, "No Such GI")
    assert response.status == 404
    assert set(payload(response)["error"]) == {"code", "message"}


def test_metadata_is_csdl_v4(api: ODataApi) -> None:
    response = get(api, "$metadata")
    assert response.status == 200
    assert dict(response.headers)["Content-Type"].startswith("application/xml")
    root = ET.fromstring(response.body)
    assert root.attrib["Version"] == "4.0"
    schema = root.find(f".//{EDM}Schema")
    assert schema is not None
    types = {t.attrib["Name"]: t for t in schema.findall(f"{EDM}EntityType")}
    sets = {s.attrib["Name"]: s.attrib["EntityType"] for s in schema.findall(f".//{EDM}EntitySet")}
    assert sets == {name: f"Default.{inquiry.type_name}" for name, inquiry in INQUIRIES.items()}
    lines = types["SalesOrderLines"]
    assert [ref.attrib["Name"] for ref in lines.findall(f"{EDM}Key/{EDM}PropertyRef")] == [
        "OrderType",
        "OrderNbr",
        "LineNbr",
    ]
    props = {p.attrib["Name"]: p.attrib["Type"] for p in lines.findall(f"{EDM}Property")}
    assert props["Quantity"] == "Edm.Decimal" and props["LastModifiedDateTime"] == "Edm.DateTimeOffset"
