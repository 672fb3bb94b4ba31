"""Inquiry forms: a filter of parameters and one result array, read with `PUT ?$expand=<result>`, never listed.

Names and value types are those of the official Default/24.200.001 document. A list GET on them fails on the real
server with `CannotOptimizeException`, naming the filter field whose view has a BQL delegate (`delegate_field`).
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import BOOLEAN, DATETIME, DECIMAL, GUID, INT, STRING, Child, Schema, fld, many


@dataclass(frozen=True)
class Inquiry:
    """A top-level inquiry entity: its filter schema (parameters plus the result array) and how it is read."""

    name: str
    screen: str
    dac: str
    schema: Schema
    result: str
    required: tuple[str, ...]
    delegate_field: str

    @property
    def result_schema(self) -> str:
        return next(child.schema for child in self.schema.children if child.name == self.result)


INVENTORY_SUMMARY_ROW = Schema(
    "InventorySummaryRow",
    (
        *many(STRING, "BaseUOM", "LocationID", "LotSerialNbr", "Subitem", "WarehouseID"),
        *many(DECIMAL, "EstimatedTotalCost", "EstimatedUnitCost", "QtyAvailable", "QtyAvailableForShipment"),
        *many(DECIMAL, "QtyNotAvailable", "QtyOnHand"),
        fld("ExpirationDate", DATETIME),
    ),
)

INVENTORY_SUMMARY_INQUIRY = Schema(
    "InventorySummaryInquiry",
    (
        fld("ExpandByLotSerialNbr", BOOLEAN),
        fld("InventoryID", required=True),
        *many(STRING, "LocationID", "Subitem", "WarehouseID"),
    ),
    (Child("Results", "InventorySummaryRow", True),),
)

SALES_PRICE_DETAIL = Schema(
    "SalesPriceDetail",
    (
        fld("RecordID", INT),
        *many(STRING, "CurrencyID", "Description", "InventoryID", "PriceCode", "PriceType", "Tax"),
        *many(STRING, "TaxCalculationMode", "UOM", "Warehouse"),
        *many(DECIMAL, "BreakQty", "Price"),
        fld("Promotion", BOOLEAN),
        *many(DATETIME, "CreatedDateTime", "EffectiveDate", "ExpirationDate", "LastModifiedDateTime"),
        fld("NoteID", GUID),
    ),
)

SALES_PRICES_INQUIRY = Schema(
    "SalesPricesInquiry",
    (
        fld("EffectiveAsOf", DATETIME),
        *many(STRING, "InventoryID", "ItemClassID", "PriceClass", "PriceCode", "PriceManager", "PriceType"),
        *many(STRING, "PriceWorkgroup", "TaxCalculationMode"),
        *many(BOOLEAN, "PriceManagerIsMe", "PriceWorkgroupIsMine"),
    ),
    (Child("SalesPriceDetails", "SalesPriceDetail", True),),
)

SCHEMAS = (INVENTORY_SUMMARY_ROW, INVENTORY_SUMMARY_INQUIRY, SALES_PRICE_DETAIL, SALES_PRICES_INQUIRY)

INQUIRIES: dict[str, Inquiry] = {
    inquiry.name: inquiry
    for inquiry in (
        Inquiry(
            "InventorySummaryInquiry",
            "IN401000",
            "PX.Objects.IN.InventorySummaryEnqFilter",
            INVENTORY_SUMMARY_INQUIRY,
            "Results",
            ("InventoryID",),
            "ExpandByLotSerialNbr",
        ),
        Inquiry(
            "SalesPricesInquiry",
            "AR202000",
            "PX.Objects.AR.ARSalesPriceFilter",
            SALES_PRICES_INQUIRY,
            "SalesPriceDetails",
            (),
            "PriceType",
        ),
    )
}
