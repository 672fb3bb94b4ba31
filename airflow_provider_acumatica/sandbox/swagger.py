"""OpenAPI 3.0.1 description of the sandbox's own entities, structured like the official endpoint documents.

Each entity schema is `allOf: [Entity, {properties}]`, fields `$ref` a value wrapper (`StringValue`, ...), detail
collections are arrays of the detail schema and linked entities `$ref` theirs, so clients that read the real
swagger.json (for field names, last-modified fields or column types) read this one the same way.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from . import catalog

_VALUE_TYPES: dict[str, dict[str, Any]] = {
    catalog.STRING: {"type": "string"},
    catalog.DECIMAL: {"type": "number", "format": "double"},
    catalog.DATETIME: {"type": "string", "format": "date-time"},
    catalog.BOOLEAN: {"type": "boolean"},
    catalog.INT: {"type": "integer", "format": "int32"},
    catalog.SHORT: {"type": "integer", "format": "int32"},
    catalog.LONG: {"type": "integer", "format": "int64"},
    catalog.GUID: {"type": "string", "format": "uuid"},
    catalog.DATE_ONLY: {"type": "string", "format": "date"},
    catalog.SINGLE_SELECT: {
        "type": "object",
        "properties": {"id": {"type": "string"}, "description": {"type": "string"}},
    },
}


def _ref(name: str, section: str = "schemas") -> dict[str, str]:
    return {"$ref": f"#/components/{section}/{name}"}


def _content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}, "text/json": {"schema": schema}}


def _value_schema(value_type: str, contract: int) -> dict[str, Any]:
    value = dict(_VALUE_TYPES[value_type])
    if contract >= 5:
        value["nullable"] = True
    return {"type": "object", "properties": {"value": value, "error": {"type": "string"}}}


def _schema(name: str, version: str) -> dict[str, Any]:
    properties: dict[str, Any] = {vf.api_name: _ref(vf.type) for vf in catalog.version_fields(name, version)}
    for child in catalog.SCHEMAS[name].children:
        properties[child.name] = (
            {"type": "array", "items": _ref(child.schema)} if child.collection else _ref(child.schema)
        )
    return {"allOf": [_ref("Entity"), {"type": "object", "properties": properties}]}


def _top_level() -> list[str]:
    """Record entities and inquiry forms: the official document describes both the same way."""
    return [*catalog.ENTITIES, *catalog.INQUIRIES]


def _screens() -> list[tuple[str, str]]:
    entities = [(entity.name, entity.screen) for entity in catalog.ENTITIES.values()]
    return [*entities, *((inquiry.name, inquiry.screen) for inquiry in catalog.INQUIRIES.values())]


def _reachable() -> list[str]:
    names: list[str] = []
    pending = _top_level()
    while pending:
        name = pending.pop(0)
        if name not in names:
            names.append(name)
            pending.extend(child.schema for child in catalog.SCHEMAS[name].children)
    return names


def _system_schemas() -> dict[str, Any]:
    return {
        "Entity": {
            "type": "object",
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "rowNumber": {"type": "integer", "format": "int64"},
                "note": _ref(catalog.STRING),
                "custom": {
                    "type": "object",
                    "additionalProperties": {"type": "object", "additionalProperties": _ref("CustomField")},
                },
                "error": {"type": "string"},
                "files": {"type": "array", "items": _ref("FileLink")},
            },
        },
        "CustomField": {
            "required": ["type"],
            "type": "object",
            "properties": {"type": {"type": "string"}},
            "discriminator": {"propertyName": "type"},
        },
        "FileLink": {
            "type": "object",
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "filename": {"type": "string"},
                "href": {"type": "string", "format": "uri"},
                "comment": {"type": "string", "nullable": True},
            },
        },
        "HttpError": {
            "type": "object",
            "properties": {
                "message": {"type": "string"},
                "exceptionMessage": {"type": "string", "nullable": True},
                "exceptionType": {"type": "string", "nullable": True},
                "stackTrace": {"type": "string", "nullable": True},
                "modelState": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                },
                "messageDetail": {"type": "string"},
            },
        },
    }


def _parameters() -> dict[str, Any]:
    def query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
        return {"name": name, "in": "query", "description": description, "schema": schema}

    return {
        "ids": {
            "name": "ids",
            "in": "path",
            "description": "The values of the key fields of the record. The values are slash-delimited.",
            "required": True,
            "schema": {"type": "string"},
        },
        "id": {
            "name": "id",
            "in": "path",
            "description": "The session ID of the record.",
            "required": True,
            "schema": {"type": "string", "format": "uuid"},
        },
        "select": query("$select", "The fields of the entity to be returned from the system.", {"type": "string"}),
        "filter": query(
            "$filter", "The conditions that determine which records should be selected.", {"type": "string"}
        ),
        "expand": query("$expand", "The linked and detail entities that should be expanded.", {"type": "string"}),
        "custom": query(
            "$custom", "The fields that are not defined in the contract of the endpoint.", {"type": "string"}
        ),
        "skip": query("$skip", "The number of records to be skipped.", {"type": "integer", "format": "int32"}),
        "top": query(
            "$top", "The number of records to be returned from the system.", {"type": "integer", "format": "int32"}
        ),
    }


def _responses() -> dict[str, Any]:
    error = _content(_ref("HttpError"))
    precondition = (
        "Either the header of the request specifies that the entity has to be inserted but an entity with these keys "
        "already exists, or the header specifies that the entity has to be updated but there is no such entity."
    )
    return {
        "ContractBasedControllerBase_401": {
            "description": "The user is not logged in to the system.",
            "content": error,
        },
        "ContractBasedControllerBase_500": {"description": "Internal server error.", "content": error},
        "PutEntity_400": {"description": "The data specified in the request is invalid.", "content": error},
        "PutEntity_412": {"description": precondition, "content": error},
        "DeleteByKeys_204": {"description": "The record is successfully deleted."},
        "DeleteById_204": {"description": "The record is successfully deleted."},
    }


def _operation(
    entity: str, operation: str, summary: str, parameters: list[str], responses: dict[str, Any]
) -> dict[str, Any]:
    return {
        "tags": [entity],
        "summary": summary,
        "operationId": f"{entity}_{operation}",
        "parameters": [_ref(name, "parameters") for name in parameters],
        "responses": {
            "401": _ref("ContractBasedControllerBase_401", "responses"),
            "500": _ref("ContractBasedControllerBase_500", "responses"),
            **responses,
        },
    }


def _paths(entity: str) -> dict[str, Any]:
    record = _content(_ref(entity))
    listing = _content({"type": "array", "items": _ref(entity)})
    put = _operation(
        entity,
        "PutEntity",
        "Creates a record or updates an existing record.",
        ["select", "filter", "expand", "custom"],
        {
            "200": {"description": "The created or updated record.", "content": record},
            "400": _ref("PutEntity_400", "responses"),
            "412": _ref("PutEntity_412", "responses"),
            "422": {"description": "The data specified in the request is invalid.", "content": record},
        },
    )
    put["requestBody"] = {"description": "The record to be passed to the system.", "content": record, "required": True}
    read = ["select", "filter", "expand", "custom"]
    return {
        f"/{entity}/$adHocSchema": {
            "get": _operation(
                entity,
                "GetAdHocSchema",
                "Retrieves the schema of custom fields of the entity from the system.",
                [],
                {
                    "200": {
                        "description": "The field name, view name, and type of the fields that are not defined in "
                        "the contract of the endpoint for this entity.",
                        "content": record,
                    }
                },
            )
        },
        f"/{entity}": {
            "get": _operation(
                entity,
                "GetList",
                "Retrieves records that satisfy the specified conditions from the system.",
                [*read, "skip", "top"],
                {
                    "200": {
                        "description": "The list of records that satisfy the specified conditions.",
                        "content": listing,
                    }
                },
            ),
            "put": put,
        },
        f"/{entity}/{{ids}}": {
            "get": _operation(
                entity,
                "GetByKeys",
                "Retrieves a record by the values of its key fields from the system.",
                ["ids", *read],
                {"200": {"description": "The requested record.", "content": record}},
            ),
            "delete": _operation(
                entity,
                "DeleteByKeys",
                "Deletes the record by the values of its key fields.",
                ["ids"],
                {"204": _ref("DeleteByKeys_204", "responses")},
            ),
        },
        f"/{entity}/{{id}}": {
            "get": _operation(
                entity,
                "GetById",
                "Retrieves a record by the value of the session entity ID from the system.",
                ["id", *read],
                {"200": {"description": "The requested record.", "content": record}},
            ),
            "delete": _operation(
                entity,
                "DeleteById",
                "Deletes the record by its session identifier.",
                ["id"],
                {"204": _ref("DeleteById_204", "responses")},
            ),
        },
    }


@cache
def _document(version: str, site_path: str) -> dict[str, Any]:
    contract = catalog.VERSIONS[version].contract
    used_types = sorted(
        {vf.type for name in _reachable() for vf in catalog.version_fields(name, version)} | {catalog.STRING}
    )
    schemas: dict[str, Any] = _system_schemas()
    schemas.update({value_type: _value_schema(value_type, contract) for value_type in used_types})
    schemas.update({name: _schema(name, version) for name in _reachable()})
    paths: dict[str, Any] = {}
    for entity in _top_level():
        paths.update(_paths(entity))
    return {
        "openapi": "3.0.1",
        "info": {"title": f"{catalog.ENDPOINT_NAME}/{version}", "version": str(contract)},
        "servers": [{"url": f"{site_path}/entity/{catalog.ENDPOINT_NAME}/{version}"}],
        "paths": paths,
        "components": {"schemas": schemas, "responses": _responses(), "parameters": _parameters()},
        "tags": [{"name": name, "description": f"{name} ({screen})"} for name, screen in _screens()],
    }


def document(version: str, site_path: str = "") -> dict[str, Any]:
    """The swagger.json of `Default/<version>` as served under `site_path`."""
    return _document(version, site_path)
