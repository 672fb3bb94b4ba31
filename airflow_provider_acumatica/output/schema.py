"""Entity schemas read from an endpoint's swagger.json, so written files get typed columns.

Contract-based entities are `allOf: [Entity, {properties}]`; each field refers to a value wrapper
(`StringValue`, `DecimalValue`, ...), a linked entity (`$ref` to another entity) or a detail
collection (an array of a detail entity). `restrict` narrows a schema to what a `$select`/`$expand`
request returns, in either syntax: CV4 paths (`MainContact/Email`) or CV5 nesting
(`MainContact($select=Email;$expand=Address)`).
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from airflow_provider_acumatica.exceptions import AcumaticaConfigError


class FieldType(enum.Enum):
    """The type of one field; value types map to one column type per output format."""

    STRING = "string"
    GUID = "guid"
    DECIMAL = "decimal"
    DOUBLE = "double"
    INT16 = "int16"
    INT32 = "int32"
    INT64 = "int64"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    DATE = "date"
    OBJECT = "object"
    LINKED = "linked"
    DETAIL = "detail"


SYSTEM_MEMBERS = ("id", "rowNumber", "note")
LAST_MODIFIED_FIELDS = ("LastModifiedDateTime", "LastModified", "LastModifiedDate")

# .NET's `byte` is unsigned (0-255), so ByteValue needs int16 to stay exact.
_WRAPPER_TYPES = {
    "StringValue": FieldType.STRING,
    "GuidValue": FieldType.GUID,
    "DecimalValue": FieldType.DECIMAL,
    "DoubleValue": FieldType.DOUBLE,
    "ByteValue": FieldType.INT16,
    "ShortValue": FieldType.INT16,
    "IntValue": FieldType.INT32,
    "LongValue": FieldType.INT64,
    "BooleanValue": FieldType.BOOLEAN,
    "DateTimeValue": FieldType.DATETIME,
}
# `custom` is untyped by the contract and `error` only appears on write responses.
_NOT_COLUMNS = frozenset({"custom", "error"})
_REF_PREFIX = "#/components/schemas/"


@dataclass(frozen=True)
class SchemaField:
    """One member of an entity: its type, where the type came from, and the nested schema if any."""

    name: str
    type: FieldType
    source: str
    schema: EntitySchema | None = None


@dataclass(frozen=True)
class EntitySchema:
    """The members of an entity (or of a detail or linked entity) in swagger.json order."""

    name: str
    fields: tuple[SchemaField, ...]

    @classmethod
    def from_openapi(cls, document: Mapping[str, Any], entity: str) -> EntitySchema:
        """The schema of `entity` as the endpoint's swagger.json describes it."""
        return _Parser(document).entity(entity)

    @property
    def columns(self) -> list[str]:
        return [f.name for f in self.fields]

    @cached_property
    def _by_name(self) -> dict[str, SchemaField]:
        return {f.name: f for f in self.fields}

    @cached_property
    def details(self) -> tuple[SchemaField, ...]:
        """The detail collections: write-back checks their lines on every record, so they are found once."""
        return tuple(f for f in self.fields if f.type is FieldType.DETAIL)

    def get(self, name: str) -> SchemaField | None:
        return self._by_name.get(name)

    def last_modified_field(self) -> str | None:
        """The field an incremental extract filters on, preferring the names newer endpoints use."""
        for name in LAST_MODIFIED_FIELDS:
            found = self.get(name)
            if found is not None and found.type is FieldType.DATETIME:
                return name
        return None

    def restrict(self, select: str | None = None, expand: str | None = None) -> EntitySchema:
        """Only the members a request with this `$select`/`$expand` returns.

        System members always stay; details and linked entities only when expanded (naming a nested
        field in `$select`, e.g. `MainContact/Email`, expands its entity as the API does).
        """
        projection = _Projection()
        for item in _split_top(expand or "", ","):
            _expand_item(self, projection, item)
        if select:
            projection.fields = set()
            _select_list(self, projection, select)
        return _project(self, projection)


@dataclass
class _Projection:
    """One level of a request: the value fields chosen (None: all) and the expanded members."""

    fields: set[str] | None = None
    everything: bool = False
    children: dict[str, _Projection] = field(default_factory=dict)


