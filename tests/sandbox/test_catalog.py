"""The catalog against the official Default/24.200.001 OpenAPI document: every name and type must exist there."""

from __future__ import annotations

import csv
import json
from functools import cache
from typing import Any

import pytest

from airflow_provider_acumatica.sandbox import catalog
from tests.reference import ENTITY_MAP, OFFICIAL_OPENAPI

OFFICIAL = OFFICIAL_OPENAPI
pytestmark = pytest.mark.skipif(not OFFICIAL.exists(), reason="official OpenAPI reference document not available")


@cache
def official() -> dict[str, Any]:
    return json.loads(OFFICIAL.read_text(encoding="utf-8"))


def official_properties(schema: str) -> dict[str, Any]:
    definition = official()["components"]["schemas"][schema]
    assert definition["allOf"][0] == {"$ref": "#/components/schemas/Entity"}
    return dict(definition["allOf"][1]["properties"])


def ref_name(prop: dict[str, Any]) -> str:
    target = prop["items"] if prop.get("type") == "array" else prop
    return str(target["$ref"].rsplit("/", 1)[-1])


@pytest.mark.parametrize("schema", sorted(catalog.SCHEMAS))
def test_every_field_exists_with_the_official_value_type(schema: str) -> None:
    props = official_properties(schema)
    fields = catalog.version_fields(schema, "24.200.001")
    assert fields, schema
    for vf in fields:
        assert vf.api_name in props, f"{schema}.{vf.api_name} is not in the official document"
        assert ref_name(props[vf.api_name]) == vf.type, f"{schema}.{vf.api_name}"


@pytest.mark.parametrize("schema", sorted(catalog.SCHEMAS))
def test_children_match_the_official_collections_and_links(schema: str) -> None:
    props = official_properties(schema)
    for child in catalog.SCHEMAS[schema].children:
        prop = props[child.name]
        assert (prop.get("type") == "array") is child.collection, f"{schema}.{child.name}"
        assert ref_name(prop) == child.schema


@cache
def entity_map() -> dict[str, dict[str, str]]:
    with ENTITY_MAP.open(encoding="utf-8", newline="") as handle:
        return {row["entity"]: row for row in csv.DictReader(handle)}


def official_scalars(schema: str) -> list[str]:
    return [name for name, prop in official_properties(schema).items() if "$ref" in prop and name != "custom"]


@pytest.mark.parametrize("name", sorted(catalog.ENTITIES))
def test_entities_are_official_top_level_entities_with_their_screens(name: str) -> None:
    entity = catalog.ENTITIES[name]
    tags = {tag["name"]: tag["description"] for tag in official()["tags"]}
    assert f"({entity.screen})" in tags[name]
    assert f"/{name}" in official()["paths"]
    fields = catalog.field_map(name, "24.200.001")
    assert all(key in fields for key in entity.keys)
    if entity.last_modified is not None:
        assert fields[entity.last_modified].type == catalog.DATETIME


@pytest.mark.parametrize("name", sorted(catalog.ENTITIES))
def test_entities_agree_with_the_endpoint_definition(name: str) -> None:
    entity = catalog.ENTITIES[name]
    row = entity_map()[name]
    assert row["kind"] == "record"
    assert entity.screen == row["screen_id"]
    assert entity.last_modified == (row["last_modified_field"] or None)
    assert entity.dac == (row["primary_dac"] or None)
    details = set(row["detail_fields"].split(";"))
    assert all(child.name in details for child in entity.schema.children if child.collection)
    stamps = {"LastModified", "LastModifiedDate", "LastModifiedDateTime"}
    assert set(catalog.last_modified_fields(entity, "24.200.001")) == stamps & set(official_scalars(name))


@pytest.mark.parametrize("name", sorted(catalog.INQUIRIES))
def test_inquiries_agree_with_the_endpoint_definition(name: str) -> None:
    inquiry = catalog.INQUIRIES[name]
    row = entity_map()[name]
    assert (row["kind"], row["result_field"], row["screen_id"]) == ("inquiry", inquiry.result, inquiry.screen)
    assert inquiry.dac == row["primary_dac"]
    assert inquiry.schema is catalog.SCHEMAS[name]
    assert all(name in catalog.field_map(inquiry.name, "24.200.001") for name in inquiry.required)


