"""Records for write-back: read from the flat files our extracts write, typed into the API's wrapped shape.

A flat record (`{"CustomerID": "C1", "CreditLimit": 500, "Details": [{"id": ..., "OrderQty": 2}]}`) becomes
`{"CustomerID": {"value": "C1"}, "CreditLimit": {"value": 500.0}, "Details": [...]}`, typed from the entity's
swagger.json so a CSV's text "500" goes out as a number and "true" as a boolean. A null or empty value is not
sent, so a file with a few columns never blanks the others. A value that cannot be typed is sent as written and
the server's 422 names it. System members (`rowNumber`, `note`, `_links`, `custom`) and the stamps the server
sets itself (`LastModifiedDateTime`, `CreatedDateTime`, `NoteID`, ...) are not sent.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import PurePosixPath
from typing import Any

from airflow.providers.common.compat.sdk import ObjectStoragePath

from airflow_provider_acumatica.exceptions import AcumaticaConfigError
from airflow_provider_acumatica.output.formats import PYARROW_MISSING
from airflow_provider_acumatica.output.paths import build_output_path
from airflow_provider_acumatica.output.schema import LAST_MODIFIED_FIELDS, EntitySchema, FieldType, SchemaField

INPUT_FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".parquet": "parquet"}
NOT_SENT = frozenset({"rowNumber", "note", "_links", "custom", "files", "NoteID", "CreatedDateTime", "CreatedDate"})
CREATED_FIELDS = ("CreatedDateTime", "CreatedDate")
STAMPS = (*LAST_MODIFIED_FIELDS, *CREATED_FIELDS)
_NUMBERS = frozenset({FieldType.DECIMAL, FieldType.DOUBLE})
_INTEGERS = frozenset({FieldType.INT16, FieldType.INT32, FieldType.INT64})
_TRUE, _FALSE = frozenset({"true", "1", "yes", "y"}), frozenset({"false", "0", "no", "n"})

Record = dict[str, Any]


def input_format(path: ObjectStoragePath, explicit: str | None) -> str:
    """The format named, or the one the file's suffix says."""
    if explicit is not None:
        if explicit not in set(INPUT_FORMATS.values()):
            raise AcumaticaConfigError(f"input_format must be jsonl, csv or parquet, not {explicit!r}.")
        return explicit
    found = INPUT_FORMATS.get(PurePosixPath(path.name).suffix.lower())
    if found is None:
        raise AcumaticaConfigError(
            f"Cannot tell the format of {path.name!r} from its suffix: name it .jsonl, .csv or .parquet, "
            "or pass input_format."
        )
    return found


def storage_path(path: Any, conn_id: str | None, name: str) -> ObjectStoragePath:
    """An input or results file (local path or URI), its filesystem resolved now so a bad scheme fails early."""
    if isinstance(path, str) and not path.strip():
        raise AcumaticaConfigError(f"{name} is empty: give a local path or a URI such as s3://bucket/key.jsonl.")
    return build_output_path(path, conn_id)


def results_beside(source: ObjectStoragePath) -> ObjectStoragePath:
    """The default results file: `<input stem>.results.jsonl` next to the input."""
    stem = source.name.rsplit(".", 1)[0]
    return source.parent / f"{stem}.results.jsonl"


def read_records(path: ObjectStoragePath, fmt: str) -> Iterator[Record]:
    """The file's records in order; memory holds one Parquet row group or one line at a time."""
    if not path.exists():
        raise AcumaticaConfigError(f"The input file {path} does not exist. Check input_path (and input_conn_id).")
    if fmt == "parquet":
        yield from _parquet_records(path)
        return
    with path.fs.open(path.path, "rb") as raw, io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text:
        if fmt == "csv":
            yield from csv.DictReader(text)
            return
        for number, line in enumerate(text, start=1):
            if line.strip():
                yield _json_line(line, number, path)


def _json_line(line: str, number: int, path: ObjectStoragePath) -> Record:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as err:
        raise AcumaticaConfigError(
            f"Line {number} of {path.name} is not JSON ({err.msg}); one object per line."
        ) from None
    if not isinstance(record, dict):
        raise AcumaticaConfigError(f"Line {number} of {path.name} is a {type(record).__name__}, not a JSON object.")
    return record


def _parquet_records(path: ObjectStoragePath) -> Iterator[Record]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise AcumaticaConfigError(PYARROW_MISSING.replace("output_format", "input_format")) from None
    with path.fs.open(path.path, "rb") as raw:
        for batch in pq.ParquetFile(raw).iter_batches():
            yield from batch.to_pylist()


def to_wire(record: Mapping[str, Any], schema: EntitySchema, *, top: bool = True) -> Record:
    """The record in the API's wrapped shape; raises AcumaticaConfigError on a member the entity lacks."""
    body: Record = {}
    for name, value in record.items():
        if name in NOT_SENT or name in LAST_MODIFIED_FIELDS or _empty(value):
            continue
        if name == "id" or (name == "delete" and not top):
            body[name] = value if name == "id" else _boolean(value)
            continue
        member = schema.get(name)
        if member is None:
            raise AcumaticaConfigError(
                f"{schema.name} has no field {name!r} in swagger.json: rename or drop that column "
                "(custom fields are not written)."
            )
        body[name] = _member(member, value)
    return body


