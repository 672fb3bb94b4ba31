"""Parquet: typed columns from the schema, exact decimals, UTC timestamps, row groups, and clear errors."""

from __future__ import annotations

import gc
import io
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_acumatica.exceptions import AcumaticaConfigError, AcumaticaError
from airflow_provider_acumatica.output import (
    AtomicOutput,
    EntitySchema,
    ParquetWriter,
    build_output_path,
    check_output_format,
    open_writer,
)
from airflow_provider_acumatica.output.formats import FileSink
from airflow_provider_acumatica.output.parquet import DECIMAL_TYPE, TIMESTAMP_TYPE, arrow_schema
from tests.output.support import order, tricky_orders


def write(schema: EntitySchema, pages: list[list[dict[str, Any]]], *, row_group_size: int = 10_000) -> pq.ParquetFile:
    stream = io.BytesIO()
    with open_writer("parquet", stream, schema, row_group_size=row_group_size) as writer:
        for page in pages:
            writer.write_page(page)
    return pq.ParquetFile(io.BytesIO(stream.getvalue()))


def test_column_types_follow_the_schema(sales_order: EntitySchema) -> None:
    target = arrow_schema(sales_order)
    assert target.names == sales_order.columns
    assert target.field("id").type == pa.string()
    assert target.field("rowNumber").type == pa.int64()
    assert target.field("OrderTotal").type == DECIMAL_TYPE == pa.decimal128(38, 9)
    assert target.field("Approved").type == pa.bool_()
    assert target.field("LastModified").type == TIMESTAMP_TYPE == pa.timestamp("us", tz="UTC")
    line = target.field("Details").type
    assert isinstance(line, pa.ListType)
    assert line.value_type.field("OrderQty").type == DECIMAL_TYPE
    assert line.value_type.field("InventoryID").type == pa.string()
    contact = target.field("BillToContact").type
    assert isinstance(contact, pa.StructType)
    assert contact.names == ["id", "rowNumber", "note", "Email"]


def test_integer_widths(official: dict[str, Any]) -> None:
    customer = EntitySchema.from_openapi(official, "Customer").restrict("OrderPriority", None)
    assert arrow_schema(customer).field("OrderPriority").type == pa.int16()


def test_round_trip(sales_order: EntitySchema) -> None:
    records = tricky_orders()
    table = write(sales_order, [records[:2], records[2:]]).read()
    assert table.schema == arrow_schema(sales_order)
    first, second, third = table.to_pylist()
    assert first["Description"] == records[0]["Description"]
    assert first["ControlTotal"] == Decimal("12345678.91")
    assert first["OrderTotal"] == Decimal("13.5")
    assert first["Approved"] is False
    assert first["CashAccount"] is None
    assert first["LastModified"] == datetime(2024, 3, 20, 17, 41, 27, 340000, tzinfo=UTC)
    assert first["Details"] == [
        {
            "id": "10000000-0000-0000-0000-000000000001",
            "rowNumber": 1,
            "note": None,
            "ExtendedPrice": Decimal("0.2"),
            "InventoryID": "AALEGO500",
            "LineDescription": "Lego",
            "OrderQty": Decimal("2"),
            "UnitPrice": Decimal("0.1"),
        }
    ]
    assert first["BillToContact"] == records[0]["BillToContact"]
    assert second["LastModified"] == datetime(2024, 3, 20, 14, 41, 27, 345678, tzinfo=UTC)
    assert second["Date"] == datetime(2024, 3, 21, 5, 0, tzinfo=UTC)
    assert second["OrderTotal"] is None
    assert second["Approved"] is None
    assert second["Details"] == []
    assert second["BillToContact"] is None
    assert third["LastModified"] == datetime(2024, 3, 20, 17, 41, 27, tzinfo=UTC)
    assert third["Details"] is None
    assert third["ControlTotal"] == Decimal("0.333333333")


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        (12345678.91, "12345678.910000000"),
        (99999999999.99, "99999999999.990000000"),
        (123456789012.1234, "123456789012.123400000"),
        (1.23456789, "1.234567890"),
        (7000, "7000.000000000"),
        (-0.0001, "-0.000100000"),
        (1e20, "100000000000000000000.000000000"),
    ],
)
def test_decimals_keep_the_value_the_api_printed(sales_order: EntitySchema, value: float, stored: str) -> None:
    table = write(sales_order, [[order(1, OrderTotal=value)]]).read()
    assert table.column("OrderTotal")[0].as_py() == Decimal(stored)


def test_nested_timestamps_with_seven_digits_and_offsets(official: dict[str, Any]) -> None:
    schema = EntitySchema.from_openapi(official, "SalesOrder").restrict("OrderNbr,Shipments/ShipmentDate", "Shipments")
    record = {
        "id": "x",
        "rowNumber": 1,
        "note": None,
        "OrderNbr": "SO1",
        "Shipments": [
            {"id": "s", "rowNumber": 1, "note": None, "ShipmentDate": "2024-01-31T23:59:59.9999999+01:00"},
            {"id": "t", "rowNumber": 2, "note": None, "ShipmentDate": None},
        ],
    }
    (row,) = write(schema, [[record]]).read().to_pylist()
    assert [line["ShipmentDate"] for line in row["Shipments"]] == [
        datetime(2024, 1, 31, 22, 59, 59, 999999, tzinfo=UTC),
        None,
    ]


