"""A pull of a window that ended in the past while the sandbox inserts, modifies and deletes records in it,
and the checks of what the pull handed over (docs/exactness.md, "The change-stream test").

Each scenario starts a fresh sandbox with the same seed and the same change stream, so a client that
sends the same requests meets the same edits.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from airflow_provider_acumatica.incremental import Window
from airflow_provider_acumatica.records import unwrap_record
from airflow_provider_acumatica.sandbox import SandboxConfig, SandboxServer
from airflow_provider_acumatica.sandbox.change_stream import ChangeStreamSettings

ENTITY, FIELD, VERSION = "SalesOrder", "LastModified", "24.200.001"
RECORDS, PAGE_SIZE, MARGIN = 5000, 200, 100
STREAM = ChangeStreamSettings(every=2, inserts=2, updates=3, deletes=3, seed=7)

Record = dict[str, Any]


def plain(record: Record) -> Record:
    """A record as the flattened file holds it, without `rowNumber` (a position in one response)."""
    return {key: value for key, value in unwrap_record(record).items() if key != "rowNumber"}


def modified_at(record: Record) -> datetime:
    return datetime.fromisoformat(record[FIELD])


@dataclass
class Verdict:
    """What a pull handed over, judged against the window at the start and the data at the end."""

    handed: int
    at_start: int
    steady: int
    missing: set[str] = field(default_factory=set)
    repeated: set[str] = field(default_factory=set)
    foreign: set[str] = field(default_factory=set)
    stale: set[str] = field(default_factory=set)
    modified_since_read: int = 0
    deleted_since_read: int = 0

    @property
    def exact(self) -> bool:
        return not (self.missing or self.repeated or self.foreign or self.stale)


class Scenario:
    """The window (all but MARGIN records at each end, by last-modified time) and the data before the pull."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        records = [plain(record) for record in server.store.iter_records(ENTITY)]
        stamps = sorted(modified_at(record) for record in records)
        self.window = Window(stamps[MARGIN - 1], stamps[-MARGIN])
        self.at_start = {record["id"]: record for record in records if self._inside(record)}

    @property
    def filter(self) -> str:
        return self.window.filter(FIELD, VERSION)

    @property
    def context(self) -> dict[str, datetime]:
        return {"data_interval_start": self.window.start, "data_interval_end": self.window.end}

    def stream_status(self) -> dict[str, int]:
        return self.server.app.change_streams.status()[ENTITY]

    def judge(self, handed: list[Record]) -> Verdict:
        """Steady records (in the window, unchanged, from start to end) exactly once; nothing from outside the
        window at the start; whatever was modified after it was read is now stamped past the window's end, so
        the next interval has it. `handed` are flattened records (`unwrap_record`)."""
        latest = {record["id"]: record for record in map(plain, self.server.store.iter_records(ENTITY))}
        steady = {key for key, record in self.at_start.items() if latest.get(key) == record}
        counts = Counter(record["id"] for record in handed)
        verdict = Verdict(handed=len(handed), at_start=len(self.at_start), steady=len(steady))
        verdict.missing = {key for key in steady if counts[key] != 1}
        verdict.repeated = {key for key, count in counts.items() if count > 1}
        verdict.foreign = set(counts) - set(self.at_start)
        for record in handed:
            now = latest.get(record["id"])
            if now is None:
                verdict.deleted_since_read += 1
            elif now != without_row_number(record):
                verdict.modified_since_read += 1
                if modified_at(now) <= self.window.end:
                    verdict.stale.add(record["id"])
        return verdict

    def _inside(self, record: Record) -> bool:
        return self.window.start < modified_at(record) <= self.window.end


def without_row_number(record: Record) -> Record:
    return {key: value for key, value in record.items() if key != "rowNumber"}


@contextmanager
def changing_sandbox(**config: Any) -> Iterator[Scenario]:
    """A fresh sandbox whose change stream edits the entity before every STREAM.every-th list request."""
    settings = SandboxConfig(records=10, entity_records={ENTITY: RECORDS}, changes_per_hour=0, **config)
    with SandboxServer(settings) as server:
        scenario = Scenario(server)
        server.app.change_streams.set(ENTITY, STREAM)
        yield scenario
