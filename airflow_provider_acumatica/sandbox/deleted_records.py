"""Deleted-record tracking as on Tables to Track Deleted Records (SM207010): `{RefNoteID, DeleteDate}` per DAC.

A store write listener records every deletion of a tracked DAC's row, whatever path deleted it (REST `DELETE`,
the change stream, `POST /_sandbox/changes`): the record's NoteID for a record DAC, and for a detail DAC such as
`SOLine` the NoteID of every line that left its parent (the parent deleted, or the line removed by a PUT).
Entries older than `days_to_keep` (default 10, as on SM207010) are gone.

Tracked by default: `SOOrder`, `SOLine` and `Customer`, so a client can read deletions out of the box and every
other DAC (e.g. `ARInvoice`) shows the "not tracked" error. `POST /_sandbox/deleted_records` changes the set and
the retention; its `age_days` moves every recorded entry that many days into the past, so a test can see the
retention purge them without waiting.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from .dac_tables import DacTable
from .data import DAY_MS, DataStore, RecordChange

DEFAULT_TRACKED = ("SOOrder", "SOLine", "Customer")
DEFAULT_DAYS_TO_KEEP = 10
SCREEN = "Tables to Track Deleted Records (SM207010)"


@dataclass(frozen=True)
class DeletedRecord:
    ref_note_id: str
    delete_ms: int


class DeletedRecordTracker:
    """Listens to the store and keeps the deletions of the tracked DACs for the retention period."""

    def __init__(self, store: DataStore, tables: Iterable[DacTable]) -> None:
        self._store = store
        self._tables = {table.name: table for table in tables}
        self._lock = threading.Lock()
        self._tracked = set(DEFAULT_TRACKED)
        self._days = DEFAULT_DAYS_TO_KEEP
        self._log: dict[str, list[DeletedRecord]] = {name: [] for name in self._tables}
        store.add_listener(self._on_change)

    def is_tracked(self, name: str) -> bool:
        with self._lock:
            return name in self._tracked

    def entries(self, name: str) -> list[DeletedRecord]:
        """The DAC's deletions still within the retention, oldest first."""
        with self._lock:
            self._purge()
            return list(self._log[name])

    def settings(self) -> dict[str, Any]:
        with self._lock:
            self._purge()
            return {
                "tracked": sorted(self._tracked),
                "days_to_keep": self._days,
                "recorded": {name: len(entries) for name, entries in self._log.items() if entries},
            }

    def configure(self, tracked: Iterable[str] | None, days_to_keep: int | None, age_days: float) -> None:
        """Replace the tracked set and/or the retention; age every recorded entry by `age_days`."""
        shift = int(age_days * DAY_MS)
        with self._lock:
            if tracked is not None:
                self._tracked = set(tracked)
            if days_to_keep is not None:
                self._days = days_to_keep
            if shift:
                self._log = {
                    name: [replace(entry, delete_ms=entry.delete_ms - shift) for entry in entries]
                    for name, entries in self._log.items()
                }

    def _purge(self) -> None:
        cutoff = self._store.now_ms() - self._days * DAY_MS
        for name, entries in self._log.items():
            if entries and entries[0].delete_ms < cutoff:
                self._log[name] = [entry for entry in entries if entry.delete_ms >= cutoff]

    def _on_change(self, change: RecordChange) -> None:
        if change.kind == "inserted":
            return
        with self._lock:
            tables = [t for t in self._tables.values() if t.entity == change.entity and t.name in self._tracked]
            for table in tables:
                for note_id in _removed(table, change):
                    self._log[table.name].append(DeletedRecord(note_id, change.at_ms))


def _removed(table: DacTable, change: RecordChange) -> list[str]:
    """NoteIDs of the table's rows that the change removed."""
    if table.detail is None:
        return [change.record_id] if change.kind == "deleted" else []
    before = change.before_view()
    if before is None:
        return []
    after = change.after_view()
    kept = {line.get("_id") for line in after.details()} if after is not None else set()
    return [str(line["_id"]) for line in before.details() if line.get("_id") not in kept]


def parse_settings(body: Mapping[str, Any], tables: Iterable[DacTable]) -> tuple[list[str] | None, int | None, float]:
    """Validate a `POST /_sandbox/deleted_records` body; raises ValueError naming the problem and the fix.

    DACs may be named by class (`SOOrder`) or in full (`PX.Objects.SO.SOOrder`); the result holds class names."""
    names = {alias: table.name for table in tables for alias in (table.name, table.full_name)}
    unknown = set(body) - {"tracked", "days_to_keep", "age_days"}
    if unknown:
        raise ValueError(f"Unknown field(s): {', '.join(sorted(unknown))}. Use tracked, days_to_keep and age_days.")
    tracked = body.get("tracked")
    if tracked is not None:
        if not isinstance(tracked, list) or not all(isinstance(name, str) for name in tracked):
            raise ValueError('tracked must be a list of DAC names, e.g. ["SOOrder", "SOLine"].')
        missing = [name for name in tracked if name not in names]
        if missing:
            known = sorted(set(names.values()))
            raise ValueError(f"Unknown DAC(s): {', '.join(missing)}. Known DACs: {', '.join(known)}.")
        tracked = [names[name] for name in tracked]
    days = body.get("days_to_keep")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 1):
        raise ValueError("days_to_keep must be an integer >= 1 (SM207010's Days to Keep Records).")
    age = body.get("age_days", 0)
    if isinstance(age, bool) or not isinstance(age, int | float) or age < 0:
        raise ValueError("age_days must be a number >= 0: how many days to move the recorded deletions back.")
    return tracked, days, float(age)