def test_the_endpoint_is_wide_enough_to_replicate() -> None:
    entities = catalog.ENTITIES.values()
    assert len(catalog.ENTITIES) >= 20
    without = {entity.name for entity in entities if entity.last_modified is None}
    assert {"ShipVia", "UnitsOfMeasure", "Subaccount", "ShippingTerm"} <= without
    assert sum(any(child.collection for child in entity.schema.children) for entity in entities) >= 8
    assert {"InventorySummaryInquiry", "SalesPricesInquiry"} <= set(catalog.INQUIRIES)


def test_entity_sizes_are_realistic() -> None:
    for name in catalog.ENTITIES:
        fields = len(catalog.version_fields(name, "24.200.001"))
        assert min(12, len(official_scalars(name))) <= fields <= 60, name
    assert len(catalog.version_fields("SalesOrder", "24.200.001")) > len(
        catalog.version_fields("Customer", "24.200.001")
    )


def test_the_last_modified_fields_named_in_the_brief() -> None:
    assert catalog.ENTITIES["SalesOrder"].last_modified == "LastModified"
    assert catalog.last_modified_fields(catalog.ENTITIES["SalesOrder"], "24.200.001") == ("LastModified",)
    stock = catalog.ENTITIES["StockItem"]
    assert catalog.last_modified_fields(stock, "24.200.001") == ("LastModified", "LastModifiedDateTime")
    assert catalog.last_modified_fields(stock, "23.200.001") == ("LastModified",)
    assert catalog.last_modified_fields(stock, "26.200.001") == ("LastModifiedDateTime",)
    assert catalog.last_modified_fields(catalog.ENTITIES["ShipVia"], "24.200.001") == ()


def test_contract_version_5_renames_and_retypes() -> None:
    cv4 = catalog.field_map("SalesOrder", "25.200.001")
    cv5 = catalog.field_map("SalesOrder", "26.200.001")
    assert "LastModified" in cv4 and "LastModifiedDateTime" not in cv4
    assert "LastModifiedDateTime" in cv5 and "LastModified" not in cv5
    assert cv5["LastModifiedDateTime"].field.name == "LastModified"
    assert cv4["Status"].type == catalog.STRING and cv5["Status"].type == catalog.SINGLE_SELECT
    assert cv4["Date"].type == catalog.DATETIME and cv5["Date"].type == catalog.DATE_ONLY
    assert "UsrExternalOrderOriginal" in cv4 and "UsrExternalOrderOriginal" not in cv5


def test_fields_added_in_later_versions_are_absent_before() -> None:
    assert "CreditLimit" not in catalog.field_map("Customer", "20.200.001")
    assert "CreditLimit" in catalog.field_map("Customer", "23.200.001")
    assert "Email" not in catalog.field_map("Customer", "20.200.001")
    assert "LastModifiedDateTime" not in catalog.field_map("StockItem", "23.200.001")


def test_versions_and_contracts() -> None:
    assert list(catalog.VERSIONS) == ["20.200.001", "23.200.001", "24.200.001", "25.200.001", "26.200.001"]
    assert [v.contract for v in catalog.VERSIONS.values()] == [4, 4, 4, 4, 5]


@pytest.mark.parametrize("name", sorted(catalog.ENTITIES))
def test_generated_keys_round_trip_and_sort_in_index_order(name: str) -> None:
    entity = catalog.ENTITIES[name]
    keys = [catalog.format_key(entity, index) for index in (0, 1, 9, 10, 999_999)]
    assert keys == sorted(keys)
    for index in (0, 1, 9, 10, 999_999):
        assert catalog.parse_key(entity, catalog.format_key(entity, index)) == index
    assert catalog.parse_key(entity, ("nope",) * len(entity.keys)) is None
