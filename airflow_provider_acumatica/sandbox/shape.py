"""Turns canonical record state into the JSON the real server sends, per endpoint version, and back for filters.

Every field is wrapped (`{"value": ...}`, `{}` when empty); drop-downs show their label in Contract Version 4 and
`{"id", "description"}` in Contract Version 5; times use the server's format, `2024-03-20T17:41:27.34+00:00`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache, lru_cache
from json import encoder
from typing import TYPE_CHECKING, Any

from . import catalog
from .filters import Column, Dialect, Resolver

if TYPE_CHECKING:
    from .data import RecordView

DAY_MS = 86_400_000
_EPOCH_DATE = date(1970, 1, 1)


@lru_cache(maxsize=4096)
def _date_text(days: int) -> str:
    return (_EPOCH_DATE + timedelta(days=days)).isoformat()


def format_ms(ms: int) -> str:
    """`2024-03-20T17:41:27.34+00:00`: UTC, milliseconds with trailing zeros trimmed, as Acumatica prints them."""
    days, rest = divmod(ms, DAY_MS)
    hours, rest = divmod(rest, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    fraction = f".{millis:03d}".rstrip("0") if millis else ""
    return f"{_date_text(days)}T{hours:02d}:{minutes:02d}:{seconds:02d}{fraction}+00:00"


def format_date(ms: int) -> str:
    return _date_text(ms // DAY_MS)


def dialect_for(version: str) -> Dialect:
    return Dialect.CV5 if catalog.VERSIONS[version].contract >= 5 else Dialect.CV4


@dataclass(frozen=True)
class Projection:
    """What one level of a record shows: selected API field names (None = all) and expanded children."""

    fields: frozenset[str] | None = None
    children: Mapping[str, Projection] = field(default_factory=dict)


FULL = Projection()

Encoder = Callable[[Any], str]

_encode_text: Callable[[str], str] = encoder.encode_basestring_ascii


def _json(value: Any) -> str:
    """JSON text of a scalar exactly as `json.dumps` writes it, with fast paths for the common types."""
    kind = type(value)
    if kind is str:
        return _encode_text(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return int.__repr__(value)
    if kind is float:
        return float.__repr__(value)
    return json.dumps(value, separators=(",", ":"))


def _plain(value: Any) -> str:
    return '{"value":' + _json(value) + "}"


def _datetime(value: Any) -> str:
    return '{"value":"' + format_ms(value) + '"}'


def _date_only(value: Any) -> str:
    return '{"value":"' + format_date(value) + '"}'


def _label_encoder(options: tuple[tuple[str, str], ...]) -> Encoder:
    labels = dict(options)
    return lambda value: '{"value":' + _json(labels.get(value, value)) + "}"


def _select_encoder(options: tuple[tuple[str, str], ...]) -> Encoder:
    labels = dict(options)
    return lambda value: '{"value":{"id":' + _json(value) + ',"description":' + _json(labels.get(value, value)) + "}}"


def _encoder(vf: catalog.VersionField) -> Encoder | None:
    """How a field's value is wrapped; None for the plain `{"value": v}`, which `_fields` writes inline."""
    if vf.type == catalog.SINGLE_SELECT:
        return _select_encoder(vf.field.options)
    if vf.field.options:
        return _label_encoder(vf.field.options)
    if vf.type == catalog.DATE_ONLY:
        return _date_only
    if vf.type == catalog.DATETIME:
        return _datetime
    return None


@cache
def _plan(schema: str, version: str) -> tuple[tuple[str, str, str, Encoder | None], ...]:
    """Per field: API name, JSON member prefix, canonical source name and value encoder (None for a plain value,
    written inline); computed once per schema and version."""
    return tuple(
        (vf.api_name, _encode_text(vf.api_name) + ":", vf.field.mirror or vf.field.name, _encoder(vf))
        for vf in catalog.version_fields(schema, version)
    )


def _fields(schema: str, version: str, values: Mapping[str, Any], selected: frozenset[str] | None) -> list[str]:
    """The wrapped fields as JSON members (`"Name":{"value":...}`). Text is built directly because list pages
    are the sandbox's hot path, and dictionaries fed to `json.dumps` cost twice as much."""
    out: list[str] = []
    for name, member, source, encode in _plan(schema, version):
        if selected is not None and name not in selected:
            continue
        value = values.get(source)
        if value is None:
            out.append(member + "{}")
        elif encode is None:
            out.append(member + '{"value":' + _json(value) + "}")
        else:
            out.append(member + encode(value))
    return out


