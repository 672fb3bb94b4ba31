"""The catalog's building blocks: value types, fields, schemas, entities and endpoint versions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

STRING = "StringValue"
DECIMAL = "DecimalValue"
DATETIME = "DateTimeValue"
BOOLEAN = "BooleanValue"
INT = "IntValue"
SHORT = "ShortValue"
LONG = "LongValue"
GUID = "GuidValue"
SINGLE_SELECT = "StringSingleSelectValue"
DATE_ONLY = "DateOnlyValue"

DEFAULT_VERSION = "24.200.001"
ENDPOINT_NAME = "Default"
BUILD_VERSION = "24.206.0013"
DATABASE_VERSION = "24.206.0013"


@dataclass(frozen=True)
class Field:
    """One contract field; `options` are drop-down (id, label) pairs, `lookup` the values a selector accepts."""

    name: str
    type: str
    options: tuple[tuple[str, str], ...] = ()
    lookup: tuple[str, ...] = ()
    date_only: bool = False
    required: bool = False
    since: str | None = None
    until: str | None = None
    mirror: str | None = None


@dataclass(frozen=True)
class Child:
    """A detail collection (`collection=True`) or a linked entity of a schema."""

    name: str
    schema: str
    collection: bool


@dataclass(frozen=True)
class Schema:
    name: str
    fields: tuple[Field, ...]
    children: tuple[Child, ...] = ()


@dataclass(frozen=True)
class Entity:
    """A top-level entity: its schema plus what the routes and the generator need to know about it.

    `last_modified` is None for the entities whose contract has no last-modified field (full refresh only); the
    store still times their changes. `dac` is the primary DAC the endpoint definition maps the entity to.
    """

    name: str
    screen: str
    graph: str
    view: str
    keys: tuple[str, ...]
    last_modified: str | None
    key_prefix: str
    auto_number: bool
    schema: Schema
    dac: str | None = None


@dataclass(frozen=True)
class EndpointVersion:
    version: str
    contract: int
    renames: Mapping[tuple[str, str], str] = field(default_factory=dict)


@dataclass(frozen=True)
class VersionField:
    """A field as one endpoint version exposes it: API name, canonical field and the version's value type."""

    api_name: str
    field: Field
    type: str


def fld(
    name: str,
    type_: str = STRING,
    *,
    lookup: tuple[str, ...] = (),
    required: bool = False,
    since: str | None = None,
    until: str | None = None,
    mirror: str | None = None,
) -> Field:
    return Field(name, type_, lookup=lookup, required=required, since=since, until=until, mirror=mirror)


def many(type_: str, *names: str) -> tuple[Field, ...]:
    """Plain fields of one value type, for the entities whose fields carry no options or version differences."""
    return tuple(Field(name, type_) for name in names)


def dropdown(name: str, *options: tuple[str, str], since: str | None = None) -> Field:
    return Field(name, STRING, options=options, since=since)


def day_field(name: str) -> Field:
    return Field(name, DATETIME, date_only=True)


CUSTOMER_CLASSES = ("DEFAULT", "INTL", "LOCAL", "RETAIL", "WHOLESALE")
VENDOR_CLASSES = ("DEFAULT", "FREIGHT", "INTL", "LOCAL", "SERVICES")
ITEM_CLASSES = ("ACCESSORY", "COMPONENT", "EQUIPMENT", "FINISHED", "SPAREPART")
TERMS = ("30D", "60D", "COD", "NET15", "NET45")
CURRENCIES = ("USD", "EUR", "GBP", "CAD")
WAREHOUSES = ("MAIN", "EAST", "WEST", "RETAIL")
BRANCHES = ("HEADOFFICE", "PRODWHOLE", "PRODRETAIL")

DOC_STATUS = (("H", "On Hold"), ("B", "Balanced"), ("N", "Open"), ("C", "Closed"), ("V", "Voided"))
TAX_CALC = (("T", "Tax Settings"), ("G", "Gross"), ("N", "Net"))