def test_row_groups_have_the_configured_size(sales_order: EntitySchema) -> None:
    pages = [[order(n) for n in range(start, start + 700)] for start in range(0, 3500, 700)]
    parquet = write(sales_order, pages, row_group_size=1000)
    sizes = [parquet.metadata.row_group(i).num_rows for i in range(parquet.num_row_groups)]
    assert sizes == [1000, 1000, 1000, 500]
    assert parquet.read().column("rowNumber").to_pylist() == list(range(3500))


def test_an_empty_extract_is_a_valid_file(sales_order: EntitySchema) -> None:
    parquet = write(sales_order, [])
    assert parquet.metadata.num_rows == 0
    assert parquet.schema_arrow == arrow_schema(sales_order)


def test_unknown_members_are_left_out(sales_order: EntitySchema, caplog: pytest.LogCaptureFixture) -> None:
    table = write(sales_order, [[order(1, custom={"Document": {"X": "y"}})]]).read()
    assert "custom" not in table.column_names
    assert "custom" in caplog.text


def test_lone_surrogates_become_replacement_characters(sales_order: EntitySchema) -> None:
    line = {**order(1)["Details"][0], "LineDescription": "cut \ud83d"}
    table = write(sales_order, [[order(1, Description="cut \ud83d here", Details=[line])]]).read()
    row = table.to_pylist()[0]
    assert row["Description"] == "cut \ufffd here"
    assert row["Details"][0]["LineDescription"] == "cut \ufffd"


@pytest.mark.parametrize(
    ("changes", "column"),
    [
        ({"OrderTotal": "a lot"}, "OrderTotal"),
        ({"Approved": "yes"}, "Approved"),
        ({"LastModified": "yesterday"}, "LastModified"),
        ({"rowNumber": 2**70}, "rowNumber"),
    ],
)
def test_values_the_schema_cannot_hold_name_the_column(
    sales_order: EntitySchema, changes: dict[str, Any], column: str
) -> None:
    with pytest.raises(AcumaticaError) as raised:
        write(sales_order, [[order(1, **changes)]])
    assert f"Parquet column {column!r}" in str(raised.value)
    assert "output_format='jsonl'" in str(raised.value)


def test_parquet_needs_a_schema() -> None:
    with pytest.raises(AcumaticaConfigError, match="generic inquiries have none"):
        open_writer("parquet", io.BytesIO())


def test_row_group_size_must_be_positive(sales_order: EntitySchema) -> None:
    with pytest.raises(AcumaticaConfigError, match="row_group_size"):
        ParquetWriter(io.BytesIO(), sales_order, row_group_size=0)


def test_a_failed_extract_drops_pending_rows_and_releases_pyarrow_at_once(
    sales_order: EntitySchema, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    unraisable: list[BaseException | None] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda report: unraisable.append(report.exc_value))
    page = [order(n) for n in range(25)]
    stream = io.BytesIO()
    with pytest.raises(RuntimeError):
        fail_while_writing(stream, sales_order, page)
    written = pq.ParquetFile(io.BytesIO(stream.getvalue())).metadata
    assert [written.row_group(i).num_rows for i in range(written.num_row_groups)] == [10, 10]
    with pytest.raises(RuntimeError), AtomicOutput(build_output_path(str(tmp_path / "orders.parquet"))) as out:
        fail_while_writing(out, sales_order, page)
    gc.collect()
    assert unraisable == []
    assert list(tmp_path.iterdir()) == []


def fail_while_writing(stream: FileSink, schema: EntitySchema, page: list[dict[str, Any]]) -> None:
    with ParquetWriter(stream, schema, row_group_size=10) as writer:
        writer.write_page(page)
        raise RuntimeError


def test_arrow_memory_is_bounded_by_one_row_group(sales_order: EntitySchema) -> None:
    def peak(total: int) -> int:
        stream = io.BytesIO()
        highest = 0
        with ParquetWriter(stream, sales_order, row_group_size=2000) as writer:
            for start in range(0, total, 500):
                writer.write_page([order(n) for n in range(start, start + 500)])
                highest = max(highest, pa.total_allocated_bytes())
        return highest

    small = peak(5_000)
    assert peak(20_000) < small * 1.2


def test_missing_pyarrow_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch, sales_order: EntitySchema) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.delitem(sys.modules, "airflow_provider_acumatica.output.parquet", raising=False)
    for attempt in (lambda: check_output_format("parquet"), lambda: open_writer("parquet", io.BytesIO(), sales_order)):
        with pytest.raises(AcumaticaConfigError) as raised:
            attempt()
        assert 'pip install "airflow-provider-acumatica[parquet]"' in str(raised.value)
    assert check_output_format("jsonl") == "jsonl"
