"""The sandbox's entity catalog: names and value types copied by hand from the official Default/24.200.001 contract.

Canonical names are the 24.200.001 names. Other endpoint versions are derived from them by three small, data-driven
differences: fields added (`since`) or removed (`until`) in a version, renames, and the Contract Version 5 retyping
(drop-downs become `StringSingleSelectValue` with `{"id", "description"}` values, date-only fields `DateOnlyValue`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache

STRING = "StringValue"
DECIMAL = "DecimalValue"
DATETIME = "DateTimeValue"
BOOLEAN = "BooleanValue"
INT = "IntValue"
SHORT = "ShortValue"
LONG = "LongValue"
GUID = "GuidValue"
SINGLE_SELECT = "StringSingleSelectValue"
DATE_ONLY = "DateOnlyValue"

DEFAULT_VERSION = "24.200.001"
ENDPOINT_NAME = "Default"
BUILD_VERSION = "24.206.0013"
DATABASE_VERSION = "24.206.0013"


@dataclass(frozen=True)
class Field:
    """One contract field; `options` are drop-down (id, label) pairs, `lookup` the values a selector accepts."""

    name: str
    type: str
    options: tuple[tuple[str, str], ...] = ()
    lookup: tuple[str, ...] = ()
    date_only: bool = False
    required: bool = False
    since: str | None = None
    until: str | None = None
    mirror: str | None = None


@dataclass(frozen=True)
class Child:
    """A detail collection (`collection=True`) or a linked entity of a schema."""

    name: str
    schema: str
    collection: bool


@dataclass(frozen=True)
class Schema:
    name: str
    fields: tuple[Field, ...]
    children: tuple[Child, ...] = ()


@dataclass(frozen=True)
class Entity:
    """A top-level entity: its schema plus what the routes and the generator need to know about it."""

    name: str
    screen: str
    graph: str
    view: str
    keys: tuple[str, ...]
    last_modified: str
    key_prefix: str
    auto_number: bool
    schema: Schema


@dataclass(frozen=True)
class EndpointVersion:
    version: str
    contract: int
    renames: Mapping[tuple[str, str], str] = field(default_factory=dict)


@dataclass(frozen=True)
class VersionField:
    """A field as one endpoint version exposes it: API name, canonical field and the version's value type."""

    api_name: str
    field: Field
    type: str


def _f(
    name: str,
    type_: str = STRING,
    *,
    lookup: tuple[str, ...] = (),
    required: bool = False,
    since: str | None = None,
    until: str | None = None,
    mirror: str | None = None,
) -> Field:
    return Field(name, type_, lookup=lookup, required=required, since=since, until=until, mirror=mirror)


def _dd(name: str, *options: tuple[str, str], since: str | None = None) -> Field:
    return Field(name, STRING, options=options, since=since)


def _date(name: str) -> Field:
    return Field(name, DATETIME, date_only=True)


CUSTOMER_CLASSES = ("DEFAULT", "INTL", "LOCAL", "RETAIL", "WHOLESALE")
VENDOR_CLASSES = ("DEFAULT", "FREIGHT", "INTL", "LOCAL", "SERVICES")
ITEM_CLASSES = ("ACCESSORY", "COMPONENT", "EQUIPMENT", "FINISHED", "SPAREPART")
TERMS = ("30D", "60D", "COD", "NET15", "NET45")
CURRENCIES = ("USD", "EUR", "GBP", "CAD")
WAREHOUSES = ("MAIN", "EAST", "WEST", "RETAIL")
BRANCHES = ("HEADOFFICE", "PRODWHOLE", "PRODRETAIL")

DOC_STATUS = (("H", "On Hold"), ("B", "Balanced"), ("N", "Open"), ("C", "Closed"), ("V", "Voided"))
TAX_CALC = (("T", "Tax Settings"), ("G", "Gross"), ("N", "Net"))

ADDRESS = Schema(
    "Address",
    (
        _f("AddressLine1"),
        _f("AddressLine2"),
        _f("City"),
        _f("Country"),
        _f("PostalCode"),
        _f("State"),
        _f("Validated", BOOLEAN),
    ),
)

