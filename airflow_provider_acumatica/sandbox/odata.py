"""Generic inquiries over OData v4 (`/t/<tenant>/api/odata/gi/...`), built on the store's data.

Inquiries: `BI-Customers` and `Customer Contacts` (one row per customer) and `SalesOrderLines` (one row per sales
order line). Values are plain OData v4 JSON (numbers for decimals, ISO strings for dates, drop-down labels as the
GI shows them). Default order is by key fields ascending, positioned in O(log n) without scanning; `$filter` results
are cached per inquiry and data state; a non-key `$orderby` sorts the whole (filtered) set once and caches it.
Errors use the OData body `{"error": {"code": "", "message": ...}}`: 404 for an unknown inquiry, 400 for a bad
query option.
"""

from __future__ import annotations

import bisect
import json
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any
from xml.sax.saxutils import quoteattr

from . import catalog, generate, shape
from .data import DataStore, RecordView, Snapshot
from .filters import Column, CompiledFilter, Dialect, FilterError, compile_filter
from .protocol import Request, Response

CACHE_ENTRIES = 8
LINE_BITS = 12
_UNSUPPORTED = ("$expand", "$count", "$apply", "$search")
_KINDS = {
    "Edm.String": "string",
    "Edm.Decimal": "number",
    "Edm.Int32": "number",
    "Edm.Boolean": "boolean",
    "Edm.DateTimeOffset": "datetime",
}


@dataclass(frozen=True)
class _Row:
    view: RecordView
    line: Mapping[str, Any] | None


@dataclass(frozen=True)
class GiColumn:
    """An inquiry column: its OData type and where its value comes from (a record path or `line:<Field>`)."""

    name: str
    edm: str
    source: str


@dataclass(frozen=True)
class Inquiry:
    name: str
    entity: str
    keys: tuple[str, ...]
    columns: tuple[GiColumn, ...]
    per_line: bool = False

    @property
    def type_name(self) -> str:
        return "".join(ch if ch.isalnum() else "_" for ch in self.name)


def _c(name: str, edm: str = "Edm.String", source: str | None = None) -> GiColumn:
    return GiColumn(name, edm, source or name)


INQUIRIES: dict[str, Inquiry] = {
    inquiry.name: inquiry
    for inquiry in (
        Inquiry(
            "BI-Customers",
            "Customer",
            ("CustomerID",),
            (
                _c("CustomerID"),
                _c("CustomerName"),
                _c("CustomerClass"),
                _c("Status"),
                _c("Email"),
                _c("City", source="MainContact/Address/City"),
                _c("Country", source="MainContact/Address/Country"),
                _c("CreditLimit", "Edm.Decimal"),
                _c("CurrencyID"),
                _c("Terms"),
                _c("CreatedDateTime", "Edm.DateTimeOffset"),
                _c("LastModifiedDateTime", "Edm.DateTimeOffset"),
            ),
        ),
        Inquiry(
            "Customer Contacts",
            "Customer",
            ("CustomerID",),
            (
                _c("CustomerID"),
                _c("CustomerName"),
                _c("ContactName", source="MainContact/DisplayName"),
                _c("JobTitle", source="MainContact/JobTitle"),
                _c("ContactEmail", source="MainContact/Email"),
                _c("Phone", source="MainContact/Phone1"),
                _c("ContactID", "Edm.Int32", "MainContact/ContactID"),
                _c("LastModifiedDateTime", "Edm.DateTimeOffset"),
            ),
        ),
        Inquiry(
            "SalesOrderLines",
            "SalesOrder",
            ("OrderType", "OrderNbr", "LineNbr"),
            (
                _c("OrderType"),
                _c("OrderNbr"),
                _c("LineNbr", "Edm.Int32", "line:LineNbr"),
                _c("CustomerID"),
                _c("OrderDate", "Edm.DateTimeOffset", "Date"),
                _c("Status"),
                _c("InventoryID", source="line:InventoryID"),
                _c("Description", source="line:LineDescription"),
                _c("Quantity", "Edm.Decimal", "line:OrderQty"),
                _c("UnitPrice", "Edm.Decimal", "line:UnitPrice"),
                _c("ExtendedPrice", "Edm.Decimal", "line:Amount"),
                _c("WarehouseID", source="line:WarehouseID"),
                _c("LastModifiedDateTime", "Edm.DateTimeOffset", "LastModified"),
            ),
            per_line=True,
        ),
    )
}


