"""DataStore: determinism, ids and times, the modification schedule, index-assisted filters, paging and writes."""

from __future__ import annotations

import re
import threading
import time
import tracemalloc
from datetime import timedelta

import pytest

from airflow_provider_acumatica.sandbox import catalog, shape
from airflow_provider_acumatica.sandbox.data import DataStore, IndexList, LiveRange, RecordChange, to_ms
from airflow_provider_acumatica.sandbox.filters import CompiledFilter, compile_filter
from tests.sandbox.data_support import START, Clock, store

TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,2}[1-9]|\.[1-9])?\+00:00$")


def compiled(entity: str, text: str, version: str = "24.200.001") -> CompiledFilter:
    return compile_filter(text, shape.dialect_for(version), shape.filter_resolver(entity, version), entity)


def brute_force(data: DataStore, entity: str, text: str, version: str = "24.200.001") -> list[int]:
    flt = compiled(entity, text, version)
    snap = data.snapshot(entity)
    return [index for index in snap.all().slice(0, None) if flt.matches(snap.view(index))]


def fast(data: DataStore, entity: str, text: str, version: str = "24.200.001") -> list[int]:
    flt = compiled(entity, text, version)
    snap = data.snapshot(entity)
    return list(data.select(snap, ("test", version, text), flt).slice(0, None))


def literal(moment_ms: int) -> str:
    return f"datetimeoffset'{shape.format_ms(moment_ms)}'"


@pytest.mark.parametrize("entity", sorted(catalog.ENTITIES))
def test_same_seed_same_records_different_seed_different(entity: str) -> None:
    first = list(store(seed=7, default_count=30).iter_records(entity, expand=("Details",) if entity in DETAILS else ()))
    again = list(store(seed=7, default_count=30).iter_records(entity, expand=("Details",) if entity in DETAILS else ()))
    other = list(store(seed=8, default_count=30).iter_records(entity))
    assert first == again
    assert len(first) == 30
    assert [r["id"] for r in first] != [r["id"] for r in other]
    assert first[0] != other[0]


DETAILS = {"SalesOrder", "SalesInvoice", "Bill", "JournalTransaction"}


def test_records_are_generated_in_key_order_with_unique_decodable_ids() -> None:
    data = store(default_count=300)
    records = list(data.iter_records("SalesOrder"))
    keys = [(r["OrderType"]["value"], r["OrderNbr"]["value"]) for r in records]
    assert keys == sorted(keys)
    ids = [r["id"] for r in records]
    assert len(set(ids)) == len(ids)
    snap = data.snapshot("SalesOrder")
    assert [snap.find(record_id) for record_id in ids] == list(range(300))
    assert snap.find(("SO", "SO0000042")) == 41
    assert snap.find("SO|SO0000042") == 41
    assert snap.find("00000000-0000-0000-0000-000000000000") is None
    assert [r["rowNumber"] for r in records[:3]] == [1, 2, 3]
    assert records[0]["NoteID"]["value"] == records[0]["id"]


def test_times_are_utc_millisecond_strings_and_created_times_grow_with_the_index() -> None:
    data = store(default_count=500)
    records = list(data.iter_records("Customer"))
    created = [r["CreatedDateTime"]["value"] for r in records]
    assert all(TIME_RE.match(value) for value in created)
    assert all(TIME_RE.match(r["LastModifiedDateTime"]["value"]) for r in records)
    assert created == sorted(created)
    assert len(set(created)) == len(created)
    assert created[-1] < START.isoformat()
    assert shape.format_ms(to_ms(START) + 340) == "2024-07-15T12:00:00.34+00:00"
    assert shape.format_ms(to_ms(START)) == "2024-07-15T12:00:00+00:00"


def test_an_empty_field_is_an_empty_object_and_notes_are_wrapped() -> None:
    records = list(store().iter_records("Customer"))
    assert any(r["AccountRef"] == {} for r in records)
    assert all(set(r["note"]) == {"value"} for r in records)
    assert any(r["note"]["value"] for r in records)
    assert all(r["custom"] == {} for r in records)


def test_details_and_linked_entities_only_when_expanded() -> None:
    data = store()
    plain = next(data.iter_records("SalesOrder"))
    assert "Details" not in plain and "ShipToAddress" not in plain
    expanded = next(data.iter_records("SalesOrder", expand=("Details", "ShipToAddress")))
    lines = expanded["Details"]
    assert 1 <= len(lines) <= 5
    assert [line["LineNbr"]["value"] for line in lines] == list(range(1, len(lines) + 1))
    assert round(sum(line["Amount"]["value"] for line in lines) + expanded["TaxTotal"]["value"], 2) == pytest.approx(
        expanded["OrderTotal"]["value"]
    )
    customer = next(data.iter_records("Customer", expand=("MainContact", "MainContact/Address")))
    assert "@" in customer["MainContact"]["Email"]["value"]
    assert customer["MainContact"]["Address"]["City"]["value"]