CONTACT = Schema(
    "Contact",
    (
        _f("Active", BOOLEAN),
        _f("CompanyName"),
        _f("ContactID", INT),
        _f("DisplayName"),
        _f("Email"),
        _f("Fax"),
        _f("FirstName"),
        _f("JobTitle"),
        _f("LastModifiedDateTime", DATETIME),
        _f("LastName"),
        _f("Phone1"),
        _f("Phone1Type"),
        _f("Phone2"),
        _f("WebSite"),
    ),
    (Child("Address", "Address", False),),
)

CUSTOMER = Schema(
    "Customer",
    (
        _f("AccountRef"),
        _f("ApplyOverdueCharges", BOOLEAN),
        _f("AutoApplyPayments", BOOLEAN),
        _f("BAccountID", INT),
        _f("CreatedDateTime", DATETIME),
        _f("CurrencyID"),
        _f("CurrencyRateType"),
        _f("CustomerClass", lookup=CUSTOMER_CLASSES),
        _f("CustomerID", required=True),
        _dd("CustomerCategory", ("I", "Individual"), ("O", "Organization")),
        _f("CustomerName", required=True),
        _f("Email", since="23.200.001"),
        _f("EnableCurrencyOverride", BOOLEAN),
        _f("EnableWriteOffs", BOOLEAN),
        _f("LastModifiedDateTime", DATETIME),
        _f("LeadTimedays", SHORT),
        _f("LocationName"),
        _f("MultiCurrencyStatements", BOOLEAN),
        _f("OrderPriority", SHORT),
        _f("ParentRecord"),
        _f("PriceClassID"),
        _f("PrimaryContactID", INT, since="23.200.001"),
        _f("PrintInvoices", BOOLEAN),
        _f("PrintStatements", BOOLEAN),
        _f("SendInvoicesbyEmail", BOOLEAN),
        _f("SendStatementsbyEmail", BOOLEAN),
        _f("ShippingTerms"),
        _f("ShipVia"),
        _f("StatementCycleID"),
        _dd("StatementType", ("O", "Open Item"), ("B", "Balance Brought Forward")),
        _dd("Status", ("A", "Active"), ("H", "On Hold"), ("C", "Credit Hold"), ("I", "Inactive"), ("T", "One-Time")),
        _f("TaxRegistrationID"),
        _f("TaxZone"),
        _f("Terms", lookup=TERMS),
        _f("WarehouseID"),
        _f("WriteOffLimit", DECIMAL),
        _f("CreditLimit", DECIMAL, since="22.200.001"),
        _f("NoteID", GUID),
        _f("IsGuestCustomer", BOOLEAN, since="22.200.001"),
    ),
    (Child("MainContact", "Contact", False),),
)

VENDOR = Schema(
    "Vendor",
    (
        _f("APAccount"),
        _f("APSubaccount"),
        _f("CashAccount"),
        _f("CreatedDateTime", DATETIME),
        _f("CurrencyID"),
        _f("CurrencyRateType"),
        _f("F1099Vendor", BOOLEAN),
        _f("FOBPoint"),
        _f("ForeignEntity", BOOLEAN),
        _f("LandedCostVendor", BOOLEAN),
        _f("LastModifiedDateTime", DATETIME),
        _f("LeadTimedays", SHORT),
        _f("LegalName"),
        _f("LocationName"),
        _f("MaxReceipt", DECIMAL),
        _f("MinReceipt", DECIMAL),
        _f("PaymentLeadTimedays", SHORT),
        _f("PaymentMethod"),
        _f("PaySeparately", BOOLEAN),
        _f("ReceiptAction"),
        _f("ShippingTerms"),
        _f("ShipVia"),
        _dd("Status", ("A", "Active"), ("H", "On Hold"), ("P", "Hold Payments"), ("I", "Inactive"), ("T", "One-Time")),
        _f("TaxZone"),
        _f("Terms", lookup=TERMS),
        _f("ThresholdReceipt", DECIMAL),
        _f("VendorClass", lookup=VENDOR_CLASSES),
        _f("VendorID", required=True),
        _f("VendorIsTaxAgency", BOOLEAN),
        _f("VendorName", required=True),
        _f("Warehouse"),
    ),
    (Child("MainContact", "Contact", False),),
)

