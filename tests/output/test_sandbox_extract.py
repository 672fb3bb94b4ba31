"""Pages from the running sandbox, through the hook, typed by the sandbox's own swagger.json, into every format."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from airflow_provider_acumatica.hooks.acumatica import AcumaticaHook
from airflow_provider_acumatica.output import (
    OUTPUT_FORMATS,
    AtomicOutput,
    EntitySchema,
    FieldType,
    build_output_path,
    check_output_format,
    open_writer,
)
from airflow_provider_acumatica.records import unwrap_record
from airflow_provider_acumatica.sandbox import SandboxServer
from tests.connections import use_connection


@pytest.fixture
def hook(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[AcumaticaHook]:
    with AcumaticaHook(use_connection(monkeypatch, sandbox.base_url, "basic")) as signed_in:
        yield signed_in


def expected(value: Any, field_type: FieldType) -> Any:
    """What Parquet should hold for a JSON value of this type."""
    if value is None:
        return None
    if field_type is FieldType.DECIMAL:
        return Decimal(repr(float(value)))
    if field_type is FieldType.DATETIME:
        return datetime.fromisoformat(value)
    return value


@pytest.mark.parametrize("output_format", OUTPUT_FORMATS)
def test_sandbox_sales_orders_round_trip(hook: AcumaticaHook, tmp_path: Path, output_format: str) -> None:
    schema = EntitySchema.from_openapi(hook.request_json("GET", hook.entity_url("swagger.json")), "SalesOrder")
    schema = schema.restrict(None, "Details")
    path = build_output_path(str(tmp_path / f"SalesOrder.{output_format}"))
    check_output_format(output_format, path)
    records: list[dict[str, Any]] = []
    with AtomicOutput(path) as out, open_writer(output_format, out, schema) as writer:
        for page in hook.iter_pages("SalesOrder", expand="Details", page_size=40):
            flat = [unwrap_record(record) for record in page]
            records.extend(flat)
            writer.write_page(flat)
    assert writer.records == len(records) > 200
    assert out.sha256 == hashlib.sha256(Path(path.path).read_bytes()).hexdigest()
    columns = [f for f in schema.fields if f.schema is None]
    if output_format == "jsonl":
        with open(path.path, encoding="ascii") as lines:
            assert [json.loads(line) for line in lines] == records
    elif output_format == "csv":
        with open(path.path, encoding="utf-8", newline="") as text:
            rows = list(csv.DictReader(text))
        assert [json.loads(row["Details"]) for row in rows] == [record["Details"] for record in records]
        assert [row["OrderNbr"] for row in rows] == [record["OrderNbr"] for record in records]
    else:
        table = pq.read_table(path.path)
        for f in columns:
            got = table.column(f.name).to_pylist()
            assert got == [expected(record.get(f.name), f.type) for record in records], f.name
        assert [len(lines or []) for lines in table.column("Details").to_pylist()] == [
            len(record["Details"]) for record in records
        ]
