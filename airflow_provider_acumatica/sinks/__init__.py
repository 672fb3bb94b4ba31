"""Table sinks: keep a current copy of each Acumatica entity in a lake table format."""

from __future__ import annotations

from airflow_provider_acumatica.sinks.base import MERGE_MODES, ChangeSet, CommitId, MergeMode, MergeResult, TableSink
from airflow_provider_acumatica.sinks.delta import DeltaSink
from airflow_provider_acumatica.sinks.storage import storage_options_from_connection

__all__ = [
    "MERGE_MODES",
    "ChangeSet",
    "CommitId",
    "DeltaSink",
    "MergeMode",
    "MergeResult",
    "TableSink",
    "storage_options_from_connection",
]