STOCK_ITEM = Schema(
    "StockItem",
    (
        _f("ABCCode"),
        _f("AverageCost", DECIMAL),
        _f("BaseUOM"),
        _f("COGSAccount"),
        _f("CurrentStdCost", DECIMAL),
        _f("DefaultPrice", DECIMAL),
        _f("DefaultWarehouseID"),
        _f("Description"),
        _f("DimensionVolume", DECIMAL),
        _f("DimensionWeight", DECIMAL),
        _f("InventoryAccount"),
        _f("InventoryID", required=True),
        _f("IsAKit", BOOLEAN),
        _f("ItemClass", lookup=ITEM_CLASSES),
        _dd(
            "ItemStatus",
            ("AC", "Active"),
            ("NS", "No Sales"),
            ("NP", "No Purchases"),
            ("NR", "No Request"),
            ("IN", "Inactive"),
        ),
        _dd("ItemType", ("F", "Finished Good"), ("M", "Component Part"), ("A", "Subassembly")),
        _f("LastCost", DECIMAL),
        _f("LastModified", DATETIME, until="26.200.001", mirror="LastModifiedDateTime"),
        _f("LastModifiedDateTime", DATETIME, since="24.200.001"),
        _f("LotSerialClass"),
        _f("Markup", DECIMAL),
        _f("MSRP", DECIMAL),
        _f("PostingClass"),
        _f("PriceClass"),
        _f("PurchaseUOM"),
        _f("SalesAccount"),
        _f("SalesUOM"),
        _f("TaxCategory"),
        _f("UseOnEntry", BOOLEAN, until="26.200.001"),
        _dd("ValuationMethod", ("T", "Standard"), ("A", "Average"), ("F", "FIFO"), ("S", "Specific")),
        _f("VolumeUOM"),
        _f("WeightUOM"),
        _f("NoteID", GUID),
    ),
)

SALES_ORDER_DETAIL = Schema(
    "SalesOrderDetail",
    (
        _f("Account"),
        _f("Amount", DECIMAL),
        _f("Branch"),
        _f("Completed", BOOLEAN),
        _f("DiscountAmount", DECIMAL),
        _f("DiscountPercent", DECIMAL),
        _f("ExtendedPrice", DECIMAL),
        _f("FreeItem", BOOLEAN),
        _f("InventoryID"),
        _f("LineDescription"),
        _f("LineNbr", INT),
        _f("LineType"),
        _f("OpenQty", DECIMAL),
        _f("OrderQty", DECIMAL),
        _f("QtyOnShipments", DECIMAL),
        _date("RequestedOn"),
        _date("ShipOn"),
        _f("Subitem", until="26.200.001"),
        _f("TaxCategory"),
        _f("UnitCost", DECIMAL),
        _f("UnitPrice", DECIMAL),
        _f("UOM"),
        _f("WarehouseID"),
        _f("NoteID", GUID),
    ),
)

SALES_ORDER = Schema(
    "SalesOrder",
    (
        _f("Approved", BOOLEAN),
        _f("BaseCurrencyID"),
        _f("BillToAddressOverride", BOOLEAN),
        _f("BillToAddressValidated", BOOLEAN),
        _f("BillToContactOverride", BOOLEAN),
        _f("Branch", since="23.200.001"),
        _f("CashAccount"),
        _f("ContactID"),
        _f("ControlTotal", DECIMAL),
        _f("CreditHold", BOOLEAN),
        _f("CurrencyID"),
        _f("CurrencyRate", DECIMAL),
        _f("CurrencyRateTypeID"),
        _f("CustomerID", required=True),
        _f("CustomerOrder"),
        _date("Date"),
        _f("Description"),
        _f("DestinationWarehouseID"),
        _f("DisableAutomaticDiscountUpdate", BOOLEAN),
        _f("DisableAutomaticTaxCalculation", BOOLEAN, since="22.200.001"),
        _date("EffectiveDate"),
        _f("ExternalRef"),
        _f("Hold", BOOLEAN),
        _f("IsTaxValid", BOOLEAN),
        _f("LastModified", DATETIME),
        _f("LocationID"),
        _f("MaxRiskScore", DECIMAL, since="23.200.001"),
        _f("OrderedQty", DECIMAL),
        _f("OrderNbr"),
        _f("OrderTotal", DECIMAL),
        _f("OrderType"),
        _f("PaymentMethod"),
        _f("PreferredWarehouseID"),
        _f("Project"),
        _f("ReciprocalRate", DECIMAL),
        _date("RequestedOn"),
        _f("ShipToAddressOverride", BOOLEAN),
        _f("ShipToAddressValidated", BOOLEAN),
        _f("ShipToContactOverride", BOOLEAN),
        _f("ShipVia"),
        _dd(
            "Status",
            ("N", "Open"),
            ("H", "On Hold"),
            ("S", "Shipping"),
            ("C", "Completed"),
            ("I", "Invoiced"),
            ("L", "Canceled"),
        ),
        _f("TaxTotal", DECIMAL),
        _f("VATExemptTotal", DECIMAL),
        _f("VATTaxableTotal", DECIMAL),
        _f("ExternalOrderOriginal", BOOLEAN),
        _f("ExternalRefundRef", since="22.200.001"),
        _f("WillCall", BOOLEAN, since="22.200.001"),
        _f("PaymentRef", since="22.200.001"),
        _f("NoteID", GUID),
        _f("UsrExternalOrderOriginal", BOOLEAN, until="26.200.001"),
        _f("ExternalOrderOrigin", since="22.200.001"),
        _f("ExternalOrderSource", since="22.200.001"),
        _dd("TaxCalcMode", *TAX_CALC, since="22.200.001"),
        _f("CreatedDate", DATETIME),
    ),
    (Child("Details", "SalesOrderDetail", True), Child("ShipToAddress", "Address", False)),
)

