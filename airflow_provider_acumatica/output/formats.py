"""Record writers, one per output format, behind one small interface.

    with AtomicOutput(path) as out, open_writer("csv", out, schema) as writer:
        for page in pages:
            writer.write_page(page)

JSON Lines and CSV encode each page into one buffer and write it once; Parquet turns each page into
Arrow at once and writes whole row groups. JSON Lines writes records exactly as given (flattened or
raw). CSV and Parquet have fixed columns, taken from the entity schema (CSV without a schema, e.g.
for a generic inquiry, takes them from the first page). A top-level member without a column is left
out, and the first time such a member carries a value the log gets one warning naming it: a
1,000,000-record extract should not fail near its end on, say, `$custom` data, nor lose it unseen.
(Members of details and linked entities that their Parquet struct lacks are left out unannounced;
CSV keeps nested members whole as JSON.)
"""

from __future__ import annotations

import abc
import csv
import importlib.util
import io
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from pathlib import PurePosixPath
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Self

from airflow.providers.common.compat.sdk import ObjectStoragePath

from airflow_provider_acumatica.exceptions import AcumaticaConfigError
from airflow_provider_acumatica.output.schema import EntitySchema, FieldType

if TYPE_CHECKING:
    from airflow_provider_acumatica.output.parquet import ParquetSink

log = logging.getLogger(__name__)

DEFAULT_ROW_GROUP_SIZE = 10_000
PYARROW_MISSING = (
    'output_format="parquet" needs pyarrow, which is not installed: '
    'pip install "airflow-provider-acumatica[parquet]" on the Airflow workers, or choose "jsonl" or "csv".'
)
_COMPRESSED_SUFFIXES = frozenset({".gz", ".gzip", ".bz2", ".xz", ".zst", ".zip", ".lz4", ".snappy"})

Record = dict[str, Any]


class BinarySink(Protocol):
    def write(self, data: bytes, /) -> int: ...


class FileSink(BinarySink, Protocol):
    """What pyarrow needs of a Python stream besides `write`."""

    @property
    def closed(self) -> bool: ...


class RecordWriter(abc.ABC):
    """Writes pages of records to a binary stream; `close()` finishes the file (CSV header, Parquet footer)."""

    format: ClassVar[str]
    suffixes: ClassVar[tuple[str, ...]]

    def __init__(self, stream: BinarySink) -> None:
        self._stream = stream
        self.records = 0
        self.pages = 0

    def write_page(self, records: list[Record]) -> None:
        self._write(records)
        self.records += len(records)
        self.pages += 1

    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()

    @abc.abstractmethod
    def _write(self, records: list[Record]) -> None: ...


class JsonLinesWriter(RecordWriter):
    """One compact JSON object per line, 7-bit ASCII (non-ASCII characters as `\\uXXXX` escapes).

    ASCII output is CPython's fastest JSON path, measurably faster than `ensure_ascii=False` on
    non-English text, and it keeps lone UTF-16 surrogates (e.g. a truncated emoji in an nvarchar
    column) intact, which UTF-8 cannot carry.
    """

    format = "jsonl"
    suffixes = (".jsonl", ".ndjson", ".json")

    def __init__(self, stream: BinarySink) -> None:
        super().__init__(stream)
        self._encode = _json_encoder(ascii_only=True)

    def _write(self, records: list[Record]) -> None:
        if not records:
            return
        encode = self._encode
        parts: list[str] = []
        extend, append = parts.extend, parts.append
        for record in records:
            extend(encode(record, 0))
            append("\n")
        self._stream.write("".join(parts).encode())

    def close(self) -> None:
        """Each page went out whole; nothing is buffered."""


def _json_encoder(*, ascii_only: bool) -> Callable[[Any, int], Sequence[str]]:
    """Compact strict JSON as `encoder(value, 0)` -> text chunks.

    This is the C encoder `json.dumps` builds anew on every call, built once: a tenth off each
    record. The public encoder stands in where the C accelerator is absent (e.g. PyPy).
    """
    public = json.JSONEncoder(ensure_ascii=ascii_only, separators=(",", ":"), allow_nan=False, check_circular=False)
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return lambda value, _level: (public.encode(value),)
    escape = json.encoder.encode_basestring_ascii if ascii_only else json.encoder.encode_basestring
    encoder: Callable[[Any, int], Sequence[str]] = make(
        None, public.default, escape, None, ":", ",", False, False, False
    )
    return encoder


