"""The interface between an operator that pulls changed records and a table format that keeps a current copy.

The operator hands over what changed in one data interval; a sink applies it to one table in one atomic commit,
exactly once per interval, so a retried or re-run task never applies the same interval twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal, Protocol

from airflow_provider_acumatica.exceptions import AcumaticaConfigError

if TYPE_CHECKING:
    import pyarrow as pa

MergeMode = Literal["upsert", "snapshot"]
MERGE_MODES: tuple[MergeMode, ...] = ("upsert", "snapshot")
KEY_COLUMN = "id"
NOTE_PREFIX = "acumatica."
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ChangeSet:
    """Records keyed by `id` plus deleted ids; in "snapshot" mode, rows absent from `records` are deleted too.

    With `stamp_column` set, a record older than the table's row never overwrites it (a late, stale page must not
    roll the copy back); equal or newer stamps, and table rows without a stamp, are overwritten.
    """

    records: pa.Table
    deleted_ids: Sequence[str] = ()
    mode: MergeMode = "upsert"
    stamp_column: str | None = None

    def __post_init__(self) -> None:
        if self.mode not in MERGE_MODES:
            raise AcumaticaConfigError(f"Unknown merge mode {self.mode!r}; use one of {', '.join(MERGE_MODES)}.")
        if KEY_COLUMN not in self.records.column_names:
            raise AcumaticaConfigError(
                f"The change set has no {KEY_COLUMN!r} column to merge by; select the entity's `id` field."
            )
        if self.stamp_column is not None and self.stamp_column not in self.records.column_names:
            raise AcumaticaConfigError(
                f"The stamp column {self.stamp_column!r} is not in the change set; select it or pass stamp_column=None."
            )


@dataclass(frozen=True)
class CommitId:
    """Which DAG run and interval a commit belongs to; the interval end orders commits of one table.

    `notes` (e.g. the deletion mode used) are recorded with the commit under `acumatica.` keys, so a later run
    can read them back from the table's history.
    """

    dag_id: str
    run_id: str
    interval_start: datetime
    interval_end: datetime
    notes: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.interval_end.tzinfo is None or self.interval_start.tzinfo is None:
            raise AcumaticaConfigError("Interval bounds must be timezone-aware; pass Airflow's data_interval values.")

    @property
    def version(self) -> int:
        """Interval end in epoch microseconds: later intervals always commit a higher version."""
        delta = self.interval_end - _EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds

    def app_id(self, table: str) -> str:
        """One application id per DAG and table, so the same DAG's tables do not share a version counter."""
        return f"airflow-provider-acumatica/{self.dag_id}/{table}"

    def metadata(self) -> dict[str, str]:
        """Recorded in the commit so the table history says which run wrote what."""
        return {
            **{f"{NOTE_PREFIX}{key}": value for key, value in self.notes.items()},
            "acumatica.dag_id": self.dag_id,
            "acumatica.run_id": self.run_id,
            "acumatica.interval_start": self.interval_start.isoformat(),
            "acumatica.interval_end": self.interval_end.isoformat(),
        }


@dataclass(frozen=True)
class MergeResult:
    """What one commit did; `already_committed` means this interval was applied before and nothing changed."""

    version: int
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    skipped_stale: int = 0
    already_committed: bool = False


class TableSink(Protocol):
    """A table format that keeps a current copy of each entity; Delta now, Iceberg can follow."""

    def merge(self, table: str, changes: ChangeSet, commit: CommitId) -> MergeResult:
        """Apply one interval's changes to `table` in one commit, unless `commit` was applied already."""
        ...

    def replace_children(
        self,
        child_table: str,
        lines: pa.Table,
        parent_ids: Sequence[str] | None,
        commit: CommitId,
        *,
        parent_column: str,
    ) -> MergeResult:
        """Make the lines of `parent_ids` (None: of every parent) exactly `lines` in one commit."""
        ...

    def exists(self, table: str) -> bool:
        """Whether the table was created; a replica starts with a full snapshot when it was not."""
        ...

    def read(self, table: str, columns: Sequence[str] | None = None) -> pa.Table | None:
        """The table's current rows (only `columns` if given), or None when the table does not exist yet."""
        ...

    def last_note(self, table: str, key: str) -> str | None:
        """The newest value of a commit note (`CommitId.notes`) in the table's recent history, or None."""
        ...