def _expand_item(schema: EntitySchema, level: _Projection, item: str) -> None:
    name, _, options = item.partition("(")
    *parents, last = name.strip().split("/")
    for part in parents:
        schema, level = _child(schema, level, part)
    schema, level = _child(schema, level, last)
    if not options:
        return
    if not options.endswith(")"):
        raise AcumaticaConfigError(f"Malformed $expand item {item!r}: expected Name($select=...;$expand=...).")
    for option in _split_top(options[:-1], ";"):
        key, _, value = (part.strip() for part in option.partition("="))
        if key == "$select":
            _select_list(schema, level, value)
        elif key == "$expand":
            for nested in _split_top(value, ","):
                _expand_item(schema, level, nested)
        else:
            raise AcumaticaConfigError(f"Unsupported option {key!r} in $expand item {item!r}: use $select or $expand.")


def _select_list(schema: EntitySchema, level: _Projection, text: str) -> None:
    for path in _split_top(text, ","):
        _select_path(schema, level, path)


def _select_path(schema: EntitySchema, level: _Projection, path: str) -> None:
    *parents, name = path.split("/")
    for part in parents:
        schema, level = _child(schema, level, part)
    if name == "*":
        level.everything = True
        return
    member = schema.get(name)
    if member is None:
        raise AcumaticaConfigError(f"$select names {name!r}, which {schema.name} does not have.{_close(name, schema)}")
    if member.type in (FieldType.LINKED, FieldType.DETAIL):
        _child(schema, level, name)
    else:
        level.fields = set() if level.fields is None else level.fields
        level.fields.add(name)


def _child(schema: EntitySchema, level: _Projection, name: str) -> tuple[EntitySchema, _Projection]:
    member = schema.get(name)
    if member is not None and member.type not in (FieldType.LINKED, FieldType.DETAIL):
        raise AcumaticaConfigError(
            f"{name!r} is a field of {schema.name}, not a detail or linked entity: only those can be expanded "
            "or have fields of their own."
        )
    if member is None or member.schema is None:
        raise AcumaticaConfigError(
            f"{name!r} is not a detail or linked entity of {schema.name}.{_close(name, schema, nested=True)}"
        )
    return member.schema, level.children.setdefault(name, _Projection())


def _project(schema: EntitySchema, projection: _Projection) -> EntitySchema:
    kept: list[SchemaField] = []
    for member in schema.fields:
        if member.type in (FieldType.LINKED, FieldType.DETAIL):
            child = projection.children.get(member.name)
            if child is not None and member.schema is not None:
                kept.append(SchemaField(member.name, member.type, member.source, _project(member.schema, child)))
        elif member.name in SYSTEM_MEMBERS or _chosen(projection, member.name):
            kept.append(member)
    return EntitySchema(schema.name, tuple(kept))


def _chosen(projection: _Projection, name: str) -> bool:
    return projection.everything or projection.fields is None or name in projection.fields


def _close(name: str, schema: EntitySchema, *, nested: bool = False) -> str:
    candidates = [f.name for f in schema.fields if not nested or f.type in (FieldType.LINKED, FieldType.DETAIL)]
    return _suggest(name, candidates)


def _suggest(name: str, candidates: Iterable[str]) -> str:
    by_lower = {c.lower(): c for c in candidates}
    matches = difflib.get_close_matches(name.lower(), list(by_lower), n=5, cutoff=0.6)
    return f" Close matches: {', '.join(by_lower[m] for m in matches)}." if matches else ""


def _split_top(text: str, separator: str) -> list[str]:
    """Split on `separator` outside parentheses (CV5 nests options inside `$expand`)."""
    parts: list[str] = []
    depth = 0
    start = 0
    for index, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == separator and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    if depth != 0:
        raise AcumaticaConfigError(f"Unbalanced parentheses in {text!r}.")
    parts.append(text[start:])
    return [part.strip() for part in parts if part.strip()]


