"""Push notifications as on SM302000: webhook destinations watching entities, one notification per committed write.

A destination is `{name, address, header_name, header_value, entities, queries}`. `entities` lists REST entity
names (e.g. `["Customer", "SalesOrder"]`), each watched through a generic-inquiry-like query named
`"<Entity>: Last Modified"`; `queries` maps further query names to the entity they watch, e.g.
`{"Open Orders": "SalesOrder"}`. Every write of a watched entity, whatever path made it (REST `PUT`/`DELETE`,
`POST /_sandbox/changes`, the change stream), becomes one notification per watching query, in Acumatica's format:

    {"Inserted": [row], "Deleted": [row], "Query": ..., "CompanyId": <tenant>, "Id": <uuid4>,
     "TimeStamp": <.NET UTC ticks>, "AdditionalInfo": {"PXPerformanceInfoStartTime": "MM/dd/yyyy HH:mm:ss"}}

A row is flat: the record's key fields, `<DAC>_lastModifiedDateTime` and a few plain fields. An insert fills only
`Inserted`, a delete only `Deleted`, an update puts the new row in `Inserted` and the old one in `Deleted`.
`TimeStamp` grows strictly from one notification to the next. `push_delivery` sends them.
"""

from __future__ import annotations

import random
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from . import catalog
from .data import RecordChange, RecordView

TICKS_AT_EPOCH = 621_355_968_000_000_000
TICKS_PER_MS = 10_000
PLAIN_FIELDS = ("Status", "Description", "CustomerName", "VendorName", "OrderTotal", "Amount")
DESTINATION_KEYS = frozenset({"name", "address", "header_name", "header_value", "entities", "queries"})
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Destination:
    name: str
    address: str
    header_name: str | None
    header_value: str | None
    watches: Mapping[str, str]  # query name -> entity

    def view(self) -> dict[str, Any]:
        """As listed: the header value, the destination's only credential, is masked."""
        return {
            "name": self.name,
            "address": self.address,
            "header_name": self.header_name,
            "header_value": None if self.header_value is None else "***",
            "queries": dict(self.watches),
        }


@dataclass(frozen=True)
class Knobs:
    """Delivery faults; the defaults are a well-behaved server that retries a failure after a second."""

    duplicate_rate: float = 0.0
    reorder: bool = False
    delay_seconds: float = 0.0
    drop_rate: float = 0.0
    split_updates: bool = False
    seed: int = 0
    retry_delay_seconds: float = 1.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Notification:
    destination: Destination
    payload: Mapping[str, Any]


def _text(body: Mapping[str, Any], name: str, required: bool) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string.")
    return value


def _entity(name: Any) -> str:
    if not isinstance(name, str) or name not in catalog.ENTITIES:
        raise ValueError(f"Unknown entity {name!r}; the entities are {', '.join(sorted(catalog.ENTITIES))}.")
    return name


def _watches(body: Mapping[str, Any]) -> dict[str, str]:
    entities, queries = body.get("entities", []), body.get("queries", {})
    if not isinstance(entities, list):
        raise ValueError('entities must be a list of entity names, e.g. ["Customer", "SalesOrder"].')
    if not isinstance(queries, dict):
        raise ValueError('queries must map query names to entities, e.g. {"Open Orders": "SalesOrder"}.')
    watches = {f"{_entity(name)}: Last Modified": name for name in entities}
    watches.update({str(query): _entity(entity) for query, entity in queries.items()})
    if not watches:
        raise ValueError("Watch something: give entities and/or queries.")
    return watches


def parse_destination(body: Mapping[str, Any]) -> Destination:
    """Validate a `POST /_sandbox/push/destinations` body; raises ValueError naming the problem and the fix."""
    unknown = set(body) - DESTINATION_KEYS
    if unknown:
        keys = ", ".join(sorted(DESTINATION_KEYS))
        raise ValueError(f"Unknown field(s): {', '.join(sorted(unknown))}; a destination has {keys}.")
    name = _text(body, "name", True) or ""
    if "/" in name:
        raise ValueError("name must not contain '/', it is part of the DELETE URL.")
    address = _text(body, "address", True) or ""
    parts = urlsplit(address)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"address must be an http(s) URL such as http://127.0.0.1:8080/hook, not {address!r}.")
    header_name, header_value = _text(body, "header_name", False), _text(body, "header_value", False)
    if (header_name is None) != (header_value is None):
        raise ValueError("header_name and header_value go together.")
    if header_name is not None and not HEADER_NAME.fullmatch(header_name):
        raise ValueError(f"header_name {header_name!r} is not an HTTP header name.")
    if header_value is not None and ("\r" in header_value or "\n" in header_value):
        raise ValueError("header_value must be one line.")
    return Destination(name, address, header_name, header_value, _watches(body))


