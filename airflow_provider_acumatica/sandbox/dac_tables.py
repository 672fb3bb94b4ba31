"""The DACs the DAC-based OData interface serves, as data: one `DacTable` per DAC, built on a sandbox entity.

A table names the DAC (`PX.Objects.SO.SOOrder`, the `primary_dac` of the entity map), the sandbox entity it reads,
its key properties and its properties. A property's `source` says where its value comes from:

* `Field` or `Linked/Field`: a field of the contract record (stored values: drop-down codes such as `'A'`, not
  the labels the contract API shows);
* `line:Field`: a field of the entity's detail line, for a DAC with `detail` set (one row per line);
* `index:<base>`: an integer surrogate key, `base` plus the record's position (the sandbox's stand-in for an
  identity column; for `Customer` it is the contract's `BAccountID`, 1000 plus the position).

Simplifications: foreign keys that are integers on the real DAC (`SOOrder.CustomerID`, `SOLine.InventoryID`,
`SiteID`, ...) carry the contract's display key as `Edm.String`, so rows join to contract records directly;
document types keep the contract's value (`Invoice`, not `INV`). `NoteID` is the contract record's `id` (for a
line DAC, the line's `id`). `keeps_deleted` gives a DAC the `DeletedDatabaseRecord` column: its deleted rows stay
in the table and show with `PX-ApiDeleted: SHOW`.

Adding a DAC is one more entry in `DAC_TABLES`.
"""

from __future__ import annotations

from dataclasses import dataclass

STRING = "Edm.String"
DECIMAL = "Edm.Decimal"
INT32 = "Edm.Int32"
INT16 = "Edm.Int16"
BOOLEAN = "Edm.Boolean"
DATETIME = "Edm.DateTimeOffset"
GUID = "Edm.Guid"


@dataclass(frozen=True)
class DacProperty:
    name: str
    edm: str
    source: str


@dataclass(frozen=True)
class DacTable:
    full_name: str
    entity: str
    keys: tuple[str, ...]
    properties: tuple[DacProperty, ...]
    detail: str | None = None
    keeps_deleted: bool = False

    @property
    def name(self) -> str:
        """The class name (`SOOrder`), the short entity-set name."""
        return self.full_name.rsplit(".", 1)[1]

    @property
    def namespace(self) -> str:
        return self.full_name.rsplit(".", 1)[0]

    @property
    def set_name(self) -> str:
        """The generated entity-set name (`PX_Objects_SO_SOOrder`), also accepted in URLs."""
        return self.full_name.replace(".", "_")

    @property
    def all_properties(self) -> tuple[DacProperty, ...]:
        if not self.keeps_deleted:
            return self.properties
        return (*self.properties, DacProperty("DeletedDatabaseRecord", BOOLEAN, "deleted:"))


def _p(name: str, edm: str = STRING, source: str | None = None) -> DacProperty:
    return DacProperty(name, edm, source or name)


def _audit(modified: str = "LastModifiedDateTime") -> tuple[DacProperty, ...]:
    return (
        _p("NoteID", GUID),
        _p("CreatedDateTime", DATETIME),
        _p("LastModifiedDateTime", DATETIME, modified),
    )


