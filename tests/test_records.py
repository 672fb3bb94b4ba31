from __future__ import annotations

from airflow_provider_acumatica.records import unwrap, unwrap_record


def test_unwrap_record_flattens_values_and_keeps_structure() -> None:
    record = {
        "id": "7adbf4e5-4e48-ea11-817f-eb1af000b4cf",
        "rowNumber": 1,
        "note": {"value": ""},
        "CashAccount": {},
        "ControlTotal": {"value": 7000.0},
        "Approved": {"value": True},
        "MainContact": {"Email": {"value": "a@b.c"}, "Address": {"City": {"value": "Oslo"}}},
        "Details": [{"InventoryID": {"value": "AALEGO500"}, "Qty": {"value": 2.0}}],
        "custom": {"Document": {"AttributeX": {"type": "CustomStringField", "value": "x"}}},
        "_links": {"self": "/entity/Default/24.200.001/SalesOrder/7adb"},
    }
    assert unwrap_record(record) == {
        "id": "7adbf4e5-4e48-ea11-817f-eb1af000b4cf",
        "rowNumber": 1,
        "note": "",
        "CashAccount": None,
        "ControlTotal": 7000.0,
        "Approved": True,
        "MainContact": {"Email": "a@b.c", "Address": {"City": "Oslo"}},
        "Details": [{"InventoryID": "AALEGO500", "Qty": 2.0}],
        "custom": {"Document": {"AttributeX": "x"}},
    }


def test_unwrap_keeps_field_values_that_carry_an_error() -> None:
    assert unwrap({"value": "TES2323T", "error": "Project cannot be found"}) == "TES2323T"
    assert unwrap({"value": None}) is None
    assert unwrap([{}, {"value": 1}]) == [None, 1]


def test_unwrap_record_takes_the_scalar_shortcut_only_for_plain_wrappers() -> None:
    record = {
        "Text": {"value": "a"},
        "Flag": {"value": False},
        "Nested": {"value": {"value": 3}},
        "Listed": {"value": [{"value": 1}, {}]},
        "Subclass": {"value": Flag(1)},
        "_links": {"value": "not data"},
    }
    assert unwrap_record(record) == {"Text": "a", "Flag": False, "Nested": 3, "Listed": [1, None], "Subclass": Flag(1)}
    assert unwrap_record(record) == {key: unwrap(item) for key, item in record.items() if key != "_links"}


class Flag(int):
    """An int subclass is not one of the shortcut's exact types and takes the general path."""
