"""swagger.json: OpenAPI 3.0.1 for the sandbox's entities, structured like the official endpoint document."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_acumatica.sandbox import catalog, swagger


def props(document: dict[str, Any], schema: str) -> dict[str, Any]:
    definition = document["components"]["schemas"][schema]
    assert definition["allOf"][0] == {"$ref": "#/components/schemas/Entity"}
    return dict(definition["allOf"][1]["properties"])


@pytest.mark.parametrize("version", list(catalog.VERSIONS))
def test_document_header_and_paths(version: str) -> None:
    document = swagger.document(version, "/site")
    assert document["openapi"] == "3.0.1"
    assert document["info"] == {"title": f"Default/{version}", "version": str(catalog.VERSIONS[version].contract)}
    assert document["servers"] == [{"url": f"/site/entity/Default/{version}"}]
    for entity in catalog.ENTITIES:
        paths = document["paths"]
        assert set(paths[f"/{entity}"]) == {"get", "put"}
        assert set(paths[f"/{entity}/{{ids}}"]) == {"get", "delete"}
        assert set(paths[f"/{entity}/{{id}}"]) == {"get", "delete"}
        listing = paths[f"/{entity}"]["get"]
        assert listing["operationId"] == f"{entity}_GetList"
        assert {"$ref": "#/components/parameters/top"} in listing["parameters"]
        schema = listing["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema == {"type": "array", "items": {"$ref": f"#/components/schemas/{entity}"}}


def test_every_ref_resolves() -> None:
    document = swagger.document("24.200.001")

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                _, section, name = ref.removeprefix("#/").split("/")
                assert name in document["components"][section], ref
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)


def test_fields_are_typed_by_value_wrappers() -> None:
    document = swagger.document("24.200.001")
    schemas = document["components"]["schemas"]
    customer = props(document, "Customer")
    assert customer["CreditLimit"] == {"$ref": "#/components/schemas/DecimalValue"}
    assert customer["LastModifiedDateTime"] == {"$ref": "#/components/schemas/DateTimeValue"}
    assert customer["MainContact"] == {"$ref": "#/components/schemas/Contact"}
    assert props(document, "Contact")["Address"] == {"$ref": "#/components/schemas/Address"}
    assert props(document, "SalesOrder")["Details"] == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/SalesOrderDetail"},
    }
    assert schemas["DecimalValue"]["properties"]["value"] == {"type": "number", "format": "double"}
    assert schemas["DateTimeValue"]["properties"]["value"] == {"type": "string", "format": "date-time"}
    assert schemas["BooleanValue"]["properties"]["value"] == {"type": "boolean"}
    assert schemas["IntValue"]["properties"]["value"]["type"] == "integer"
    assert schemas["StringValue"]["properties"]["value"] == {"type": "string"}
    assert set(schemas["Entity"]["properties"]) == {"id", "rowNumber", "note", "custom", "error", "files"}
    for name in catalog.ENTITIES:
        assert set(props(document, name)) >= {vf.api_name for vf in catalog.version_fields(name, "24.200.001")}


def test_version_differences_show_in_the_document() -> None:
    cv4 = swagger.document("25.200.001")
    cv5 = swagger.document("26.200.001")
    assert "LastModified" in props(cv4, "SalesOrder")
    assert props(cv5, "SalesOrder")["LastModifiedDateTime"] == {"$ref": "#/components/schemas/DateTimeValue"}
    assert props(cv5, "SalesOrder")["Status"] == {"$ref": "#/components/schemas/StringSingleSelectValue"}
    assert props(cv5, "SalesOrder")["Date"] == {"$ref": "#/components/schemas/DateOnlyValue"}
    select = cv5["components"]["schemas"]["StringSingleSelectValue"]["properties"]["value"]
    assert set(select["properties"]) == {"id", "description"}
    assert "StringSingleSelectValue" not in cv4["components"]["schemas"]
    assert "LastModifiedDateTime" not in props(swagger.document("23.200.001"), "StockItem")
