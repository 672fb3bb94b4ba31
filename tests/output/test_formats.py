"""JSON Lines and CSV writers, format checks, dropped members, and memory that stays flat with the record count."""

from __future__ import annotations

import csv
import io
import json
import logging
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_acumatica.exceptions import AcumaticaConfigError
from airflow_provider_acumatica.output import (
    OUTPUT_FORMATS,
    AtomicOutput,
    CsvWriter,
    EntitySchema,
    build_output_path,
    check_output_format,
    open_writer,
)
from airflow_provider_acumatica.records import unwrap_record
from tests.output.support import order, tricky_orders

RAW = {
    "id": "7adbf4e5-4e48-ea11-817f-eb1af000b4cf",
    "rowNumber": 1,
    "note": {"value": ""},
    "OrderNbr": {"value": "SO001"},
    "OrderTotal": {"value": 12.5},
    "Approved": {"value": True},
    "CashAccount": {},
    "Details": [{"id": "d1", "InventoryID": {"value": "X"}, "OrderQty": {"value": 2.0}}],
    "custom": {},
    "_links": {"self": "/entity/Default/24.200.001/SalesOrder/7adb"},
}


def write(writer_format: str, pages: list[list[dict[str, Any]]], schema: EntitySchema | None = None) -> bytes:
    stream = io.BytesIO()
    with open_writer(writer_format, stream, schema) as writer:
        for page in pages:
            writer.write_page(page)
    assert writer.records == sum(map(len, pages))
    assert writer.pages == len(pages)
    return stream.getvalue()


def csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def test_jsonl_round_trip(sales_order: EntitySchema) -> None:
    records = tricky_orders()
    data = write("jsonl", [records[:2], records[2:]])
    assert data.isascii()
    lines = data.decode().splitlines()
    assert [json.loads(line) for line in lines] == records
    assert lines[0].startswith('{"id":"00000000-0000-0000-0000-000000000001","rowNumber":1,')


def test_jsonl_writes_raw_records_as_they_came() -> None:
    data = write("jsonl", [[RAW]])
    assert json.loads(data) == RAW
    assert json.loads(write("jsonl", [[unwrap_record(RAW)]]))["OrderTotal"] == 12.5


def test_jsonl_keeps_lone_surrogates_as_escapes() -> None:
    record = {"Description": "truncated emoji \ud83d", "Other": "ok 😀"}
    data = write("jsonl", [[record]])
    assert b"\\ud83d" in data
    assert json.loads(data) == record


def test_jsonl_without_the_c_accelerator_writes_the_same_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = write("jsonl", [tricky_orders()])
    monkeypatch.setattr(json.encoder, "c_make_encoder", None)
    assert write("jsonl", [tricky_orders()]) == expected


def test_jsonl_rejects_nan() -> None:
    with pytest.raises(ValueError, match="JSON compliant"):
        write("jsonl", [[{"x": float("nan")}]])


def test_empty_outputs() -> None:
    assert write("jsonl", []) == b""
    assert write("csv", []) == b""
    assert write("jsonl", [[]]) == b""


def test_csv_round_trip(sales_order: EntitySchema) -> None:
    records = tricky_orders()
    rows = csv_rows(write("csv", [records[:1], records[1:]], sales_order))
    header, first, second, third = rows
    assert header == sales_order.columns
    cell = dict(zip(header, first, strict=True))
    assert cell["Description"] == records[0]["Description"]
    assert cell["Approved"] == "false"
    assert cell["Hold"] == "false"
    assert cell["CashAccount"] == ""
    assert cell["OrderTotal"] == "13.5"
    assert cell["ControlTotal"] == "12345678.91"
    assert cell["LastModified"] == "2024-03-20T17:41:27.34+00:00"
    assert json.loads(cell["Details"]) == records[0]["Details"]
    assert json.loads(cell["BillToContact"]) == {**records[0]["BillToContact"]}
    cell = dict(zip(header, second, strict=True))
    assert cell["Approved"] == ""
    assert cell["OrderTotal"] == ""
    assert cell["Details"] == "[]"
    assert cell["BillToContact"] == ""
    assert cell["LastModified"] == "2024-03-20T17:41:27.3456789+03:00"
    assert dict(zip(header, third, strict=True))["Details"] == ""


def test_csv_quotes_per_rfc_4180(sales_order: EntitySchema) -> None:
    data = write("csv", [[order(1, Description='a,b "c"\nd')]], sales_order)
    assert b'"a,b ""c""\nd"' in data
    assert data.endswith(b"\r\n")


def test_csv_schema_header_is_written_for_an_empty_extract(sales_order: EntitySchema) -> None:
    assert csv_rows(write("csv", [], sales_order)) == [sales_order.columns]


def test_csv_without_a_schema_takes_columns_from_the_first_page() -> None:
    pages = [[{"a": 1, "b": True}, {"a": 2, "c": [1, 2]}], [{"a": 3, "b": None, "c": {"x": "é"}}]]
    assert csv_rows(write("csv", pages)) == [
        ["a", "b", "c"],
        ["1", "true", ""],
        ["2", "", "[1,2]"],
        ["3", "", '{"x":"é"}'],
    ]


