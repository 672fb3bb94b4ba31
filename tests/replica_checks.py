"""What "the replica equals the ERP" means, checked against the sandbox's own state of every live record."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import requests
from deltalake import DeltaTable, QueryBuilder

from airflow_provider_acumatica.records import unwrap_record

DECIMAL_SCALE = Decimal("1e-9")
BOOKKEEPING = frozenset({"parent_id", "_acumatica_last_seen", "_acumatica_parameters"})


def erp(base_url: str, entity: str) -> dict[str, dict[str, Any]]:
    """Every live record of the entity now, unwrapped, with every detail and custom field."""
    answer = requests.get(f"{base_url}/_sandbox/state/{entity}", timeout=30)
    answer.raise_for_status()
    return {record["id"]: unwrap_record(record) for record in answer.json()}


def stored(uri: str, **storage_options: str) -> list[dict[str, Any]]:
    """A Delta table's rows, read through delta-rs's engine (a pyarrow scan can abort the process at exit)."""
    table = DeltaTable(uri, storage_options=storage_options or None)
    reader = QueryBuilder().register("stored", table).execute("SELECT * FROM stored")
    rows: list[dict[str, Any]] = pa.table(reader.read_all()).to_pylist()
    return rows


def differences(base_url: str, lake: str, entity: str, details: tuple[str, ...] = ()) -> list[str]:
    """Every way the entity's tables differ from the ERP: ids, every field value, every line; empty when equal."""
    live = erp(base_url, entity)
    problems = _table_differences(f"{lake}/{entity}", live)
    for detail in details:
        lines = {
            line["id"]: {**line, "parent_id": key} for key, record in live.items() for line in record.get(detail) or ()
        }
        problems += _table_differences(f"{lake}/{entity}__{detail}", lines)
    return problems


def _table_differences(uri: str, live: dict[str, dict[str, Any]]) -> list[str]:
    rows = {row["id"]: row for row in stored(uri)}
    problems = [f"{uri}: {key} is live but missing" for key in sorted(set(live) - set(rows))]
    problems += [f"{uri}: {key} is not live but in the table" for key in sorted(set(rows) - set(live))]
    for key in sorted(set(rows) & set(live)):
        for column, value in rows[key].items():
            expected = _expected(live[key], column)
            if column not in BOOKKEEPING and not _same(value, expected):
                problems.append(f"{uri}: {key}.{column} is {value!r}, the ERP has {expected!r}")
    return problems


def _expected(record: dict[str, Any], column: str) -> Any:
    if column.startswith("custom_"):
        view, name = column[len("custom_") :].split("_", 1)
        return ((record.get("custom") or {}).get(view) or {}).get(name)
    return record.get(column)


def _same(stored_value: Any, erp_value: Any) -> bool:
    if stored_value is None or erp_value is None:
        return stored_value is erp_value
    if isinstance(stored_value, Decimal):
        return stored_value == Decimal(repr(erp_value)).quantize(DECIMAL_SCALE)
    if isinstance(stored_value, datetime):
        parsed = datetime.fromisoformat(erp_value)
        return stored_value == (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))
    if isinstance(stored_value, date):
        return stored_value.isoformat() == str(erp_value)[:10]
    return bool(stored_value == erp_value)
