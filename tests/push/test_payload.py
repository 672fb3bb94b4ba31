"""Golden tests on Acumatica's documented push notification samples, and every malformed shape."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from airflow_provider_acumatica.push.payload import (
    InvalidNotification,
    NotificationKey,
    parse_notification,
    spool_name,
)

# Sample A of the Push Notifications "Format" help page, as documented.
SAMPLE_A = """{ "Inserted": [{ "InventoryID":"AACOMPUT01", "StockItem":true, "ItemStatus":"Inactive",
                 "InventoryItem_lastModifiedDateTime":"2024-05-05T15:16:23.1" }],
  "Deleted":  [{ "InventoryID":"AACOMPUT01", "StockItem":true, "ItemStatus":"Active",
                 "InventoryItem_lastModifiedDateTime":"2024-05-05T15:16:23.103" }],
  "Query":"Stock Items: Last Modified Date", "CompanyId":"MyTenant", "Id":"1af4d140-5321-41f2-a2ec-50b67f577c6c",
  "TimeStamp":636295833829493672, "AdditionalInfo":{} }"""
# Sample B of the "Configure" help page; the stray spaces in "MAIN " and "AALEGO500 " are in the original.
SAMPLE_B = """{ "Inserted": [ { "Warehouse":"MAIN ", "InventoryID":"AALEGO500", "Description":"Lego, 500 piece set",
                  "QtyOnHand":1999, "QtyAvailable":1976 } ],
  "Deleted":  [ { "Warehouse":"MAIN", "InventoryID":"AALEGO500 ", "Description":"Lego, 500 piece set",
                  "QtyOnHand":1999, "QtyAvailable":1977 } ],
  "Query":"Item Availability Data", "CompanyId":"MyStore", "Id":"06284bdf-2952-4a9a-bf60-2ad0cd33924e",
  "TimeStamp":638465233453014192, "AdditionalInfo": { "PXPerformanceInfoStartTime":"03/20/2025 09:22:24" } }"""


def test_sample_a_parses_with_its_key_and_time() -> None:
    notification = parse_notification(SAMPLE_A.encode())
    assert notification.key == NotificationKey(
        "MyTenant", "Stock Items: Last Modified Date", "1af4d140-5321-41f2-a2ec-50b67f577c6c"
    )
    assert notification.inserted[0]["ItemStatus"] == "Inactive"
    assert notification.deleted[0]["ItemStatus"] == "Active"
    assert notification.occurred_at.replace(microsecond=0) == datetime(2017, 5, 5, 12, 16, 22, tzinfo=UTC)
    assert notification.to_json() == json.loads(SAMPLE_A)


def test_sample_b_keeps_the_stray_spaces_and_the_additional_info() -> None:
    notification = parse_notification(SAMPLE_B)
    assert notification.inserted[0]["Warehouse"] == "MAIN "
    assert notification.deleted[0]["InventoryID"] == "AALEGO500 "
    assert notification.additional_info == {"PXPerformanceInfoStartTime": "03/20/2025 09:22:24"}
    assert notification.occurred_at.replace(microsecond=0) == datetime(2024, 3, 20, 9, 22, 25, tzinfo=UTC)
    assert notification.to_json() == json.loads(SAMPLE_B)


def test_the_summary_is_bounded_and_holds_keys_not_rows() -> None:
    summary = parse_notification(SAMPLE_B).summary()
    assert summary == {
        "query": "Item Availability Data",
        "company_id": "MyStore",
        "id": "06284bdf-2952-4a9a-bf60-2ad0cd33924e",
        "timestamp": 638465233453014192,
        "inserted": 1,
        "deleted": 1,
        "keys": [{"InventoryID": "AALEGO500"}, {"InventoryID": "AALEGO500 "}],
        "truncated": False,
    }
    named = parse_notification(SAMPLE_B).summary(key_columns=["Warehouse", "InventoryID"], max_keys=1)
    assert named["keys"] == [{"Warehouse": "MAIN ", "InventoryID": "AALEGO500"}]
    assert named["truncated"] is True


def test_unknown_top_level_keys_are_kept() -> None:
    document = {**json.loads(SAMPLE_A), "QueryId": {"a": 1}}
    assert parse_notification(document).to_json()["QueryId"] == {"a": 1}


def test_the_spool_name_depends_on_the_dedup_key_only() -> None:
    first = parse_notification(SAMPLE_A)
    resent = parse_notification({**json.loads(SAMPLE_A), "TimeStamp": 1, "Inserted": []})
    other_tenant = parse_notification({**json.loads(SAMPLE_A), "CompanyId": "Other"})
    assert spool_name(first.key) == spool_name(resent.key)
    assert spool_name(first.key) != spool_name(other_tenant.key)
    assert len(spool_name(first.key)) == 45 and spool_name(first.key).endswith(".json")


def broken(**changes: Any) -> dict[str, Any]:
    document = json.loads(SAMPLE_A)
    for key, value in changes.items():
        if value is ...:
            del document[key]
        else:
            document[key] = value
    return document


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>Bad gateway</html>", "The body is not JSON"),
        (b"\xff\xfe", "The body is not JSON"),
        (b"[1, 2]", r"not an object \(got list\)"),
        (broken(Query=...), "Query is missing"),
        (broken(CompanyId=""), "CompanyId is missing"),
        (broken(Id="not-a-guid"), "Id must be a GUID"),
        (broken(TimeStamp="636295833829493672"), "TimeStamp is missing or not a non-negative integer"),
        (broken(TimeStamp=True), "TimeStamp is missing or not a non-negative integer"),
        (broken(Inserted={"a": 1}), "Inserted must be a list of objects"),
        (broken(Deleted=[1]), "Deleted must be a list of objects"),
        (broken(AdditionalInfo=[]), "AdditionalInfo must be an object"),
    ],
)
def test_malformed_bodies_name_the_problem(body: Any, message: str) -> None:
    if isinstance(body, dict):
        body = json.dumps(body).encode()
    with pytest.raises(InvalidNotification, match=message):
        parse_notification(body)