DAC_TABLES: tuple[DacTable, ...] = (
    DacTable(
        "PX.Objects.AR.Customer",
        "Customer",
        ("BAccountID",),
        (
            _p("BAccountID", INT32, "index:1000"),
            _p("AcctCD", source="CustomerID"),
            _p("AcctName", source="CustomerName"),
            _p("CustomerClassID", source="CustomerClass"),
            _p("Status"),
            _p("CuryID", source="CurrencyID"),
            _p("TermsID", source="Terms"),
            _p("CreditLimit", DECIMAL),
            _p("StatementType"),
            _p("PrimaryContactID", INT32),
            *_audit(),
        ),
        keeps_deleted=True,
    ),
    DacTable(
        "PX.Objects.AP.VendorR",
        "Vendor",
        ("BAccountID",),
        (
            _p("BAccountID", INT32, "index:500000"),
            _p("AcctCD", source="VendorID"),
            _p("AcctName", source="VendorName"),
            _p("VendorClassID", source="VendorClass"),
            _p("Status"),
            _p("CuryID", source="CurrencyID"),
            _p("TermsID", source="Terms"),
            _p("LegalName"),
            *_audit(),
        ),
    ),
    DacTable(
        "PX.Objects.IN.InventoryItem",
        "StockItem",
        ("InventoryID",),
        (
            _p("InventoryID", INT32, "index:10000"),
            _p("InventoryCD", source="InventoryID"),
            _p("Descr", source="Description"),
            _p("ItemClassID", source="ItemClass"),
            _p("ItemStatus"),
            _p("ItemType"),
            _p("ValMethod", source="ValuationMethod"),
            _p("BaseUnit", source="BaseUOM"),
            _p("SalesUnit", source="SalesUOM"),
            _p("PurchaseUnit", source="PurchaseUOM"),
            _p("BasePrice", DECIMAL, "DefaultPrice"),
            *_audit(),
        ),
    ),
    DacTable(
        "PX.Objects.SO.SOOrder",
        "SalesOrder",
        ("OrderNbr", "OrderType"),
        (
            _p("OrderType"),
            _p("OrderNbr"),
            _p("CustomerID"),
            _p("OrderDate", DATETIME, "Date"),
            _p("CustomerOrderNbr", source="CustomerOrder"),
            _p("RequestDate", DATETIME, "RequestedOn"),
            _p("Hold", BOOLEAN),
            _p("Approved", BOOLEAN),
            _p("CreditHold", BOOLEAN),
            _p("Status"),
            _p("OrderDesc", source="Description"),
            _p("CuryID", source="CurrencyID"),
            _p("CuryOrderTotal", DECIMAL, "OrderTotal"),
            _p("CuryTaxTotal", DECIMAL, "TaxTotal"),
            _p("CuryControlTotal", DECIMAL, "ControlTotal"),
            _p("OrderQty", DECIMAL, "OrderedQty"),
            _p("ShipVia"),
            _p("PaymentMethodID", source="PaymentMethod"),
            _p("TaxCalcMode"),
            *_audit("LastModified"),
        ),
    ),
    DacTable(
        "PX.Objects.SO.SOLine",
        "SalesOrder",
        ("OrderType", "OrderNbr", "LineNbr"),
        (
            _p("OrderType"),
            _p("OrderNbr"),
            _p("LineNbr", INT32, "line:LineNbr"),
            _p("InventoryID", source="line:InventoryID"),
            _p("TranDesc", source="line:LineDescription"),
            _p("OrderQty", DECIMAL, "line:OrderQty"),
            _p("OpenQty", DECIMAL, "line:OpenQty"),
            _p("CuryUnitPrice", DECIMAL, "line:UnitPrice"),
            _p("CuryLineAmt", DECIMAL, "line:Amount"),
            _p("CuryExtPrice", DECIMAL, "line:ExtendedPrice"),
            _p("UOM", source="line:UOM"),
            _p("SiteID", source="line:WarehouseID"),
            _p("Completed", BOOLEAN, "line:Completed"),
            _p("NoteID", GUID, "line:_id"),
            _p("CreatedDateTime", DATETIME),
            _p("LastModifiedDateTime", DATETIME, "LastModified"),
        ),
        detail="Details",
    ),
    DacTable(
        "PX.Objects.AR.ARInvoice",
        "SalesInvoice",
        ("DocType", "RefNbr"),
        (
            _p("DocType", source="Type"),
            _p("RefNbr", source="ReferenceNbr"),
            _p("CustomerID"),
            _p("DocDate", DATETIME, "Date"),
            _p("DueDate", DATETIME),
            _p("Status"),
            _p("CuryID", source="Currency"),
            _p("CuryOrigDocAmt", DECIMAL, "Amount"),
            _p("CuryDocBal", DECIMAL, "Balance"),
            _p("CuryTaxTotal", DECIMAL, "TaxTotal"),
            _p("DocDesc", source="Description"),
            _p("Hold", BOOLEAN),
            *_audit(),
        ),
    ),
    DacTable(
        "PX.Objects.AP.APInvoice",
        "Bill",
        ("DocType", "RefNbr"),
        (
            _p("DocType", source="Type"),
            _p("RefNbr", source="ReferenceNbr"),
            _p("VendorID", source="Vendor"),
            _p("InvoiceNbr", source="VendorRef"),
            _p("DocDate", DATETIME, "Date"),
            _p("DueDate", DATETIME),
            _p("FinPeriodID", source="PostPeriod"),
            _p("Status"),
            _p("CuryID", source="CurrencyID"),
            _p("CuryOrigDocAmt", DECIMAL, "Amount"),
            _p("CuryDocBal", DECIMAL, "Balance"),
            _p("DocDesc", source="Description"),
            _p("Hold", BOOLEAN),
            *_audit(),
        ),
    ),
    DacTable(
        "PX.Objects.AR.ARPayment",
        "Payment",
        ("DocType", "RefNbr"),
        (
            _p("DocType", source="Type"),
            _p("RefNbr", source="ReferenceNbr"),
            _p("CustomerID"),
            _p("AdjDate", DATETIME, "ApplicationDate"),
            _p("Status"),
            _p("CuryID", source="CurrencyID"),
            _p("CuryOrigDocAmt", DECIMAL, "PaymentAmount"),
            _p("PaymentMethodID", source="PaymentMethod"),
            _p("ExtRefNbr", source="PaymentRef"),
            _p("DocDesc", source="Description"),
            _p("Hold", BOOLEAN),
            *_audit(),
        ),
    ),
    DacTable(
        "PX.Objects.GL.Batch",
        "JournalTransaction",
        ("Module", "BatchNbr"),
        (
            _p("Module"),
            _p("BatchNbr"),
            _p("LedgerID"),
            _p("DateEntered", DATETIME, "TransactionDate"),
            _p("FinPeriodID", source="PostPeriod"),
            _p("Status"),
            _p("Description"),
            _p("CuryID", source="CurrencyID"),
            _p("Hold", BOOLEAN),
            *_audit(),
        ),
    ),
)