SALES_INVOICE_DETAIL = Schema(
    "SalesInvoiceDetail",
    (
        _f("Account", since="24.200.001"),
        _f("Amount", DECIMAL),
        _f("BranchID"),
        _f("DiscountAmount", DECIMAL),
        _f("DiscountPercent", DECIMAL),
        _f("InventoryID"),
        _f("LineNbr", INT),
        _f("ManualPrice", BOOLEAN, since="24.200.001"),
        _f("OrderLineNbr", INT),
        _f("OrderNbr"),
        _f("OrderType"),
        _f("Qty", DECIMAL),
        _f("SubAccount", since="24.200.001"),
        _f("TaxCategory"),
        _f("TransactionDescr"),
        _f("UnitPrice", DECIMAL),
        _f("UOM"),
        _f("WarehouseID"),
    ),
)

SALES_INVOICE = Schema(
    "SalesInvoice",
    (
        _f("Amount", DECIMAL),
        _f("Balance", DECIMAL),
        _f("CashDiscount", DECIMAL),
        _f("CreditHold", BOOLEAN),
        _f("Currency"),
        _f("CustomerID", required=True),
        _f("CustomerOrder"),
        _date("Date"),
        _f("Description"),
        _f("DetailTotal", DECIMAL),
        _f("DiscountTotal", DECIMAL),
        _date("DueDate"),
        _f("Hold", BOOLEAN),
        _f("IsTaxValid", BOOLEAN),
        _f("LastModifiedDateTime", DATETIME),
        _f("PaymentTotal", DECIMAL),
        _f("Project"),
        _f("ReferenceNbr"),
        _dd("Status", *DOC_STATUS),
        _f("TaxTotal", DECIMAL),
        _f("Type"),
        _f("VATExemptTotal", DECIMAL),
        _f("VATTaxableTotal", DECIMAL),
        _f("CreatedDate", DATETIME, since="24.200.001"),
        _f("ExternalRef", since="24.200.001"),
        _f(
            "LastModifiedDate",
            DATETIME,
            since="24.200.001",
            until="26.200.001",
            mirror="LastModifiedDateTime",
        ),
        _dd("TaxCalcMode", *TAX_CALC, since="24.200.001"),
    ),
    (Child("Details", "SalesInvoiceDetail", True),),
)

BILL_DETAIL = Schema(
    "BillDetail",
    (
        _f("Account"),
        _f("Amount", DECIMAL),
        _f("Branch"),
        _f("Description"),
        _f("ExtendedCost", DECIMAL),
        _f("InventoryID"),
        _f("Project"),
        _f("Qty", DECIMAL),
        _f("Subaccount"),
        _f("TaxCategory"),
        _f("TransactionDescription"),
        _f("UnitCost", DECIMAL),
        _f("UOM"),
    ),
)

BILL = Schema(
    "Bill",
    (
        _f("Amount", DECIMAL),
        _f("ApprovedForPayment", BOOLEAN),
        _f("Balance", DECIMAL),
        _f("BranchID"),
        _f("CashAccount"),
        _f("CurrencyID"),
        _date("Date"),
        _f("Description"),
        _date("DueDate"),
        _f("Hold", BOOLEAN),
        _f("LocationID"),
        _f("PostPeriod"),
        _f("Project"),
        _f("ReferenceNbr"),
        _dd("Status", *DOC_STATUS, ("P", "Pending Approval")),
        _f("TaxTotal", DECIMAL),
        _f("Terms", lookup=TERMS),
        _f("Type"),
        _f("Vendor", required=True),
        _f("VendorRef"),
        _f("IsTaxValid", BOOLEAN, since="23.200.001"),
        _f("LastModifiedDateTime", DATETIME),
    ),
    (Child("Details", "BillDetail", True),),
)

