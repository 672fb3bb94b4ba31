"""Configuration and document entities that widen the sandbox towards the whole endpoint.

Names and value types are those of the official Default/24.200.001 document (a subset of each entity's fields);
none has drop-down options or version differences, so the values are generated from the field types. Five have
no last-modified field at all, as in the real endpoint: a replica can only refresh them in full.
"""

from __future__ import annotations

from .model import BOOLEAN, DATETIME, DECIMAL, INT, SHORT, STRING, Child, Schema, fld, many

SHIP_VIA_FREIGHT_RATE = Schema(
    "ShipViaFreightRate", (*many(INT, "LineNbr"), *many(DECIMAL, "Rate", "Volume", "Weight"), fld("ZoneID"))
)

SHIP_VIA = Schema(
    "ShipVia",
    (
        fld("CarrierID", required=True),
        *many(STRING, "CalculationMethod", "Calendar", "Description", "FreightExpenseAccount"),
        *many(STRING, "FreightExpenseSubaccount", "FreightSalesAccount", "FreightSalesSubaccount", "TaxCategory"),
        fld("CommonCarrier", BOOLEAN),
    ),
    (Child("FreightRates", "ShipViaFreightRate", True),),
)

UNITS = Schema(
    "Units",
    (
        *many(DECIMAL, "ConversionFactor"),
        *many(DATETIME, "CreatedDateTime", "LastModifiedDateTime"),
        *many(STRING, "FromUOM", "MultiplyOrDivide", "ToUOM"),
    ),
)

UNITS_OF_MEASURE = Schema(
    "UnitsOfMeasure",
    (fld("UnitID", required=True), *many(STRING, "Description", "L3Code")),
    (Child("Conversion", "Units", True),),
)

SUBACCOUNT = Schema(
    "Subaccount",
    (
        fld("SubaccountCD", required=True),
        fld("SubaccountID", INT),
        fld("Description"),
        *many(BOOLEAN, "Active", "Secured"),
    ),
)

SHIPPING_TERM_DETAIL = Schema(
    "ShippingTermDetail",
    (
        fld("LineNbr", INT),
        *many(DECIMAL, "BreakAmount", "FreightCost", "InvoiceAmount", "LineHandling", "ShippingandHandling"),
    ),
)

SHIPPING_TERM = Schema(
    "ShippingTerm",
    (fld("TermID", required=True), fld("Description")),
    (Child("Details", "ShippingTermDetail", True),),
)

FOB_POINT = Schema("FOBPoint", (fld("FOBPointID", required=True), fld("Description")))

WAREHOUSE_LOCATION = Schema(
    "WarehouseLocation",
    (
        *many(STRING, "LocationID", "Description"),
        fld("PickPriority", SHORT),
        *many(BOOLEAN, "Active", "AssemblyAllowed", "ReceiptsAllowed", "SalesAllowed", "TransfersAllowed"),
    ),
)

WAREHOUSE = Schema(
    "Warehouse",
    (
        fld("WarehouseID", required=True),
        fld("LastModifiedDateTime", DATETIME),
        *many(BOOLEAN, "Active", "OverrideInventoryAccountSubaccount", "UseItemDefaultLocationForPicking"),
        *many(STRING, "COGSExpenseAccount", "COGSExpenseSubaccount", "Description", "DiscountAccount"),
        *many(STRING, "DropShipLocationID", "FreightChargeAccount", "InventoryAccount", "InventorySubaccount"),
        *many(STRING, "POAccrualAccount", "ReceivingLocationID", "RMALocationID", "SalesAccount", "SalesSubaccount"),
        fld("ShippingLocationID"),
    ),
    (Child("Locations", "WarehouseLocation", True),),
)

ACCOUNT = Schema(
    "Account",
    (
        fld("AccountCD", required=True),
        *many(INT, "AccountID", "ChartOfAccountsOrder"),
        *many(DATETIME, "CreatedDateTime", "LastModifiedDateTime"),
        *many(STRING, "AccountClass", "AccountGroup", "ConsolidationAccount", "CurrencyID", "Description"),
        *many(STRING, "PostOption", "RevaluationRateType", "TaxCategory", "Type"),
        *many(BOOLEAN, "Active", "CashAccount", "RequireUnits", "Secured", "UseDefaultSubaccount"),
    ),
)

CURRENCY = Schema(
    "Currency",
    (
        fld("CurrencyID", required=True),
        *many(STRING, "CurrencySymbol", "Description"),
        fld("DecimalPrecision", SHORT),
        *many(BOOLEAN, "Active", "UseForAccounting"),
        *many(DATETIME, "CreatedDateTime", "LastModifiedDateTime"),
    ),
)

CUSTOMER_CLASS = Schema(
    "CustomerClass",
    (
        fld("ClassID", required=True),
        *many(DATETIME, "CreatedDateTime", "LastModifiedDateTime"),
        *many(STRING, "ARAccount", "ARSubaccount", "Country", "CreditVerification", "CurrencyID"),
        *many(STRING, "CurrencyRateType", "Description", "PaymentMethod", "SalesAccount", "SalespersonID"),
        *many(STRING, "ShippingTerms", "ShipVia", "StatementCycleID", "StatementType", "TaxZoneID", "Terms"),
        *many(BOOLEAN, "ApplyOverdueCharges", "AutoApplyPayments", "EnableWriteOffs", "PrintInvoices"),
        *many(BOOLEAN, "PrintStatements", "RequireTaxZone", "SendInvoicesbyEmail"),
        fld("CreditDaysPastDue", SHORT),
        *many(DECIMAL, "CreditLimit", "OverLimitAmount", "WriteOffLimit"),
    ),
)

