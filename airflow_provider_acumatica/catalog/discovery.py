"""Classifying the entities of an endpoint's swagger.json: the shipped map first, a probe for the rest."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from airflow_provider_acumatica.catalog import EntityInfo, known_entity
from airflow_provider_acumatica.output.schema import EntitySchema, FieldType

CANNOT_OPTIMIZE = "CannotOptimizeException"
_NOT_DETAILS = frozenset({"files"})
ATTRIBUTE_PREFIX = "Attribute"

Probe = Callable[[str], bool]
"""Whether a `GET {entity}?$top=1` fails as an inquiry form does (500 `CannotOptimizeException`)."""


def top_level_entities(document: Mapping[str, Any]) -> list[str]:
    """The entities with a list path (`/{Entity}`) in swagger.json, in the document's order."""
    return [path.strip("/") for path in document.get("paths", {}) if path.count("/") == 1 and path != "/"]


def classify(document: Mapping[str, Any], endpoint_name: str, probe: Probe) -> list[EntityInfo]:
    """One EntityInfo per top-level entity: the map's kind and DAC, the served schema's fields."""
    return [_classified(document, endpoint_name, entity, probe) for entity in top_level_entities(document)]


def _classified(document: Mapping[str, Any], endpoint_name: str, entity: str, probe: Probe) -> EntityInfo:
    schema = EntitySchema.from_openapi(document, entity)
    details = detail_names(schema)
    known = known_entity(endpoint_name, entity)
    if known is not None:
        return replace(known, details=details, last_modified_field=_cursor(known, schema))
    if probe(entity):
        return EntityInfo(entity, "inquiry", details=details, result_field=details[0] if details else None)
    return EntityInfo(entity, "record", last_modified_field=schema.last_modified_field(), details=details)


def detail_names(schema: EntitySchema) -> tuple[str, ...]:
    """The entity's detail collections, without the attached `files` every entity may have."""
    return tuple(f.name for f in schema.fields if f.type is FieldType.DETAIL and f.name not in _NOT_DETAILS)


def _cursor(known: EntityInfo, schema: EntitySchema) -> str | None:
    """The map's last-modified field when this version serves it, else the schema's (a version may rename it)."""
    if known.is_inquiry:
        return None
    field = schema.get(known.last_modified_field) if known.last_modified_field else None
    if field is not None and field.type is FieldType.DATETIME:
        return known.last_modified_field
    return schema.last_modified_field()


@dataclass(frozen=True)
class CustomFields:
    """An entity's custom fields and user-defined attributes, keyed `View.Field`, with their value types."""

    entity: str
    fields: Mapping[str, str]
    attributes: Mapping[str, str]

    @classmethod
    def from_ad_hoc_schema(cls, entity: str, payload: Any) -> CustomFields:
        """Read the `custom` section of `GET {entity}/$adHocSchema` (custom fields beside `Attribute…` fields)."""
        custom = payload.get("custom") if isinstance(payload, Mapping) else None
        fields: dict[str, str] = {}
        attributes: dict[str, str] = {}
        for view, members in (custom or {}).items():
            for name, spec in (members or {}).items() if isinstance(members, Mapping) else ():
                kind = str(spec.get("type", "")) if isinstance(spec, Mapping) else ""
                (attributes if name.startswith(ATTRIBUTE_PREFIX) else fields)[f"{view}.{name}"] = kind
        return cls(entity, fields, attributes)

    @property
    def custom_param(self) -> str | None:
        """The `$custom` value that asks for all of them, or None when there are none."""
        names = [*self.fields, *self.attributes]
        return ",".join(names) if names else None