PAYMENT = Schema(
    "Payment",
    (
        _date("ApplicationDate"),
        _f("AppliedToDocuments", DECIMAL),
        _f("CashAccount"),
        _f("CurrencyID"),
        _f("CustomerID", required=True),
        _f("Description"),
        _f("Hold", BOOLEAN),
        _f("IsCCPayment", BOOLEAN, since="23.200.001"),
        _f("PaymentAmount", DECIMAL),
        _f("PaymentMethod"),
        _f("PaymentRef"),
        _f("ReferenceNbr"),
        _dd("Status", *DOC_STATUS, ("R", "Reserved")),
        _f("Type"),
        _f("LastModifiedDateTime", DATETIME),
        _f("ExternalRef", since="22.200.001"),
        _f("BranchID"),
        _f("CustomerLocationID"),
        _f("NoteID", GUID),
        _f("AvailableBalance", DECIMAL),
        _f("AppliedToOrders", DECIMAL, since="22.200.001"),
    ),
)

JOURNAL_TRANSACTION_DETAIL = Schema(
    "JournalTransactionDetail",
    (
        _f("Account"),
        _f("BranchID"),
        _f("CreditAmount", DECIMAL),
        _f("DebitAmount", DECIMAL),
        _f("Description"),
        _f("LineNbr", INT),
        _f("NonBillable", BOOLEAN),
        _f("Project"),
        _f("ProjectTransactionID", LONG),
        _f("Qty", DECIMAL),
        _f("ReferenceNbr"),
        _f("Subaccount"),
        _f("TransactionDescription"),
        _f("UOM"),
        _f("VendorOrCustomer"),
    ),
)

JOURNAL_TRANSACTION = Schema(
    "JournalTransaction",
    (
        _f("BatchNbr"),
        _f("BranchID"),
        _f("CreatedDateTime", DATETIME),
        _f("CurrencyID"),
        _f("Description"),
        _f("Hold", BOOLEAN),
        _f("LastModifiedDateTime", DATETIME),
        _f("LedgerID"),
        _f("Module"),
        _f("PostPeriod"),
        _dd(
            "Status",
            ("H", "On Hold"),
            ("B", "Balanced"),
            ("U", "Unposted"),
            ("P", "Posted"),
            ("C", "Completed"),
            ("V", "Voided"),
        ),
        _date("TransactionDate"),
    ),
    (Child("Details", "JournalTransactionDetail", True),),
)

SCHEMAS: dict[str, Schema] = {
    s.name: s
    for s in (
        ADDRESS,
        CONTACT,
        CUSTOMER,
        VENDOR,
        STOCK_ITEM,
        SALES_ORDER_DETAIL,
        SALES_ORDER,
        SALES_INVOICE_DETAIL,
        SALES_INVOICE,
        BILL_DETAIL,
        BILL,
        PAYMENT,
        JOURNAL_TRANSACTION_DETAIL,
        JOURNAL_TRANSACTION,
    )
}


def _entity(
    schema: Schema, screen: str, graph: str, view: str, keys: tuple[str, ...], last_modified: str, prefix: str
) -> Entity:
    auto_number = len(keys) > 1
    return Entity(schema.name, screen, graph, view, keys, last_modified, prefix, auto_number, schema)


