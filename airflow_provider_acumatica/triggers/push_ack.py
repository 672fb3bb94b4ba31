"""Ack mode of the push trigger (Airflow 3.3+): consume a batch only once its events are stored."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from airflow.triggers.shared_stream import AdvanceItem, SharedStreamProducer

from airflow_provider_acumatica.triggers.push import SpoolWatcher


class SpoolProducer(SharedStreamProducer):
    """The triggerer's shared poll of one spool; `advance` runs after the events of a batch persisted."""

    def __init__(self, watcher: SpoolWatcher, max_batch: int) -> None:
        self.watcher = watcher
        self.max_batch = max_batch

    async def open_stream(self) -> AsyncIterator[tuple[Any, Any]]:
        async for batch in self.watcher.batches(self.max_batch):
            yield batch, [item.name for item in batch]

    async def advance(self, batch: Sequence[AdvanceItem]) -> None:
        """A batch every trigger took (or refused) is consumed; one not stored in time, or seen by no trigger
        at all, is handed out again."""
        for item in batch:
            names: list[str] = item.broker_payload
            outcome = item.outcome
            if outcome.failed == 0 and outcome.acked + outcome.rejected > 0:
                await self.watcher.done(names)
            else:
                self.watcher.release(names)