def wrapped(schema: str, version: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """Every field of a schema wrapped as the API sends it, for objects that are not stored records (inquiry
    filters and result rows)."""
    parsed: dict[str, Any] = json.loads("{" + ",".join(_fields(schema, version, values, None)) + "}")
    return parsed


def _system(record_id: str, row_number: int, note: str | None) -> str:
    return '{"id":' + _encode_text(record_id) + ',"rowNumber":' + str(row_number) + ',"note":' + _plain(note or "")


def _linked(
    view: RecordView, path: str, schema: str, version: str, values: Mapping[str, Any], projection: Projection
) -> str:
    members = [_system(view.linked_id(path), 1, None), *_fields(schema, version, values, projection.fields)]
    for name, child in catalog.children(schema).items():
        sub = projection.children.get(name)
        if sub is not None and not child.collection:
            text = _linked(view, f"{path}/{name}", child.schema, version, values.get(name) or {}, sub)
            members.append(_encode_text(name) + ":" + text)
    members.append('"custom":{}}')
    return ",".join(members)


CustomSection = Callable[[int], Mapping[str, Any]]


def record_json(
    view: RecordView,
    version: str,
    projection: Projection,
    row_number: int,
    site_path: str,
    custom: CustomSection | None = None,
) -> str:
    """One record as JSON text, as a list or GET returns it: system members, wrapped fields, expanded
    children, the `custom` section (`custom(index)`, the fields `$custom` asked for) and `_links`."""
    entity = view.entity
    members = [_system(view.id, row_number, view.values.get("_note"))]
    members.extend(_fields(entity.name, version, view.values, projection.fields))
    for name, child in catalog.children(entity.name).items():
        sub = projection.children.get(name)
        if sub is None:
            continue
        if child.collection:
            lines = [
                _detail(child.schema, version, line, sub, number) for number, line in enumerate(view.details(), start=1)
            ]
            members.append(_encode_text(name) + ":[" + ",".join(lines) + "]")
        else:
            linked = _linked(view, name, child.schema, version, view.linked(name), sub)
            members.append(_encode_text(name) + ":" + linked)
    base = f"{site_path}/entity/{catalog.ENDPOINT_NAME}/{version}"
    files = f"{base}/files/{entity.graph}/{entity.view}/{view.id}/{{filename}}"
    links = f'{{"self":{_encode_text(f"{base}/{entity.name}/{view.id}")},"files:put":{_encode_text(files)}}}'
    section = "{}" if custom is None else json.dumps(custom(view.index), separators=(",", ":"))
    members.append('"custom":' + section + ',"_links":' + links + "}")
    return ",".join(members)


def shape_record(
    view: RecordView,
    version: str,
    projection: Projection,
    row_number: int,
    site_path: str,
    custom: CustomSection | None = None,
) -> dict[str, Any]:
    """The record as a dictionary: parsed from `record_json`, so there is one definition of the shape."""
    record: dict[str, Any] = json.loads(record_json(view, version, projection, row_number, site_path, custom))
    return record


def _detail(schema: str, version: str, line: Mapping[str, Any], projection: Projection, number: int) -> str:
    members = [_system(line["_id"], number, line.get("_note")), *_fields(schema, version, line, projection.fields)]
    members.append('"custom":{}}')
    return ",".join(members)


_KINDS = {
    catalog.STRING: "string",
    catalog.SINGLE_SELECT: "string",
    catalog.DECIMAL: "number",
    catalog.INT: "number",
    catalog.SHORT: "number",
    catalog.LONG: "number",
    catalog.BOOLEAN: "boolean",
    catalog.DATETIME: "datetime",
    catalog.DATE_ONLY: "datetime",
    catalog.GUID: "guid",
}


def _column(vf: catalog.VersionField, contract: int, read: Callable[[Any], Mapping[str, Any]], indexed: bool) -> Column:
    source = vf.field.mirror or vf.field.name
    options = vf.field.options
    if not options:
        return Column(_KINDS[vf.type], lambda row: read(row).get(source), indexed=indexed)
    if contract >= 5:
        ids = {label.casefold(): code for code, label in options}
        return Column("string", lambda row: read(row).get(source), ids)
    labels: dict[Any, str] = dict(options)
    aliases = {code.casefold(): label for code, label in options}
    return Column("string", lambda row: labels.get(read(row).get(source)), aliases)


def _reader(path: tuple[str, ...]) -> Callable[[Any], Mapping[str, Any]]:
    if not path:
        return lambda row: row.values

    def read(row: Any) -> Mapping[str, Any]:
        values: Mapping[str, Any] = row.linked(path[0])
        for name in path[1:]:
            values = values.get(name) or {}
        return values

    return read


@cache
def filter_resolver(entity_name: str, version: str) -> Resolver:
    """Resolves `$filter` field paths (`Status`, `MainContact/Address/City`) to columns over `RecordView`s."""
    entity = catalog.ENTITIES[entity_name]
    contract = catalog.VERSIONS[version].contract
    indexed = set(catalog.last_modified_fields(entity, version))

    def resolve(path: str) -> Column | None:
        *parents, name = path.split("/")
        schema = entity.name
        for parent in parents:
            child = catalog.children(schema).get(parent)
            if child is None or child.collection:
                return None
            schema = child.schema
        vf = catalog.field_map(schema, version).get(name)
        if vf is None:
            return None
        return _column(vf, contract, _reader(tuple(parents)), not parents and name in indexed)

    return resolve


class ProjectionError(ValueError):
    """An unknown field or entity in `$select` / `$expand`."""


@dataclass
class _Level:
    fields: set[str] | None = None
    children: dict[str, _Level] = field(default_factory=dict)

    def freeze(self) -> Projection:
        chosen = None if self.fields is None else frozenset(self.fields)
        return Projection(chosen, {name: level.freeze() for name, level in self.children.items()})


def _split_top(text: str, separator: str) -> list[str]:
    """Split on `separator` outside parentheses (CV5 nests options inside `$expand`)."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == separator and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if depth != 0:
        raise ProjectionError(f"Unbalanced parentheses in '{text}'.")
    parts.append("".join(current))
    return [part.strip() for part in parts if part.strip()]


class _ProjectionParser:
    def __init__(self, version: str) -> None:
        self.version = version

    def child(self, schema: str, level: _Level, name: str) -> tuple[str, _Level]:
        child = catalog.children(schema).get(name)
        if child is None:
            raise ProjectionError(f"The entity '{schema}' has no linked or detail entity named '{name}'.")
        return child.schema, level.children.setdefault(name, _Level())

    def expand_path(self, schema: str, level: _Level, path: str) -> None:
        for part in path.split("/"):
            schema, level = self.child(schema, level, part)

    def expand_v4(self, schema: str, level: _Level, item: str) -> None:
        name, _, options = item.partition("(")
        child_schema, child_level = self.child(schema, level, name.strip())
        if not options:
            return
        if not options.endswith(")"):
            raise ProjectionError(f"Malformed $expand item '{item}'.")
        for option in _split_top(options[:-1], ";"):
            key, _, value = option.partition("=")
            if key.strip() == "$select":
                self.select_fields(child_schema, child_level, value)
            elif key.strip() == "$expand":
                for nested in _split_top(value, ","):
                    self.expand_v4(child_schema, child_level, nested)
            else:
                raise ProjectionError(f"Unsupported option '{key.strip()}' in $expand item '{item}'.")

    def select_fields(self, schema: str, level: _Level, text: str) -> None:
        for item in _split_top(text, ","):
            self.select_path(schema, level, item)

    def select_path(self, schema: str, level: _Level, path: str) -> None:
        if path == "*":
            level.fields = None
            return
        *parents, name = path.split("/")
        for parent in parents:
            schema, level = self.child(schema, level, parent)
        if name in catalog.children(schema):
            self.child(schema, level, name)
            return
        if name not in catalog.field_map(schema, self.version):
            raise ProjectionError(
                f"The entity '{schema}' has no field named '{name}' in endpoint version {self.version}."
            )
        if level.fields is None:
            level.fields = set()
        level.fields.add(name)


def parse_projection(schema: str, version: str, select: str | None, expand: str | None) -> Projection:
    """Build the projection from `$select`/`$expand` in the version's syntax (slash paths in CV4, nesting in CV5)."""
    parser = _ProjectionParser(version)
    root = _Level()
    cv5 = catalog.VERSIONS[version].contract >= 5
    for item in _split_top(expand or "", ","):
        if cv5:
            parser.expand_v4(schema, root, item)
        else:
            parser.expand_path(schema, root, item)
    if select:
        root.fields = set()
        parser.select_fields(schema, root, select)
    return root.freeze()


def merge_projection(base: Projection, extra: Mapping[str, Projection]) -> Projection:
    """Add expansions (e.g. children a PUT body sent) to a projection without overriding explicit ones."""
    children = {**extra, **base.children}
    return Projection(base.fields, children)
