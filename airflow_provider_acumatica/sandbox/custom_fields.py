"""Custom fields and user-defined attributes: what a customization project adds to an entity outside its contract.

A record shows them only when `$custom=<View>.<Field>` asks (comma-separated), in its `custom` section:
`{"custom": {"BAccount": {"UsrLoyaltyTier": {"type": "CustomStringField", "value": "Gold"}}}}`. `GET
…/<Entity>/$adHocSchema` lists them with their types. Customer and SalesOrder carry some from the start;
`POST /_sandbox/custom_fields` publishes another while the server runs, as a customization deployed between two
pulls. Values are a function of (seed, entity, field, record index), so existing records have one at once and
every read agrees.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from . import catalog, generate
from .data import format_guid
from .shape import format_ms

TYPES = (
    "CustomBooleanField",
    "CustomByteField",
    "CustomDateTimeField",
    "CustomDecimalField",
    "CustomDoubleField",
    "CustomGuidField",
    "CustomIntField",
    "CustomLongField",
    "CustomShortField",
    "CustomStringField",
)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TIERS = ("Bronze", "Silver", "Gold", "Platinum")
_INDUSTRIES = ("RETAIL", "MANUFACT", "SERVICES", "DISTRIB", "HEALTH")
_WINDOWS = ("Morning", "Afternoon", "Evening", "Any time")
_SOURCES = ("WEB", "PHONE", "EDI", "SALESREP")
_DAY_MS = 86_400_000
_BASE_MS = 1_704_067_200_000  # 2024-01-01, the start of the generated custom dates


@dataclass(frozen=True)
class CustomField:
    """One custom field (`Usr…`) or user-defined attribute (`Attribute…`) of an entity's view."""

    entity: str
    view: str
    name: str
    type: str

    @property
    def path(self) -> str:
        return f"{self.view}.{self.name}"


DEFAULT_FIELDS = (
    CustomField("Customer", "BAccount", "UsrLoyaltyTier", "CustomStringField"),
    CustomField("Customer", "BAccount", "UsrCreditScore", "CustomIntField"),
    CustomField("Customer", "BAccount", "AttributeINDUSTRY", "CustomStringField"),
    CustomField("SalesOrder", "Document", "UsrDeliveryWindow", "CustomStringField"),
    CustomField("SalesOrder", "Document", "UsrRushOrder", "CustomBooleanField"),
    CustomField("SalesOrder", "Document", "AttributeSOURCE", "CustomStringField"),
)

_CHOICES = {
    "UsrLoyaltyTier": _TIERS,
    "AttributeINDUSTRY": _INDUSTRIES,
    "UsrDeliveryWindow": _WINDOWS,
    "AttributeSOURCE": _SOURCES,
}


def field_value(seed: int, field: CustomField, index: int) -> Any:
    """The value of a custom field on record `index`: derived, never stored, so a new field has values at once."""
    h = generate.mix64(generate.salt(seed, f"{field.entity}/{field.path}") ^ index)
    if h % 7 == 0:
        return None
    kind = field.type
    if kind == "CustomStringField":
        choices = _CHOICES.get(field.name)
        return choices[h % len(choices)] if choices else f"{field.name[:12]}-{h % 1000:03d}"
    if kind == "CustomBooleanField":
        return bool(h & 8)
    if kind in ("CustomDecimalField", "CustomDoubleField"):
        return round((h % 1_000_000) / 100, 2)
    if kind == "CustomDateTimeField":
        return format_ms(_BASE_MS + (h % 1000) * _DAY_MS)
    if kind == "CustomGuidField":
        return format_guid(generate.mix64(h) << 64 | h)
    limits = {"CustomByteField": 256, "CustomShortField": 32_768}
    return int(h % limits.get(kind, 1000))


def _entity_error(entity: Any) -> str:
    return f"entity must be one of {', '.join(sorted(catalog.ENTITIES))}, not {entity!r}."


class CustomFields:
    """The custom fields of one sandbox, per entity in publication order; safe to read while one is published."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._lock = threading.Lock()
        self._fields: dict[str, tuple[CustomField, ...]] = {}
        for field in DEFAULT_FIELDS:
            self._fields[field.entity] = (*self._fields.get(field.entity, ()), field)

    def of(self, entity: str) -> tuple[CustomField, ...]:
        return self._fields.get(entity, ())

    def all(self) -> dict[str, list[dict[str, str]]]:
        return {
            entity: [{"view": f.view, "field": f.name, "type": f.type} for f in fields]
            for entity, fields in self._fields.items()
        }

    def publish(self, entity: Any, view: Any, name: Any, kind: Any) -> CustomField:
        """Add a field to an entity; publishing the same field again is a no-op, another type for it is an error."""
        if not isinstance(entity, str) or entity not in catalog.ENTITIES:
            raise ValueError(_entity_error(entity))
        for label, value in (("view", view), ("field", name)):
            if not isinstance(value, str) or not _NAME.fullmatch(value):
                raise ValueError(f"{label} must be an identifier such as BAccount or UsrRegion, not {value!r}.")
        if kind not in TYPES:
            raise ValueError(f"type must be one of {', '.join(TYPES)}, not {kind!r}.")
        field = CustomField(entity, view, name, kind)
        with self._lock:
            existing = next((f for f in self.of(entity) if f.path.casefold() == field.path.casefold()), None)
            if existing is not None and existing.type != kind:
                raise ValueError(f"{existing.path} is already published on {entity} as {existing.type}.")
            if existing is None:
                self._fields = {**self._fields, entity: (*self.of(entity), field)}
            return existing or field

    def parse(self, entity: str, text: str | None) -> tuple[CustomField, ...]:
        """The fields a `$custom` value names; an unknown one raises ValueError naming it and where to look."""
        known = {f.path.casefold(): f for f in self.of(entity)}
        chosen: list[CustomField] = []
        for item in (part.strip() for part in (text or "").split(",")):
            if not item:
                continue
            field = known.get(item.casefold())
            if field is None:
                raise ValueError(
                    f"The custom field '{item}' is not defined for the entity '{entity}'. The fields it has are "
                    f"listed by GET …/{entity}/$adHocSchema; detail entities' custom fields are not supported here."
                )
            if field not in chosen:
                chosen.append(field)
        return tuple(chosen)


def custom_json(seed: int, fields: Sequence[CustomField], index: int) -> dict[str, dict[str, dict[str, Any]]]:
    """A record's `custom` section for the chosen fields, grouped by view."""
    section: dict[str, dict[str, dict[str, Any]]] = {}
    for field in fields:
        section.setdefault(field.view, {})[field.name] = {"type": field.type, "value": field_value(seed, field, index)}
    return section


def ad_hoc_schema(entity: str, version: str, fields: Sequence[CustomField]) -> dict[str, Any]:
    """`GET …/<Entity>/$adHocSchema`: the entity with empty contract fields and its custom fields' types."""
    body: dict[str, Any] = {"id": None, "rowNumber": 1, "note": {}}
    body.update({vf.api_name: {} for vf in catalog.version_fields(entity, version)})
    custom: dict[str, dict[str, dict[str, str]]] = {}
    for field in fields:
        custom.setdefault(field.view, {})[field.name] = {
            "type": field.type,
            "viewName": field.view,
            "fieldName": field.name,
        }
    body["custom"] = custom
    body["_workflowActions"] = []
    return body