_encode_cell = _json_encoder(ascii_only=False)


class CsvWriter(RecordWriter):
    """RFC 4180 CSV in UTF-8: None is an empty cell, booleans `true`/`false`, nested members JSON text."""

    format = "csv"
    suffixes = (".csv",)

    def __init__(self, stream: BinarySink, schema: EntitySchema | None = None) -> None:
        super().__init__(stream)
        self._buffer = io.StringIO()
        self._csv = csv.writer(self._buffer)
        self._columns: list[str] = []
        self._converters: list[tuple[int, Callable[[Any], Any]]] = []
        self._dropped = _DroppedMembers((), "CSV")
        if schema is not None:
            converters = {f.name: _CSV_CONVERTERS.get(f.type) for f in schema.fields}
            self._start(schema.columns, converters)

    def _write(self, records: list[Record]) -> None:
        if not records:
            return
        if not self._columns:
            columns = list(dict.fromkeys(key for record in records for key in record))
            self._start(columns, dict.fromkeys(columns, _any_cell))
        self._dropped.check(records)
        columns = self._columns
        rows = [[record.get(name) for name in columns] for record in records]
        for index, convert in self._converters:
            for row in rows:
                row[index] = convert(row[index])
        self._csv.writerows(rows)
        self._drain()

    def close(self) -> None:
        self._drain()

    def _start(self, columns: list[str], converters: dict[str, Callable[[Any], Any] | None]) -> None:
        self._columns = columns
        self._converters = [(i, c) for i, c in enumerate(converters[name] for name in columns) if c is not None]
        self._dropped = _DroppedMembers(columns, "CSV")
        self._csv.writerow(columns)

    def _drain(self) -> None:
        text = self._buffer.getvalue()
        if text:
            self._stream.write(_utf8(text))
            self._buffer.seek(0)
            self._buffer.truncate()


class ParquetWriter(RecordWriter):
    """Typed columns from the entity schema; see `output.parquet` for the type mapping."""

    format = "parquet"
    suffixes = (".parquet", ".pq")

    def __init__(
        self,
        stream: FileSink,
        schema: EntitySchema | None,
        *,
        row_group_size: int = DEFAULT_ROW_GROUP_SIZE,
        compression: str = "snappy",
    ) -> None:
        super().__init__(stream)
        if schema is None:
            raise AcumaticaConfigError(
                "Parquet takes its column types from the entity's swagger.json schema, and none was given "
                "(generic inquiries have none): pass an EntitySchema, or use output_format 'jsonl' or 'csv'."
            )
        if row_group_size < 1:
            raise AcumaticaConfigError(f"row_group_size must be at least 1, got {row_group_size}.")
        self._dropped = _DroppedMembers(schema.columns, "Parquet")
        self._sink: ParquetSink = _parquet_sink()(
            stream, schema, row_group_size=row_group_size, compression=compression
        )

    def _write(self, records: list[Record]) -> None:
        if records:
            self._dropped.check(records)
            self._sink.write(records)

    def close(self) -> None:
        self._sink.close()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self._sink.abandon()


WRITERS: dict[str, type[RecordWriter]] = {w.format: w for w in (JsonLinesWriter, CsvWriter, ParquetWriter)}
OUTPUT_FORMATS = tuple(WRITERS)


def open_writer(
    output_format: str,
    stream: FileSink,
    schema: EntitySchema | None = None,
    *,
    row_group_size: int = DEFAULT_ROW_GROUP_SIZE,
) -> RecordWriter:
    """The writer for a format checked by `check_output_format`; `schema` is needed for Parquet only."""
    name = _known_format(output_format)
    if name == ParquetWriter.format:
        return ParquetWriter(stream, schema, row_group_size=row_group_size)
    if name == CsvWriter.format:
        return CsvWriter(stream, schema)
    return JsonLinesWriter(stream)