def test_journal_transaction_details_balance() -> None:
    for record in store(default_count=40).iter_records("JournalTransaction", expand=("Details",)):
        lines = record["Details"]
        debit = sum(line["DebitAmount"]["value"] for line in lines)
        credit = sum(line["CreditAmount"]["value"] for line in lines)
        if len(lines) > 1:
            assert debit == pytest.approx(credit)


def test_records_change_as_the_clock_advances() -> None:
    clock = Clock()
    data = DataStore(seed=3, default_count=2000, clock=clock, changes_per_hour=300)
    start_text = shape.format_ms(to_ms(START))
    since_start = f"LastModifiedDateTime gt datetimeoffset'{start_text}'"
    assert fast(data, "Customer", since_start) == []
    before = {r["id"]: r for r in data.iter_records("Customer")}
    clock.advance(hours=1)
    changed = fast(data, "Customer", since_start)
    assert 200 < len(changed) <= 300
    after = {r["id"]: r for r in data.iter_records("Customer")}
    snap = data.snapshot("Customer")
    for index in changed[:50]:
        record_id = snap.state.guid(index)
        old, new = before[record_id], after[record_id]
        assert new["LastModifiedDateTime"]["value"] > start_text
        assert (old["Status"], old["CreditLimit"]) != (new["Status"], new["CreditLimit"])
    clock.advance(hours=1)
    assert len(fast(data, "Customer", since_start)) > len(changed)


def test_history_before_the_start_touches_a_minority_of_records() -> None:
    data = store(default_count=5000)
    week_ago = to_ms(START - timedelta(days=7))
    modified = fast(data, "Customer", f"LastModifiedDateTime ge {literal(week_ago)}")
    assert 0 < len(modified) < 5000 * 0.15


@pytest.mark.parametrize("entity", ["Customer", "SalesOrder", "StockItem"])
def test_last_modified_ranges_match_a_brute_force_scan(entity: str) -> None:
    clock = Clock()
    data = DataStore(seed=11, default_count=1500, clock=clock, changes_per_hour=200)
    field = catalog.ENTITIES[entity].last_modified
    start = to_ms(START)
    windows = [
        f"{field} gt {literal(start - 3 * 86_400_000)}",
        f"{field} ge {literal(start - 400 * 86_400_000)} and {field} lt {literal(start - 200 * 86_400_000)}",
        f"{field} le {literal(start - 700 * 86_400_000)}",
        f"{field} gt {literal(start - 86_400_000)} and {field} le {literal(start + 1_800_000)}",
    ]
    for step in range(3):
        if step == 1:
            data.apply_changes(entity, inserts=5, updates=20, deletes=7, seed=1)
        clock.advance(minutes=45)
        for window in windows:
            expected = brute_force(data, entity, window)
            assert fast(data, entity, window) == expected, (step, window)
    assert any(brute_force(data, entity, window) for window in windows)


def test_stock_item_mirror_field_is_indexed_too() -> None:
    data = store(default_count=400)
    text = f"LastModified gt {literal(to_ms(START) - 200 * 86_400_000)}"
    assert fast(data, "StockItem", text) == brute_force(data, "StockItem", text)
    assert compiled("StockItem", text).time_range is not None


def test_scan_filters_are_cached_and_patched_as_data_changes() -> None:
    clock = Clock()
    data = DataStore(seed=5, default_count=800, clock=clock, changes_per_hour=400)
    text = "Status eq 'On Hold' and CreditLimit ge 10000"
    assert fast(data, "Customer", text) == brute_force(data, "Customer", text)
    for _ in range(4):
        clock.advance(minutes=20)
        data.apply_changes("Customer", inserts=3, updates=30, deletes=2, seed=9)
        assert fast(data, "Customer", text) == brute_force(data, "Customer", text)


def test_a_cached_selection_is_reused_while_nothing_changes() -> None:
    data = store(default_count=300)
    flt = compiled("Customer", "CustomerClass eq 'LOCAL'")
    snap = data.snapshot("Customer")
    first = data.select(snap, ("k",), flt)
    second = data.select(data.snapshot("Customer"), ("k",), flt)
    assert isinstance(first, IndexList) and isinstance(second, IndexList)
    assert first.indexes is second.indexes


def test_live_range_paging_skips_deleted_records() -> None:
    live = LiveRange(20, [0, 3, 4, 19])
    everything = list(live.slice(0, None))
    assert everything == [i for i in range(20) if i not in (0, 3, 4, 19)]
    assert len(live) == 16
    pages = [list(live.slice(start, start + 3)) for start in range(0, 18, 3)]
    assert [i for page in pages for i in page] == everything
    assert list(live.slice(16, 20)) == []


