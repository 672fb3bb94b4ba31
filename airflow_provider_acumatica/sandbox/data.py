"""Deterministic synthetic Acumatica data, generated on demand so a million-record store costs almost nothing.

A record is a pure function of (seed, entity, index): index order is key order, the NoteID `id` is an invertible
encoding of the index, created times grow with the index. On top of that sit two layers:

* a modification schedule: per entity, `changes_per_hour` events (time, index) in every hour from a week before the
  store started, generated hour by hour as the clock reaches them. A record's state at time T reflects its events up
  to T (a newer last-modified time and a changed status/amount), so incremental pulls find changes as time passes;
* an overlay of writes (PUT, DELETE, `apply_changes`), copied on write so readers never need the lock for long.

Last-modified ranges are answered from those structures (never-modified records are a contiguous index range by
created time); other filters scan once, and the matching indexes (`array('I')`) are cached and patched with only
the records touched since, so paging with `$skip` costs O(page).
"""

from __future__ import annotations

import bisect
import random
import threading
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from . import catalog, generate, shape
from .filters import CompiledFilter, TimeRange

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
HISTORY_MS = 730 * DAY_MS
SCHEDULE_LEAD_MS = 7 * DAY_MS
CACHE_ENTRIES = 8
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_MASK32 = 0xFFFFFFFF
NOTES = ("Call before delivery.", "Preferred customer.", "Check credit terms.", "Ship complete only.")


def utc_now() -> datetime:
    return datetime.now(UTC)


def to_ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _MS


class WriteError(Exception):
    """A write the API refuses; carries the HTTP status and the body the real server would send."""

    def __init__(self, status: int, payload: Any) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.payload = payload


@dataclass(frozen=True)
class Overlay:
    """A record's write state: explicit values over (or instead of) generated ones, and its deletion flag."""

    created: int
    modified: int
    keys: tuple[str, ...]
    generated: bool = True
    bumps: int = 0
    deleted: bool = False
    values: Mapping[str, Any] = field(default_factory=dict)
    linked: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    details: tuple[Mapping[str, Any], ...] | None = None


class Selection(Protocol):
    """An ordered list of record indexes that can be sliced without materialising the whole list."""

    def __len__(self) -> int: ...

    def slice(self, start: int, stop: int | None) -> Iterator[int]: ...


class IndexList:
    def __init__(self, indexes: array[int]) -> None:
        self.indexes = indexes

    def __len__(self) -> int:
        return len(self.indexes)

    def slice(self, start: int, stop: int | None) -> Iterator[int]:
        return iter(self.indexes[start:stop])


class LiveRange:
    """Indexes 0..end-1 minus the deleted ones: the unfiltered list, positioned by binary search."""

    def __init__(self, end: int, deleted: Sequence[int]) -> None:
        self.end = end
        self.deleted = deleted

    def __len__(self) -> int:
        return self.end - len(self.deleted)

    def _index_at(self, position: int) -> int:
        low, high = position, position + len(self.deleted)
        while low < high:
            mid = (low + high) // 2
            if mid + 1 - bisect.bisect_right(self.deleted, mid) >= position + 1:
                high = mid
            else:
                low = mid + 1
        return low

    def slice(self, start: int, stop: int | None) -> Iterator[int]:
        count = len(self)
        stop = count if stop is None else min(stop, count)
        if start >= stop:
            return
        index = self._index_at(start)
        pointer = bisect.bisect_left(self.deleted, index)
        for _ in range(stop - start):
            while pointer < len(self.deleted) and self.deleted[pointer] == index:
                index += 1
                pointer += 1
            yield index
            index += 1


class _Feistel:
    """A keyed permutation of 64-bit integers, so NoteIDs look random yet decode back to the record index."""

    def __init__(self, key: int) -> None:
        self.keys = [generate.mix64(key ^ round_) for round_ in range(4)]

    def encode(self, value: int) -> int:
        left, right = value >> 32, value & _MASK32
        for key in self.keys:
            left, right = right, left ^ (generate.mix64(right ^ key) & _MASK32)
        return (left << 32) | right

    def decode(self, value: int) -> int:
        left, right = value >> 32, value & _MASK32
        for key in reversed(self.keys):
            left, right = right ^ (generate.mix64(left ^ key) & _MASK32), left
        return (left << 32) | right