class _ODataError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.response = Response.json({"error": {"code": "", "message": message}}, status)


def _labels(entity: str, path: str) -> Mapping[Any, str]:
    *parents, name = path.split("/")
    schema = entity
    for parent in parents:
        schema = catalog.children(schema)[parent].schema
    found = next((f for f in catalog.SCHEMAS[schema].fields if f.name == name), None)
    return dict(found.options) if found is not None else {}


def _getter(inquiry: Inquiry, column: GiColumn) -> Callable[[_Row], Any]:
    if column.source.startswith("line:"):
        name = column.source[5:]
        return lambda row: row.line.get(name) if row.line is not None else None
    *parents, name = column.source.split("/")
    labels = _labels(inquiry.entity, column.source)

    def get(row: _Row) -> Any:
        values: Mapping[str, Any] = row.view.values if not parents else row.view.linked(parents[0])
        for parent in parents[1:]:
            values = values.get(parent) or {}
        value = values.get(name)
        return labels.get(value, value) if labels else value

    return get


@dataclass(frozen=True)
class _Compiled:
    getters: Mapping[str, Callable[[_Row], Any]]
    writers: Mapping[str, Callable[[Any], Any]]


def _writer(edm: str) -> Callable[[Any], Any]:
    if edm == "Edm.DateTimeOffset":
        return lambda value: None if value is None else shape.format_ms(value)
    return lambda value: value


def _compiled(inquiry: Inquiry) -> _Compiled:
    return _Compiled(
        {column.name: _getter(inquiry, column) for column in inquiry.columns},
        {column.name: _writer(column.edm) for column in inquiry.columns},
    )


_COMPILED = {name: _compiled(inquiry) for name, inquiry in INQUIRIES.items()}


def _resolver(inquiry: Inquiry) -> Callable[[str], Column | None]:
    getters = _COMPILED[inquiry.name].getters
    entity = catalog.ENTITIES[inquiry.entity]
    edm = {column.name: column for column in inquiry.columns}

    def resolve(name: str) -> Column | None:
        column = edm.get(name)
        if column is None:
            return None
        return Column(_KINDS[column.edm], getters[name], indexed=column.source == entity.last_modified)

    return resolve


def _line_count(snap: Snapshot, index: int) -> int:
    overlay = snap.overlay.get(index)
    if overlay is not None and overlay.deleted:
        return 0
    if overlay is not None and overlay.details is not None:
        return len(overlay.details)
    if overlay is not None and not overlay.generated:
        return 0
    return generate.sales_order_line_count(snap.state.store.seed, index)


class _LineLocator:
    """Row offsets of sales order lines in key order: a closed form for generated orders plus overlay corrections."""

    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap
        self.seed = snap.state.store.seed
        self.fixes = sorted(snap.overlay)
        deltas = [_line_count(snap, i) - generate.sales_order_line_count(self.seed, i) for i in self.fixes]
        self.cumulative = [0]
        for delta in deltas:
            self.cumulative.append(self.cumulative[-1] + delta)

    def row_start(self, index: int) -> int:
        return (
            generate.sales_order_lines_before(self.seed, index) + self.cumulative[bisect.bisect_left(self.fixes, index)]
        )

    def __len__(self) -> int:
        return self.row_start(self.snap.next_index)

    def rows(self, start: int, stop: int) -> Iterator[tuple[int, int]]:
        low, high = 0, self.snap.next_index - 1
        while low < high:
            mid = (low + high + 1) // 2
            if self.row_start(mid) <= start:
                low = mid
            else:
                high = mid - 1
        index, line = low, start - self.row_start(low)
        remaining = stop - start
        while remaining > 0 and index < self.snap.next_index:
            count = _line_count(self.snap, index)
            while line < count and remaining > 0:
                yield index, line
                line += 1
                remaining -= 1
            index, line = index + 1, 0


def _parse_orderby(inquiry: Inquiry, text: str) -> list[tuple[str, bool]]:
    names = {column.name for column in inquiry.columns}
    order: list[tuple[str, bool]] = []
    for item in (part.strip() for part in text.split(",") if part.strip()):
        words = item.split()
        direction = words[1].lower() if len(words) == 2 else "asc"
        if len(words) > 2 or direction not in ("asc", "desc") or words[0] not in names:
            raise _ODataError(400, f"Invalid $orderby item '{item}': expected '<column> asc|desc' on '{inquiry.name}'.")
        order.append((words[0], direction == "desc"))
    return order


