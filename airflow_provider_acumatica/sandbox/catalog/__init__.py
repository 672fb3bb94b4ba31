"""The sandbox's entity catalog: names and value types of the official Default/24.200.001 contract.

Canonical names are the 24.200.001 names. Other endpoint versions are derived from them by three small, data-driven
differences: fields added (`since`) or removed (`until`) in a version, renames, and the Contract Version 5 retyping
(drop-downs become `StringSingleSelectValue` with `{"id", "description"}` values, date-only fields `DateOnlyValue`).

`model` holds the building blocks, `core` the first entities (hand-copied with their drop-downs), `more` the
configuration and document entities, `inquiries` the inquiry forms. Record entities are in `ENTITIES`, inquiry forms
in `INQUIRIES`, every schema (top-level, detail and linked) in `SCHEMAS`.
"""

from __future__ import annotations

from functools import cache

from . import core, inquiries, more
from .inquiries import INQUIRIES, Inquiry
from .model import (
    BOOLEAN,
    BRANCHES,
    BUILD_VERSION,
    CURRENCIES,
    CUSTOMER_CLASSES,
    DATABASE_VERSION,
    DATE_ONLY,
    DATETIME,
    DECIMAL,
    DEFAULT_VERSION,
    ENDPOINT_NAME,
    GUID,
    INT,
    ITEM_CLASSES,
    LONG,
    SHORT,
    SINGLE_SELECT,
    STRING,
    TERMS,
    VENDOR_CLASSES,
    WAREHOUSES,
    Child,
    EndpointVersion,
    Entity,
    Field,
    Schema,
    VersionField,
)

__all__ = [
    "BOOLEAN",
    "BRANCHES",
    "BUILD_VERSION",
    "CURRENCIES",
    "CUSTOMER_CLASSES",
    "DATABASE_VERSION",
    "DATETIME",
    "DATE_ONLY",
    "DECIMAL",
    "DEFAULT_VERSION",
    "DOC_TYPES",
    "ENDPOINT_NAME",
    "ENTITIES",
    "GUID",
    "INQUIRIES",
    "INT",
    "ITEM_CLASSES",
    "LONG",
    "SCHEMAS",
    "SHORT",
    "SINGLE_SELECT",
    "STRING",
    "TERMS",
    "VENDOR_CLASSES",
    "VERSIONS",
    "WAREHOUSES",
    "Child",
    "EndpointVersion",
    "Entity",
    "Field",
    "Inquiry",
    "Schema",
    "VersionField",
    "api_name",
    "children",
    "field_map",
    "format_key",
    "last_modified_fields",
    "parse_key",
    "version_fields",
    "version_key",
]

SCHEMAS: dict[str, Schema] = {
    s.name: s
    for s in (
        core.ADDRESS,
        core.CONTACT,
        core.CUSTOMER,
        core.VENDOR,
        core.STOCK_ITEM,
        core.STOCK_ITEM_WAREHOUSE_DETAIL,
        core.SALES_ORDER_DETAIL,
        core.SALES_ORDER,
        core.SALES_INVOICE_DETAIL,
        core.SALES_INVOICE,
        core.BILL_DETAIL,
        core.BILL,
        core.PAYMENT,
        core.JOURNAL_TRANSACTION_DETAIL,
        core.JOURNAL_TRANSACTION,
        *more.SCHEMAS,
        *inquiries.SCHEMAS,
    )
}

LM = "LastModifiedDateTime"

