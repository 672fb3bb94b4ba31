"""A seeded stream of edits that disturbs extractions in flight, the same way on every run.

A change stream on an entity makes every `every`-th list request to it (`GET /entity/<endpoint>/<version>/<Entity>`,
no id, or a DAC-based OData read of one of its DACs, `GET /t/<tenant>/api/odata/dac/SOOrder`) first apply
`DataStore.apply_changes(entity, inserts, updates, deletes, seed)`, then serve the list. So a test can insert,
modify and delete records between the pages of a pull. `apply_changes` draws its picks from the seed, the entity
and the number of changes made so far, so the same seed and the same sequence of list requests give the same edits.

* Over HTTP: `POST /_sandbox/change_stream` with `{"entity": "SalesOrder", "every": 3, "inserts": 1, "updates": 2,
  "deletes": 2, "seed": 7}`; `"every": 0` stops it. `GET /_sandbox/change_stream` reports each stream's settings
  and what it did: list requests seen, edits applied, records inserted, updated and deleted.
* In Python: `server.app.change_streams.set("SalesOrder", ChangeStreamSettings(every=3, updates=2, seed=7))`.

`POST /_sandbox/reset` stops every stream.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from . import catalog
from .data import DataStore
from .protocol import Request, Response

SETTINGS = ("every", "inserts", "updates", "deletes", "seed")


@dataclass(frozen=True)
class ChangeStreamSettings:
    """Every `every`-th list request applies this many inserts, updates and deletes, drawn from `seed`."""

    every: int
    inserts: int = 0
    updates: int = 0
    deletes: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in SETTINGS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0, not {value!r}.")
        if self.every == 0:
            raise ValueError("every must be at least 1; send every=0 to the admin route to stop a stream.")


def parse_settings(body: Mapping[str, Any]) -> tuple[str, ChangeStreamSettings | None]:
    """The entity and its settings from an admin request body; None settings (every=0) stop the stream."""
    entity = body.get("entity")
    if not isinstance(entity, str) or entity not in catalog.ENTITIES:
        raise ValueError(f"entity must be one of {', '.join(sorted(catalog.ENTITIES))}, not {entity!r}.")
    unknown = set(body) - {"entity", *SETTINGS}
    if unknown:
        raise ValueError(f"Unknown field(s): {', '.join(sorted(unknown))}.")
    if "every" not in body:
        raise ValueError("every (list requests between two edits, 0 to stop) is required.")
    if body["every"] == 0 and not isinstance(body["every"], bool):
        return entity, None
    return entity, ChangeStreamSettings(**{name: body[name] for name in SETTINGS if name in body})


def listed_entity(request: Request) -> str | None:
    """The entity a contract request lists, or None for anything else (one record, swagger, writes)."""
    parts = [part for part in request.path.split("/") if part]
    if request.method != "GET" or len(parts) != 4 or parts[0] != "entity":
        return None
    return parts[3] if parts[3] in catalog.ENTITIES else None


@dataclass
class _Stream:
    settings: ChangeStreamSettings
    list_requests: int = 0
    applied: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0

    def status(self) -> dict[str, int]:
        counters = {key: value for key, value in asdict(self).items() if key != "settings"}
        return {**asdict(self.settings), **counters}


class ChangeStreams:
    """The change streams of one sandbox, at most one per entity."""

    def __init__(self, store: DataStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._streams: dict[str, _Stream] = {}

    def set(self, entity: str, settings: ChangeStreamSettings | None) -> dict[str, int]:
        """Start (or restart, counters at zero) the entity's stream; None stops it. Returns its status."""
        if entity not in catalog.ENTITIES:
            raise ValueError(f"unknown entity {entity!r}")
        with self._lock:
            if settings is None:
                self._streams.pop(entity, None)
                return {}
            stream = self._streams[entity] = _Stream(settings)
            return stream.status()

    def clear(self) -> None:
        with self._lock:
            self._streams.clear()

    def status(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {entity: stream.status() for entity, stream in self._streams.items()}

    def before(self, handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        """`handler`, preceded by the edits due on the list request it is about to serve."""

        def serve(request: Request) -> Response:
            entity = listed_entity(request)
            if entity is not None:
                self.observe(entity)
            return handler(request)

        return serve

    def observe(self, entity: str) -> None:
        """Count one list request to `entity`, applying the stream's edits when they are due."""
        with self._lock:
            stream = self._streams.get(entity)
            if stream is None:
                return
            stream.list_requests += 1
            if stream.list_requests % stream.settings.every:
                return
            settings = stream.settings
            result = self._store.apply_changes(
                entity, settings.inserts, settings.updates, settings.deletes, seed=settings.seed
            )
            stream.applied += 1
            stream.inserted += len(result["inserted"])
            stream.updated += len(result["updated"])
            stream.deleted += len(result["deleted"])
