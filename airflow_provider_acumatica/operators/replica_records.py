"""One record entity's interval applied to its replica tables: pull, find deletions, commit lines, commit records.

The detail lines are committed before the records: each table records the interval in its own application
transaction, so if the task fails between the two commits, its retry finds the lines' table already at this
interval (nothing is written twice) and commits the records. Readers may see the new lines with the old parent
for that moment; never a parent whose lines are missing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from airflow_provider_acumatica.hooks.acumatica import AcumaticaHook
from airflow_provider_acumatica.incremental import Window
from airflow_provider_acumatica.operators.replica_deletions import (
    RECONCILED_AT,
    DeletionPolicy,
    Deletions,
    FoundDeletions,
)
from airflow_provider_acumatica.operators.to_file import Progress, warn_if_open
from airflow_provider_acumatica.output import EntitySchema
from airflow_provider_acumatica.records import unwrap_record
from airflow_provider_acumatica.sinks import ChangeSet, CommitId, MergeResult, TableSink
from airflow_provider_acumatica.sinks.base import KEY_COLUMN
from airflow_provider_acumatica.sinks.records import (
    PARENT_COLUMN,
    ReplicaRows,
    child_table,
    detail_collections,
)


@dataclass(frozen=True)
class Pull:
    """What to read: the entity, its endpoint version, the detail collections and the page size."""

    schema: EntitySchema
    version: str
    details: tuple[str, ...]
    page_size: int
    custom: Mapping[str, str] = field(default_factory=dict)


class RecordReplication:
    """Applies one interval of a record entity to `{entity}` and `{entity}__{detail}` in the sink."""

    def __init__(self, hook: AcumaticaHook, sink: TableSink, pull: Pull, log: Any) -> None:
        self._hook = hook
        self._sink = sink
        self._pull = pull
        self._log = log
        self._entity = pull.schema.name

    def run(
        self, window: Window | None, stamp: str | None, commit: CommitId, policy: DeletionPolicy
    ) -> tuple[str, dict[str, MergeResult]]:
        """The deletion mode used ("snapshot" for a full pull) and each table's commit result."""
        snapshot = window is None or not self._sink.exists(self._entity)
        if window is not None and snapshot:
            self._log.info("%s has no replica table yet: this run loads every record.", self._entity)
        started = datetime.now(UTC)
        rows = self._read(None if snapshot else window, stamp, commit.interval_end)
        records = rows.records()
        changed = set(records[KEY_COLUMN].to_pylist())
        if snapshot:
            found = FoundDeletions("snapshot", frozenset())
            notes = {"deletes": "snapshot", RECONCILED_AT: started.isoformat()}
        else:
            assert window is not None
            found = Deletions(
                self._hook, self._sink, self._entity, self._pull.version, self._log, self._pull.page_size
            ).find(policy, window, changed)
            notes = {
                "deletes": found.mode,
                **({RECONCILED_AT: started.isoformat()} if found.mode == "reconcile" else {}),
            }
        noted = replace(commit, notes={**commit.notes, **notes})
        results = self._commit_lines(rows, None if snapshot else sorted(changed | found.ids), noted)
        changes = ChangeSet(
            records,
            deleted_ids=sorted(found.ids - changed),
            mode="snapshot" if snapshot else "upsert",
            stamp_column=stamp,
        )
        results[self._entity] = self._sink.merge(self._entity, changes, noted)
        return found.mode, results

    def _read(self, window: Window | None, stamp: str | None, last_seen: datetime) -> ReplicaRows:
        rows = ReplicaRows(self._pull.schema, self._pull.details, last_seen, self._pull.custom)
        query_filter = None
        if window is not None and stamp is not None:
            query_filter = window.filter(stamp, self._pull.version)
            self._log.info("Pulling %s with %s in (%s, %s].", self._entity, stamp, window.start, window.end)
            warn_if_open(self._log, self._entity, window)
        progress = Progress(self._log, self._entity)
        pages = self._hook.iter_pages(
            self._entity,
            filter=query_filter,
            expand=",".join(self._pull.details) or None,
            custom=",".join(self._pull.custom) or None,
            page_size=self._pull.page_size,
            endpoint_version=self._pull.version,
        )
        for page in pages:
            rows.add([unwrap_record(record) for record in page])
            progress.page(len(page))
        self._log.info("Pulled %s of %s.", progress.summary(), self._entity)
        return rows

    def _commit_lines(
        self, rows: ReplicaRows, parent_ids: Sequence[str] | None, commit: CommitId
    ) -> dict[str, MergeResult]:
        results = {}
        for detail in rows.details:
            table = child_table(self._entity, detail)
            results[table] = self._sink.replace_children(
                table, rows.lines(detail), parent_ids, commit, parent_column=PARENT_COLUMN
            )
        return results


def chosen_details(schema: EntitySchema, details: Sequence[str] | None) -> tuple[str, ...]:
    """The detail collections to keep: all but attached files unless named; unknown names fail on reading."""
    return detail_collections(schema) if details is None else tuple(details)
