"""Write-back records: typing from swagger.json, what is never sent, key and line rules, read-back differences."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from airflow_provider_acumatica.exceptions import AcumaticaConfigError
from airflow_provider_acumatica.output.schema import EntitySchema, FieldType
from airflow_provider_acumatica.writeback import differences, missing_key, to_wire, typed, unsafe_lines
from tests.reference import OFFICIAL_OPENAPI


@pytest.fixture(scope="module")
def order() -> EntitySchema:
    return EntitySchema.from_openapi(json.loads(OFFICIAL_OPENAPI.read_text()), "SalesOrder")


@pytest.mark.parametrize(
    ("kind", "value", "wire"),
    [
        (FieldType.DECIMAL, "12.50", 12.5),
        (FieldType.DECIMAL, Decimal("3.25"), 3.25),
        (FieldType.DECIMAL, "lots", "lots"),
        (FieldType.INT32, "7", 7),
        (FieldType.INT16, Decimal("2"), 2),
        (FieldType.BOOLEAN, "Yes", True),
        (FieldType.BOOLEAN, "0", False),
        (FieldType.BOOLEAN, "maybe", "maybe"),
        (FieldType.DATETIME, datetime(2026, 1, 2, 3, 4, tzinfo=UTC), "2026-01-02T03:04:00+00:00"),
        (FieldType.STRING, 42, "42"),
    ],
)
def test_values_are_typed_for_the_wire(kind: FieldType, value: Any, wire: Any) -> None:
    assert typed(kind, value) == wire


def test_a_flat_record_is_wrapped_and_stamps_are_not_sent(order: EntitySchema) -> None:
    flat = {
        "id": "abc",
        "rowNumber": 1,
        "OrderType": "SO",
        "OrderNbr": "SO0001",
        "OrderTotal": "10.5",
        "LastModified": "2026-01-01T00:00:00+00:00",
        "Description": "",
        "Details": [{"id": "l1", "OrderQty": "2", "delete": "false", "_links": {}}],
    }
    assert to_wire(flat, order) == {
        "id": "abc",
        "OrderType": {"value": "SO"},
        "OrderNbr": {"value": "SO0001"},
        "OrderTotal": {"value": 10.5},
        "Details": [{"id": "l1", "OrderQty": {"value": 2.0}, "delete": False}],
    }
    with pytest.raises(AcumaticaConfigError, match="SalesOrder has no field 'Colour'"):
        to_wire({"Colour": "red"}, order)


def test_keys_and_lines(order: EntitySchema) -> None:
    keyed = {"OrderType": {"value": "SO"}, "OrderNbr": {"value": "1"}}
    assert missing_key(keyed, ["OrderType", "OrderNbr"]) is None
    assert missing_key({"id": "x"}, []) is None
    assert "OrderNbr" in str(missing_key({"OrderType": {"value": "SO"}}, ["OrderType", "OrderNbr"]))
    new_line = {**keyed, "Details": [{"OrderQty": {"value": 1}}]}
    assert unsafe_lines(new_line, order, "insert", append_lines=False) is None
    assert unsafe_lines(new_line, order, "upsert", append_lines=True) is None
    assert "Details[0] has no id" in str(unsafe_lines(new_line, order, "update", append_lines=False))
    deleted = {**keyed, "Details": [{"delete": True}]}
    assert "marked for deletion but has no id" in str(unsafe_lines(deleted, order, "insert", append_lines=True))


def test_differences_compare_values_lines_and_moments() -> None:
    sent = {
        "id": "r",
        "CreditLimit": {"value": 10.0},
        "Name": {"value": "A"},
        "Since": {"value": "2026-01-01T00:00:00Z"},
        "Details": [{"id": "l1", "Qty": {"value": 2}}, {"id": "l2", "delete": True}, {"Qty": {"value": 9}}],
    }
    stored = {
        "CreditLimit": {"value": 10},
        "Name": {"value": "B"},
        "Since": {"value": "2026-01-01T00:00:00+00:00"},
        "Details": [{"id": "l1", "Qty": {"value": 3}}, {"id": "l2"}],
    }
    assert differences(sent, stored) == [
        {"field": "Name", "sent": "A", "stored": "B"},
        {"field": "Details[0].Qty", "sent": 2, "stored": 3},
        {"field": "Details[1]", "sent": "delete", "stored": "still present"},
    ]
