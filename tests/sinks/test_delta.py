"""DeltaSink on real Delta tables in tmp_path: counts, stale stamps, one commit per interval, exactly once, schemas."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from unittest import mock

import pyarrow as pa
import pytest
from deltalake import DeltaTable, QueryBuilder

from airflow_provider_acumatica.exceptions import AcumaticaConfigError, AcumaticaError
from airflow_provider_acumatica.sinks import ChangeSet, CommitId, DeltaSink, MergeResult

TIMESTAMP = pa.timestamp("us", tz="UTC")
DECIMAL = pa.decimal128(38, 9)
START = datetime(2026, 1, 1, tzinfo=UTC)


def at(hour: int) -> datetime:
    return START + timedelta(hours=hour)


def commit(interval: int, dag_id: str = "erp_copy") -> CommitId:
    return CommitId(dag_id=dag_id, run_id=f"run-{interval}", interval_start=at(interval - 1), interval_end=at(interval))


def orders(rows: list[dict[str, Any]]) -> pa.Table:
    schema = pa.schema(
        [
            ("id", pa.string()),
            ("OrderNbr", pa.string()),
            ("Total", DECIMAL),
            ("LastModified", TIMESTAMP),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def order(key: str, total: str = "1", hour: int = 0, number: str | None = None) -> dict[str, Any]:
    return {"id": key, "OrderNbr": number or f"SO-{key}", "Total": Decimal(total), "LastModified": at(hour)}


def content(sink: DeltaSink, table: str = "SalesOrder") -> dict[str, dict[str, Any]]:
    """Read past the sink's own checks, through delta-rs's engine (a pyarrow scan can abort at exit)."""
    reader = QueryBuilder().register("stored", DeltaTable(sink.table_uri(table))).execute("SELECT * FROM stored")
    rows = pa.table(reader.read_all()).to_pylist()
    return {row["id"]: row for row in rows}


def version(sink: DeltaSink, table: str = "SalesOrder") -> int:
    return DeltaTable(sink.table_uri(table)).version()


@pytest.fixture
def sink(tmp_path: Path) -> DeltaSink:
    return DeltaSink(str(tmp_path / "lake"))


def upsert(sink: DeltaSink, interval: int, rows: list[dict[str, Any]], **changes: Any) -> MergeResult:
    return sink.merge("SalesOrder", ChangeSet(orders(rows), stamp_column="LastModified", **changes), commit(interval))


def test_first_merge_creates_the_table_and_later_merges_count_inserts_and_updates(sink: DeltaSink) -> None:
    assert upsert(sink, 1, [order("a"), order("b")]) == MergeResult(version=0, inserted=2)
    result = upsert(sink, 2, [order("b", "2", hour=1), order("c")])
    assert (result.version, result.inserted, result.updated, result.deleted) == (1, 1, 1, 0)
    assert {key: row["Total"] for key, row in content(sink).items()} == {
        "a": Decimal("1"),
        "b": Decimal("2"),
        "c": Decimal("1"),
    }
    table = DeltaTable(sink.table_uri("SalesOrder"))
    assert table.schema().fields[0].metadata == {"acumatica.entity": "SalesOrder"}
    assert table.metadata().partition_columns == []


def test_a_stale_record_does_not_overwrite_a_newer_row(sink: DeltaSink) -> None:
    upsert(sink, 1, [order("a", "5", hour=5)])
    result = upsert(sink, 2, [order("a", "4", hour=4)])
    assert (result.updated, result.skipped_stale) == (0, 1)
    assert content(sink)["a"]["Total"] == Decimal("5")


def test_an_equal_or_newer_stamp_overwrites(sink: DeltaSink) -> None:
    upsert(sink, 1, [order("a", "5", hour=5), order("b", "5", hour=5)])
    result = upsert(sink, 2, [order("a", "6", hour=5), order("b", "7", hour=6)])
    assert (result.updated, result.skipped_stale) == (2, 0)
    assert {key: row["Total"] for key, row in content(sink).items()} == {"a": Decimal("6"), "b": Decimal("7")}


def test_a_row_without_a_stamp_is_overwritten(sink: DeltaSink) -> None:
    sink.merge("SalesOrder", ChangeSet(orders([{**order("a"), "LastModified": None}])), commit(1))
    assert upsert(sink, 2, [order("a", "3", hour=1)]).updated == 1
    assert content(sink)["a"]["LastModified"] == at(1)


def test_upserts_and_deletes_land_in_one_commit(sink: DeltaSink) -> None:
    upsert(sink, 1, [order("a"), order("b"), order("c")])
    result = upsert(sink, 2, [order("a", "9", hour=1), order("d")], deleted_ids=["b", "not-there"])
    assert (result.version, result.inserted, result.updated, result.deleted) == (1, 1, 1, 1)
    assert sorted(content(sink)) == ["a", "c", "d"]
    assert version(sink) == 1


def test_snapshot_mode_deletes_rows_not_in_the_change_set(sink: DeltaSink) -> None:
    upsert(sink, 1, [order("a"), order("b"), order("c")])
    result = upsert(sink, 2, [order("a"), order("d")], mode="snapshot")
    assert (result.inserted, result.deleted) == (1, 2)
    assert sorted(content(sink)) == ["a", "d"]


def test_the_same_commit_again_changes_nothing(sink: DeltaSink) -> None:
    upsert(sink, 1, [order("a")])
    upsert(sink, 2, [order("b")])
    before = content(sink)
    again = upsert(sink, 2, [order("b", "100", hour=9), order("z")], deleted_ids=["a"])
    assert again == MergeResult(version=1, already_committed=True)
    earlier = upsert(sink, 1, [order("y")])
    assert earlier.already_committed
    assert version(sink) == 1
    assert content(sink) == before


def test_a_late_interval_that_never_committed_applies_without_rolling_rows_back(sink: DeltaSink) -> None:
    """A cleared old run whose interval failed at the time: its records land, older stamps lose to newer rows."""
    upsert(sink, 1, [order("a", hour=1)])
    upsert(sink, 3, [order("b", "30", hour=3)])
    late = upsert(sink, 2, [order("b", "20", hour=2), order("c", hour=2)])
    assert (late.already_committed, late.inserted, late.updated, late.skipped_stale) == (False, 1, 0, 1)
    assert content(sink)["b"]["Total"] == Decimal("30") and "c" in content(sink)
    table = DeltaTable(sink.table_uri("SalesOrder"))
    assert table.transaction_version(commit(3).app_id("SalesOrder")) == commit(3).version
    assert upsert(sink, 2, [order("z")]).already_committed


def test_read_returns_rows_or_none_and_notes_come_back_from_the_history(sink: DeltaSink) -> None:
    assert sink.read("SalesOrder") is None and sink.last_note("SalesOrder", "reconciled_at") is None
    noted = CommitId("erp_copy", "run-1", at(0), at(1), notes={"reconciled_at": at(1).isoformat()})
    sink.merge("SalesOrder", ChangeSet(orders([order("a"), order("b")])), noted)
    upsert(sink, 2, [order("c")])
    ids = sink.read("SalesOrder", ["id"])
    assert ids is not None and ids.column_names == ["id"] and sorted(ids["id"].to_pylist()) == ["a", "b", "c"]
    assert sink.last_note("SalesOrder", "reconciled_at") == at(1).isoformat()


def test_a_newer_commit_applies_and_records_the_run(sink: DeltaSink) -> None:
    upsert(sink, 1, [order("a")])
    result = upsert(sink, 2, [order("b")])
    assert (result.already_committed, result.version) == (False, 1)
    table = DeltaTable(sink.table_uri("SalesOrder"))
    assert table.transaction_version(commit(2).app_id("SalesOrder")) == commit(2).version
    latest = table.history(1)[0]
    assert latest["acumatica.run_id"] == "run-2"
    assert latest["acumatica.interval_end"] == at(2).isoformat()


def test_another_dag_keeps_its_own_version_counter(sink: DeltaSink) -> None:
    upsert(sink, 2, [order("a")])
    other = sink.merge("SalesOrder", ChangeSet(orders([order("b")])), commit(1, dag_id="backfill"))
    assert not other.already_committed
    assert sorted(content(sink)) == ["a", "b"]


def test_commit_versions_follow_the_interval_end() -> None:
    assert commit(1).version == int((at(1) - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()) * 1_000_000
    assert commit(2).version > commit(1).version
    with pytest.raises(AcumaticaConfigError, match="timezone-aware"):
        CommitId("d", "r", datetime(2026, 1, 1), datetime(2026, 1, 2))


def test_a_failing_merge_leaves_version_and_content_unchanged(sink: DeltaSink) -> None:
    upsert(sink, 1, [order("a"), order("b")])
    before = content(sink)
    with pytest.raises(AcumaticaError, match="nothing was committed"):
        upsert(sink, 2, [order("a", "2", hour=1), order("a", "3", hour=1), order("c")])
    assert version(sink) == 0
    assert content(sink) == before
    assert upsert(sink, 2, [order("c")]).version == 1


def test_a_new_column_is_added_nullable_and_a_missing_column_is_kept_and_null_for_new_rows(sink: DeltaSink) -> None:
    upsert(sink, 1, [order("a")])
    wider = orders([order("b")]).append_column("Status", pa.array(["Open"]))
    sink.merge("SalesOrder", ChangeSet(wider), commit(2))
    narrower = orders([order("c"), order("a", "8", hour=1)]).drop_columns(["OrderNbr"])
    result = sink.merge("SalesOrder", ChangeSet(narrower), commit(3))
    assert version(sink) == 2
    assert (result.inserted, result.updated) == (1, 1)
    rows = content(sink)
    status = next(item for item in DeltaTable(sink.table_uri("SalesOrder")).schema().fields if item.name == "Status")
    assert status.nullable
    assert (rows["a"]["Status"], rows["b"]["Status"], rows["c"]["Status"]) == (None, "Open", None)
    assert rows["c"]["OrderNbr"] is None
    assert rows["a"]["OrderNbr"] == "SO-a"
    assert rows["a"]["Total"] == Decimal("8")


def test_an_all_null_column_of_unknown_type_is_left_out(sink: DeltaSink) -> None:
    records = orders([order("a")]).append_column("Note", pa.nulls(1))
    sink.merge("SalesOrder", ChangeSet(records), commit(1))
    assert "Note" not in content(sink)["a"]


@pytest.mark.parametrize(
    ("column", "incoming"),
    [("OrderNbr", pa.int32()), ("Total", pa.string()), ("LastModified", pa.string()), ("Total", pa.decimal128(20, 2))],
)
def test_an_incompatible_type_fails_before_writing(sink: DeltaSink, column: str, incoming: pa.DataType) -> None:
    upsert(sink, 1, [order("a")])
    records = orders([order("b")]).drop_columns([column]).append_column(column, pa.nulls(1, incoming))
    with pytest.raises(AcumaticaConfigError) as raised:
        sink.merge("SalesOrder", ChangeSet(records), commit(2))
    message = str(raised.value)
    assert repr(column) in message
    assert str(incoming) in message
    assert str(orders([]).schema.field(column).type) in message
    assert "nothing was written" in message
    assert version(sink) == 0
    assert sorted(content(sink)) == ["a"]


def test_unsigned_integers_are_refused(sink: DeltaSink) -> None:
    records = orders([order("a")]).append_column("Qty", pa.array([1], pa.uint32()))
    with pytest.raises(AcumaticaConfigError, match=r"'Qty'.*unsigned.*signed integer"):
        sink.merge("SalesOrder", ChangeSet(records), commit(1))
    assert not DeltaTable.is_deltatable(sink.table_uri("SalesOrder"))


def test_a_table_of_another_entity_is_refused(sink: DeltaSink, tmp_path: Path) -> None:
    upsert(sink, 1, [order("a")])
    (tmp_path / "lake" / "SalesOrder").rename(tmp_path / "lake" / "Customer")
    with pytest.raises(AcumaticaConfigError, match=r"holds SalesOrder, not Customer"):
        sink.merge("Customer", ChangeSet(orders([order("b")])), commit(2))
    assert sorted(content(sink, "Customer")) == ["a"]
    assert version(sink, "Customer") == 0


def test_a_table_not_written_by_the_provider_is_refused(sink: DeltaSink) -> None:
    from deltalake import write_deltalake

    write_deltalake(sink.table_uri("SalesOrder"), orders([order("a")]))
    with pytest.raises(AcumaticaConfigError, match="not written by this provider"):
        upsert(sink, 1, [order("b")])


def test_a_table_base_under_a_file_is_refused_before_writing(tmp_path: Path) -> None:
    blocker = tmp_path / "lake"
    blocker.write_text("not a folder")
    with pytest.raises(AcumaticaConfigError, match=rf"{blocker} is a file.*point table_base at a folder"):
        DeltaSink(str(blocker / "tables")).merge("SalesOrder", ChangeSet(orders([order("a")])), commit(1))
    assert blocker.read_text() == "not a folder"


def test_a_table_name_with_a_slash_is_refused(sink: DeltaSink) -> None:
    with pytest.raises(AcumaticaConfigError, match="not a plain name"):
        sink.merge("../SalesOrder", ChangeSet(orders([order("a")])), commit(1))


def test_change_sets_are_checked_when_built() -> None:
    with pytest.raises(AcumaticaConfigError, match="no 'id' column"):
        ChangeSet(pa.table({"OrderNbr": ["x"]}))
    with pytest.raises(AcumaticaConfigError, match="Unknown merge mode"):
        ChangeSet(orders([]), mode="replace")  # type: ignore[arg-type]
    with pytest.raises(AcumaticaConfigError, match="stamp column 'Stamp'"):
        ChangeSet(orders([]), stamp_column="Stamp")


def test_acumatica_types_round_trip(sink: DeltaSink) -> None:
    contact = pa.struct([("id", pa.string()), ("Email", pa.string()), ("Primary", pa.bool_())])
    schema = pa.schema(
        [
            ("id", pa.string()),
            ("Total", DECIMAL),
            ("LastModified", TIMESTAMP),
            ("Approved", pa.bool_()),
            ("Priority", pa.int16()),
            ("LineCount", pa.int32()),
            ("RowNumber", pa.int64()),
            ("Contact", contact),
        ]
    )
    row = {
        "id": "a",
        "Total": Decimal("12345678901234567890123456789.123456789"),
        "LastModified": datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC),
        "Approved": True,
        "Priority": 3,
        "LineCount": 70000,
        "RowNumber": 2**40,
        "Contact": {"id": "c", "Email": "a@example.com", "Primary": False},
    }
    records = pa.Table.from_pylist([row], schema=schema)
    sink.merge("SalesOrder", ChangeSet(records), commit(1))
    stored = sink.read("SalesOrder")
    assert stored is not None
    assert stored.to_pylist() == [row]
    assert pa.schema(DeltaTable(sink.table_uri("SalesOrder")).schema().to_arrow()) == schema
    assert not sink.merge("SalesOrder", ChangeSet(records), commit(2)).already_committed


def lines(rows: list[tuple[str, str, str]]) -> pa.Table:
    return pa.table(
        {
            "id": [key for key, _, _ in rows],
            "OrderId": [parent for _, parent, _ in rows],
            "InventoryID": [item for _, _, item in rows],
        }
    )


def test_replace_children_drops_a_removed_line_and_keeps_other_parents(sink: DeltaSink) -> None:
    first = lines([("l1", "o1", "A"), ("l2", "o1", "B"), ("l3", "o2", "C")])
    created = sink.replace_children("SalesOrderDetails", first, ["o1", "o2"], commit(1), parent_column="OrderId")
    assert created.inserted == 3
    second = lines([("l1", "o1", "A2"), ("l4", "o1", "D")])
    result = sink.replace_children("SalesOrderDetails", second, ["o1"], commit(2), parent_column="OrderId")
    assert (result.version, result.inserted, result.updated, result.deleted) == (1, 1, 1, 1)
    stored = content(sink, "SalesOrderDetails")
    assert {key: row["InventoryID"] for key, row in stored.items()} == {"l1": "A2", "l3": "C", "l4": "D"}
    again = sink.replace_children("SalesOrderDetails", lines([]), ["o1"], commit(2), parent_column="OrderId")
    assert again.already_committed


def test_replace_children_with_no_lines_removes_all_lines_of_those_parents(sink: DeltaSink) -> None:
    first = lines([("l1", "o'1", "A"), ("l2", "o2", "B")])
    sink.replace_children("SalesOrderDetails", first, ["o'1", "o2"], commit(1), parent_column="OrderId")
    empty = lines([]).cast(first.schema)
    result = sink.replace_children("SalesOrderDetails", empty, ["o'1"], commit(2), parent_column="OrderId")
    assert result.deleted == 1
    assert sorted(content(sink, "SalesOrderDetails")) == ["l2"]


def test_replace_children_needs_the_parent_column(sink: DeltaSink) -> None:
    with pytest.raises(AcumaticaConfigError, match="'ParentId'"):
        sink.replace_children("SalesOrderDetails", lines([]), ["o1"], commit(1), parent_column="ParentId")


def test_without_deltalake_the_error_says_how_to_install_it(tmp_path: Path) -> None:
    with mock.patch.dict(sys.modules, {"deltalake": None}), pytest.raises(AcumaticaConfigError) as raised:
        DeltaSink(str(tmp_path))
    assert "pip install 'airflow-provider-acumatica[lake]'" in str(raised.value)


@pytest.mark.parametrize(
    ("preset", "expected"),
    [(None, "dirty_decay_ms:0,muzzy_decay_ms:0"), ("dirty_decay_ms:5000", "dirty_decay_ms:5000")],
)
def test_delta_rs_returns_freed_memory_at_once_unless_the_user_chose_otherwise(
    preset: str | None, expected: str
) -> None:
    """In a fresh process: jemalloc reads its settings when delta-rs first allocates, so only then can they apply."""
    code = (
        "import os; from airflow_provider_acumatica.sinks.delta import load_deltalake; load_deltalake(); "
        "print(os.environ['_RJEM_MALLOC_CONF'])"
    )
    env = {key: value for key, value in os.environ.items() if key != "_RJEM_MALLOC_CONF"}
    if preset is not None:
        env["_RJEM_MALLOC_CONF"] = preset
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == expected