def _rate(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a number from 0 to 1.")
    return float(value)


def _seconds(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{name} must be a number of seconds >= 0.")
    return float(value)


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false.")
    return value


def _seed(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer.")
    return value


_KNOB_CHECKS: dict[str, Callable[[Any, str], Any]] = {
    "duplicate_rate": _rate,
    "drop_rate": _rate,
    "delay_seconds": _seconds,
    "retry_delay_seconds": _seconds,
    "reorder": _flag,
    "split_updates": _flag,
    "seed": _seed,
}


def update_knobs(knobs: Knobs, changes: Mapping[str, Any]) -> Knobs:
    """The knobs with `changes` applied; raises ValueError on an unknown key or a bad value."""
    unknown = set(changes) - set(_KNOB_CHECKS)
    if unknown:
        raise ValueError(f"Unknown knob(s): {', '.join(sorted(unknown))}; the knobs are {', '.join(_KNOB_CHECKS)}.")
    return replace(knobs, **{name: _KNOB_CHECKS[name](value, name) for name, value in changes.items()})


def to_ticks(ms: int) -> int:
    """.NET UTC ticks (100 ns since 0001-01-01), what Acumatica's TimeStamp looks like."""
    return TICKS_AT_EPOCH + ms * TICKS_PER_MS


def _moment(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


def _modified_text(ms: int) -> str:
    """As in the documented sample, `2024-05-05T15:16:23.1`: no zone, trailing zeros of the fraction cut."""
    moment = _moment(ms)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}".rstrip("0").rstrip(".")


def row(view: RecordView) -> dict[str, Any]:
    """The record as a generic inquiry's flat row: keys, last-modified time and a few plain columns."""
    entity = view.entity
    values = view.values
    dac = (entity.dac or entity.name).rsplit(".", 1)[-1]
    modified, _ = view.snap.last_modified(view.index)
    out = {key: values[key] for key in entity.keys}
    out[f"{dac}_lastModifiedDateTime"] = _modified_text(modified)
    out.update({name: values[name] for name in PLAIN_FIELDS if name in values})
    return out


@dataclass(frozen=True)
class Watch:
    """One committed write seen by one destination's query; turned into notifications off the write's lock."""

    destination: Destination
    query: str
    change: RecordChange


class PushNotifications:
    """Destinations and knobs: which writes make which notifications, built as Acumatica builds them."""

    def __init__(self, company: str) -> None:
        self._company = company
        self._lock = threading.Lock()
        self._destinations: dict[str, Destination] = {}
        self._knobs = Knobs()
        self._rng = random.Random(self._knobs.seed)
        self._last_ticks = 0

    @property
    def knobs(self) -> Knobs:
        with self._lock:
            return self._knobs

    def set_knobs(self, changes: Mapping[str, Any]) -> Knobs:
        with self._lock:
            self._knobs = update_knobs(self._knobs, changes)
            if "seed" in changes:
                self._rng = random.Random(self._knobs.seed)
            return self._knobs

    def chance(self, rate: float) -> bool:
        with self._lock:
            return rate > 0 and self._rng.random() < rate

    def register(self, destination: Destination) -> None:
        """A name already registered is replaced, as editing the destination on SM302000 would."""
        with self._lock:
            self._destinations[destination.name] = destination

    def remove(self, name: str) -> bool:
        with self._lock:
            return self._destinations.pop(name, None) is not None

    def destinations(self) -> list[dict[str, Any]]:
        with self._lock:
            return [destination.view() for destination in self._destinations.values()]

    def reset(self) -> None:
        with self._lock:
            self._destinations.clear()
            self._knobs = Knobs()
            self._rng = random.Random(self._knobs.seed)

    def watches(self, change: RecordChange) -> list[Watch]:
        """What the write concerns; cheap, as it runs inside the store's write lock."""
        with self._lock:
            return [
                Watch(destination, query, change)
                for destination in self._destinations.values()
                for query, entity in destination.watches.items()
                if entity == change.entity
            ]

    def notifications(self, watch: Watch, split: bool) -> list[Notification]:
        """The write as Acumatica sends it; `split` sends an update's two halves as two notifications."""
        before, after = watch.change.before_view(), watch.change.after_view()
        inserted = [row(after)] if after is not None else []
        deleted = [row(before)] if before is not None else []
        halves = [(inserted, []), ([], deleted)] if split and inserted and deleted else [(inserted, deleted)]
        return [self._notification(watch, new, old) for new, old in halves]

    def _notification(self, watch: Watch, inserted: list[Any], deleted: list[Any]) -> Notification:
        at_ms = watch.change.at_ms
        with self._lock:
            self._last_ticks = max(self._last_ticks + 1, to_ticks(at_ms))
            ticks = self._last_ticks
        payload = {
            "Inserted": inserted,
            "Deleted": deleted,
            "Query": watch.query,
            "CompanyId": self._company,
            "Id": str(uuid.uuid4()),
            "TimeStamp": ticks,
            "AdditionalInfo": {"PXPerformanceInfoStartTime": f"{_moment(at_ms):%m/%d/%Y %H:%M:%S}"},
        }
        return Notification(watch.destination, payload)
