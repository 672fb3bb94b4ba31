"""Records shaped like a SalesOrder `$select`/`$expand` answer, unwrapped, for the output tests."""

from __future__ import annotations

from typing import Any

from tests.reference import OFFICIAL_OPENAPI

OFFICIAL = OFFICIAL_OPENAPI
SELECT = (
    "OrderNbr,OrderType,Status,CustomerID,Date,LastModified,OrderTotal,ControlTotal,OrderedQty,Approved,Hold,"
    "Description,CurrencyID,CashAccount,Details/InventoryID,Details/OrderQty,Details/UnitPrice,"
    "Details/ExtendedPrice,Details/LineDescription,BillToContact/Email"
)
EXPAND = "Details,BillToContact"


def order(n: int, **changes: Any) -> dict[str, Any]:
    """One unwrapped SalesOrder record matching the `sales_order` schema."""
    record: dict[str, Any] = {
        "id": f"00000000-0000-0000-0000-{n:012d}",
        "rowNumber": n,
        "note": "",
        "OrderNbr": f"SO{n:06d}",
        "OrderType": "SO",
        "Status": "Open",
        "CustomerID": f"C{n % 97:03d}",
        "Date": "2024-03-20T00:00:00+00:00",
        "LastModified": "2024-03-20T17:41:27.34+00:00",
        "OrderTotal": 12.5 + n,
        "ControlTotal": 12345678.91,
        "OrderedQty": 3.0,
        "Approved": n % 2 == 0,
        "Hold": False,
        "Description": f"Order {n}",
        "CurrencyID": "USD",
        "CashAccount": None,
        "Details": [
            {
                "id": f"10000000-0000-0000-0000-{n:012d}",
                "rowNumber": 1,
                "note": None,
                "InventoryID": "AALEGO500",
                "OrderQty": 2.0,
                "UnitPrice": 0.1,
                "ExtendedPrice": 0.2,
                "LineDescription": "Lego",
            }
        ],
        "BillToContact": {"id": f"20000000-0000-0000-0000-{n:012d}", "rowNumber": 1, "note": "", "Email": "a@b.c"},
        "custom": None,
    }
    record.update(changes)
    return record


def tricky_orders() -> list[dict[str, Any]]:
    """Records that exercise quoting, unicode, None, offsets and nesting in every format."""
    return [
        order(1, Description='Comma, "quote"\nnew line \u2013 naïve café ✓ 😀', CurrencyID="EUR"),
        order(
            2,
            LastModified="2024-03-20T17:41:27.3456789+03:00",
            Date="2024-03-20T23:30:00-05:30",
            OrderTotal=None,
            Approved=None,
            Description=None,
            Details=[],
            BillToContact=None,
        ),
        order(3, LastModified="2024-03-20T17:41:27", Details=None, ControlTotal=0.3333333333333333),
    ]
