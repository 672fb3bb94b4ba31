"""The DAC-based OData v4 interface (`/t/<tenant>/api/odata/dac/...`), built on the store's data.

* `GET .../dac/` (or `.../dac`): the service document, two entity sets per DAC: the generated
  `PX_Objects_SO_SOOrder` and the class name `SOOrder`.
* `GET .../dac/$metadata`: EDMX with one schema per DAC namespace (`PX.Objects.SO`), an `EntityType` per DAC with
  its `Key` and typed properties, the `PX.Api.OData.DAC.DeletedRecordResult` complex type, and the container
  `Default.Container` (as on the real server, `px.GetDeletedRecords()` itself is not declared).
* `GET .../dac/<DAC>`: the rows, with `$top`, `$skip`, `$filter` (stored values, OData v4 literals), `$select` and
  `$orderby`; sorted by the key properties ascending unless `$orderby` says otherwise (the keys break ties).
  The answer is `{"@odata.context", "value"}` and never carries `@odata.nextLink`: clients page with `$top`/`$skip`
  or by key. Each such read counts as a list request of the DAC's entity for its change stream
  (`change_stream`), so a test can disturb a DAC pull between pages. `PX-ApiDeleted: SHOW` adds the soft-deleted
  rows of a DAC with a `DeletedDatabaseRecord` column.
* `GET .../dac/<DAC>(<key>)`: one row by its key, `SOOrder(OrderNbr='SO0000001',OrderType='SO')` or
  `Customer(1005)`, as `{"@odata.context": ".../$metadata#SOOrder/$entity", ...}`; 404 when no row has it.
* `GET .../dac/<DAC>/px.GetDeletedRecords()`: `{RefNoteID, DeleteDate}` rows of a tracked DAC (see
  `deleted_records`), with `$filter` on both (`DeleteDate ge 2026-01-01T00:00:00Z`), `$top`, `$skip`, `$orderby`,
  `$select`; oldest first by default. An untracked DAC answers **400**, naming SM207010.

Errors use the OData body `{"error": {"code": "", "message": ...}}`: 404 for an unknown DAC or path, 400 for a bad
query option or an untracked DAC, 403 for a user without the `OData4 User` role (`SandboxUser.dac_odata`; the
built-in `reader` / `123` is such a user).
`$expand` and `$count` are not served (400). The DAC rows are described in `dac_tables`.
"""

from __future__ import annotations

import difflib
import itertools
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from xml.sax.saxutils import quoteattr

from . import catalog, shape
from .config import SandboxConfig
from .dac_tables import DAC_TABLES, DECIMAL, DacProperty, DacTable
from .data import DataStore, RecordView, Snapshot
from .deleted_records import SCREEN, DeletedRecord, DeletedRecordTracker
from .filters import Column, CompiledFilter, Dialect, FilterError, compile_filter
from .protocol import Request, Response

CACHE_ENTRIES = 8
_KEY_RE = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)\((?P<key>.*)\)")
_KEY_PART_RE = re.compile(r"(?:([A-Za-z_][A-Za-z0-9_]*)=)?('(?:[^']|'')*'|-?\d+)")
DELETED_FUNCTION = "px.GetDeletedRecords()"
RESULT_TYPE = "PX.Api.OData.DAC.DeletedRecordResult"
_UNSUPPORTED = ("$expand", "$count", "$apply", "$search")
_KINDS = {
    "Edm.String": "string",
    "Edm.Decimal": "number",
    "Edm.Int32": "number",
    "Edm.Int16": "number",
    "Edm.Boolean": "boolean",
    "Edm.DateTimeOffset": "datetime",
    "Edm.Guid": "guid",
}
_JSON_HEADERS = [("Content-Type", "application/json; odata.metadata=minimal"), ("OData-Version", "4.0")]


class _ODataError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.response = Response.json({"error": {"code": "", "message": message}}, status)


class DacRow:
    """One row of a DAC: a record, or one of its detail lines for a line DAC; `deleted` for soft-deleted rows.

    The record view is built only when a property needs it: keys and surrogate ids come from the index alone, so
    a key-range `$filter` (keyset paging) scans a large table without generating its records."""

    __slots__ = ("_view", "deleted", "index", "line", "snap")

    def __init__(
        self,
        snap: Snapshot,
        index: int,
        line: Mapping[str, Any] | None = None,
        deleted: bool = False,
        view: RecordView | None = None,
    ) -> None:
        self.snap = snap
        self.index = index
        self.line = line
        self.deleted = deleted
        self._view = view

    @property
    def view(self) -> RecordView:
        if self._view is None:
            self._view = self.snap.view(self.index)
        return self._view

    def key(self, position: int) -> str:
        overlay = self.snap.overlay.get(self.index)
        keys = overlay.keys if overlay is not None else catalog.format_key(self.snap.entity, self.index)
        return keys[position]