def check_output_format(
    output_format: str, path: ObjectStoragePath | str | None = None, *, flatten: bool = True
) -> str:
    """The canonical format name, or a config error raised before any record is fetched.

    Cheap enough for an operator's `__init__`: pyarrow is looked up, not imported, at DAG parse time.

    A file suffix naming another format (or a compression we do not apply) is an error rather than
    a warning: readers pick their parser by suffix, and a mislabelled file fails downstream.
    """
    name = _known_format(output_format)
    if name == ParquetWriter.format and importlib.util.find_spec("pyarrow") is None:
        raise AcumaticaConfigError(PYARROW_MISSING)
    if not flatten and name != JsonLinesWriter.format:
        raise AcumaticaConfigError(
            f"flatten=False writes Acumatica's raw {{'value': ...}} wrappers, which only JSON Lines can carry; "
            f"use flatten=True with output_format={name!r}, or output_format='jsonl'."
        )
    if path is not None:
        _check_suffix(name, path.name if isinstance(path, ObjectStoragePath) else str(path))
    return name


def _known_format(output_format: str) -> str:
    name = str(output_format).strip().lower()
    if name not in WRITERS:
        raise AcumaticaConfigError(
            f"Unknown output_format {output_format!r}; choose one of: {', '.join(OUTPUT_FORMATS)}."
        )
    return name


def _check_suffix(name: str, file_name: str) -> None:
    suffix = PurePosixPath(file_name).suffix.lower()
    if suffix in _COMPRESSED_SUFFIXES:
        raise AcumaticaConfigError(
            f"output_path {file_name!r} ends in {suffix!r}, but {name} output is written uncompressed; "
            f"drop the suffix or use {WRITERS[name].suffixes[0]!r}."
        )
    for other, writer in WRITERS.items():
        if other != name and suffix in writer.suffixes:
            raise AcumaticaConfigError(
                f"output_path {file_name!r} ends in {suffix!r}, which is {other}, but output_format is {name!r}; "
                f"make them agree (e.g. {PurePosixPath(file_name).stem}{WRITERS[name].suffixes[0]})."
            )


def _parquet_sink() -> type[ParquetSink]:
    try:
        from airflow_provider_acumatica.output.parquet import ParquetSink
    except ImportError as err:
        if (err.name or "").partition(".")[0] != "pyarrow":
            raise
        raise AcumaticaConfigError(PYARROW_MISSING) from err
    return ParquetSink


class _DroppedMembers:
    """Warns once per file when records carry values in members that have no column."""

    def __init__(self, columns: Iterable[str], what: str) -> None:
        self._columns = frozenset(columns)
        self._what = what
        self._warned = False

    def check(self, records: list[Record]) -> None:
        if self._warned:
            return
        extra = set().union(*records) - self._columns
        lost = sorted(name for name in extra if any(_has_value(record.get(name)) for record in records))
        if lost:
            self._warned = True
            log.warning(
                "%s output leaves out members that have no column in the entity schema: %s. "
                "Add them to $select/$expand, or use output_format='jsonl' to keep every member.",
                self._what,
                ", ".join(lost),
            )


def _utf8(text: str) -> bytes:
    """UTF-8, with lone surrogates (which it cannot carry) replaced by U+FFFD."""
    try:
        return text.encode()
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace").encode()


def _has_value(value: Any) -> bool:
    return value is not None and value != "" and value != [] and value != {}


def _boolean_cell(value: Any) -> Any:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return value


def _json_cell(value: Any) -> str:
    return "" if value is None else "".join(_encode_cell(value, 0))


def _any_cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        return "".join(_encode_cell(value, 0))
    return _boolean_cell(value)


_CSV_CONVERTERS: dict[FieldType, Callable[[Any], Any]] = {
    FieldType.BOOLEAN: _boolean_cell,
    FieldType.OBJECT: _json_cell,
    FieldType.LINKED: _json_cell,
    FieldType.DETAIL: _json_cell,
}