def test_upsert_update_and_create_then_delete() -> None:
    data = store()
    record = data.upsert(
        "Customer", "24.200.001", {"CustomerID": {"value": "C0000005"}, "CustomerName": {"value": "Renamed"}}
    )
    assert record["CustomerName"] == {"value": "Renamed"}
    assert record["LastModifiedDateTime"]["value"] == "2024-07-15T12:00:00+00:00"
    snap = data.snapshot("Customer")
    assert snap.view(4).values["CustomerName"] == "Renamed"
    created = data.upsert(
        "Customer", "24.200.001", {"CustomerID": {"value": "NEWCO"}, "CustomerName": {"value": "New Co"}}
    )
    assert data.count("Customer") == 201
    assert created["CustomerID"] == {"value": "NEWCO"}
    assert data.snapshot("Customer").find("NEWCO") == 200
    assert data.delete("Customer", "NEWCO") is True
    assert data.delete("Customer", "NEWCO") is False
    assert data.delete("Customer", created["id"]) is False
    assert data.count("Customer") == 200


def test_apply_changes_is_deterministic_and_inserts_at_the_end() -> None:
    results = []
    for _ in range(2):
        data = store(default_count=100)
        result = data.apply_changes("SalesOrder", inserts=4, updates=6, deletes=3, seed=42)
        results.append((result, [r["id"] for r in data.iter_records("SalesOrder")]))
        assert data.count("SalesOrder") == 101
        snap = data.snapshot("SalesOrder")
        assert [snap.find(i) for i in result["inserted"]] == [100, 101, 102, 103]
        assert all(snap.find(i) is None for i in result["deleted"])
        for record_id in result["updated"]:
            index = snap.find(record_id)
            assert index is not None
            assert snap.view(index).values["LastModified"] == to_ms(START)
    assert results[0] == results[1]
    other = store(default_count=100).apply_changes("SalesOrder", inserts=4, updates=6, deletes=3, seed=43)
    assert other["updated"] != results[0][0]["updated"]


def test_listeners_see_every_write_with_the_states_before_and_after() -> None:
    data = store(default_count=50)
    changes: list[RecordChange] = []
    data.add_listener(changes.append)
    created = data.upsert("Customer", "24.200.001", {"CustomerID": {"value": "NEWCO"}, "CustomerName": {"value": "N"}})
    data.upsert("Customer", "24.200.001", {"CustomerID": {"value": "NEWCO"}, "CustomerName": {"value": "M"}})
    assert data.delete("Customer", "NEWCO") is True
    assert data.delete("Customer", "NEWCO") is False
    assert [(c.kind, c.record_id) for c in changes] == [
        ("inserted", created["id"]),
        ("updated", created["id"]),
        ("deleted", created["id"]),
    ]
    inserted, updated, deleted = changes
    assert inserted.before_view() is None
    assert inserted.after_view().values["CustomerName"] == "N"  # type: ignore[union-attr]
    assert updated.before_view().values["CustomerName"] == "N"  # type: ignore[union-attr]
    assert updated.after_view().values["CustomerName"] == "M"  # type: ignore[union-attr]
    assert deleted.after_view() is None
    assert deleted.at_ms >= updated.at_ms >= inserted.at_ms
    changes.clear()
    result = data.apply_changes("SalesOrder", inserts=2, updates=3, deletes=1, seed=5)
    seen = {kind: [c.record_id for c in changes if c.kind == kind] for kind in ("inserted", "updated", "deleted")}
    assert seen == {"inserted": result["inserted"], "updated": result["updated"], "deleted": result["deleted"]}
    data.remove_listener(changes.append)
    data.apply_changes("SalesOrder", inserts=1, updates=0, deletes=0, seed=6)
    assert len(changes) == 6


def test_unknown_entities_are_rejected() -> None:
    with pytest.raises(ValueError, match="Nope"):
        DataStore(record_counts={"Nope": 3})
    with pytest.raises(KeyError):
        store().count("Nope")


def test_concurrent_reads_and_writes_stay_consistent() -> None:
    clock = Clock()
    data = DataStore(default_count=500, clock=clock)
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            for _ in range(20):
                assert fast(data, "Customer", "Status eq 'Active'") is not None
                assert len(list(data.snapshot("Customer").all().slice(0, 50))) == 50
        except BaseException as error:
            errors.append(error)

    def writer() -> None:
        try:
            for n in range(20):
                data.apply_changes("Customer", inserts=1, updates=2, deletes=1, seed=n)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=reader) for _ in range(3)] + [threading.Thread(target=writer)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert data.count("Customer") == 500
    assert fast(data, "Customer", "Status eq 'Active'") == brute_force(data, "Customer", "Status eq 'Active'")


def test_a_million_record_store_is_cheap_to_build_and_count() -> None:
    tracemalloc.start()
    began = time.perf_counter()
    data = DataStore(default_count=1_000_000, clock=Clock())
    assert data.count("SalesOrder") == 1_000_000
    last = list(data.snapshot("SalesOrder").all().slice(999_999, None))
    elapsed = time.perf_counter() - began
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert last == [999_999]
    assert elapsed < 5
    assert peak < 40 * 1024 * 1024