Getter = Callable[[DacRow], Any]


def _getter(prop: DacProperty, entity_keys: Sequence[str]) -> Getter:
    source = prop.source
    if source == "deleted:":
        return lambda row: row.deleted
    if source.startswith("index:"):
        base = int(source[6:])
        return lambda row: base + row.index
    if source in entity_keys:
        position = list(entity_keys).index(source)
        return lambda row: row.key(position)
    if source.startswith("line:"):
        name = source[5:]
        return lambda row: row.line.get(name) if row.line is not None else None
    parent, _, name = source.rpartition("/")
    if parent:
        return lambda row: row.view.linked(parent).get(name)
    return lambda row: row.view.values.get(source)


def _writer(edm: str) -> Callable[[Any], Any]:
    if edm == "Edm.DateTimeOffset":
        return lambda value: None if value is None else shape.format_ms(value)
    return lambda value: value


@dataclass(frozen=True)
class _Compiled:
    table: DacTable
    getters: Mapping[str, Getter]
    writers: Mapping[str, Callable[[Any], Any]]
    edm: Mapping[str, str]
    cheap: frozenset[str]

    def resolver(self, used: set[str]) -> Callable[[str], Column | None]:
        """Resolves `$filter` names, adding each to `used`."""
        modified = catalog.ENTITIES[self.table.entity].last_modified
        sources = {prop.name: prop.source for prop in self.table.all_properties}

        def resolve(name: str) -> Column | None:
            edm = self.edm.get(name)
            if edm is None:
                return None
            used.add(name)
            indexed = self.table.detail is None and sources[name] == modified
            return Column(_KINDS[edm], self.getters[name], indexed=indexed)

        return resolve


def _compile(table: DacTable) -> _Compiled:
    props = table.all_properties
    keys = catalog.ENTITIES[table.entity].keys
    return _Compiled(
        table,
        {prop.name: _getter(prop, keys) for prop in props},
        {prop.name: _writer(prop.edm) for prop in props},
        {prop.name: prop.edm for prop in props},
        frozenset(p.name for p in props if p.source in keys or p.source.startswith(("index:", "deleted:"))),
    )


def _sort_key(value: Any) -> tuple[bool, Any]:
    """NULLs first, as SQL Server sorts them; strings case-insensitively."""
    return (value is not None, value.casefold() if isinstance(value, str) else value)


def _by(get: Callable[[Any], Any]) -> Callable[[Any], tuple[bool, Any]]:
    return lambda row: _sort_key(get(row))


