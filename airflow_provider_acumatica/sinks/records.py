"""Pulled entity records as the tables a replica keeps: the record's own fields, and one table per detail.

A record row has the entity's value fields, typed from swagger.json as the Parquet writer types them, without
`rowNumber` (a position in one response, not data); linked entities are not columns. The lines of each detail
collection go to a child table `{entity}__{detail}`: the line's value fields plus `parent_id`. Every row gets
`_acumatica_last_seen`, the end of the interval that wrote it. Pages become Arrow batches as they arrive, so
Python holds one page of records at a time.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from airflow_provider_acumatica.exceptions import AcumaticaConfigError
from airflow_provider_acumatica.output.parquet import TIMESTAMP_TYPE, arrow_schema, record_batch
from airflow_provider_acumatica.output.schema import EntitySchema, FieldType, SchemaField
from airflow_provider_acumatica.sinks.base import KEY_COLUMN

LAST_SEEN_COLUMN = "_acumatica_last_seen"
PARENT_COLUMN = "parent_id"
PARAMETERS_COLUMN = "_acumatica_parameters"
ATTACHMENTS = "files"
_NOT_COLUMNS = frozenset({"rowNumber"})
_NOT_VALUES = frozenset({FieldType.LINKED, FieldType.DETAIL})
_ROW = "__acumatica_row"
_CUSTOM_TYPES = {
    "CustomBooleanField": FieldType.BOOLEAN,
    "CustomByteField": FieldType.INT16,
    "CustomDateTimeField": FieldType.DATETIME,
    "CustomDecimalField": FieldType.DECIMAL,
    "CustomDoubleField": FieldType.DOUBLE,
    "CustomGuidField": FieldType.GUID,
    "CustomIntField": FieldType.INT32,
    "CustomLongField": FieldType.INT64,
    "CustomShortField": FieldType.INT16,
    "CustomStringField": FieldType.STRING,
}


def child_table(entity: str, detail: str) -> str:
    return f"{entity}__{detail}"


def row_schema(schema: EntitySchema, *extra: SchemaField) -> EntitySchema:
    """The columns a replica keeps of an entity (or of a detail line), plus `extra` ones."""
    kept = tuple(f for f in schema.fields if f.type not in _NOT_VALUES and f.name not in _NOT_COLUMNS)
    return EntitySchema(schema.name, kept + extra)


def detail_collections(schema: EntitySchema) -> tuple[str, ...]:
    """Every detail collection except the attached files (links to blobs, not ERP data)."""
    return tuple(f.name for f in schema.details if f.name != ATTACHMENTS)


def custom_columns(custom: Mapping[str, str]) -> tuple[SchemaField, ...]:
    """Columns `custom_{View}_{Field}` for custom fields (`View.Field` -> `CustomStringField`, ...)."""
    return tuple(
        SchemaField(f"custom_{path.replace('.', '_')}", _CUSTOM_TYPES.get(kind, FieldType.STRING), path)
        for path, kind in custom.items()
    )


class ReplicaRows:
    """The records and detail lines of one pull, as Arrow tables; each record once, its last copy winning.

    `custom` (`View.Field` -> custom field type, from `$adHocSchema`) adds a column per custom field or
    attribute, read from the record's `custom` member.
    """

    def __init__(
        self,
        schema: EntitySchema,
        details: Sequence[str],
        last_seen: datetime,
        custom: Mapping[str, str] | None = None,
    ) -> None:
        self.entity = schema.name
        self._last_seen = last_seen
        self._custom = custom_columns(custom or {})
        self._records = _Batches(row_schema(schema, *self._custom))
        parent = SchemaField(PARENT_COLUMN, FieldType.GUID, "parent record id")
        self._lines = {name: _Batches(row_schema(_detail_schema(schema, name), parent)) for name in details}

    @property
    def details(self) -> tuple[str, ...]:
        return tuple(self._lines)

    def add(self, records: list[dict[str, Any]]) -> None:
        """One page of unwrapped records (`records.unwrap_record`)."""
        self._records.add([self._with_custom(record) for record in records] if self._custom else records)
        for name, lines in self._lines.items():
            lines.add(
                [{**line, PARENT_COLUMN: record[KEY_COLUMN]} for record in records for line in record.get(name) or ()]
            )

    def _with_custom(self, record: dict[str, Any]) -> dict[str, Any]:
        custom = record.get("custom") or {}
        values = {}
        for column in self._custom:
            view, name = column.source.split(".", 1)
            values[column.name] = (custom.get(view) or {}).get(name)
        return {**record, **values}

    def records(self) -> pa.Table:
        return _last_seen(_last_per_id(self._records.table()), self._last_seen)

    def lines(self, detail: str) -> pa.Table:
        return _last_seen(_last_per_id(self._lines[detail].table()), self._last_seen)


def inquiry_rows(
    rows: Iterable[dict[str, Any]], schema: EntitySchema, parameters: Mapping[str, Any], last_seen: datetime
) -> pa.Table:
    """The result rows of one parameter set, keyed `{parameter set}#{row}`.

    Inquiry rows have no identity of their own across reads, so a snapshot replaces the rows of its parameter
    set as a whole; the parameters column tells the parameter sets of one table apart.
    """
    key = parameter_key(parameters)
    columns = row_schema(schema, SchemaField(PARAMETERS_COLUMN, FieldType.STRING, "inquiry parameters"))
    keyed = [{**row, KEY_COLUMN: f"{key}#{number}", PARAMETERS_COLUMN: key} for number, row in enumerate(rows, start=1)]
    batches = _Batches(columns)
    batches.add(keyed)
    return _last_seen(batches.table(), last_seen)


def parameter_key(parameters: Mapping[str, Any]) -> str:
    """One parameter set as the table stores it: the same set, in any order, is the same key."""
    return json.dumps(dict(parameters), sort_keys=True, default=str)


def _detail_schema(schema: EntitySchema, name: str) -> EntitySchema:
    member = schema.get(name)
    if member is None or member.type is not FieldType.DETAIL or member.schema is None:
        available = ", ".join(detail_collections(schema)) or "none"
        raise AcumaticaConfigError(
            f"{schema.name} has no detail collection {name!r} in the endpoint's swagger.json; its detail "
            f"collections: {available}."
        )
    return member.schema


class _Batches:
    def __init__(self, schema: EntitySchema) -> None:
        self._schema = schema
        self._target = arrow_schema(schema)
        self._batches: list[pa.RecordBatch] = []

    def add(self, records: list[dict[str, Any]]) -> None:
        if records:
            self._batches.append(record_batch(records, self._schema, self._target))

    def table(self) -> pa.Table:
        return pa.Table.from_batches(self._batches, schema=self._target)


def _last_per_id(table: pa.Table) -> pa.Table:
    """A record listed twice (it changed between two pages) keeps its later copy; rows without an id are refused."""
    if table[KEY_COLUMN].null_count:
        raise AcumaticaConfigError(
            f"{table[KEY_COLUMN].null_count} rows came back without an id, so they cannot be merged into the replica. "
            "Check that the endpoint returns `id` for this entity and its detail lines."
        )
    numbered = table.append_column(_ROW, pa.array(range(len(table)), pa.int64()))
    last = numbered.group_by(KEY_COLUMN).aggregate([(_ROW, "max")])[f"{_ROW}_max"]
    if len(last) == len(table):
        return table
    return table.take(pc.sort(last))


def _last_seen(table: pa.Table, moment: datetime) -> pa.Table:
    return table.append_column(
        pa.field(LAST_SEEN_COLUMN, TIMESTAMP_TYPE), pa.repeat(pa.scalar(moment, TIMESTAMP_TYPE), len(table))
    )