# name, screen, graph, primary view, keys, last-modified field, key prefix, primary DAC (as the endpoint maps them)
_ENTITY_ROWS: tuple[tuple[str, str, str, str, tuple[str, ...], str | None, str, str | None], ...] = (
    (
        "Customer",
        "AR303000",
        "PX.Objects.AR.CustomerMaint",
        "BAccount",
        ("CustomerID",),
        LM,
        "C",
        "PX.Objects.AR.Customer",
    ),
    ("Vendor", "AP303000", "PX.Objects.AP.VendorMaint", "BAccount", ("VendorID",), LM, "V", "PX.Objects.AP.VendorR"),
    (
        "StockItem",
        "IN202500",
        "PX.Objects.IN.InventoryItemMaint",
        "Item",
        ("InventoryID",),
        LM,
        "ITEM",
        "PX.Objects.IN.InventoryItem",
    ),
    (
        "SalesOrder",
        "SO301000",
        "PX.Objects.SO.SOOrderEntry",
        "Document",
        ("OrderType", "OrderNbr"),
        "LastModified",
        "SO",
        "PX.Objects.SO.SOOrder",
    ),
    (
        "SalesInvoice",
        "SO303000",
        "PX.Objects.SO.SOInvoiceEntry",
        "Document",
        ("Type", "ReferenceNbr"),
        LM,
        "INV",
        "PX.Objects.AR.ARInvoice",
    ),
    (
        "Bill",
        "AP301000",
        "PX.Objects.AP.APInvoiceEntry",
        "Document",
        ("Type", "ReferenceNbr"),
        LM,
        "AP",
        "PX.Objects.AP.APInvoice",
    ),
    (
        "Payment",
        "AR302000",
        "PX.Objects.AR.ARPaymentEntry",
        "Document",
        ("Type", "ReferenceNbr"),
        LM,
        "PMT",
        "PX.Objects.AR.ARPayment",
    ),
    (
        "JournalTransaction",
        "GL301000",
        "PX.Objects.GL.JournalEntry",
        "BatchModule",
        ("Module", "BatchNbr"),
        LM,
        "GL",
        "PX.Objects.GL.Batch",
    ),
    (
        "ShipVia",
        "CS207500",
        "PX.Objects.CS.CarrierMaint",
        "Carrier",
        ("CarrierID",),
        None,
        "SV",
        "PX.Objects.CS.Carrier",
    ),
    ("UnitsOfMeasure", "CS203500", "PX.Objects.CS.CSUnitMaint", "Unit", ("UnitID",), None, "U", None),
    (
        "Subaccount",
        "GL203000",
        "PX.Objects.GL.SubAccountMaint",
        "SubRecords",
        ("SubaccountCD",),
        None,
        "S",
        "PX.Objects.GL.Sub",
    ),
    (
        "ShippingTerm",
        "CS208000",
        "PX.Objects.CS.ShipTermsMaint",
        "ShipTermsCurrent",
        ("TermID",),
        None,
        "ST",
        "PX.Objects.CS.ShipTerms",
    ),
    (
        "FOBPoint",
        "CS208500",
        "PX.Objects.CS.FOBPointMaint",
        "FOBPoint",
        ("FOBPointID",),
        None,
        "FOB",
        "PX.Objects.CS.FOBPoint",
    ),
    ("Warehouse", "IN204000", "PX.Objects.IN.INSiteMaint", "site", ("WarehouseID",), LM, "WH", "PX.Objects.IN.INSite"),
    (
        "Account",
        "GL202500",
        "PX.Objects.GL.AccountMaint",
        "AccountRecords",
        ("AccountCD",),
        LM,
        "A",
        "PX.Objects.GL.Account",
    ),
    (
        "Currency",
        "CM202000",
        "PX.Objects.CM.CurrencyMaint",
        "CuryListRecords",
        ("CurrencyID",),
        LM,
        "CUR",
        "PX.Objects.CM.CurrencyList",
    ),
    (
        "CustomerClass",
        "AR201000",
        "PX.Objects.AR.CustomerClassMaint",
        "CustomerClassRecord",
        ("ClassID",),
        LM,
        "CC",
        "PX.Objects.AR.CustomerClass",
    ),
    (
        "VendorClass",
        "AP201000",
        "PX.Objects.AP.VendorClassMaint",
        "VendorClassRecord",
        ("ClassID",),
        LM,
        "VC",
        "PX.Objects.AP.VendorClass",
    ),
    (
        "Salesperson",
        "AR205000",
        "PX.Objects.AR.SalesPersonMaint",
        "Salesperson",
        ("SalespersonID",),
        LM,
        "SP",
        "PX.Objects.AR.SalesPerson",
    ),
    (
        "PurchaseOrder",
        "PO301000",
        "PX.Objects.PO.POOrderEntry",
        "Document",
        ("Type", "OrderNbr"),
        LM,
        "PO",
        "PX.Objects.PO.POOrder",
    ),
    (
        "Invoice",
        "AR301000",
        "PX.Objects.AR.ARInvoiceEntry",
        "Document",
        ("Type", "ReferenceNbr"),
        LM,
        "AR",
        "PX.Objects.AR.ARInvoice",
    ),
    (
        "ItemClass",
        "IN201000",
        "PX.Objects.IN.INItemClassMaint",
        "itemclass",
        ("ClassID",),
        LM,
        "IC",
        "PX.Objects.IN.INItemClass",
    ),
    (
        "TaxCategory",
        "TX205500",
        "PX.Objects.TX.TaxCategoryMaint",
        "TxCategory",
        ("TaxCategoryID",),
        LM,
        "TC",
        "PX.Objects.TX.TaxCategory",
    ),
)

ENTITIES: dict[str, Entity] = {
    name: Entity(name, screen, graph, view, keys, stamp, prefix, len(keys) > 1, SCHEMAS[name], dac)
    for name, screen, graph, view, keys, stamp, prefix, dac in _ENTITY_ROWS
}

DOC_TYPES: dict[str, str] = {
    "SalesOrder": "SO",
    "SalesInvoice": "Invoice",
    "Bill": "Bill",
    "Payment": "Payment",
    "JournalTransaction": "GL",
    "PurchaseOrder": "RO",
    "Invoice": "INV",
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
    if entity.last_modified is None:
        return ()
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