class _Parser:
    """Resolves `$ref`s and `allOf`s of one document; each schema is built once."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        components = document.get("components", {})
        self.schemas: Mapping[str, Any] = components.get("schemas", {}) if isinstance(components, Mapping) else {}
        self.title = str(document.get("info", {}).get("title", "this endpoint"))
        self.listed = [path.strip("/") for path in document.get("paths", {}) if path.count("/") == 1]
        self.built: dict[str, EntitySchema] = {}
        self.building: set[str] = set()

    def entity(self, name: str) -> EntitySchema:
        if not self._is_entity(name):
            candidates = self.listed or [n for n in self.schemas if self._is_entity(n)]
            raise AcumaticaConfigError(
                f"Entity {name!r} is not in the swagger.json of {self.title}; check the entity name and the "
                f"connection's endpoint version.{_suggest(name, candidates)}"
            )
        return self._entity(name)

    def _is_entity(self, name: str) -> bool:
        return name in self.schemas and not self._is_wrapper(self._properties(name))

    def _entity(self, name: str) -> EntitySchema:
        if name not in self.built:
            self.building.add(name)
            self.built[name] = EntitySchema(name, self._fields(self._properties(name)))
            self.building.discard(name)
        return self.built[name]

    def _fields(self, properties: Mapping[str, Any]) -> tuple[SchemaField, ...]:
        fields = (self._field(name, spec) for name, spec in properties.items() if name not in _NOT_COLUMNS)
        return tuple(f for f in fields if f is not None)

    def _field(self, name: str, spec: Mapping[str, Any]) -> SchemaField | None:
        if "$ref" in spec:
            return self._referenced(name, _ref_name(spec["$ref"]))
        items = spec.get("items")
        if spec.get("type") == "array" and isinstance(items, Mapping) and "$ref" in items:
            target = _ref_name(items["$ref"])
            if target in self.building:
                return None
            return SchemaField(name, FieldType.DETAIL, target, self._entity(target))
        primitive = _primitive(spec)
        return None if primitive is None else SchemaField(name, primitive, str(spec.get("format") or spec["type"]))

    def _referenced(self, name: str, target: str) -> SchemaField | None:
        if target in _WRAPPER_TYPES:
            return SchemaField(name, _WRAPPER_TYPES[target], target)
        properties = self._properties(target)
        if self._is_wrapper(properties):
            return self._wrapped(name, target, properties["value"])
        if target in self.building:
            return None
        return SchemaField(name, FieldType.LINKED, target, self._entity(target))

    def _wrapped(self, name: str, wrapper: str, value: Mapping[str, Any]) -> SchemaField | None:
        """A wrapper this module does not know by name: typed from its `value` (e.g. CV5 single-select)."""
        primitive = _primitive(value)
        if primitive is not None:
            return SchemaField(name, primitive, wrapper)
        inner = value.get("properties")
        if value.get("type") == "object" and isinstance(inner, Mapping):
            return SchemaField(name, FieldType.OBJECT, wrapper, EntitySchema(f"{wrapper}.value", self._fields(inner)))
        return None

    def _properties(self, name: str) -> dict[str, Any]:
        if name not in self.schemas:
            raise AcumaticaConfigError(f"The swagger.json of {self.title} refers to a missing schema {name!r}.")
        return self._merged(self.schemas[name])

    def _merged(self, schema: Mapping[str, Any]) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        for part in schema.get("allOf", ()):
            properties.update(self._properties(_ref_name(part["$ref"])) if "$ref" in part else self._merged(part))
        properties.update(schema.get("properties", {}))
        return properties

    @staticmethod
    def _is_wrapper(properties: Mapping[str, Any]) -> bool:
        return "value" in properties and properties.keys() <= {"value", "error"}


def _ref_name(ref: str) -> str:
    if not ref.startswith(_REF_PREFIX):
        raise AcumaticaConfigError(f"Unsupported $ref {ref!r} in swagger.json: only {_REF_PREFIX}... is followed.")
    return ref[len(_REF_PREFIX) :]


def _primitive(spec: Mapping[str, Any]) -> FieldType | None:
    kind, fmt = spec.get("type"), spec.get("format")
    if kind == "string":
        return {"date-time": FieldType.DATETIME, "date": FieldType.DATE, "uuid": FieldType.GUID}.get(
            str(fmt), FieldType.STRING
        )
    if kind == "integer":
        return FieldType.INT64 if fmt == "int64" else FieldType.INT32
    return {"number": FieldType.DOUBLE, "boolean": FieldType.BOOLEAN}.get(str(kind))
