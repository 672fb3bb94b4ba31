"""Streaming Acumatica records to files: formats, atomic publication, manifests and entity schemas."""

from __future__ import annotations

from airflow_provider_acumatica.output.atomic import AtomicOutput
from airflow_provider_acumatica.output.formats import (
    DEFAULT_ROW_GROUP_SIZE,
    OUTPUT_FORMATS,
    CsvWriter,
    JsonLinesWriter,
    ParquetWriter,
    RecordWriter,
    check_output_format,
    open_writer,
)
from airflow_provider_acumatica.output.manifest import ExtractManifest
from airflow_provider_acumatica.output.paths import build_output_path, redact_uri
from airflow_provider_acumatica.output.schema import EntitySchema, FieldType, SchemaField

__all__ = [
    "DEFAULT_ROW_GROUP_SIZE",
    "OUTPUT_FORMATS",
    "AtomicOutput",
    "CsvWriter",
    "EntitySchema",
    "ExtractManifest",
    "FieldType",
    "JsonLinesWriter",
    "ParquetWriter",
    "RecordWriter",
    "SchemaField",
    "build_output_path",
    "check_output_format",
    "open_writer",
    "redact_uri",
]
