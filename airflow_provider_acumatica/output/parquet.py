"""Typed Parquet from entity schemas (imports pyarrow, so it is only loaded when Parquet is chosen).

Each page becomes one Arrow record batch right away, so Python holds one page of records and Arrow
at most one row group. Values are first read as JSON delivers them (decimals as doubles,
date-times as strings) and then converted column by column, vectorised:

* DecimalValue -> decimal128(38, 9): scale 9 keeps Acumatica's 8-decimal currency rates and
  6-decimal quantities and prices; (38, 9) is BigQuery's NUMERIC and loads into Snowflake, Spark
  and Redshift decimals unchanged. Doubles go through their shortest text form, so 12345678.91
  stays exactly that rather than the double's binary expansion.
* DateTimeValue -> timestamp(us, UTC), offsets applied; a value without an offset is taken as UTC.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from airflow_provider_acumatica.exceptions import AcumaticaError
from airflow_provider_acumatica.output.schema import EntitySchema, FieldType, SchemaField

if TYPE_CHECKING:
    from airflow_provider_acumatica.output.formats import FileSink

DECIMAL_TYPE = pa.decimal128(38, 9)
TIMESTAMP_TYPE = pa.timestamp("us", tz="UTC")

_VALUE_TYPES = {
    FieldType.STRING: pa.string(),
    FieldType.GUID: pa.string(),
    FieldType.DECIMAL: DECIMAL_TYPE,
    FieldType.DOUBLE: pa.float64(),
    FieldType.INT16: pa.int16(),
    FieldType.INT32: pa.int32(),
    FieldType.INT64: pa.int64(),
    FieldType.BOOLEAN: pa.bool_(),
    FieldType.DATETIME: TIMESTAMP_TYPE,
    FieldType.DATE: pa.date32(),
}
_AS_SENT = {FieldType.DECIMAL: pa.float64(), FieldType.DATETIME: pa.string(), FieldType.DATE: pa.string()}


def arrow_schema(schema: EntitySchema) -> pa.Schema:
    return pa.schema([pa.field(f.name, _arrow_type(f)) for f in schema.fields])


def record_batch(records: list[dict[str, Any]], schema: EntitySchema, target: pa.Schema) -> pa.RecordBatch:
    columns = [_column([record.get(f.name) for record in records], f) for f in schema.fields]
    return pa.RecordBatch.from_arrays(columns, schema=target)


class ParquetSink:
    """Buffers converted pages and writes row groups of exactly `row_group_size` rows (the last may be shorter)."""

    def __init__(self, stream: FileSink, schema: EntitySchema, *, row_group_size: int, compression: str) -> None:
        self._schema = schema
        self._target = arrow_schema(schema)
        self._row_group_size = row_group_size
        self._writer = pq.ParquetWriter(stream, self._target, compression=compression)
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0

    def write(self, records: list[dict[str, Any]]) -> None:
        batch = record_batch(records, self._schema, self._target)
        self._pending.append(batch)
        self._pending_rows += batch.num_rows
        while self._pending_rows >= self._row_group_size:
            self._flush(self._row_group_size)

    def close(self) -> None:
        if self._pending_rows:
            self._flush(self._pending_rows)
        self._writer.close()

    def abandon(self) -> None:
        """End pyarrow's writer now, while the stream is open, rather than when it is garbage-collected.

        A failed extract's file is discarded, so pending rows are dropped; closing may fail again
        when the stream is what failed, which changes nothing.
        """
        self._pending.clear()
        self._pending_rows = 0
        with contextlib.suppress(Exception):
            self._writer.close()

    def _flush(self, rows: int) -> None:
        table = pa.Table.from_batches(self._pending, schema=self._target)
        self._writer.write_table(table.slice(0, rows), row_group_size=rows)
        rest = table.slice(rows)
        self._pending = rest.to_batches()
        self._pending_rows = rest.num_rows


def _arrow_type(f: SchemaField, *, as_sent: bool = False) -> pa.DataType:
    if f.schema is not None:
        struct = pa.struct([pa.field(g.name, _arrow_type(g, as_sent=as_sent)) for g in f.schema.fields])
        return pa.list_(struct) if f.type is FieldType.DETAIL else struct
    if as_sent:
        return _AS_SENT.get(f.type, _VALUE_TYPES[f.type])
    return _VALUE_TYPES[f.type]


def _column(values: list[Any], f: SchemaField) -> pa.Array:
    try:
        try:
            raw = pa.array(values, type=_arrow_type(f, as_sent=True))
        except UnicodeEncodeError:
            raw = pa.array(_valid_unicode(values), type=_arrow_type(f, as_sent=True))
        return _convert(raw, f)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, ValueError) as err:
        raise AcumaticaError(
            f"Parquet column {f.name!r} ({f.source}) cannot hold a value of this page: {err}. The data does not "
            "match the endpoint's swagger.json; output_format='jsonl' writes records as they come."
        ) from err


def _valid_unicode(value: Any) -> Any:
    """Lone UTF-16 surrogates (a truncated emoji) replaced by U+FFFD, since Parquet strings are UTF-8."""
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, list):
        return [_valid_unicode(item) for item in value]
    if isinstance(value, dict):
        return {key: _valid_unicode(item) for key, item in value.items()}
    return value


def _convert(array: pa.Array, f: SchemaField) -> pa.Array:
    target = _arrow_type(f)
    if array.type == target:
        return array
    if f.schema is not None and f.type is FieldType.DETAIL:
        return pa.ListArray.from_arrays(array.offsets, _struct(array.values, f.schema), mask=array.is_null())
    if f.schema is not None:
        return _struct(array, f.schema)
    if f.type is FieldType.DECIMAL:
        return _decimal(array)
    if f.type is FieldType.DATETIME:
        return _timestamp(array)
    return array.cast(target)


def _struct(array: pa.StructArray, schema: EntitySchema) -> pa.StructArray:
    children = [_convert(array.field(index), g) for index, g in enumerate(schema.fields)]
    fields = [pa.field(g.name, _arrow_type(g)) for g in schema.fields]
    return pa.StructArray.from_arrays(children, fields=fields, mask=array.is_null())


def _decimal(doubles: pa.Array) -> pa.Array:
    try:
        return doubles.cast(pa.string()).cast(DECIMAL_TYPE)
    except pa.ArrowInvalid:
        return doubles.cast(DECIMAL_TYPE)


def _timestamp(texts: pa.Array) -> pa.Array:
    try:
        return texts.cast(TIMESTAMP_TYPE)
    except pa.ArrowInvalid:
        return pa.array([_parse_datetime(text) for text in texts.to_pylist()], type=TIMESTAMP_TYPE)


def _parse_datetime(text: str | None) -> datetime | None:
    """Forms Arrow's parser rejects: 7 fractional digits (.NET ticks) or no offset."""
    if text is None:
        return None
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
