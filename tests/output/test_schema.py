"""Entity schemas from swagger.json: the official Default/24.200.001 document, the sandbox's, and edge cases."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_acumatica.exceptions import AcumaticaConfigError
from airflow_provider_acumatica.output import EntitySchema, FieldType, SchemaField
from airflow_provider_acumatica.sandbox import swagger


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def wrapper(value: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {"value": value, "error": {"type": "string"}}}


def document(schemas: dict[str, Any]) -> dict[str, Any]:
    entity = {
        "type": "object",
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "rowNumber": {"type": "integer", "format": "int64"},
            "note": ref("StringValue"),
            "custom": {"type": "object", "additionalProperties": {"type": "object"}},
            "error": {"type": "string"},
        },
    }
    base = {"Entity": entity, "StringValue": wrapper({"type": "string"})}
    return {"info": {"title": "Default/99.000.001"}, "components": {"schemas": {**base, **schemas}}}


def entity(properties: dict[str, Any]) -> dict[str, Any]:
    return {"allOf": [ref("Entity"), {"type": "object", "properties": properties}]}


def types(schema: EntitySchema) -> dict[str, FieldType]:
    return {f.name: f.type for f in schema.fields}


def test_sales_order_fields_and_types(official: dict[str, Any]) -> None:
    schema = EntitySchema.from_openapi(official, "SalesOrder")
    assert schema.columns[:3] == ["id", "rowNumber", "note"]
    assert "custom" not in schema.columns
    assert "error" not in schema.columns
    assert len(schema.columns) == 73
    got = types(schema)
    assert got["id"] is FieldType.GUID
    assert got["rowNumber"] is FieldType.INT64
    assert got["note"] is FieldType.STRING
    assert got["OrderNbr"] is FieldType.STRING
    assert got["OrderTotal"] is FieldType.DECIMAL
    assert got["Approved"] is FieldType.BOOLEAN
    assert got["LastModified"] is FieldType.DATETIME
    assert got["BillToContact"] is FieldType.LINKED
    assert got["files"] is FieldType.DETAIL
    assert schema.last_modified_field() == "LastModified"


def test_details_are_typed_from_their_own_schema(official: dict[str, Any]) -> None:
    details = EntitySchema.from_openapi(official, "SalesOrder").get("Details")
    assert details is not None
    assert details.type is FieldType.DETAIL
    assert details.source == "SalesOrderDetail"
    assert details.schema is not None
    line = types(details.schema)
    assert line["InventoryID"] is FieldType.STRING
    assert line["OrderQty"] is FieldType.DECIMAL
    assert line["Allocations"] is FieldType.DETAIL


def test_customer_members_and_integer_widths(official: dict[str, Any]) -> None:
    customer = EntitySchema.from_openapi(official, "Customer")
    assert customer.last_modified_field() == "LastModifiedDateTime"
    got = types(customer)
    assert got["OrderPriority"] is FieldType.INT16
    assert got["NoteID"] is FieldType.GUID
    main_contact = customer.get("MainContact")
    assert main_contact is not None
    assert main_contact.source == "Contact"
    assert main_contact.schema is not None
    assert types(main_contact.schema)["Email"] is FieldType.STRING
    payroll = EntitySchema.from_openapi(official, "EmployeePayrollSettings").get("GeneralInfo")
    assert payroll is not None
    assert payroll.schema is not None
    assert payroll.schema.get("WorkingWeeksPerYear") == SchemaField("WorkingWeeksPerYear", FieldType.INT16, "ByteValue")
    project = EntitySchema.from_openapi(official, "ProjectTransaction").get("Details")
    assert project is not None
    assert project.schema is not None
    assert types(project.schema)["TransactionID"] is FieldType.INT64


def test_entities_without_a_last_modified_field(official: dict[str, Any]) -> None:
    assert EntitySchema.from_openapi(official, "ShipVia").last_modified_field() is None


def test_last_modified_preference_order() -> None:
    datetime_value = wrapper({"type": "string", "format": "date-time"})
    both = document(
        {
            "DateTimeValue": datetime_value,
            "Old": entity({"LastModifiedDate": ref("DateTimeValue"), "LastModified": ref("DateTimeValue")}),
            "New": entity({"LastModified": ref("DateTimeValue"), "LastModifiedDateTime": ref("DateTimeValue")}),
            "Oldest": entity({"LastModifiedDate": ref("DateTimeValue")}),
            "Text": entity({"LastModified": ref("StringValue")}),
        }
    )
    assert EntitySchema.from_openapi(both, "New").last_modified_field() == "LastModifiedDateTime"
    assert EntitySchema.from_openapi(both, "Old").last_modified_field() == "LastModified"
    assert EntitySchema.from_openapi(both, "Oldest").last_modified_field() == "LastModifiedDate"
    assert EntitySchema.from_openapi(both, "Text").last_modified_field() is None


def test_unknown_entity_names_close_matches(official: dict[str, Any]) -> None:
    with pytest.raises(AcumaticaConfigError) as raised:
        EntitySchema.from_openapi(official, "SalesOrdr")
    message = str(raised.value)
    assert "'SalesOrdr'" in message
    assert "Default/24.200.001" in message
    assert "Close matches: SalesOrder" in message


def test_value_wrappers_are_not_entities(official: dict[str, Any]) -> None:
    with pytest.raises(AcumaticaConfigError, match=r"'DecimalValue' is not in the swagger\.json"):
        EntitySchema.from_openapi(official, "DecimalValue")


def test_restrict_keeps_selected_fields_and_system_members(official: dict[str, Any]) -> None:
    schema = EntitySchema.from_openapi(official, "SalesOrder").restrict("OrderNbr,OrderTotal", None)
    assert schema.columns == ["id", "rowNumber", "note", "OrderNbr", "OrderTotal"]


def test_restrict_drops_details_and_linked_entities_unless_expanded(official: dict[str, Any]) -> None:
    full = EntitySchema.from_openapi(official, "SalesOrder")
    plain = full.restrict(None, None)
    assert not [f for f in plain.fields if f.type in (FieldType.DETAIL, FieldType.LINKED)]
    assert len(plain.columns) == len([f for f in full.fields if f.type not in (FieldType.DETAIL, FieldType.LINKED)])
    expanded = full.restrict(None, "Details")
    details = expanded.get("Details")
    assert details is not None
    assert details.schema is not None
    assert "Allocations" not in details.schema.columns
    assert "InventoryID" in details.schema.columns


def test_restrict_nested_select_cv4(official: dict[str, Any]) -> None:
    customer = EntitySchema.from_openapi(official, "Customer")
    schema = customer.restrict("CustomerID,MainContact/Email", "MainContact,MainContact/Address")
    assert schema.columns == ["id", "rowNumber", "note", "CustomerID", "MainContact"]
    contact = schema.get("MainContact")
    assert contact is not None
    assert contact.schema is not None
    assert contact.schema.columns == ["id", "rowNumber", "note", "Address", "Email"]
    address = contact.schema.get("Address")
    assert address is not None
    assert address.schema is not None
    assert "City" in address.schema.columns


def test_selecting_a_nested_field_expands_its_entity(official: dict[str, Any]) -> None:
    schema = EntitySchema.from_openapi(official, "Customer").restrict("MainContact/Email", None)
    contact = schema.get("MainContact")
    assert contact is not None
    assert contact.schema is not None
    assert contact.schema.columns == ["id", "rowNumber", "note", "Email"]
    assert schema.columns == ["id", "rowNumber", "note", "MainContact"]


def test_restrict_nested_options_cv5(official: dict[str, Any]) -> None:
    customer = EntitySchema.from_openapi(official, "Customer")
    schema = customer.restrict("CustomerID", "MainContact($select=Email,Phone1;$expand=Address($select=City))")
    contact = schema.get("MainContact")
    assert contact is not None
    assert contact.schema is not None
    assert contact.schema.columns == ["id", "rowNumber", "note", "Address", "Email", "Phone1"]
    address = contact.schema.get("Address")
    assert address is not None
    assert address.schema is not None
    assert address.schema.columns == ["id", "rowNumber", "note", "City"]


def test_star_selects_every_field_of_its_level(official: dict[str, Any]) -> None:
    full = EntitySchema.from_openapi(official, "SalesOrder")
    schema = full.restrict("*,Details/InventoryID", "Details")
    assert len(schema.columns) == len(full.restrict(None, "Details").columns)
    details = schema.get("Details")
    assert details is not None
    assert details.schema is not None
    assert details.schema.columns == ["id", "rowNumber", "note", "InventoryID"]


@pytest.mark.parametrize(
    ("select", "expand", "message"),
    [
        ("OrderNr", None, "$select names 'OrderNr', which SalesOrder does not have. Close matches: OrderNbr"),
        (None, "Detials", "'Detials' is not a detail or linked entity of SalesOrder. Close matches: Details"),
        (None, "OrderNbr", "'OrderNbr' is a field of SalesOrder, not a detail or linked entity"),
        ("Details/Qty", "Details", "which SalesOrderDetail does not have"),
        (None, "Details($select=InventoryID", "Unbalanced parentheses"),
        (None, "Details($top=5)", "Unsupported option '$top'"),
        (None, "Details($select=InventoryID)x", "Malformed $expand item"),
    ],
)
def test_restrict_rejects_what_the_server_would(
    official: dict[str, Any], select: str | None, expand: str | None, message: str
) -> None:
    with pytest.raises(AcumaticaConfigError) as raised:
        EntitySchema.from_openapi(official, "SalesOrder").restrict(select, expand)
    assert message in str(raised.value)


def test_unknown_wrappers_are_typed_from_their_value() -> None:
    doc = document(
        {
            "DateOnlyValue": wrapper({"type": "string", "format": "date"}),
            "StringSingleSelectValue": wrapper(
                {"type": "object", "properties": {"id": {"type": "string"}, "description": {"type": "string"}}}
            ),
            "OddValue": wrapper({"type": "array", "items": {"type": "string"}}),
            "Thing": entity(
                {"Due": ref("DateOnlyValue"), "Status": ref("StringSingleSelectValue"), "Odd": ref("OddValue")}
            ),
        }
    )
    schema = EntitySchema.from_openapi(doc, "Thing")
    assert schema.columns == ["id", "rowNumber", "note", "Due", "Status"]
    status = schema.get("Status")
    assert status is not None
    assert status.type is FieldType.OBJECT
    assert status.schema is not None
    assert status.schema.columns == ["id", "description"]
    assert types(schema)["Due"] is FieldType.DATE
    assert schema.restrict("Status", None).columns == ["id", "rowNumber", "note", "Status"]


def test_self_referencing_entities_do_not_recurse() -> None:
    doc = document(
        {
            "Node": entity(
                {"Name": ref("StringValue"), "Parent": ref("Node"), "Children": {"type": "array", "items": ref("Node")}}
            ),
        }
    )
    assert EntitySchema.from_openapi(doc, "Node").columns == ["id", "rowNumber", "note", "Name"]


def test_a_missing_schema_is_reported() -> None:
    doc = document({"Thing": entity({"Other": ref("Missing")})})
    with pytest.raises(AcumaticaConfigError, match="refers to a missing schema 'Missing'"):
        EntitySchema.from_openapi(doc, "Thing")


def test_the_sandbox_document_reads_like_the_official_one() -> None:
    cv4 = EntitySchema.from_openapi(swagger.document("24.200.001"), "SalesOrder")
    assert cv4.last_modified_field() is not None
    details = cv4.get("Details")
    assert details is not None
    assert details.type is FieldType.DETAIL
    cv5 = EntitySchema.from_openapi(swagger.document("26.200.001"), "Customer")
    status = cv5.get("Status")
    assert status is not None
    assert status.type is FieldType.OBJECT
    assert cv5.last_modified_field() == "LastModifiedDateTime"
