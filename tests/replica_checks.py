"""What "the replica equals the ERP" means, checked against the sandbox's own state of every live record."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import requests
from deltalake import DeltaTable, QueryBuilder

from airflow_provider_acumatica.records import unwrap_record

DECIMAL_SCALE = Decimal("1e-9")
LAST_MODIFIED = ("LastModifiedDateTime", "LastModified", "LastModifiedDate")
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


def differences(
    base_url: str,
    lake: str,
    entity: str,
    details: tuple[str, ...] = (),
    *,
    changed_after: datetime | None = None,
    deleted_after: Collection[str] = (),
) -> list[str]:
    """Every way the entity's tables differ from the ERP: ids, every field value, every line; empty when equal.

    With `changed_after` (the window end of a pull that ran while the ERP changed), records modified after it and
    records deleted after it (`deleted_after`) are not judged: they belong to the next window.
    """
    live = erp(base_url, entity)
    later = set(deleted_after)
    if changed_after is not None:
        later |= {key for key, record in live.items() if _stamp(record) > changed_after}
    current = {key: record for key, record in live.items() if key not in later}
    problems = _table_differences(f"{lake}/{entity}", current, later)
    for detail in details:
        lines = {
            line["id"]: {**line, "parent_id": key}
            for key, record in current.items()
            for line in record.get(detail) or ()
        }
        problems += _table_differences(f"{lake}/{entity}__{detail}", lines, later, parent_column="parent_id")
    return problems


def _stamp(record: dict[str, Any]) -> datetime:
    text = next(record[name] for name in LAST_MODIFIED if record.get(name))
    return datetime.fromisoformat(text)


def _table_differences(
    uri: str, live: dict[str, dict[str, Any]], unjudged: Collection[str] = (), parent_column: str = "id"
) -> list[str]:
    rows = {row["id"]: row for row in stored(uri) if row[parent_column] not in unjudged}
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