def _int_option(request: Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    if not raw.strip().isdigit():
        raise _ODataError(400, f"Invalid value '{raw}' for {name}: expected a non-negative integer.")
    return int(raw)


def _parse_orderby(names: Sequence[str], type_name: str, text: str) -> list[tuple[str, bool]]:
    order: list[tuple[str, bool]] = []
    for item in (part.strip() for part in text.split(",") if part.strip()):
        words = item.split()
        direction = words[1].lower() if len(words) == 2 else "asc"
        if len(words) > 2 or direction not in ("asc", "desc") or words[0] not in names:
            raise _ODataError(400, f"Invalid $orderby item '{item}': expected '<property> asc|desc' on '{type_name}'.")
        order.append((words[0], direction == "desc"))
    return order


def _parse_select(names: Sequence[str], type_name: str, text: str) -> list[str] | None:
    text = text.strip()
    if not text or text == "*":
        return None
    selected = [part.strip() for part in text.split(",") if part.strip()]
    for name in selected:
        if name not in names:
            raise _ODataError(400, f"Could not find a property named '{name}' on type '{type_name}'.")
    return selected


_RESULT_GETTERS: dict[str, Callable[[DeletedRecord], Any]] = {
    "RefNoteID": lambda entry: entry.ref_note_id,
    "DeleteDate": lambda entry: entry.delete_ms,
}
_RESULT_KINDS = {"RefNoteID": "guid", "DeleteDate": "datetime"}


def _resolve_result(name: str) -> Column | None:
    getter = _RESULT_GETTERS.get(name)
    return None if getter is None else Column(_RESULT_KINDS[name], getter)


class DacODataApi:
    """Serves the DAC-based OData interface over the store, with deleted-record tracking."""

    def __init__(
        self,
        store: DataStore,
        tracker: DeletedRecordTracker,
        config: SandboxConfig,
        tables: Sequence[DacTable],
        on_list: Callable[[str], None],
    ) -> None:
        self.store = store
        self.on_list = on_list
        self.tracker = tracker
        self.config = config
        self.site_path = config.site_path.rstrip("/")
        self.tables = list(tables)
        self._by_set = {alias: table for table in tables for alias in (table.name, table.set_name)}
        self._compiled = {table.name: _compile(table) for table in tables}
        self._cache: OrderedDict[tuple[Any, ...], list[DacRow]] = OrderedDict()
        self._cache_lock = threading.Lock()

    def handle(self, request: Request, tenant: str, resource: str) -> Response:
        """Answer `GET /t/<tenant>/api/odata/dac/<resource>`."""
        try:
            self._check_rights(request)
            if resource in ("", "/"):
                return self._service(request, tenant)
            if resource == "$metadata":
                return self._metadata()
            name, _, function = resource.partition("/")
            addressed = _KEY_RE.fullmatch(name)
            if addressed is not None and not function:
                return self._by_key(request, tenant, self._table(addressed["name"]), addressed["key"])
            table = self._table(name)
            if function == DELETED_FUNCTION:
                return self._deleted(request, tenant, table)
            if function:
                raise _ODataError(404, f"No resource '{function}' on '{name}'; the DAC function is {DELETED_FUNCTION}.")
            self.on_list(table.entity)
            return self._query(request, tenant, table)
        except _ODataError as error:
            return error.response

    def _check_rights(self, request: Request) -> None:
        principal = request.principal
        user = None if principal is None else self.config.find_user(principal.user, principal.tenant)
        if user is not None and not user.dac_odata:
            raise _ODataError(
                403,
                f"You have insufficient rights to access the DAC-based OData interface as '{user.name}'. "
                "Assign the user the OData4 User role (Users, SM201010).",
            )

    def _table(self, name: str) -> DacTable:
        table = self._by_set.get(name)
        if table is None:
            close = difflib.get_close_matches(name, list(self._by_set), n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise _ODataError(404, f"The entity set '{name}' does not exist in the DAC-based OData interface.{hint}")
        return table

    def _origin(self, request: Request, tenant: str) -> str:
        host = request.header("Host")
        origin = f"http://{host}" if host else ""
        return f"{origin}{self.site_path}/t/{tenant}/api/odata/dac"

    def _service(self, request: Request, tenant: str) -> Response:
        sets = [alias for table in self.tables for alias in (table.set_name, table.name)]
        payload = {
            "@odata.context": f"{self._origin(request, tenant)}/$metadata",
            "value": [{"name": name, "kind": "EntitySet", "url": name} for name in sets],
        }
        return Response(200, json.dumps(payload, separators=(",", ":")).encode("utf-8"), list(_JSON_HEADERS))

    def _metadata(self) -> Response:
        namespaces: dict[str, list[str]] = {}
        for table in self.tables:
            namespaces.setdefault(table.namespace, []).append(_entity_type(table))
        schemas = "".join(
            f'<Schema Namespace={quoteattr(ns)} xmlns="http://docs.oasis-open.org/odata/ns/edm">{"".join(types)}</Schema>'
            for ns, types in namespaces.items()
        )
        result = (
            '<Schema Namespace="PX.Api.OData.DAC" xmlns="http://docs.oasis-open.org/odata/ns/edm">'
            '<ComplexType Name="DeletedRecordResult">'
            '<Property Name="RefNoteID" Type="Edm.Guid" Nullable="false"/>'
            '<Property Name="DeleteDate" Type="Edm.DateTimeOffset" Nullable="false"/>'
            "</ComplexType></Schema>"
        )
        sets = "".join(
            f"<EntitySet Name={quoteattr(alias)} EntityType={quoteattr(table.full_name)}/>"
            for table in self.tables
            for alias in (table.set_name, table.name)
        )
        xml = (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"><edmx:DataServices>'
            + schemas
            + result
            + '<Schema Namespace="Default" xmlns="http://docs.oasis-open.org/odata/ns/edm">'
            + f'<EntityContainer Name="Container">{sets}</EntityContainer></Schema>'
            + "</edmx:DataServices></edmx:Edmx>"
        )
        return Response(
            200, xml.encode("utf-8"), [("Content-Type", "application/xml; charset=utf-8"), ("OData-Version", "4.0")]
        )

    def _query(self, request: Request, tenant: str, table: DacTable) -> Response:
        for option in _UNSUPPORTED:
            if option in request.query:
                raise _ODataError(400, f"The query option '{option}' is not supported by the sandbox's DAC interface.")
        compiled = self._compiled[table.name]
        names = list(compiled.edm)
        selected = _parse_select(names, table.full_name, request.query.get("$select", ""))
        order = _parse_orderby(names, table.full_name, request.query.get("$orderby", ""))
        skip = _int_option(request, "$skip") or 0
        top = _int_option(request, "$top")
        used: set[str] = set()
        flt = self._filter(request.query.get("$filter", ""), compiled.resolver(used), table.full_name)
        show_deleted = table.keeps_deleted and (request.header("PX-ApiDeleted") or "").strip().upper() == "SHOW"
        cheap = used <= compiled.cheap
        rows = self._rows(table, flt, cheap, order, show_deleted, skip, None if top is None else skip + top)
        columns = selected or names
        plan = [(name, compiled.getters[name], compiled.writers[name]) for name in columns]
        values = [{name: write(get(row)) for name, get, write in plan} for row in rows]
        suffix = f"({','.join(selected)})" if selected else ""
        context = f"{self._origin(request, tenant)}/$metadata#{table.name}{suffix}"
        body = json.dumps({"@odata.context": context, "value": values}, separators=(",", ":"))
        return Response(200, body.encode("utf-8"), list(_JSON_HEADERS))

    def _by_key(self, request: Request, tenant: str, table: DacTable, key: str) -> Response:
        """One row addressed by its key, `SOOrder(OrderNbr='SO0000001',OrderType='SO')` or `Customer(1005)`."""
        compiled = self._compiled[table.name]
        names = list(compiled.edm)
        selected = _parse_select(names, table.full_name, request.query.get("$select", ""))
        used: set[str] = set()
        flt = self._filter(_key_filter(table, key), compiled.resolver(used), table.full_name)
        found = self._rows(table, flt, used <= compiled.cheap, [], False, 0, 1)
        if not found:
            raise _ODataError(404, f"No {table.full_name} has the key ({key}).")
        row = found[0]
        values = {name: compiled.writers[name](compiled.getters[name](row)) for name in selected or names}
        suffix = f"({','.join(selected)})" if selected else ""
        context = f"{self._origin(request, tenant)}/$metadata#{table.name}{suffix}/$entity"
        body = json.dumps({"@odata.context": context, **values}, separators=(",", ":"))
        return Response(200, body.encode("utf-8"), list(_JSON_HEADERS))

    def _filter(self, text: str, resolve: Callable[[str], Column | None], type_name: str) -> CompiledFilter | None:
        if not text.strip():
            return None
        try:
            return compile_filter(text.strip(), Dialect.DAC, resolve, type_name)
        except FilterError as error:
            raise _ODataError(400, str(error)) from error

    def _rows(
        self,
        table: DacTable,
        flt: CompiledFilter | None,
        cheap: bool,
        order: list[tuple[str, bool]],
        show_deleted: bool,
        start: int,
        stop: int | None,
    ) -> list[DacRow]:
        """The page of rows; `cheap` says the filter reads only keys, so it is evaluated without record views."""
        snap = self.store.snapshot(table.entity)
        by_keys = not order or order == [(key, False) for key in table.keys[: len(order)]]
        # Index order (and line order within a record) is key order while every key is the generated one.
        in_index_order = not show_deleted and by_keys and not snap.key_index
        if in_index_order and table.detail is None and (flt is None or not cheap):
            record_flt = None if flt is None else replace(flt, matches=_record_matcher(snap, flt))
            selection = self.store.select(snap, ("dac", table.name, flt.text if flt else ""), record_flt)
            return [DacRow(snap, index) for index in selection.slice(start, stop)]
        if in_index_order:
            found = (row for row in self._all_rows(snap, table, False) if flt is None or flt.matches(row))
            return list(itertools.islice(found, start, stop))
        return self._sorted(snap, table, flt, order, show_deleted)[start:stop]

    def _sorted(
        self, snap: Snapshot, table: DacTable, flt: CompiledFilter | None, order: list[tuple[str, bool]], show: bool
    ) -> list[DacRow]:
        """Every matching row in the requested order, keys breaking ties; cached per data state."""
        key = (table.name, flt.text if flt else "", tuple(order), show, snap.events, snap.changes, snap.next_index)
        with self._cache_lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        rows = [row for row in self._all_rows(snap, table, show) if flt is None or flt.matches(row)]
        getters = self._compiled[table.name].getters
        for name, desc in [*((key, False) for key in reversed(table.keys)), *reversed(order)]:
            rows.sort(key=_by(getters[name]), reverse=desc)
        with self._cache_lock:
            self._cache[key] = rows
            while len(self._cache) > CACHE_ENTRIES:
                self._cache.popitem(last=False)
        return rows

    def _all_rows(self, snap: Snapshot, table: DacTable, show_deleted: bool) -> Iterator[DacRow]:
        indexes = range(snap.next_index) if show_deleted else snap.all().slice(0, None)
        for index in indexes:
            if table.detail is None:
                yield DacRow(snap, index, deleted=show_deleted and not snap.live(index))
                continue
            view = snap.view(index)
            yield from (DacRow(snap, index, line, view=view) for line in view.details())

    def _deleted(self, request: Request, tenant: str, table: DacTable) -> Response:
        if not self.tracker.is_tracked(table.name):
            raise _ODataError(
                400,
                f"The {table.name} table is not tracked for deleted records. Add {table.full_name} on the {SCREEN} "
                "form; deletions are recorded from then on.",
            )
        names = list(_RESULT_GETTERS)
        selected = _parse_select(names, RESULT_TYPE, request.query.get("$select", ""))
        order = _parse_orderby(names, RESULT_TYPE, request.query.get("$orderby", ""))
        skip = _int_option(request, "$skip") or 0
        top = _int_option(request, "$top")
        flt = self._filter(request.query.get("$filter", ""), _resolve_result, RESULT_TYPE)
        entries = [entry for entry in self.tracker.entries(table.name) if flt is None or flt.matches(entry)]
        for name, desc in reversed(order):
            entries.sort(key=_by(_RESULT_GETTERS[name]), reverse=desc)
        page = entries[skip : None if top is None else skip + top]
        columns = selected or names
        values = [
            {name: shape.format_ms(entry.delete_ms) if name == "DeleteDate" else entry.ref_note_id for name in columns}
            for entry in page
        ]
        context = f"{self._origin(request, tenant)}/$metadata#Collection({RESULT_TYPE})"
        body = json.dumps({"@odata.context": context, "value": values}, separators=(",", ":"))
        return Response(200, body.encode("utf-8"), list(_JSON_HEADERS))


def _key_filter(table: DacTable, key: str) -> str:
    """The `$filter` that selects a key segment's row; raises a 400 naming the keys when the segment does not fit."""
    parts = _KEY_PART_RE.findall(key)
    rebuilt = ",".join(f"{name}={value}" if name else value for name, value in parts)
    named = {name: value for name, value in parts if name}
    expected = f"{table.name}({','.join(f'{k}=...' for k in table.keys)})"
    if rebuilt != re.sub(r"\s*([,=])\s*", r"\1", key.strip()):
        raise _ODataError(400, f"Invalid key segment '({key})': expected {expected}.")
    if len(parts) == 1 and not parts[0][0] and len(table.keys) == 1:
        named = {table.keys[0]: parts[0][1]}
    if set(named) != set(table.keys) or len(named) != len(parts):
        raise _ODataError(400, f"The key of {table.full_name} is {', '.join(table.keys)}: expected {expected}.")
    return " and ".join(f"{name} eq {value}" for name, value in named.items())


def _record_matcher(snap: Snapshot, flt: CompiledFilter) -> Callable[[Any], bool]:
    matches = flt.matches
    return lambda view: matches(DacRow(snap, view.index, view=view))


def _entity_type(table: DacTable) -> str:
    keys = "".join(f"<PropertyRef Name={quoteattr(key)}/>" for key in table.keys)
    props = "".join(
        f"<Property Name={quoteattr(prop.name)} Type={quoteattr(prop.edm)}"
        + (' Nullable="false"' if prop.name in table.keys else "")
        + (' Scale="Variable"' if prop.edm == DECIMAL else "")
        + "/>"
        for prop in table.all_properties
    )
    return f"<EntityType Name={quoteattr(table.name)}><Key>{keys}</Key>{props}</EntityType>"


def build_api(store: DataStore, config: SandboxConfig, on_list: Callable[[str], None]) -> DacODataApi:
    """The interface over the sandbox's DAC tables, its tracker listening to `store`; `on_list(entity)` runs
    before every read of an entity set (the change streams' hook)."""
    tracker = DeletedRecordTracker(store, DAC_TABLES)
    return DacODataApi(store, tracker, config, DAC_TABLES, on_list)
