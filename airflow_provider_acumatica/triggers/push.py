"""`AcumaticaPushTrigger`: wake a DAG when the push receiver has spooled new Acumatica notifications.

The receiver (`acumatica-push-receiver`) writes each notification once into `pending/` of a spool; this trigger
watches that folder and yields one event per batch: a burst coalesces into one event, because it waits
`settle_seconds` after the first new notification before it takes the batch. A notification moves to
`consumed/` only once the event is handed over:

* on Airflow 3.3, in ack mode: the triggerer calls `advance` after the event is stored in the metadata
  database, and redelivers what was not, also after a restart;
* before 3.3, when the triggerer asks for the next event, which it does once it queued this one; a triggerer
  killed in between loses that event, and the DAG's timetable run picks the changes up (a lost event costs
  latency, never data, because the run's incremental pull decides what lands).

A restarted trigger re-emits whatever is still pending (at least once; the runs are idempotent). The kwargs are
names and limits only, so the dag processor keeps one trigger across parses.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections import Counter
from collections.abc import AsyncIterator, Hashable, Sequence
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from airflow_provider_acumatica.push.spool import Spool, SpooledNotification

# Airflow 3.3's shared streams with ack mode; before that every trigger runs its own `run()`.
ACK_MODE = importlib.util.find_spec("airflow.triggers.shared_stream") is not None
# Bounds on what an event carries: it lands in the asset event's extra.
MAX_IDS = 50
MAX_SUMMARIES = 20
MAX_KEYS_PER_SUMMARY = 10


class AcumaticaPushTrigger(BaseEventTrigger):
    """Fire once per batch of new notifications in `spool` (a folder or an object-store URI).

    `queries`, when given, keeps only notifications of those generic inquiries (the `Query` of the payload);
    the rest stay pending for other triggers. Event payload: `spool`, `notifications`, `queries` (count per
    query), `first_timestamp`/`last_timestamp` (Acumatica's transaction ticks), `ids` (bounded), `summaries`
    (bounded changed-row keys per notification) and `truncated`."""

    def __init__(
        self,
        *,
        spool: str,
        spool_conn_id: str | None = None,
        queries: Sequence[str] | None = None,
        poll_interval: float = 5.0,
        settle_seconds: float = 2.0,
        max_batch: int = 1000,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        if poll_interval <= 0 or settle_seconds < 0 or max_batch < 1:
            raise ValueError(
                "poll_interval must be positive, settle_seconds not negative and max_batch at least 1 "
                f"(got {poll_interval}, {settle_seconds}, {max_batch})."
            )
        self.spool = spool
        self.spool_conn_id = spool_conn_id
        self.queries = sorted(queries) if queries is not None else None
        self.poll_interval = poll_interval
        self.settle_seconds = settle_seconds
        self.max_batch = max_batch

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__name__}",
            {
                "spool": self.spool,
                "spool_conn_id": self.spool_conn_id,
                "queries": self.queries,
                "poll_interval": self.poll_interval,
                "settle_seconds": self.settle_seconds,
                "max_batch": self.max_batch,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Before 3.3: consume a batch when the triggerer comes back for the next event."""
        watcher = SpoolWatcher(self.spool, self.spool_conn_id, self.poll_interval, self.settle_seconds)
        watcher.wanted = self._wanted
        self.log.info("Watching the push spool %s every %g s.", self.spool, self.poll_interval)
        async for batch in watcher.batches(self.max_batch):
            yield event_for(self.spool, batch)
            await watcher.done([item.name for item in batch])

    def _wanted(self, item: SpooledNotification) -> bool:
        return self.queries is None or item.notification.query in self.queries

    def shared_stream_key(self) -> Hashable | None:
        """On 3.3 every trigger on one spool shares one watcher, and ack mode consumes only what persisted."""
        if not ACK_MODE:
            return None
        return ("acumatica-push-spool", self.spool, self.spool_conn_id, self.poll_interval, self.settle_seconds)

    @classmethod
    def create_shared_stream_producer(cls, kwargs: dict[str, Any]) -> Any:
        from airflow_provider_acumatica.triggers.push_ack import SpoolProducer

        watcher = SpoolWatcher(
            kwargs["spool"], kwargs["spool_conn_id"], kwargs["poll_interval"], kwargs["settle_seconds"]
        )
        return SpoolProducer(watcher, int(kwargs["max_batch"]))

    async def filter_shared_stream(self, shared_stream: AsyncIterator[Any]) -> AsyncIterator[TriggerEvent]:
        self.log.info("Watching the push spool %s every %g s, in ack mode.", self.spool, self.poll_interval)
        async for batch in shared_stream:
            mine = [item for item in batch if self._wanted(item)]
            if mine:
                yield event_for(self.spool, mine)


class SpoolWatcher:
    """Finds the spool's new notifications; the blocking listing runs in a thread."""

    def __init__(self, location: str, conn_id: str | None, poll_interval: float, settle_seconds: float) -> None:
        self.location = location
        self.spool = Spool.at(location, conn_id)
        self.poll_interval = poll_interval
        self.settle_seconds = settle_seconds
        self.handed_out: set[str] = set()
        self.wanted = _everything

    async def batches(self, max_batch: int) -> AsyncIterator[list[SpooledNotification]]:
        """Forever: wait for something new, let a burst settle, then hand out up to `max_batch` of it."""
        while True:
            if not await self._new():
                await asyncio.sleep(self.poll_interval)
                continue
            await asyncio.sleep(self.settle_seconds)
            batch = (await self._new())[:max_batch]
            self.handed_out.update(item.name for item in batch)
            yield batch

    def release(self, names: Sequence[str]) -> None:
        """Hand these out again: their event was not stored."""
        self.handed_out.difference_update(names)

    async def done(self, names: Sequence[str]) -> None:
        """Their event was handed over: move them to `consumed/`, where they still catch resent duplicates."""
        await asyncio.to_thread(self.spool.consume, names)
        self.handed_out.difference_update(names)

    async def _new(self) -> list[SpooledNotification]:
        pending = await asyncio.to_thread(self.spool.pending)
        return [item for item in pending if item.name not in self.handed_out and self.wanted(item)]


def _everything(item: SpooledNotification) -> bool:
    return True


def event_for(spool: str, batch: Sequence[SpooledNotification]) -> TriggerEvent:
    """A bounded description of the batch: counts, ids and changed-row keys, never whole records."""
    notifications = [item.notification for item in batch]
    timestamps = [notification.timestamp for notification in notifications]
    payload = {
        "spool": spool,
        "notifications": len(notifications),
        "queries": dict(Counter(notification.query for notification in notifications)),
        "first_timestamp": min(timestamps),
        "last_timestamp": max(timestamps),
        "ids": [notification.id for notification in notifications[:MAX_IDS]],
        "summaries": [n.summary(max_keys=MAX_KEYS_PER_SUMMARY) for n in notifications[:MAX_SUMMARIES]],
        "truncated": len(notifications) > MAX_SUMMARIES,
    }
    return TriggerEvent(payload)  # type: ignore[no-untyped-call]