def test_csv_replaces_lone_surrogates_which_utf8_cannot_hold() -> None:
    rows = csv_rows(write("csv", [[{"Description": "cut \ud83d here"}]]))
    assert rows[1] == ["cut \ufffd here"]


def test_members_without_a_column_warn_once_when_they_carry_data(
    sales_order: EntitySchema, caplog: pytest.LogCaptureFixture
) -> None:
    stream = io.BytesIO()
    with caplog.at_level(logging.WARNING), CsvWriter(stream, sales_order) as writer:
        writer.write_page([order(1), order(2, error=None)])
        assert caplog.records == []
        writer.write_page([order(3, custom={"Document": {"AttributeX": "x"}}, Extra="y")])
        writer.write_page([order(4, custom={"Document": {"AttributeY": "z"}})])
    (warning,) = caplog.records
    assert "schema: Extra, custom." in warning.getMessage()
    assert "output_format='jsonl'" in warning.getMessage()
    assert "AttributeX" not in stream.getvalue().decode()


def test_records_missing_a_column_get_empty_cells(sales_order: EntitySchema) -> None:
    record = {key: value for key, value in order(1).items() if key != "Status"}
    cell = dict(zip(*csv_rows(write("csv", [[record]], sales_order)), strict=True))
    assert cell["Status"] == ""
    assert cell["OrderNbr"] == "SO000001"


@pytest.mark.parametrize("given", ["jsonl", "CSV", " parquet "])
def test_known_formats_are_normalised(given: str) -> None:
    assert check_output_format(given) == given.strip().lower()


def test_unknown_format_lists_the_known_ones() -> None:
    with pytest.raises(AcumaticaConfigError) as raised:
        check_output_format("xlsx")
    assert "'xlsx'" in str(raised.value)
    assert "jsonl, csv, parquet" in str(raised.value)
    with pytest.raises(AcumaticaConfigError):
        open_writer("json", io.BytesIO())


@pytest.mark.parametrize("output_format", ["csv", "parquet"])
def test_raw_records_are_only_for_json_lines(output_format: str) -> None:
    with pytest.raises(AcumaticaConfigError, match="flatten=False"):
        check_output_format(output_format, flatten=False)
    assert check_output_format("jsonl", flatten=False) == "jsonl"


@pytest.mark.parametrize(
    ("output_format", "name", "message"),
    [
        ("parquet", "orders.csv", "ends in '.csv', which is csv, but output_format is 'parquet'"),
        ("csv", "orders.jsonl", "orders.csv"),
        ("jsonl", "orders.parquet", "which is parquet"),
        ("jsonl", "orders.jsonl.gz", "written uncompressed"),
    ],
)
def test_a_suffix_naming_another_format_is_an_error(output_format: str, name: str, message: str) -> None:
    with pytest.raises(AcumaticaConfigError) as raised:
        check_output_format(output_format, f"s3://bucket/{name}")
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("output_format", "name"),
    [("jsonl", "orders.json"), ("jsonl", "orders.ndjson"), ("csv", "orders.txt"), ("parquet", "part-0001")],
)
def test_neutral_or_matching_suffixes_pass(output_format: str, name: str, tmp_path: Path) -> None:
    assert check_output_format(output_format, build_output_path(str(tmp_path / name))) == output_format


def synthetic_pages(total: int, size: int = 1000) -> Iterator[list[dict[str, Any]]]:
    """Fresh small records on every call, so a writer that kept references would grow."""
    for start in range(0, total, size):
        yield [
            {
                "id": "7adbf4e5-4e48-ea11-817f-eb1af000b4cf",
                "rowNumber": n,
                "OrderNbr": "SO0000001",
                "OrderTotal": n * 0.5,
                "Approved": True,
                "LastModified": "2024-03-20T17:41:27.34+00:00",
                "Details": [{"rowNumber": 1, "OrderQty": n * 0.25}],
            }
            for n in range(start, min(total, start + size))
        ]


def peak_memory(output_format: str, schema: EntitySchema, total: int, target: Path) -> int:
    tracemalloc.start()
    try:
        with AtomicOutput(build_output_path(str(target))) as out, open_writer(output_format, out, schema) as writer:
            for page in synthetic_pages(total):
                writer.write_page(page)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("output_format", OUTPUT_FORMATS)
def test_memory_does_not_grow_with_the_record_count(
    output_format: str, official: dict[str, Any], tmp_path: Path
) -> None:
    schema = EntitySchema.from_openapi(official, "SalesOrder").restrict(
        "OrderNbr,OrderTotal,Approved,LastModified,Details/OrderQty", "Details"
    )
    peak_memory(output_format, schema, 1_000, tmp_path / f"warm-up.{output_format}")
    small = peak_memory(output_format, schema, 10_000, tmp_path / f"small.{output_format}")
    large = peak_memory(output_format, schema, 40_000, tmp_path / f"large.{output_format}")
    assert large < small * 1.2, (small, large)
    assert large < 8 * 1024 * 1024, large