def format_guid(value: int) -> str:
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def parse_guid(text: str) -> int | None:
    digits = text.replace("-", "").replace("{", "").replace("}", "")
    if len(digits) != 32 or len(text) not in (32, 36, 38):
        return None
    try:
        return int(digits, 16)
    except ValueError:
        return None


class _EntityState:
    """Everything the store knows about one entity: sizes, the modification schedule and the write overlay."""

    def __init__(self, store: DataStore, entity: catalog.Entity, count: int) -> None:
        self.store = store
        self.entity = entity
        self.base_count = count
        self.next_index = count
        self.salt = generate.salt(store.seed, entity.name)
        self.ids = _Feistel(self.salt)
        self.t0 = store.start_ms - HISTORY_MS
        self.step = max(HISTORY_MS // max(count, 1), 1)
        self.ev_time: array[int] = array("q")
        self.ev_index: array[int] = array("I")
        self.by_index: dict[int, list[int]] = {}
        self.schedule_start = store.start_ms - SCHEDULE_LEAD_MS
        self.next_hour = self.schedule_start // HOUR_MS
        self.overlay: dict[int, Overlay] = {}
        self.key_index: dict[tuple[str, ...], int] = {}
        self.changes: list[int] = []
        self.deleted: list[int] = []

    def created(self, index: int) -> int:
        """Creation time of a generated record: evenly spread with jitter, strictly increasing with the index."""
        base = self.t0 + index * HISTORY_MS // max(self.base_count, 1)
        return base + generate.mix64(self.salt ^ index) % self.step

    def first_created_at_or_after(self, ms: int, inclusive: bool) -> int:
        low, high = 0, self.base_count
        while low < high:
            mid = (low + high) // 2
            value = self.created(mid)
            if value > ms or (inclusive and value == ms):
                high = mid
            else:
                low = mid + 1
        return low

    def materialize(self, until_ms: int) -> None:
        """Generate the scheduled events of every hour up to and including the hour of `until_ms`."""
        last_hour = until_ms // HOUR_MS
        while self.next_hour <= last_hour:
            self._hour(self.next_hour)
            self.next_hour += 1

    def _hour(self, hour: int) -> None:
        if self.base_count == 0 or self.store.changes_per_hour <= 0:
            return
        rng = random.Random(generate.mix64(self.salt ^ 0x5EED ^ (hour << 8)))
        pairs = sorted(
            (hour * HOUR_MS + int(rng.random() * HOUR_MS), int(rng.random() * self.base_count))
            for _ in range(self._rate(hour))
        )
        for at, index in pairs:
            if at < self.schedule_start or at <= self.created(index):
                continue
            self.ev_time.append(at)
            self.ev_index.append(index)
            self.by_index.setdefault(index, []).append(at)

    def _rate(self, hour: int) -> int:
        """Events per hour: the configured rate, but before the start only enough to touch ~10% of records."""
        rate = self.store.changes_per_hour
        if (hour + 1) * HOUR_MS <= self.store.start_ms:
            return min(rate, -(-self.base_count // (10 * SCHEDULE_LEAD_MS // HOUR_MS)))
        return rate

    def guid(self, index: int) -> str:
        high = self.ids.encode(index)
        return format_guid((high << 64) | generate.mix64(self.salt ^ high))

    def index_of_guid(self, text: str) -> int | None:
        value = parse_guid(text)
        if value is None:
            return None
        high, low = value >> 64, value & ((1 << 64) - 1)
        if generate.mix64(self.salt ^ high) != low:
            return None
        return self.ids.decode(high)


@dataclass(frozen=True)
class Snapshot:
    """One entity frozen at time `at`: reads through it are consistent while other threads write."""

    state: _EntityState
    at: int
    events: int
    changes: int
    next_index: int
    overlay: Mapping[int, Overlay]
    deleted: Sequence[int]
    key_index: Mapping[tuple[str, ...], int]

    @property
    def entity(self) -> catalog.Entity:
        return self.state.entity

    def live(self, index: int) -> bool:
        if index < 0 or index >= self.next_index:
            return False
        overlay = self.overlay.get(index)
        return overlay is None or not overlay.deleted

    def all(self) -> LiveRange:
        return LiveRange(self.next_index, self.deleted)

    def last_modified(self, index: int) -> tuple[int, int]:
        """(last-modified ms, revision number) of a record at this snapshot's time."""
        state = self.state
        events = state.by_index.get(index)
        count = bisect.bisect_right(events, self.at) if events else 0
        overlay = self.overlay.get(index)
        created = overlay.created if overlay is not None else state.created(index)
        modified = events[count - 1] if events and count else created
        if overlay is not None:
            modified = max(modified, overlay.modified)
            count += overlay.bumps
        return modified, count

    def find(self, key: str | Sequence[str]) -> int | None:
        """Index of the live record with this NoteID or these key values."""
        if isinstance(key, str):
            index = self.state.index_of_guid(key)
            if index is not None:
                return index if self.live(index) else None
            key = tuple(key.split("|")) if "|" in key else (key,)
        values = tuple(str(part) for part in key)
        explicit = self.key_index.get(tuple(v.casefold() for v in values))
        if explicit is not None:
            return explicit if self.live(explicit) else None
        index = catalog.parse_key(self.entity, values)
        if index is None or not self.live(index):
            return None
        overlay = self.overlay.get(index)
        return index if overlay is None or overlay.generated else None

    def view(self, index: int) -> RecordView:
        return RecordView(self, index)


class RecordView:
    """One record's canonical state at a snapshot; linked entities and details are generated only when asked."""

    __slots__ = ("_details", "_linked", "id", "index", "snap", "values")

    def __init__(self, snap: Snapshot, index: int) -> None:
        self.snap = snap
        self.index = index
        state = snap.state
        self.id = state.guid(index)
        self.values = self._values(state)
        self._linked: dict[str, dict[str, Any]] = {}
        self._details: list[dict[str, Any]] | None = None

    @property
    def entity(self) -> catalog.Entity:
        return self.snap.state.entity

    def _values(self, state: _EntityState) -> dict[str, Any]:
        entity = state.entity
        overlay = self.snap.overlay.get(self.index)
        modified, revision = self.snap.last_modified(self.index)
        created = overlay.created if overlay is not None else state.created(self.index)
        values: dict[str, Any] = {}
        if overlay is None or overlay.generated:
            values = generate.base_values(
                state.store.seed, entity.name, state.salt, self.index, state.store.base_counts, created
            )
            mark = generate.mix64(state.salt ^ ~self.index)
            values["_note"] = NOTES[mark % len(NOTES)] if mark % 10 == 0 else ""
        generate.apply_revision(entity.name, values, revision)
        keys = overlay.keys if overlay is not None else catalog.format_key(entity, self.index)
        values.update(zip(entity.keys, keys, strict=True))
        values["NoteID"] = self.id
        values["CreatedDateTime"] = values["CreatedDate"] = created
        if entity.last_modified is not None:
            values[entity.last_modified] = modified
        if entity.name == "Customer":
            values["BAccountID"] = 1000 + self.index  # the integer surrogate key, unique like the index
        if overlay is not None:
            values.update(overlay.values)
        return values

    def linked(self, name: str) -> dict[str, Any]:
        cached = self._linked.get(name)
        if cached is None:
            state = self.snap.state
            overlay = self.snap.overlay.get(self.index)
            cached = {}
            if overlay is None or overlay.generated:
                cached = generate.linked_values(state.store.seed, state.entity.name, self.index, name, self.values)
            if name == "MainContact":
                cached["LastModifiedDateTime"] = self.values.get(state.entity.last_modified or "")
            if overlay is not None and name in overlay.linked:
                _merge(cached, overlay.linked[name])
            self._linked[name] = cached
        return cached

    def linked_id(self, name: str) -> str:
        """A stable id for a linked entity; `name` is its path, e.g. `MainContact/Address`."""
        state = self.snap.state
        name_salt = generate.salt(state.store.seed, f"{state.entity.name}/{name}")
        return format_guid(generate.mix64(name_salt ^ self.index) << 64 | generate.mix64(name_salt ^ ~self.index))

    def details(self) -> list[dict[str, Any]]:
        if self._details is None:
            overlay = self.snap.overlay.get(self.index)
            if overlay is not None and overlay.details is not None:
                self._details = [dict(line) for line in overlay.details]
            elif overlay is not None and not overlay.generated:
                self._details = []
            else:
                self._details = self._generated_details()
        return self._details

    def _generated_details(self) -> list[dict[str, Any]]:
        state = self.snap.state
        lines = generate.detail_values(
            state.store.seed, state.entity.name, self.index, self.values, state.store.base_counts
        )
        detail_salt = generate.salt(state.store.seed, f"{state.entity.name}/line")
        for number, line in enumerate(lines):
            line["_id"] = format_guid(
                generate.mix64(detail_salt ^ (self.index << 10 | number)) << 64 | generate.mix64(detail_salt ^ number)
            )
            if "NoteID" in line:
                line["NoteID"] = line["_id"]
        return lines


def _change_line(schema: str, line: dict[str, Any], rng: random.Random) -> None:
    """Change the first amount of a detail line (or its first text when it has none)."""
    fields = catalog.SCHEMAS[schema].fields
    amount = next((f.name for f in fields if f.type == catalog.DECIMAL and not f.options), None)
    if amount is not None:
        line[amount] = round(float(line.get(amount) or 0.0) + 1 + int(rng.random() * 50), 2)
        return
    text = next(f.name for f in fields if f.type == catalog.STRING and not f.options and not f.lookup)
    line[text] = f"{line.get(text) or ''} (changed)".strip()


def _merge(target: dict[str, Any], changes: Mapping[str, Any]) -> None:
    for name, value in changes.items():
        if isinstance(value, Mapping):
            nested = target.get(name)
            merged = dict(nested) if isinstance(nested, Mapping) else {}
            _merge(merged, value)
            target[name] = merged
        else:
            target[name] = value


ChangeKind = Literal["inserted", "updated", "deleted"]


@dataclass(frozen=True)
class RecordChange:
    """One write as the store saw it, with the entity frozen just before and just after.

    Listeners (deleted-record tracking, push notifications) read old and new states from the two snapshots;
    building a record view is left to them, so a listener that needs only the id costs nothing more.
    """

    entity: str
    index: int
    record_id: str
    kind: ChangeKind
    at_ms: int
    before: Snapshot
    after: Snapshot

    def before_view(self) -> RecordView | None:
        return self.before.view(self.index) if self.before.live(self.index) else None

    def after_view(self) -> RecordView | None:
        return self.after.view(self.index) if self.after.live(self.index) else None


ChangeListener = Callable[[RecordChange], None]


@dataclass
class _CacheEntry:
    events: int
    changes: int
    indexes: array[int]


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
        self.start_ms = to_ms(self.start)
        counts = dict(record_counts or {})
        unknown = set(counts) - set(catalog.ENTITIES)
        if unknown:
            raise ValueError(f"unknown entities in record_counts: {sorted(unknown)}")
        self.base_counts = {name: counts.get(name, default_count) for name in catalog.ENTITIES}
        self._lock = threading.RLock()
        self._states: dict[str, _EntityState] = {}
        self._cache: OrderedDict[tuple[Any, ...], _CacheEntry] = OrderedDict()
        self._listeners: list[ChangeListener] = []

    def add_listener(self, listener: ChangeListener) -> None:
        """Call `listener` after every write that inserts, updates or deletes a live record.

        It runs inside the store's lock, in write order, so it must be quick and must not write itself."""
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: ChangeListener) -> None:
        with self._lock:
            self._listeners.remove(listener)

    def now_ms(self) -> int:
        return to_ms(self.clock())

    def _state(self, entity: str) -> _EntityState:
        state = self._states.get(entity)
        if state is None:
            with self._lock:
                state = self._states.get(entity)
                if state is None:
                    definition = catalog.ENTITIES.get(entity)
                    if definition is None:
                        raise KeyError(entity)
                    state = _EntityState(self, definition, self.base_counts[entity])
                    self._states[entity] = state
        return state

    def snapshot(self, entity: str, at: int | None = None) -> Snapshot:
        """Freeze an entity at `at` (epoch ms, default now) for a consistent multi-record read."""
        state = self._state(entity)
        with self._lock:
            return self._freeze(state, self.now_ms() if at is None else at)

    def _freeze(self, state: _EntityState, moment: int) -> Snapshot:
        state.materialize(moment)
        return Snapshot(
            state=state,
            at=moment,
            events=bisect.bisect_right(state.ev_time, moment),
            changes=len(state.changes),
            next_index=state.next_index,
            overlay=state.overlay,
            deleted=state.deleted,
            key_index=state.key_index,
        )

    def count(self, entity: str) -> int:
        """Live records of an entity right now."""
        return len(self.snapshot(entity).all())

    def select(self, snap: Snapshot, cache_key: tuple[Any, ...], flt: CompiledFilter | None) -> Selection:
        """The indexes matching a filter, in key order; cached per `cache_key` and patched as records change."""
        if flt is None:
            return snap.all()
        key = (snap.entity.name, *cache_key)
        with self._lock:
            entry = self._cache.get(key)
            if entry is not None:
                self._cache.move_to_end(key)
        if entry is not None and entry.events == snap.events and entry.changes == snap.changes:
            return IndexList(entry.indexes)
        indexes = self._patched(snap, flt, entry) if entry is not None else None
        if indexes is None:
            indexes = self._compute(snap, flt)
        with self._lock:
            self._cache[key] = _CacheEntry(snap.events, snap.changes, indexes)
            self._cache.move_to_end(key)
            while len(self._cache) > CACHE_ENTRIES:
                self._cache.popitem(last=False)
        return IndexList(indexes)

    def _matches(self, snap: Snapshot, flt: CompiledFilter, index: int) -> bool:
        if not snap.live(index):
            return False
        if flt.time_range is not None and not flt.time_range.contains(snap.last_modified(index)[0]):
            return False
        return not flt.residual or flt.matches(snap.view(index))

    def _compute(self, snap: Snapshot, flt: CompiledFilter) -> array[int]:
        if flt.time_range is not None:
            candidates: Iterator[int] = iter(self._time_range(snap, flt.time_range))
            if not flt.residual:
                return array("I", candidates)
        else:
            candidates = snap.all().slice(0, None)
        return array("I", (index for index in candidates if flt.matches(snap.view(index))))

    def _time_range(self, snap: Snapshot, time_range: TimeRange) -> array[int]:
        """Indexes whose last-modified time is in range, without generating records.

        Records never modified are a contiguous index range (created time grows with the index); the few with
        events or writes ("specials") are checked one by one and merged in order.
        """
        state = snap.state
        low = 0 if time_range.low is None else state.first_created_at_or_after(time_range.low, time_range.low_inclusive)
        high = (
            state.base_count
            if time_range.high is None
            else state.first_created_at_or_after(time_range.high, not time_range.high_inclusive)
        )
        specials = sorted(set(state.by_index) | set(snap.overlay))
        out: array[int] = array("I")
        position = low
        for special in specials:
            if special >= position and position < high:
                end = min(special, high)
                out.extend(range(position, end))
                position = end
            if low <= special < high:
                position = max(position, special + 1)
            if snap.live(special) and time_range.contains(snap.last_modified(special)[0]):
                out.append(special)
        if position < high:
            out.extend(range(position, high))
        return out

    def _patched(self, snap: Snapshot, flt: CompiledFilter, entry: _CacheEntry) -> array[int] | None:
        """Update a cached result by re-checking only the records touched since it was computed."""
        state = snap.state
        first, last = sorted((entry.events, snap.events))
        touched = set(state.ev_index[first:last]) | set(state.changes[entry.changes : snap.changes])
        if entry.changes > snap.changes or len(touched) > max(2000, len(entry.indexes) // 8):
            return None
        old = entry.indexes
        out: array[int] = array("I")
        previous = 0
        for index in sorted(touched):
            position = bisect.bisect_left(old, index)
            out.extend(old[previous:position])
            previous = position + 1 if position < len(old) and old[position] == index else position
            if self._matches(snap, flt, index):
                out.append(index)
        out.extend(old[previous:])
        return out

    def iter_records(
        self,
        entity: str,
        version: str = "24.200.001",
        expand: Sequence[str] = (),
        at: datetime | None = None,
        custom: shape.CustomSection | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Ground truth: every record exactly as a list GET without `$select` would serve it (writes always apply);
        `custom` renders the `custom` section a `$custom` would ask for."""
        snap = self.snapshot(entity, None if at is None else to_ms(at))
        projection = shape.parse_projection(entity, version, None, ",".join(expand))
        for number, index in enumerate(snap.all().slice(0, None), start=1):
            yield shape.shape_record(snap.view(index), version, projection, number, "", custom)

    @property
    def lock(self) -> threading.RLock:
        """Held by a read-modify-write (PUT) so concurrent writers cannot interleave."""
        return self._lock

    def write(self, entity: str, index: int | None, build: Callable[[int], Overlay]) -> int:
        """Store a record's new overlay, built from its index (None = insert at the end); returns the index."""
        state = self._state(entity)
        with self._lock:
            if index is None:
                index = state.next_index
            self._put(state, index, build(index))
            return index

    def _put(self, state: _EntityState, index: int, overlay: Overlay) -> None:
        """Store a record's overlay; an index at the end inserts. Listeners see the entity before and after."""
        before = self._freeze(state, self.now_ms()) if self._listeners else None
        state.next_index = max(state.next_index, index + 1)
        self._store_overlay(state, index, overlay)
        if before is not None:
            self._notify(state, index, before)

    def _notify(self, state: _EntityState, index: int, before: Snapshot) -> None:
        after = self._freeze(state, max(before.at, self.now_ms()))
        was, now = before.live(index), after.live(index)
        if not was and not now:
            return
        kind: ChangeKind = "updated" if was and now else ("inserted" if now else "deleted")
        change = RecordChange(state.entity.name, index, state.guid(index), kind, after.at, before, after)
        for listener in list(self._listeners):
            listener(change)

    def _store_overlay(self, state: _EntityState, index: int, overlay: Overlay) -> None:
        previous = state.overlay.get(index)
        state.overlay = {**state.overlay, index: overlay}
        if overlay.deleted and (previous is None or not previous.deleted):
            deleted = list(state.deleted)
            bisect.insort(deleted, index)
            state.deleted = deleted
        if not overlay.generated or overlay.keys != catalog.format_key(state.entity, index):
            state.key_index = {**state.key_index, tuple(k.casefold() for k in overlay.keys): index}
        state.changes.append(index)

    def base_overlay(self, entity: str, index: int) -> Overlay:
        """The overlay a record has, or the one that reproduces its generated state as a starting point for writes."""
        state = self._state(entity)
        existing = state.overlay.get(index)
        if existing is not None:
            return existing
        return Overlay(created=state.created(index), modified=0, keys=catalog.format_key(state.entity, index))

    def upsert(self, entity: str, version: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Insert or update from an API-shaped body; returns the resulting record as the API serves it."""
        from .writes import apply_put  # writes builds on this module, so it is imported on use

        return apply_put(self, entity, version, body).record

    def delete(self, entity: str, key_or_id: str | Sequence[str]) -> bool:
        """Delete by NoteID or key values; False when no such live record."""
        with self._lock:
            snap = self.snapshot(entity)
            index = snap.find(key_or_id)
            if index is None:
                return False
            overlay = self.base_overlay(entity, index)
            self._put(snap.state, index, replace(overlay, deleted=True, modified=snap.at))
            return True

    def apply_changes(self, entity: str, inserts: int, updates: int, deletes: int, seed: int) -> dict[str, Any]:
        """Deterministically insert, modify and delete records now, to disturb an extraction in flight."""
        with self._lock:
            snap = self.snapshot(entity)
            state = snap.state
            rng = random.Random(generate.mix64(generate.salt(seed, entity) ^ snap.changes))
            result: dict[str, Any] = {
                "at": shape.format_ms(snap.at),
                "inserted": [],
                "updated": [],
                "deleted": [],
                "lines": [],
            }
            for _ in range(inserts):
                index = self._insert_generated(state, snap.at)
                result["inserted"].append(state.guid(index))
            for index in self._pick_live(rng, state, updates):
                overlay = self.base_overlay(entity, index)
                details = self._edit_lines(rng, self._freeze(state, snap.at).view(index), result["lines"])
                bumped = replace(overlay, modified=snap.at, bumps=overlay.bumps + 1)
                self._put(state, index, bumped if details is None else replace(bumped, details=details))
                result["updated"].append(state.guid(index))
            for index in self._pick_live(rng, state, deletes):
                overlay = self.base_overlay(entity, index)
                self._put(state, index, replace(overlay, modified=snap.at, deleted=True))
                result["deleted"].append(state.guid(index))
            return result

    def _edit_lines(
        self, rng: random.Random, view: RecordView, log: list[dict[str, str]]
    ) -> tuple[Mapping[str, Any], ...] | None:
        """Add, change or remove one detail line of an updated record, as a user editing the document would;
        None for an entity without detail lines. The edit is logged as `{id, line, action}`."""
        schema = generate.detail_schema(view.entity.name)
        if schema is None:
            return None
        lines = [dict(line) for line in view.details()]
        action = rng.choice(("added", "changed", "removed")) if lines else "added"
        if action == "removed" and len(lines) == 1:
            action = "changed"
        if action == "added":
            line = dict(lines[-1]) if lines else {}
            line["_id"] = format_guid(rng.getrandbits(128))
            if "NoteID" in line:
                line["NoteID"] = line["_id"]
            if "LineNbr" in catalog.field_map(schema, catalog.DEFAULT_VERSION):
                line["LineNbr"] = 1 + max((int(other.get("LineNbr") or 0) for other in lines), default=0)
            lines.append(line)
        elif action == "changed":
            line = lines[int(rng.random() * len(lines))]
            _change_line(schema, line, rng)
        else:
            line = lines.pop(int(rng.random() * len(lines)))
        log.append({"id": view.id, "line": str(line["_id"]), "action": action})
        return tuple(lines)

    def _insert_generated(self, state: _EntityState, at: int) -> int:
        while True:
            index = state.next_index
            keys = catalog.format_key(state.entity, index)
            taken = tuple(k.casefold() for k in keys) in state.key_index
            self._put(state, index, Overlay(created=at, modified=at, keys=keys, deleted=taken))
            if not taken:
                return index

    def _pick_live(self, rng: random.Random, state: _EntityState, count: int) -> list[int]:
        picked: list[int] = []
        chosen: set[int] = set()
        live = state.next_index - len(state.deleted)
        while len(picked) < min(count, live):
            index = int(rng.random() * state.next_index)
            overlay = state.overlay.get(index)
            if index in chosen or (overlay is not None and overlay.deleted):
                continue
            chosen.add(index)
            picked.append(index)
        return sorted(picked)
