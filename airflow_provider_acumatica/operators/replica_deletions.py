"""Which records left the ERP in a replica's interval, by the deletion mode a replicate task is given.

- "tracked": the interval's `px.GetDeletedRecords()` of the entity's DAC (Tables to Track Deleted Records,
  SM207010). A window that starts before the retention (the last run was too long ago) may have lost purged
  deletions, so the run reconciles instead and says so.
- "reconcile": every live id is listed (one short field per record) and the table's ids no longer live go.
- "auto": tracked when the DAC is tracked; otherwise a reconcile when the last one is older than
  `reconcile_every`, plain upserts between.
- "none": upserts only; deleted records stay in the table.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow_provider_acumatica.catalog import dac_of
from airflow_provider_acumatica.exceptions import AcumaticaConfigError, AcumaticaDeletionsNotTrackedError
from airflow_provider_acumatica.hooks.acumatica import AcumaticaHook
from airflow_provider_acumatica.incremental import Window
from airflow_provider_acumatica.sinks.base import KEY_COLUMN, TableSink

DELETION_MODES = ("auto", "tracked", "reconcile", "none")
RECONCILED_AT = "reconciled_at"


def check_deletion_mode(mode: object) -> str:
    if mode not in DELETION_MODES:
        raise AcumaticaConfigError(f"deletes must be one of {', '.join(DELETION_MODES)}, not {mode!r}.")
    return str(mode)


@dataclass(frozen=True)
class DeletionPolicy:
    mode: str
    retention: timedelta
    reconcile_every: timedelta


@dataclass(frozen=True)
class FoundDeletions:
    """The mode that was used ("tracked", "reconcile" or "none") and the ids to delete."""

    mode: str
    ids: frozenset[str]


class Deletions:
    """Finds an interval's deletions of one entity on the hook's session, against the table in the sink."""

    def __init__(
        self, hook: AcumaticaHook, sink: TableSink, entity: str, version: str, log: Any, page_size: int
    ) -> None:
        self._hook = hook
        self._sink = sink
        self._entity = entity
        self._version = version
        self._log = log
        self._page_size = page_size

    def find(self, policy: DeletionPolicy, window: Window, changed: Set[str]) -> FoundDeletions:
        if policy.mode == "none":
            return FoundDeletions("none", frozenset())
        if policy.mode == "reconcile":
            return self._reconciled(changed)
        if window.start < datetime.now(UTC) - policy.retention:
            self._log.warning(
                "The window of %s starts at %s, before the %s-day retention of deleted records: deletions older "
                "than that may be purged, so this run reconciles the table with the live ids instead.",
                self._entity,
                window.start.isoformat(),
                policy.retention.days,
            )
            return self._reconciled(changed)
        if policy.mode == "tracked":
            return self._tracked(dac_of(self._entity, self._hook.settings.endpoint_name), window)
        return self._automatic(policy, window, changed)

    def _automatic(self, policy: DeletionPolicy, window: Window, changed: Set[str]) -> FoundDeletions:
        """Tracked deletions where they can be read; where not (untracked DAC, no DAC, no OData access), say why."""
        try:
            return self._tracked(dac_of(self._entity, self._hook.settings.endpoint_name), window)
        except AcumaticaDeletionsNotTrackedError as untracked:
            self._log.info("Deletions of %s are not tracked: %s", self._entity, _first_sentence(untracked))
        except AcumaticaConfigError as unreadable:
            self._log.warning("Deletions of %s cannot be read: %s", self._entity, _first_sentence(unreadable))
        if self._reconcile_due(policy.reconcile_every):
            self._log.info("Reconciling %s with the live ids (due every %s).", self._entity, policy.reconcile_every)
            return self._reconciled(changed)
        self._log.info(
            "The next reconcile of %s is due %s after the last one; until then deleted records stay.",
            self._entity,
            policy.reconcile_every,
        )
        return FoundDeletions("none", frozenset())

    def _tracked(self, dac: str, window: Window) -> FoundDeletions:
        ids = {
            row[KEY_COLUMN] for row in self._hook.iter_deleted(dac, window.start, window.end, page_size=self._page_size)
        }
        self._log.info("%s deletions of %s (%s) in the window.", len(ids), self._entity, dac)
        return FoundDeletions("tracked", frozenset(ids))

    def _reconciled(self, changed: Set[str]) -> FoundDeletions:
        stored = self._sink.read(self._entity, [KEY_COLUMN])
        if stored is None:
            return FoundDeletions("reconcile", frozenset())
        live = set(self._hook.iter_ids(self._entity, page_size=self._page_size, endpoint_version=self._version))
        gone = set(stored[KEY_COLUMN].to_pylist()) - live - set(changed)
        self._log.info("Reconciled %s: %s live records, %s rows no longer live.", self._entity, len(live), len(gone))
        return FoundDeletions("reconcile", frozenset(gone))

    def _reconcile_due(self, every: timedelta) -> bool:
        last = self._sink.last_note(self._entity, RECONCILED_AT)
        return last is None or datetime.now(UTC) - datetime.fromisoformat(last) >= every


def _first_sentence(error: Exception) -> str:
    text = str(error)
    return text.split(". ")[0].rstrip(".") + "."