def _member(member: SchemaField, value: Any) -> Any:
    if member.type is FieldType.DETAIL and member.schema is not None:
        lines = json.loads(value) if isinstance(value, str) else value
        return [to_wire(line, member.schema, top=False) for line in lines]
    if member.type is FieldType.LINKED and member.schema is not None:
        return to_wire(json.loads(value) if isinstance(value, str) else value, member.schema, top=False)
    return {"value": typed(member.type, value)}


def typed(kind: FieldType, value: Any) -> Any:
    """A value as the field's type wants it on the wire; one that does not fit is sent as is."""
    if isinstance(value, Decimal):
        value = int(value) if kind in _INTEGERS and value == int(value) else float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if kind in _NUMBERS:
        return _number(value)
    if kind in _INTEGERS:
        number = _number(value)
        return int(number) if isinstance(number, float) and number.is_integer() else number
    if kind is FieldType.BOOLEAN:
        return _boolean(value)
    if kind in (FieldType.STRING, FieldType.GUID) and not isinstance(value, str):
        return str(value)
    return value


def _number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return value
    try:
        return float(value)
    except ValueError:
        return value


def _boolean(value: Any) -> Any:
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    return False if text in _FALSE else value


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def record_key(record: Mapping[str, Any], key_fields: Sequence[str]) -> dict[str, Any]:
    """What identifies the record in the results: its key fields, or its `id` when there are none."""
    if key_fields:
        return {name: record.get(name) for name in key_fields}
    return {"id": record.get("id")}


def missing_key(body: Mapping[str, Any], key_fields: Sequence[str]) -> str | None:
    """Why a record cannot be written idempotently, or None: a keyless PUT inserts again when retried."""
    if isinstance(body.get("id"), str) and body["id"].strip():
        return None
    if not key_fields:
        return "The record has no id and key_fields is not set: a keyless PUT would insert a new record each time."
    empty = [name for name in key_fields if name not in body]
    if empty:
        return f"Key field(s) {', '.join(empty)} empty: without them a retried PUT would insert a second record."
    return None


def unsafe_lines(body: Mapping[str, Any], schema: EntitySchema, mode: str, append_lines: bool) -> str | None:
    """Why the detail lines cannot be sent, or None. A line without `id` is appended by the server, so resending
    the document duplicates it; only `insert` (a new record) or `append_lines=True` may send such lines."""
    for member in schema.details:
        for number, line in enumerate(body.get(member.name) or ()):
            has_id = isinstance(line.get("id"), str) and bool(line["id"].strip())
            if line.get("delete") is True and not has_id:
                return f"{member.name}[{number}] is marked for deletion but has no id: give the line's id."
            if not has_id and mode != "insert" and not append_lines:
                return (
                    f"{member.name}[{number}] has no id, so the server would append it, and a resent record would "
                    "duplicate its lines. Give each line its id (from an extract of the record), or pass "
                    "append_lines=True to add them on purpose."
                )
    return None


def differences(sent: Mapping[str, Any], stored: Mapping[str, Any], path: str = "") -> list[dict[str, Any]]:
    """Every sent value the stored record does not hold (a 200 does not prove the save)."""
    found: list[dict[str, Any]] = []
    for name, value in sent.items():
        if name in ("id", "delete"):
            continue
        where = f"{path}.{name}" if path else name
        held = stored.get(name)
        if isinstance(value, list):
            found.extend(_line_differences(value, held if isinstance(held, list) else [], where))
        elif isinstance(value, dict) and "value" not in value:
            found.extend(differences(value, held if isinstance(held, dict) else {}, where))
        elif not _same(value.get("value"), held.get("value") if isinstance(held, dict) else None):
            found.append({"field": where, "sent": value.get("value"), "stored": _plain(held)})
    return found


def _line_differences(lines: list[Any], held: list[Any], where: str) -> list[dict[str, Any]]:
    by_id = {line.get("id"): line for line in held if isinstance(line, dict)}
    found: list[dict[str, Any]] = []
    for number, line in enumerate(lines):
        line_id = line.get("id")
        if line_id is None:
            continue
        stored = by_id.get(line_id)
        if line.get("delete") is True:
            if stored is not None:
                found.append({"field": f"{where}[{number}]", "sent": "delete", "stored": "still present"})
        elif stored is None:
            found.append({"field": f"{where}[{number}]", "sent": line_id, "stored": "no such line"})
        else:
            found.extend(differences(line, stored, f"{where}[{number}]"))
    return found


def _plain(held: Any) -> Any:
    return held.get("value") if isinstance(held, dict) else held


def _same(sent: Any, stored: Any) -> bool:
    if sent == stored:
        return True
    if isinstance(sent, int | float) and isinstance(stored, int | float) and not isinstance(sent, bool):
        return abs(float(sent) - float(stored)) <= 1e-9 * max(1.0, abs(float(sent)))
    if isinstance(sent, str) and isinstance(stored, str):
        return _moment(sent) is not None and _moment(sent) == _moment(stored)
    return False


def _moment(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None