ENTITIES: dict[str, Entity] = {
    e.name: e
    for e in (
        _entity(
            CUSTOMER,
            "AR303000",
            "PX.Objects.AR.CustomerMaint",
            "BAccount",
            ("CustomerID",),
            "LastModifiedDateTime",
            "C",
        ),
        _entity(
            VENDOR, "AP303000", "PX.Objects.AP.VendorMaint", "BAccount", ("VendorID",), "LastModifiedDateTime", "V"
        ),
        _entity(
            STOCK_ITEM,
            "IN202500",
            "PX.Objects.IN.InventoryItemMaint",
            "Item",
            ("InventoryID",),
            "LastModifiedDateTime",
            "ITEM",
        ),
        _entity(
            SALES_ORDER,
            "SO301000",
            "PX.Objects.SO.SOOrderEntry",
            "Document",
            ("OrderType", "OrderNbr"),
            "LastModified",
            "SO",
        ),
        _entity(
            SALES_INVOICE,
            "SO303000",
            "PX.Objects.SO.SOInvoiceEntry",
            "Document",
            ("Type", "ReferenceNbr"),
            "LastModifiedDateTime",
            "INV",
        ),
        _entity(
            BILL,
            "AP301000",
            "PX.Objects.AP.APInvoiceEntry",
            "Document",
            ("Type", "ReferenceNbr"),
            "LastModifiedDateTime",
            "AP",
        ),
        _entity(
            PAYMENT,
            "AR302000",
            "PX.Objects.AR.ARPaymentEntry",
            "Document",
            ("Type", "ReferenceNbr"),
            "LastModifiedDateTime",
            "PMT",
        ),
        _entity(
            JOURNAL_TRANSACTION,
            "GL301000",
            "PX.Objects.GL.JournalEntry",
            "BatchModule",
            ("Module", "BatchNbr"),
            "LastModifiedDateTime",
            "GL",
        ),
    )
}

DOC_TYPES: dict[str, str] = {
    "SalesOrder": "SO",
    "SalesInvoice": "Invoice",
    "Bill": "Bill",
    "Payment": "Payment",
    "JournalTransaction": "GL",
}

VERSIONS: dict[str, EndpointVersion] = {
    v.version: v
    for v in (
        EndpointVersion("20.200.001", 4),
        EndpointVersion("23.200.001", 4),
        EndpointVersion("24.200.001", 4),
        EndpointVersion("25.200.001", 4),
        EndpointVersion("26.200.001", 5, {("SalesOrder", "LastModified"): "LastModifiedDateTime"}),
    )
}


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _present(f: Field, version: str) -> bool:
    key = version_key(version)
    if f.since is not None and key < version_key(f.since):
        return False
    return not (f.until is not None and key >= version_key(f.until))


def _version_type(f: Field, contract: int) -> str:
    if contract >= 5 and f.options:
        return SINGLE_SELECT
    if contract >= 5 and f.date_only:
        return DATE_ONLY
    return f.type


@cache
def version_fields(schema: str, version: str) -> tuple[VersionField, ...]:
    """The fields of a schema as `version` exposes them, in catalog order."""
    ver = VERSIONS[version]
    return tuple(
        VersionField(ver.renames.get((schema, f.name), f.name), f, _version_type(f, ver.contract))
        for f in SCHEMAS[schema].fields
        if _present(f, version)
    )


@cache
def field_map(schema: str, version: str) -> dict[str, VersionField]:
    """API field name → version field, for resolving `$select`, `$filter` and request bodies."""
    return {vf.api_name: vf for vf in version_fields(schema, version)}


@cache
def children(schema: str) -> dict[str, Child]:
    return {c.name: c for c in SCHEMAS[schema].children}


def api_name(schema: str, version: str, canonical: str) -> str:
    return VERSIONS[version].renames.get((schema, canonical), canonical)


def last_modified_fields(entity: Entity, version: str) -> tuple[str, ...]:
    """API names in `version` whose value is the entity's last-modified time (the indexed field and its mirrors)."""
    return tuple(
        vf.api_name
        for vf in version_fields(entity.name, version)
        if entity.last_modified in (vf.field.name, vf.field.mirror)
    )


def format_key(entity: Entity, index: int) -> tuple[str, ...]:
    """Key values of the generated record at `index`; zero-padded so key order equals index order."""
    number = f"{entity.key_prefix}{index + 1:07d}"
    if len(entity.keys) == 1:
        return (number,)
    return (DOC_TYPES[entity.name], number)


def parse_key(entity: Entity, values: tuple[str, ...]) -> int | None:
    """Inverse of `format_key`; None when the values are not a generated key."""
    if len(values) != len(entity.keys):
        return None
    number = values[-1]
    if len(values) > 1 and values[0].casefold() != DOC_TYPES[entity.name].casefold():
        return None
    prefix, digits = number[: len(entity.key_prefix)], number[len(entity.key_prefix) :]
    if prefix.casefold() != entity.key_prefix.casefold() or len(digits) != 7 or not digits.isdigit():
        return None
    index = int(digits) - 1
    return index if index >= 0 else None
