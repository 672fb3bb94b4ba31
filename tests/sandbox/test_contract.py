"""Contract-based routes called directly: shapes, query options, CV4 vs CV5, CRUD and the error bodies."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_acumatica.sandbox.contract import ContractApi
from airflow_provider_acumatica.sandbox.data import DataStore
from tests.sandbox.data_support import BASE, Clock, call, make_request, payload, store

CV5 = "/entity/Default/26.200.001"
NOT_FOUND = "PX.Api.ContractBased.NoEntitySatisfiesTheConditionException"


@pytest.fixture
def data() -> DataStore:
    return store(default_count=200)


@pytest.fixture
def api(data: DataStore) -> ContractApi:
    return ContractApi(data, "/AcumaticaERP/")


def test_endpoint_list(api: ContractApi) -> None:
    status, body = call(api, "GET", "/entity")
    assert status == 200
    assert set(body["version"]) == {"acumaticaBuildVersion", "databaseVersion"}
    versions = [e["version"] for e in body["endpoints"]]
    assert versions == ["20.200.001", "23.200.001", "24.200.001", "25.200.001", "26.200.001"]
    assert body["endpoints"][2] == {
        "name": "Default",
        "version": "24.200.001",
        "href": "/AcumaticaERP/entity/Default/24.200.001/",
    }


def test_list_is_a_bare_array_of_wrapped_records(api: ContractApi) -> None:
    status, body = call(api, "GET", f"{BASE}/SalesOrder", **{"$top": "2"})
    assert status == 200
    assert isinstance(body, list) and len(body) == 2
    record = body[0]
    assert list(record)[:3] == ["id", "rowNumber", "note"]
    assert list(record)[-2:] == ["custom", "_links"]
    assert record["OrderType"] == {"value": "SO"}
    assert record["Status"]["value"] in {"Open", "On Hold", "Shipping", "Completed", "Invoiced", "Canceled"}
    assert record["_links"]["self"] == f"/AcumaticaERP{BASE}/SalesOrder/{record['id']}"
    files = f"/AcumaticaERP{BASE}/files/PX.Objects.SO.SOOrderEntry/Document/{record['id']}/{{filename}}"
    assert record["_links"]["files:put"] == files
    assert [r["rowNumber"] for r in body] == [1, 2]
    assert "Details" not in record


def test_paging_concatenates_to_the_full_list(api: ContractApi) -> None:
    _, everything = call(api, "GET", f"{BASE}/SalesOrder")
    assert len(everything) == 200
    pages = []
    skip = 0
    while True:
        _, page = call(api, "GET", f"{BASE}/SalesOrder", **{"$top": "37", "$skip": str(skip)})
        pages.extend(page)
        if len(page) < 37:
            break
        skip += 37
    assert [r["id"] for r in pages] == [r["id"] for r in everything]
    _, beyond = call(api, "GET", f"{BASE}/SalesOrder", **{"$top": "10", "$skip": "500"})
    assert beyond == []


def test_paging_a_filtered_list(api: ContractApi) -> None:
    query = {"$filter": "Status eq 'Open' and OrderTotal gt 1000"}
    _, everything = call(api, "GET", f"{BASE}/SalesOrder", **query)
    assert 0 < len(everything) < 200
    pages = [
        call(api, "GET", f"{BASE}/SalesOrder", **query, **{"$top": "7", "$skip": str(s)})[1] for s in range(0, 210, 7)
    ]
    assert [r["id"] for page in pages for r in page] == [r["id"] for r in everything]
    assert all(r["Status"] == {"value": "Open"} and r["OrderTotal"]["value"] > 1000 for r in everything)


def test_select_and_expand_in_contract_version_4(api: ContractApi) -> None:
    _, body = call(
        api,
        "GET",
        f"{BASE}/Customer",
        **{"$top": "1", "$select": "CustomerID,MainContact/Email,MainContact/Address/City", "$expand": "MainContact"},
    )
    record = body[0]
    assert set(record) == {"id", "rowNumber", "note", "CustomerID", "MainContact", "custom", "_links"}
    contact = record["MainContact"]
    assert set(contact) == {"id", "rowNumber", "note", "Email", "Address", "custom"}
    assert set(contact["Address"]) == {"id", "rowNumber", "note", "City", "custom"}
    _, expanded = call(api, "GET", f"{BASE}/Customer", **{"$top": "1", "$expand": "MainContact,MainContact/Address"})
    assert "Address" in expanded[0]["MainContact"] and "Phone1" in expanded[0]["MainContact"]


def test_expand_details(api: ContractApi) -> None:
    _, body = call(api, "GET", f"{BASE}/SalesOrder", **{"$top": "3", "$expand": "Details", "$select": "OrderNbr"})
    for record in body:
        assert set(record) == {"id", "rowNumber", "note", "OrderNbr", "Details", "custom", "_links"}
        assert record["Details"] and all("InventoryID" in line and "id" in line for line in record["Details"])


def test_contract_version_5_shapes_and_syntax(api: ContractApi) -> None:
    _, body = call(
        api,
        "GET",
        f"{CV5}/SalesOrder",
        **{"$top": "1", "$filter": "LastModifiedDateTime gt 2020-01-01T00:00:00+00:00 and Status eq 'N'"},
    )
    record = body[0]
    assert record["Status"] == {"value": {"id": "N", "description": "Open"}}
    assert record["Date"]["value"].count("-") == 2 and "T" not in record["Date"]["value"]
    assert "LastModifiedDateTime" in record and "LastModified" not in record
    _, nested = call(
        api,
        "GET",
        f"{CV5}/Customer",
        **{
            "$top": "1",
            "$expand": "MainContact($select=Email;$expand=Address($select=City))",
            "$select": "CustomerName",
        },
    )
    assert set(nested[0]["MainContact"]) == {"id", "rowNumber", "note", "Email", "Address", "custom"}
    assert set(nested[0]["MainContact"]["Address"]) == {"id", "rowNumber", "note", "City", "custom"}
    status, _ = call(api, "GET", f"{CV5}/Customer", **{"$filter": "contains(CustomerName,'a')"})
    assert status == 200


@pytest.mark.parametrize(
    ("path", "query", "fragment", "exception"),
    [
        (BASE, "contains(CustomerName,'a')", "substringof", "Microsoft.Data.OData.ODataException"),
        (BASE, "LastModifiedDateTime gt 2024-01-01T00:00:00Z", "datetimeoffset", "Microsoft.Data.OData.ODataException"),
        (CV5, "substringof('a',CustomerName)", "contains", "Microsoft.OData.ODataException"),
        (
            CV5,
            "LastModifiedDateTime gt datetimeoffset'2024-01-01T00:00:00Z'",
            "typed literal",
            "Microsoft.OData.ODataException",
        ),
        (
            BASE,
            "LastModifiedDateTime gt datetimeoffset'2024-07-15T10:31:28.402 03:00'",
            "%2B",
            "Microsoft.Data.OData.ODataException",
        ),
        (BASE, "Nope eq 1", "Could not find a property named 'Nope'", "Microsoft.Data.OData.ODataException"),
    ],
)
def test_bad_filters_are_500_with_a_clear_message(
    api: ContractApi, path: str, query: str, fragment: str, exception: str
) -> None:
    status, body = call(api, "GET", f"{path}/Customer", **{"$filter": query})
    assert status == 500
    assert body["message"] == "An error has occurred."
    assert fragment in body["exceptionMessage"]
    assert body["exceptionType"] == exception


@pytest.mark.parametrize(
    ("option", "value"), [("$select", "Nope"), ("$expand", "Nope"), ("$select", "MainContact/Nope")]
)
def test_unknown_select_or_expand_names_are_500(api: ContractApi, option: str, value: str) -> None:
    status, body = call(api, "GET", f"{BASE}/Customer", **{option: value})
    assert status == 500
    assert "Nope" in body["exceptionMessage"]
    assert body["exceptionType"] == "PX.Data.PXException"


def test_bad_paging_values_are_400(api: ContractApi) -> None:
    status, body = call(api, "GET", f"{BASE}/Customer", **{"$top": "ten"})
    assert status == 400
    assert body["message"] == "The request is invalid."
    assert "$top" in body["modelState"]


def test_custom_returns_the_asked_attribute(api: ContractApi) -> None:
    status, body = call(api, "GET", f"{BASE}/Customer", **{"$top": "1", "$custom": "BAccount.AttributeINDUSTRY"})
    assert status == 200 and set(body[0]["custom"]) == {"BAccount"}
    assert body[0]["custom"]["BAccount"]["AttributeINDUSTRY"]["type"] == "CustomStringField"


def test_get_by_id_and_by_keys(api: ContractApi) -> None:
    _, listed = call(api, "GET", f"{BASE}/SalesOrder", **{"$top": "5"})
    target = listed[4]
    for path in (
        f"{BASE}/SalesOrder/{target['id']}",
        f"{BASE}/SalesOrder/SO/SO0000005",
        f"{BASE}/SalesOrder/SO|SO0000005",
    ):
        status, record = call(api, "GET", path)
        assert status == 200
        assert record["id"] == target["id"] and record["OrderNbr"] == {"value": "SO0000005"}
    status, with_details = call(api, "GET", f"{BASE}/SalesOrder/{target['id']}", **{"$expand": "Details"})
    assert status == 200 and with_details["Details"]


@pytest.mark.parametrize("suffix", ["SO/SO9999999", "00000000-0000-0000-0000-000000000001", "XX/SO0000001"])
def test_missing_record_is_500_no_entity_satisfies(api: ContractApi, suffix: str) -> None:
    status, body = call(api, "GET", f"{BASE}/SalesOrder/{suffix}")
    assert status == 500
    assert NOT_FOUND in body["exceptionType"]
    assert "No entity satisfies the condition" in body["exceptionMessage"]


def test_put_creates_then_updates_by_keys_id_and_filter(api: ContractApi) -> None:
    body = {
        "CustomerID": {"value": "ACME"},
        "CustomerName": {"value": "Acme Corp"},
        "CustomerClass": {"value": "LOCAL"},
    }
    status, created = call(api, "PUT", f"{BASE}/Customer", body)
    assert status == 200
    assert created["CustomerID"] == {"value": "ACME"} and created["Status"] == {"value": "Active"}
    status, updated = call(api, "PUT", f"{BASE}/Customer", {"CustomerID": {"value": "acme"}, "Terms": {"value": "COD"}})
    assert status == 200 and updated["id"] == created["id"] and updated["Terms"] == {"value": "COD"}
    status, by_id = call(api, "PUT", f"{BASE}/Customer", {"id": created["id"], "CreditLimit": {"value": 2500}})
    assert status == 200 and by_id["CreditLimit"] == {"value": 2500.0}
    status, by_filter = call(
        api, "PUT", f"{BASE}/Customer", {"CustomerName": {"value": "Acme Inc."}}, **{"$filter": "CustomerID eq 'ACME'"}
    )
    assert status == 200 and by_filter["id"] == created["id"]
    _, fetched = call(api, "GET", f"{BASE}/Customer/ACME")
    assert fetched["CustomerName"] == {"value": "Acme Inc."} and fetched["Terms"] == {"value": "COD"}


def test_put_sets_last_modified_to_now(data: DataStore, api: ContractApi) -> None:
    clock = data.clock
    assert isinstance(clock, Clock)
    clock.advance(minutes=5)
    _, record = call(
        api,
        "PUT",
        f"{BASE}/SalesOrder",
        {"OrderType": {"value": "SO"}, "OrderNbr": {"value": "SO0000003"}, "Description": {"value": "Rush"}},
    )
    assert record["LastModified"] == {"value": "2024-07-15T12:05:00+00:00"}
    _, changed = call(
        api, "GET", f"{BASE}/SalesOrder", **{"$filter": "LastModified ge datetimeoffset'2024-07-15T12:05:00Z'"}
    )
    assert [r["OrderNbr"]["value"] for r in changed] == ["SO0000003"]


def test_conditional_puts(api: ContractApi) -> None:
    existing = {"CustomerID": {"value": "C0000001"}, "CustomerName": {"value": "X"}}
    status, body = call(api, "PUT", f"{BASE}/Customer", existing, {"If-None-Match": "*"})
    assert status == 412 and body["message"]
    missing = {"CustomerID": {"value": "GHOST"}, "CustomerName": {"value": "Ghost"}}
    status, _ = call(api, "PUT", f"{BASE}/Customer", missing, {"If-Match": "*"})
    assert status == 412
    status, _ = call(api, "PUT", f"{BASE}/Customer", existing, {"If-Match": "*"})
    assert status == 200
    status, _ = call(api, "PUT", f"{BASE}/Customer", missing, {"If-None-Match": "*"})
    assert status == 200


def test_validation_failures_are_422_entity_bodies(api: ContractApi) -> None:
    status, body = call(
        api,
        "PUT",
        f"{BASE}/Customer",
        {"CustomerID": {"value": "BAD"}, "CustomerClass": {"value": "MARTIAN"}, "CreditLimit": {"value": "lots"}},
    )
    assert status == 422
    assert body["error"].startswith("Inserting  'Customer' record raised at least one error")
    assert body["CustomerClass"] == {
        "value": "MARTIAN",
        "error": "Customer Class 'MARTIAN' cannot be found in the system.",
    }
    assert "decimal" in body["CreditLimit"]["error"]
    assert body["CustomerName"]["error"] == "'Customer Name' cannot be empty."
    status, missing_key = call(api, "PUT", f"{BASE}/Customer", {"CustomerName": {"value": "No key"}})
    assert status == 422 and missing_key["CustomerID"]["error"] == "'Customer ID' cannot be empty."
    status, bad_ref = call(api, "PUT", f"{BASE}/SalesOrder", {"CustomerID": {"value": "NOBODY"}})
    assert status == 422 and "cannot be found" in bad_ref["CustomerID"]["error"]
    status, update = call(
        api, "PUT", f"{BASE}/Customer", {"CustomerID": {"value": "C0000001"}, "Status": {"value": "Sleepy"}}
    )
    assert status == 422 and update["error"].startswith("Updating") and "id" in update


@pytest.mark.parametrize("raw", [b"", b"{}", b"null"])
def test_empty_body_is_400(api: ContractApi, raw: bytes) -> None:
    response = api.handle(make_request("PUT", f"{BASE}/Customer", body=raw))
    assert response.status == 400
    assert payload(response) == {
        "message": "The request is invalid.",
        "modelState": {"": ["The request body should not be empty."]},
    }


def test_invalid_json_is_400(api: ContractApi) -> None:
    response = api.handle(make_request("PUT", f"{BASE}/Customer", body=b"{not json"))
    assert response.status == 400


def test_put_merges_detail_lines(api: ContractApi) -> None:
    status, order = call(
        api,
        "PUT",
        f"{BASE}/SalesOrder",
        {
            "CustomerID": {"value": "C0000002"},
            "Details": [
                {"InventoryID": {"value": "ITEM0000001"}, "OrderQty": {"value": 2}},
                {"InventoryID": {"value": "ITEM0000002"}, "OrderQty": {"value": 5}},
            ],
        },
    )
    assert status == 200
    assert order["OrderNbr"] == {"value": "SO0000201"}
    first, second = order["Details"]
    assert [first["LineNbr"]["value"], second["LineNbr"]["value"]] == [1, 2]
    change: dict[str, Any] = {
        "id": order["id"],
        "Details": [
            {"id": first["id"], "OrderQty": {"value": 3}},
            {"id": second["id"], "delete": True},
            {"InventoryID": {"value": "ITEM0000003"}, "OrderQty": {"value": 1}},
        ],
    }
    _, updated = call(api, "PUT", f"{BASE}/SalesOrder", change)
    lines = updated["Details"]
    assert [(line["InventoryID"]["value"], line["OrderQty"]["value"]) for line in lines] == [
        ("ITEM0000001", 3.0),
        ("ITEM0000003", 1.0),
    ]
    _, generated = call(api, "GET", f"{BASE}/SalesOrder/SO/SO0000001", **{"$expand": "Details"})
    count = len(generated["Details"])
    _, appended = call(
        api,
        "PUT",
        f"{BASE}/SalesOrder",
        {
            "OrderType": {"value": "SO"},
            "OrderNbr": {"value": "SO0000001"},
            "Details": [{"InventoryID": {"value": "ITEM0000009"}}],
        },
    )
    assert len(appended["Details"]) == count + 1
    assert appended["Details"][-1]["LineNbr"] == {"value": count + 1}


def test_delete_by_id_and_keys(data: DataStore, api: ContractApi) -> None:
    _, listed = call(api, "GET", f"{BASE}/Bill", **{"$top": "2"})
    status, body = call(api, "DELETE", f"{BASE}/Bill/{listed[0]['id']}")
    assert (status, body) == (204, None)
    assert call(api, "GET", f"{BASE}/Bill/{listed[0]['id']}")[0] == 500
    assert call(api, "DELETE", f"{BASE}/Bill/Bill/AP0000002")[0] == 204
    status, body = call(api, "DELETE", f"{BASE}/Bill/Bill/AP0000002")
    assert status == 500 and NOT_FOUND in body["exceptionType"]
    assert data.count("Bill") == 198
    _, remaining = call(api, "GET", f"{BASE}/Bill")
    assert len(remaining) == 198


@pytest.mark.parametrize(
    "path",
    [
        "/entity/Default/24.200.001/Nope",
        "/entity/Default/99.200.001/Customer",
        "/entity/Other/24.200.001/Customer",
        "/entity/Default",
    ],
)
def test_unknown_routes_are_404(api: ContractApi, path: str) -> None:
    status, body = call(api, "GET", path)
    assert status == 404
    assert body == {"message": f"No HTTP resource was found that matches the request URI '/AcumaticaERP{path}'."}


def test_unsupported_methods_are_405(api: ContractApi) -> None:
    status, body = call(api, "PATCH", f"{BASE}/Customer")
    assert status == 405 and "PATCH" in body["message"]


def test_swagger_route(api: ContractApi) -> None:
    status, body = call(api, "GET", f"{BASE}/swagger.json")
    assert status == 200
    assert body["info"]["title"] == "Default/24.200.001"
    assert body["servers"] == [{"url": "/AcumaticaERP/entity/Default/24.200.001"}]


def test_simplified_screen_route(api: ContractApi) -> None:
    response = api.list_screen(
        make_request("GET", "/api/data/AR303000", {"$top": "3", "$select": "CustomerID"}), "AR303000"
    )
    body = payload(response)
    assert response.status == 200
    assert [r["CustomerID"]["value"] for r in body] == ["C0000001", "C0000002", "C0000003"]
    assert body[0]["_links"]["self"].startswith("/AcumaticaERP/entity/Default/24.200.001/Customer/")
    assert api.list_screen(make_request("GET", "/api/data/XX000000"), "XX000000").status == 404


def test_older_versions_hide_newer_fields(api: ContractApi) -> None:
    _, old = call(api, "GET", "/entity/Default/20.200.001/Customer", **{"$top": "1"})
    _, new = call(api, "GET", f"{BASE}/Customer", **{"$top": "1"})
    assert "CreditLimit" not in old[0] and "CreditLimit" in new[0]
    assert old[0]["id"] == new[0]["id"]
    status, body = call(api, "GET", "/entity/Default/20.200.001/Customer", **{"$select": "CreditLimit"})
    assert status == 500 and "CreditLimit" in body["exceptionMessage"]