VENDOR_CLASS = Schema(
    "VendorClass",
    (fld("ClassID", required=True), fld("Description"), *many(DATETIME, "CreatedDateTime", "LastModifiedDateTime")),
)

SALESPERSON = Schema(
    "Salesperson",
    (
        fld("SalespersonID", required=True),
        *many(STRING, "Name", "SalesSubaccount"),
        fld("DefaultCommission", DECIMAL),
        fld("IsActive", BOOLEAN),
        *many(DATETIME, "CreatedDateTime", "LastModifiedDateTime"),
    ),
)

PURCHASE_ORDER_DETAIL = Schema(
    "PurchaseOrderDetail",
    (
        fld("LineNbr", INT),
        *many(STRING, "Account", "BranchID", "Description", "InventoryID", "LineDescription", "LineType"),
        *many(STRING, "Subaccount", "TaxCategory", "UOM", "WarehouseID"),
        *many(DECIMAL, "ExtendedCost", "OrderQty", "QtyOnReceipts", "ReceivedAmount", "UnitCost"),
        *many(BOOLEAN, "Cancelled", "Completed"),
        *many(DATETIME, "Promised", "Requested"),
    ),
)

PURCHASE_ORDER = Schema(
    "PurchaseOrder",
    (
        *many(STRING, "Type", "OrderNbr"),
        fld("VendorID", required=True),
        *many(STRING, "BaseCurrencyID", "Branch", "CurrencyID", "CurrencyRateTypeID", "Description", "Location"),
        *many(STRING, "Owner", "Project", "Status", "Terms", "VendorRef", "VendorTaxZone"),
        *many(DECIMAL, "ControlTotal", "CurrencyRate", "CurrencyReciprocalRate", "LineTotal", "OrderTotal"),
        fld("TaxTotal", DECIMAL),
        *many(DATETIME, "CurrencyEffectiveDate", "Date", "LastModifiedDateTime", "PromisedOn"),
        *many(BOOLEAN, "Hold", "IsTaxValid"),
    ),
    (Child("Details", "PurchaseOrderDetail", True),),
)

INVOICE_DETAIL = Schema(
    "InvoiceDetail",
    (
        fld("LineNbr", INT),
        *many(STRING, "Account", "Branch", "InventoryID", "Subaccount", "TaxCategory", "TransactionDescription"),
        fld("UOM"),
        *many(DECIMAL, "Amount", "DiscountAmount", "ExtendedPrice", "Qty", "UnitPrice"),
        fld("LastModifiedDateTime", DATETIME),
    ),
)

INVOICE = Schema(
    "Invoice",
    (
        *many(STRING, "Type", "ReferenceNbr"),
        fld("Customer", required=True),
        *many(STRING, "CustomerOrder", "Description", "LinkARAccount", "LinkBranch", "LocationID", "PostPeriod"),
        *many(STRING, "Project", "Status", "Terms"),
        *many(DECIMAL, "Amount", "Balance", "TaxTotal"),
        *many(BOOLEAN, "BillingPrinted", "BillToContactOverride", "Hold", "IsTaxValid", "ShipToContactOverride"),
        *many(DATETIME, "CreatedDateTime", "Date", "DueDate", "LastModifiedDateTime"),
    ),
    (Child("Details", "InvoiceDetail", True),),
)

ITEM_CLASS = Schema(
    "ItemClass",
    (
        fld("ClassID", required=True),
        *many(STRING, "AvailabilityCalculationRule", "BaseUOM", "CountryOfOrigin", "DefaultWarehouseID"),
        *many(STRING, "Description", "ItemType", "LotSerialClass", "PostingClass", "PriceClass", "PurchaseUOM"),
        *many(STRING, "SalesUOM", "TariffCode", "TaxCategoryID", "ValuationMethod"),
        fld("StockItem", BOOLEAN),
        fld("LastModifiedDateTime", DATETIME),
    ),
)

TAX_CATEGORY_TAX_DETAIL = Schema(
    "TaxCategoryTaxDetail",
    many(STRING, "TaxID", "CalculateOn", "CashDiscount", "Description", "TaxCategory", "TaxType"),
)

TAX_CATEGORY = Schema(
    "TaxCategory",
    (
        fld("TaxCategoryID", required=True),
        fld("Description"),
        *many(BOOLEAN, "Active", "ExcludeListedTaxes"),
        *many(DATETIME, "CreatedDateTime", "LastModifiedDateTime"),
    ),
    (Child("Details", "TaxCategoryTaxDetail", True),),
)

SCHEMAS = (
    SHIP_VIA_FREIGHT_RATE,
    SHIP_VIA,
    UNITS,
    UNITS_OF_MEASURE,
    SUBACCOUNT,
    SHIPPING_TERM_DETAIL,
    SHIPPING_TERM,
    FOB_POINT,
    WAREHOUSE_LOCATION,
    WAREHOUSE,
    ACCOUNT,
    CURRENCY,
    CUSTOMER_CLASS,
    VENDOR_CLASS,
    SALESPERSON,
    PURCHASE_ORDER_DETAIL,
    PURCHASE_ORDER,
    INVOICE_DETAIL,
    INVOICE,
    ITEM_CLASS,
    TAX_CATEGORY_TAX_DETAIL,
    TAX_CATEGORY,
)
