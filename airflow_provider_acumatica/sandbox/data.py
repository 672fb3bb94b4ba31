"""Deterministic synthetic Acumatica data, generated on demand so a million-record store costs almost nothing.

Interface published first so the HTTP server can import it; the implementation follows in this module.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any


def utc_now() -> datetime:
    return datetime.now(UTC)


class DataStore:
    """Records for one seed: generated from (seed, entity, index), plus an overlay of writes and a change schedule."""

    def __init__(
        self,
        seed: int = 1,
        record_counts: Mapping[str, int] | None = None,
        default_count: int = 1000,
        clock: Callable[[], datetime] = utc_now,
        changes_per_hour: int = 120,
    ) -> None:
        self.seed = seed
        self.clock = clock
        self.changes_per_hour = changes_per_hour
        self.start = clock()
        self._counts = dict(record_counts or {})
        self._default_count = default_count
        self._lock = threading.RLock()

    def count(self, entity: str) -> int:
        """Live records of an entity right now."""
        raise NotImplementedError

    def iter_records(
        self, entity: str, version: str = "24.200.001", expand: Sequence[str] = (), at: datetime | None = None
    ) -> Iterator[dict[str, Any]]:
        """Ground truth: every record exactly as a list GET without `$select` would serve it."""
        raise NotImplementedError

    def upsert(self, entity: str, version: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Insert or update from an API-shaped body; returns the resulting record as the API serves it."""
        raise NotImplementedError

    def delete(self, entity: str, key_or_id: str | Sequence[str]) -> bool:
        """Delete by NoteID or key values; False when no such live record."""
        raise NotImplementedError

    def apply_changes(
        self, entity: str, inserts: int, updates: int, deletes: int, seed: int
    ) -> dict[str, Any]:
        """Deterministically insert, modify and delete records now, to disturb an extraction in flight."""
        raise NotImplementedError
