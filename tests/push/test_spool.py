"""The spool on a local disk and on an object store: atomic files, duplicates, order, consumption, pruning."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from airflow_provider_acumatica.push.payload import Notification, parse_notification
from airflow_provider_acumatica.push.spool import Spool


def notification(timestamp: int, query: str = "Customers: Last Modified") -> Notification:
    return parse_notification(
        {
            "Inserted": [{"CustomerID": f"C{timestamp}"}],
            "Deleted": [],
            "Query": query,
            "CompanyId": "Company",
            "Id": str(uuid.uuid4()),
            "TimeStamp": timestamp,
            "AdditionalInfo": {},
        }
    )


def test_a_stored_notification_is_one_complete_file_and_no_temporary_is_left(tmp_path: Path) -> None:
    spool = Spool.at(str(tmp_path))
    item = notification(638000000000000000)
    assert spool.store(item) is True
    (written,) = (tmp_path / "pending").iterdir()
    document = json.loads(written.read_text())
    assert document["key"] == {"CompanyId": "Company", "Query": "Customers: Last Modified", "Id": item.id}
    assert parse_notification(document["notification"]) == item
    assert datetime.fromisoformat(document["received_at"]) <= datetime.now(UTC)


def test_a_duplicate_stores_nothing_whether_pending_or_consumed(tmp_path: Path) -> None:
    spool = Spool.at(str(tmp_path))
    item = notification(1)
    assert spool.store(item) is True
    assert spool.store(item) is False
    spool.consume([spool.pending()[0].name])
    assert spool.store(item) is False
    assert spool.pending() == []
    assert len(list((tmp_path / "consumed").iterdir())) == 1


def test_pending_is_in_transaction_order_and_skips_unreadable_files(tmp_path: Path) -> None:
    spool = Spool.at(str(tmp_path))
    for timestamp in (30, 10, 20):
        spool.store(notification(timestamp))
    (tmp_path / "pending" / "garbage.json").write_text("{not json")
    (tmp_path / "pending" / ".incoming-x").write_text("half written")
    assert [item.notification.timestamp for item in spool.pending()] == [10, 20, 30]


def test_consume_is_idempotent(tmp_path: Path) -> None:
    spool = Spool.at(str(tmp_path))
    spool.store(notification(1))
    name = spool.pending()[0].name
    spool.consume([name])
    spool.consume([name, "never-there.json"])
    assert spool.pending() == []


def test_consumed_files_are_pruned_after_the_dedup_window(tmp_path: Path) -> None:
    spool = Spool.at(str(tmp_path))
    old, recent = notification(1), notification(2)
    spool.store(old, received_at=datetime.now(UTC) - timedelta(days=4))
    spool.store(recent)
    spool.consume([item.name for item in spool.pending()])
    assert spool.prune_consumed() == 1
    assert spool.store(old) is True
    assert spool.store(recent) is False


def test_a_spool_that_cannot_be_written_raises_oserror(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the spool folder should be")
    with pytest.raises(OSError):
        Spool.at(str(blocker / "spool")).store(notification(1))


def test_an_object_store_spool_behaves_the_same() -> None:
    spool = Spool.at(f"memory://spool-{uuid.uuid4().hex}")
    try:
        spool.pending()
    except ValueError as err:
        pytest.skip(f"this Airflow's ObjectStoragePath has no memory:// filesystem ({err})")
    first, second = notification(2), notification(1)
    assert spool.store(first) and spool.store(second)
    assert spool.store(first) is False
    assert [item.notification for item in spool.pending()] == [second, first]
    spool.consume([spool.pending()[0].name])
    assert [item.notification for item in spool.pending()] == [first]
    assert spool.store(second) is False