def _int_option(request: Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    if not raw.strip().isdigit():
        raise _ODataError(400, f"Invalid value '{raw}' for {name}: expected a non-negative integer.")
    return int(raw)


class ODataApi:
    """Serves `$metadata` and the sandbox's generic inquiries."""

    def __init__(self, store: DataStore, site_path: str = "") -> None:
        self.store = store
        self.site_path = site_path.rstrip("/")
        self._cache: OrderedDict[tuple[Any, ...], array[int]] = OrderedDict()

    def handle(self, request: Request, tenant: str, resource: str) -> Response:
        """Answer `GET /t/<tenant>/api/odata/gi/<resource>`; resource is `$metadata` or an inquiry name."""
        try:
            if resource == "$metadata":
                return self._metadata()
            inquiry = INQUIRIES.get(resource)
            if inquiry is None:
                raise _ODataError(404, f"The generic inquiry '{resource}' does not exist or is not exposed via OData.")
            return self._query(request, tenant, inquiry)
        except _ODataError as error:
            return error.response

    def _metadata(self) -> Response:
        types = []
        sets = []
        for inquiry in INQUIRIES.values():
            keys = "".join(f"<PropertyRef Name={quoteattr(key)}/>" for key in inquiry.keys)
            props = "".join(
                f"<Property Name={quoteattr(c.name)} Type={quoteattr(c.edm)}"
                + (' Nullable="false"' if c.name in inquiry.keys else "")
                + "/>"
                for c in inquiry.columns
            )
            types.append(f"<EntityType Name={quoteattr(inquiry.type_name)}><Key>{keys}</Key>{props}</EntityType>")
            sets.append(
                f"<EntitySet Name={quoteattr(inquiry.name)} EntityType={quoteattr('Default.' + inquiry.type_name)}/>"
            )
        xml = (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">'
            '<edmx:DataServices><Schema Namespace="Default" xmlns="http://docs.oasis-open.org/odata/ns/edm">'
            + "".join(types)
            + '<EntityContainer Name="Default">'
            + "".join(sets)
            + "</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>"
        )
        return Response(
            200, xml.encode("utf-8"), [("Content-Type", "application/xml; charset=utf-8"), ("OData-Version", "4.0")]
        )

    def _context(self, request: Request, tenant: str, inquiry: Inquiry, selected: list[str] | None) -> str:
        host = request.header("Host")
        origin = f"http://{host}" if host else ""
        suffix = f"({','.join(selected)})" if selected else ""
        return f"{origin}{self.site_path}/t/{tenant}/api/odata/gi/$metadata#{inquiry.name}{suffix}"

    def _query(self, request: Request, tenant: str, inquiry: Inquiry) -> Response:
        for option in _UNSUPPORTED:
            if option in request.query:
                raise _ODataError(400, f"The query option '{option}' is not supported by generic inquiries.")
        selected = self._select(request, inquiry)
        skip = _int_option(request, "$skip") or 0
        top = _int_option(request, "$top")
        flt = self._filter(request, inquiry)
        order = _parse_orderby(inquiry, request.query.get("$orderby", ""))
        snap = self.store.snapshot(inquiry.entity)
        rows = self._rows(snap, inquiry, flt, order, skip, None if top is None else skip + top)
        compiled = _COMPILED[inquiry.name]
        columns = selected or [column.name for column in inquiry.columns]
        plan = [(name, compiled.getters[name], compiled.writers[name]) for name in columns]
        values = [{name: write(get(row)) for name, get, write in plan} for row in rows]
        payload = {"@odata.context": self._context(request, tenant, inquiry, selected), "value": values}
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        return Response(
            200, body, [("Content-Type", "application/json; odata.metadata=minimal"), ("OData-Version", "4.0")]
        )

    def _select(self, request: Request, inquiry: Inquiry) -> list[str] | None:
        text = request.query.get("$select", "").strip()
        if not text or text == "*":
            return None
        names = [part.strip() for part in text.split(",") if part.strip()]
        known = {column.name for column in inquiry.columns}
        for name in names:
            if name not in known:
                raise _ODataError(
                    400, f"Could not find a property named '{name}' on type 'Default.{inquiry.type_name}'."
                )
        return names

    def _filter(self, request: Request, inquiry: Inquiry) -> CompiledFilter | None:
        text = request.query.get("$filter", "").strip()
        if not text:
            return None
        try:
            return compile_filter(text, Dialect.GI, _resolver(inquiry), f"Default.{inquiry.type_name}")
        except FilterError as error:
            raise _ODataError(400, str(error)) from error

    def _rows(
        self,
        snap: Snapshot,
        inquiry: Inquiry,
        flt: CompiledFilter | None,
        order: list[tuple[str, bool]],
        start: int,
        stop: int | None,
    ) -> list[_Row]:
        default_order = all(
            name == key and not desc for (name, desc), key in zip(order, inquiry.keys, strict=False)
        ) and len(order) <= len(inquiry.keys)
        if not inquiry.per_line and default_order:
            selection = self.store.select(snap, ("gi", inquiry.name, flt.text if flt else ""), _record_level(flt))
            return [_Row(snap.view(index), None) for index in selection.slice(start, stop)]
        if inquiry.per_line and default_order and flt is None:
            locator = _LineLocator(snap)
            return self._lines(snap, locator.rows(start, len(locator) if stop is None else stop))
        codes = self._codes(snap, inquiry, flt, order if not default_order else [])
        return self._decode(snap, inquiry, codes[start:stop])

    def _lines(self, snap: Snapshot, pairs: Iterator[tuple[int, int]]) -> list[_Row]:
        rows: list[_Row] = []
        current: RecordView | None = None
        for index, line in pairs:
            if current is None or current.index != index:
                current = snap.view(index)
            rows.append(_Row(current, current.details()[line]))
        return rows

    def _decode(self, snap: Snapshot, inquiry: Inquiry, codes: array[int]) -> list[_Row]:
        if not inquiry.per_line:
            return [_Row(snap.view(code), None) for code in codes]
        return self._lines(snap, ((code >> LINE_BITS, code & ((1 << LINE_BITS) - 1)) for code in codes))

    def _codes(
        self, snap: Snapshot, inquiry: Inquiry, flt: CompiledFilter | None, order: list[tuple[str, bool]]
    ) -> array[int]:
        """Row codes (index, or index<<12|line) matching the filter, in the requested order; cached per data state."""
        key = (inquiry.name, flt.text if flt else "", tuple(order), snap.events, snap.changes)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        candidates = self.store.select(snap, ("gi", inquiry.name, flt.text if flt else ""), _record_level(flt, inquiry))
        rows = self._matching_rows(snap, inquiry, flt, candidates.slice(0, None))
        if order:
            getters = _COMPILED[inquiry.name].getters
            for name, desc in reversed(order):
                rows.sort(key=lambda pair: _sort_key(getters[name](pair[1])), reverse=desc)
        codes = array("Q", (code for code, _ in rows))
        self._cache[key] = codes
        while len(self._cache) > CACHE_ENTRIES:
            self._cache.popitem(last=False)
        return codes

    def _matching_rows(
        self, snap: Snapshot, inquiry: Inquiry, flt: CompiledFilter | None, indexes: Iterator[int]
    ) -> list[tuple[int, _Row]]:
        out: list[tuple[int, _Row]] = []
        for index in indexes:
            view = snap.view(index)
            if not inquiry.per_line:
                out.append((index, _Row(view, None)))
                continue
            for number, line in enumerate(view.details()):
                row = _Row(view, line)
                if flt is None or flt.matches(row):
                    out.append((index << LINE_BITS | number, row))
        return out


def _sort_key(value: Any) -> tuple[bool, Any]:
    """NULLs first, as SQL Server sorts them; strings case-insensitively."""
    return (value is not None, value.casefold() if isinstance(value, str) else value)


def _record_level(flt: CompiledFilter | None, inquiry: Inquiry | None = None) -> CompiledFilter | None:
    """The filter as a predicate over whole records, for the store's cached, index-assisted selection."""
    if flt is None:
        return None
    matches = flt.matches
    if inquiry is not None and inquiry.per_line:
        return replace(flt, matches=lambda view: any(matches(_Row(view, line)) for line in view.details()))
    return replace(flt, matches=lambda view: matches(_Row(view, None)))
