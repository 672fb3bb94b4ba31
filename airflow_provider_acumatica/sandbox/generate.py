"""Synthetic field values for one record, computed from (seed, entity, index) alone so any record costs microseconds.

Values are canonical (24.200.001 names, drop-down ids, times as epoch milliseconds). The store adds the system
fields (keys, NoteID, created and last-modified times) and applies scheduled revisions on top.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from . import catalog

MASK64 = (1 << 64) - 1
DAY_MS = 86_400_000
LINE_BLOCK = (1, 2, 2, 3, 3, 4, 4, 5)
LINE_BLOCK_SUM = sum(LINE_BLOCK)

ADJECTIVES = (
    "Alpine", "Bright", "Cedar", "Delta", "Eagle", "Frontier", "Golden", "Harbor", "Iron", "Jade",
    "Keystone", "Lakeside", "Maple", "Northern", "Oak", "Pioneer", "Quartz", "Red Rock", "Summit", "Titan",
    "Union", "Valley", "Western", "Yellowstone", "Zenith", "Blue Ridge", "Coastal", "Granite", "Prairie", "Silver",
)  # fmt: skip
NOUNS = (
    "Bakery", "Builders", "Cafe", "Dental", "Electric", "Foods", "Garden Supply", "Hardware", "Imports",
    "Logistics", "Machining", "Motors", "Office Supply", "Outfitters", "Pharmacy", "Plumbing", "Printing",
    "Produce", "Robotics", "Software", "Textiles", "Tools", "Travel", "Wholesale", "Woodworks",
)  # fmt: skip
SUFFIXES = ("Inc.", "LLC", "Co.", "Ltd.", "Group", "Corp.")
FIRST_NAMES = (
    "Alice", "Brian", "Carmen", "David", "Elena", "Frank", "Grace", "Hiro", "Irene", "James", "Kara", "Liam",
    "Maria", "Noah", "Olivia", "Pavel", "Quinn", "Rosa", "Samir", "Tara", "Umar", "Vera", "Wes", "Yuki",
)  # fmt: skip
LAST_NAMES = (
    "Anderson", "Baker", "Chen", "Diaz", "Evans", "Fischer", "Garcia", "Hughes", "Ivanova", "Johnson", "Kim",
    "Lopez", "Miller", "Nguyen", "Okafor", "Patel", "Quinn", "Rossi", "Smith", "Tanaka", "Usman", "Weber",
)  # fmt: skip
JOB_TITLES = ("Owner", "Purchasing Manager", "Accountant", "Office Manager", "Controller", "Buyer")
CITIES = (
    ("Seattle", "WA", "98101", "US"), ("Portland", "OR", "97201", "US"), ("Austin", "TX", "78701", "US"),
    ("Denver", "CO", "80202", "US"), ("Chicago", "IL", "60601", "US"), ("Boston", "MA", "02108", "US"),
    ("Atlanta", "GA", "30303", "US"), ("Phoenix", "AZ", "85001", "US"), ("Toronto", "ON", "M5H 2N2", "CA"),
    ("Vancouver", "BC", "V6B 1A1", "CA"), ("London", "", "EC1A 1BB", "GB"), ("Berlin", "", "10115", "DE"),
)  # fmt: skip
STREETS = ("Main St", "Oak Ave", "Pine Rd", "Market St", "Lake Dr", "Hill Blvd", "River Rd", "Park Ave")
PRODUCT_WORDS = (
    "Bracket", "Cable", "Controller", "Drill", "Fan", "Filter", "Gasket", "Hinge", "Lamp", "Monitor", "Motor",
    "Panel", "Pump", "Relay", "Sensor", "Switch", "Valve", "Widget",
)  # fmt: skip
PRODUCT_SIZES = ("Small", "Medium", "Large", "XL", "Mini", "Pro")
UOMS = ("EA", "BOX", "PACK", "KG")
SHIP_VIAS = ("FEDEX", "UPS", "LOCAL", "DHL", "PICKUP")
PAYMENT_METHODS = ("CHECK", "CASH", "VISA", "WIRE", "ACH")
TAX_ZONES = ("AVALARA", "NY", "WA", "EXEMPT", "CA")
TAX_CATEGORIES = ("TAXABLE", "EXEMPT")
ACCOUNTS = ("10100", "10200", "11000", "12000", "20000", "40000", "50000", "60000", "62000")
SUBACCOUNTS = ("000000", "CON000", "PRD000", "SVC000")
PROJECTS = ("X", "X", "X", "PRJ0001", "PRJ0002")

Values = dict[str, Any]


def mix64(value: int) -> int:
    """SplitMix64 finaliser: a cheap, well-spread hash used to derive every per-record random stream."""
    z = (value + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


@lru_cache(maxsize=256)
def salt(seed: int, name: str) -> int:
    """A stable 64-bit salt per (seed, name); `hash()` of a str is randomised per process, so it is not used."""
    value = mix64(seed & MASK64)
    for char in name:
        value = mix64(value ^ ord(char))
    return value


def rng_for(entity_salt: int, index: int) -> random.Random:
    return random.Random(mix64(entity_salt ^ (index * 0x2545F4914F6CDD1D & MASK64)))


def sales_order_line_count(seed: int, index: int) -> int:
    """Lines of generated order `index`: a per-block shuffle of LINE_BLOCK, so row offsets are computable in O(1)."""
    block, offset = divmod(index, len(LINE_BLOCK))
    return _block_order(seed, block)[offset]


def sales_order_lines_before(seed: int, index: int) -> int:
    """Total lines of generated orders 0..index-1."""
    block, offset = divmod(index, len(LINE_BLOCK))
    return block * LINE_BLOCK_SUM + sum(_block_order(seed, block)[:offset])


@lru_cache(maxsize=4096)
def _block_order(seed: int, block: int) -> tuple[int, ...]:
    h = mix64(salt(seed, "lines") ^ block)
    items = list(LINE_BLOCK)
    for i in range(len(items) - 1, 0, -1):
        h = mix64(h)
        j = h % (i + 1)
        items[i], items[j] = items[j], items[i]
    return tuple(items)


class _Pick:
    """Small helpers over one random stream, so generators read like a description of the data."""

    __slots__ = ("r",)

    def __init__(self, r: random.Random) -> None:
        self.r = r

    def of(self, seq: Sequence[Any]) -> Any:
        return seq[int(self.r.random() * len(seq))]

    def money(self, low: float, high: float) -> float:
        return round(low + self.r.random() * (high - low), 2)

    def chance(self, p: float) -> bool:
        return self.r.random() < p

    def upto(self, n: int) -> int:
        return int(self.r.random() * n)

    def company(self) -> str:
        return f"{self.of(ADJECTIVES)} {self.of(NOUNS)} {self.of(SUFFIXES)}"

    def person(self) -> tuple[str, str]:
        return self.of(FIRST_NAMES), self.of(LAST_NAMES)


def _slug(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())[:20]


def _day(ms: int) -> int:
    return ms - ms % DAY_MS


def _ref(counts: Mapping[str, int], entity: str, p: _Pick) -> str:
    return catalog.format_key(catalog.ENTITIES[entity], p.upto(max(counts.get(entity, 1), 1)))[-1]


def _customer(p: _Pick, counts: Mapping[str, int], created: int) -> Values:
    name = p.company()
    return {
        "AccountRef": None,
        "ApplyOverdueCharges": p.chance(0.3),
        "AutoApplyPayments": p.chance(0.5),
        "CurrencyID": p.of(catalog.CURRENCIES),
        "CurrencyRateType": "SPOT",
        "CustomerClass": p.of(catalog.CUSTOMER_CLASSES),
        "CustomerCategory": "O" if p.chance(0.85) else "I",
        "CustomerName": name,
        "Email": f"ap@{_slug(name)}.example.com",
        "EnableCurrencyOverride": p.chance(0.2),
        "EnableWriteOffs": p.chance(0.6),
        "LeadTimedays": p.upto(15),
        "LocationName": "Primary Location",
        "MultiCurrencyStatements": False,
        "OrderPriority": p.upto(5),
        "ParentRecord": None,
        "PriceClassID": p.of(("", "RETAIL", "WHOLESALE", "VIP")) or None,
        "PrimaryContactID": 100000 + p.upto(900000),
        "PrintInvoices": p.chance(0.4),
        "PrintStatements": p.chance(0.4),
        "SendInvoicesbyEmail": p.chance(0.7),
        "SendStatementsbyEmail": p.chance(0.7),
        "ShippingTerms": p.of(("FOB", "CIF", "EXW", "DDP")),
        "ShipVia": p.of(SHIP_VIAS),
        "StatementCycleID": p.of(("EOM", "15TH", "WEEKLY")),
        "StatementType": p.of(("O", "O", "B")),
        "Status": "A",
        "TaxRegistrationID": None if p.chance(0.5) else f"TX{p.upto(10**8):08d}",
        "TaxZone": p.of(TAX_ZONES),
        "Terms": p.of(catalog.TERMS),
        "WarehouseID": p.of(catalog.WAREHOUSES),
        "WriteOffLimit": p.money(0, 50),
        "CreditLimit": float(p.of((0, 5000, 10000, 25000, 50000, 100000))),
        "IsGuestCustomer": p.chance(0.02),
    }


def _vendor(p: _Pick, counts: Mapping[str, int], created: int) -> Values:
    name = p.company()
    low = p.money(80, 95)
    return {
        "APAccount": "20000",
        "APSubaccount": p.of(SUBACCOUNTS),
        "CashAccount": p.of(("10100", "10200")),
        "CurrencyID": p.of(catalog.CURRENCIES),
        "CurrencyRateType": "SPOT",
        "F1099Vendor": p.chance(0.2),
        "FOBPoint": p.of(("DEST", "ORIGIN", None)),
        "ForeignEntity": p.chance(0.1),
        "LandedCostVendor": p.chance(0.1),
        "LeadTimedays": p.upto(30),
        "LegalName": name,
        "LocationName": "Primary Location",
        "MaxReceipt": 100.0 + p.upto(11),
        "MinReceipt": low,
        "PaymentLeadTimedays": p.upto(10),
        "PaymentMethod": p.of(PAYMENT_METHODS),
        "PaySeparately": p.chance(0.1),
        "ReceiptAction": p.of(("Accept but Warn", "Reject", "Accept")),
        "ShippingTerms": p.of(("FOB", "CIF", "EXW")),
        "ShipVia": p.of(SHIP_VIAS),
        "Status": "A",
        "TaxZone": p.of(TAX_ZONES),
        "Terms": p.of(catalog.TERMS),
        "ThresholdReceipt": 100.0,
        "VendorClass": p.of(catalog.VENDOR_CLASSES),
        "VendorIsTaxAgency": p.chance(0.03),
        "VendorName": name,
        "Warehouse": p.of(catalog.WAREHOUSES),
    }


def _stock_item(p: _Pick, counts: Mapping[str, int], created: int) -> Values:
    cost = p.money(2, 800)
    price = round(cost * (1.2 + p.r.random()), 2)
    return {
        "ABCCode": p.of(("A", "B", "C")),
        "AverageCost": round(cost * 1.02, 2),
        "BaseUOM": p.of(UOMS),
        "COGSAccount": "50000",
        "CurrentStdCost": cost,
        "DefaultPrice": price,
        "DefaultWarehouseID": p.of(catalog.WAREHOUSES),
        "Description": f"{p.of(PRODUCT_WORDS)} {p.of(PRODUCT_SIZES)} {p.upto(900) + 100}",
        "DimensionVolume": p.money(0, 2),
        "DimensionWeight": p.money(0, 40),
        "InventoryAccount": "12000",
        "IsAKit": p.chance(0.05),
        "ItemClass": p.of(catalog.ITEM_CLASSES),
        "ItemStatus": "AC",
        "ItemType": p.of(("F", "F", "M", "A")),
        "LastCost": round(cost * 0.98, 2),
        "LotSerialClass": p.of(("NOTTRACKED", "NOTTRACKED", "LOTTRACKED", "SERIAL")),
        "Markup": p.money(10, 90),
        "MSRP": round(price * 1.1, 2),
        "PostingClass": p.of(("STOCKITEM", "EQUIPMENT")),
        "PriceClass": None,
        "PurchaseUOM": p.of(UOMS),
        "SalesAccount": "40000",
        "SalesUOM": p.of(UOMS),
        "TaxCategory": p.of(TAX_CATEGORIES),
        "UseOnEntry": False,
        "ValuationMethod": p.of(("T", "A", "A", "F")),
        "VolumeUOM": "LITER",
        "WeightUOM": "KG",
        "_lines": tuple(sorted({p.of(catalog.WAREHOUSES) for _ in range(1 + p.upto(3))})),
    }


def _sales_order(p: _Pick, counts: Mapping[str, int], created: int, lines: int) -> Values:
    line_params = tuple(
        (p.upto(max(counts.get("StockItem", 1), 1)), float(1 + p.upto(20)), p.money(5, 500), p.of((0.0, 0.0, 5.0)))
        for _ in range(lines)
    )
    amounts = [round(qty * price * (1 - disc / 100), 2) for _, qty, price, disc in line_params]
    subtotal = round(sum(amounts), 2)
    tax = round(subtotal * p.of((0.0, 0.05, 0.08)), 2)
    currency = p.of(catalog.CURRENCIES)
    rate = 1.0 if currency == "USD" else p.money(0.7, 1.4)
    day = _day(created)
    hold = p.chance(0.05)
    return {
        "_lines": line_params,
        "_amounts": amounts,
        "Approved": not hold,
        "BaseCurrencyID": "USD",
        "BillToAddressOverride": p.chance(0.1),
        "BillToAddressValidated": p.chance(0.5),
        "BillToContactOverride": p.chance(0.1),
        "Branch": p.of(catalog.BRANCHES),
        "CashAccount": None,
        "ContactID": None if p.chance(0.6) else str(100000 + p.upto(900000)),
        "ControlTotal": round(subtotal + tax, 2),
        "CreditHold": p.chance(0.02),
        "CurrencyID": currency,
        "CurrencyRate": rate,
        "CurrencyRateTypeID": "SPOT",
        "CustomerID": _ref(counts, "Customer", p),
        "CustomerOrder": None if p.chance(0.3) else f"PO-{p.upto(10**6):06d}",
        "Date": day,
        "Description": p.of(("Web order", "Phone order", "Standing order", "Replenishment", "Sample request")),
        "DestinationWarehouseID": None,
        "DisableAutomaticDiscountUpdate": False,
        "DisableAutomaticTaxCalculation": False,
        "EffectiveDate": day,
        "ExternalRef": None if p.chance(0.7) else f"EXT{p.upto(10**7):07d}",
        "Hold": hold,
        "IsTaxValid": True,
        "LocationID": "MAIN",
        "MaxRiskScore": None,
        "OrderedQty": sum(qty for _, qty, _, _ in line_params),
        "OrderTotal": round(subtotal + tax, 2),
        "PaymentMethod": p.of(PAYMENT_METHODS),
        "PreferredWarehouseID": p.of(catalog.WAREHOUSES),
        "Project": p.of(PROJECTS),
        "ReciprocalRate": round(1 / rate, 4),
        "RequestedOn": day + DAY_MS * (1 + p.upto(14)),
        "ShipToAddressOverride": p.chance(0.15),
        "ShipToAddressValidated": p.chance(0.5),
        "ShipToContactOverride": p.chance(0.1),
        "ShipVia": p.of(SHIP_VIAS),
        "Status": "H" if hold else "N",
        "TaxTotal": tax,
        "VATExemptTotal": 0.0,
        "VATTaxableTotal": 0.0,
        "ExternalOrderOriginal": False,
        "ExternalRefundRef": None,
        "WillCall": p.chance(0.05),
        "PaymentRef": None if p.chance(0.5) else f"PAY{p.upto(10**6):06d}",
        "UsrExternalOrderOriginal": False,
        "ExternalOrderOrigin": None,
        "ExternalOrderSource": None,
        "TaxCalcMode": p.of(("T", "T", "G", "N")),
    }


def _document(p: _Pick, counts: Mapping[str, int], lines: int) -> tuple[Values, list[float]]:
    line_amounts = [p.money(10, 2000) for _ in range(lines)]
    return {"_lines": tuple((p.upto(max(counts.get("StockItem", 1), 1)),) for _ in range(lines))}, line_amounts


def _sales_invoice(p: _Pick, counts: Mapping[str, int], created: int) -> Values:
    values, amounts = _document(p, counts, 1 + p.upto(5))
    total = round(sum(amounts), 2)
    tax = round(total * p.of((0.0, 0.05, 0.08)), 2)
    paid = p.of((0.0, 0.0, total + tax))
    day = _day(created)
    values.update(
        {
            "_amounts": amounts,
            "Amount": round(total + tax, 2),
            "Balance": round(total + tax - paid, 2),
            "CashDiscount": 0.0,
            "CreditHold": False,
            "Currency": p.of(catalog.CURRENCIES),
            "CustomerID": _ref(counts, "Customer", p),
            "CustomerOrder": None if p.chance(0.4) else f"PO-{p.upto(10**6):06d}",
            "Date": day,
            "Description": p.of(("Invoice for goods", "Services rendered", "Monthly billing")),
            "DetailTotal": total,
            "DiscountTotal": 0.0,
            "DueDate": day + DAY_MS * p.of((15, 30, 45, 60)),
            "Hold": False,
            "IsTaxValid": True,
            "PaymentTotal": paid,
            "Project": p.of(PROJECTS),
            "Status": "C" if paid else "N",
            "TaxTotal": tax,
            "VATExemptTotal": 0.0,
            "VATTaxableTotal": 0.0,
            "ExternalRef": None,
            "TaxCalcMode": "T",
        }
    )
    return values


def _bill(p: _Pick, counts: Mapping[str, int], created: int) -> Values:
    values, amounts = _document(p, counts, 1 + p.upto(4))
    total = round(sum(amounts), 2)
    tax = round(total * p.of((0.0, 0.07)), 2)
    day = _day(created)
    open_ = p.chance(0.4)
    values.update(
        {
            "_amounts": amounts,
            "Amount": round(total + tax, 2),
            "ApprovedForPayment": not open_ or p.chance(0.5),
            "Balance": round(total + tax, 2) if open_ else 0.0,
            "BranchID": p.of(catalog.BRANCHES),
            "CashAccount": p.of(("10100", "10200")),
            "CurrencyID": p.of(catalog.CURRENCIES),
            "Date": day,
            "Description": p.of(("Supplies", "Freight", "Raw materials", "Consulting", "Utilities")),
            "DueDate": day + DAY_MS * p.of((15, 30, 45)),
            "Hold": False,
            "LocationID": "MAIN",
            "PostPeriod": _period(created),
            "Project": p.of(PROJECTS),
            "Status": "N" if open_ else "C",
            "TaxTotal": tax,
            "Terms": p.of(catalog.TERMS),
            "Vendor": _ref(counts, "Vendor", p),
            "VendorRef": f"VINV-{p.upto(10**6):06d}",
            "IsTaxValid": True,
        }
    )
    return values


def _payment(p: _Pick, counts: Mapping[str, int], created: int) -> Values:
    amount = p.money(20, 20000)
    applied = amount if p.chance(0.7) else round(amount * p.r.random(), 2)
    return {
        "ApplicationDate": _day(created),
        "AppliedToDocuments": applied,
        "CashAccount": p.of(("10100", "10200")),
        "CurrencyID": p.of(catalog.CURRENCIES),
        "CustomerID": _ref(counts, "Customer", p),
        "Description": p.of(("Customer payment", "Prepayment", "Wire received")),
        "Hold": False,
        "IsCCPayment": p.chance(0.3),
        "PaymentAmount": amount,
        "PaymentMethod": p.of(PAYMENT_METHODS),
        "PaymentRef": f"{p.upto(10**6):06d}",
        "Status": "C" if applied == amount else "N",
        "ExternalRef": None,
        "BranchID": p.of(catalog.BRANCHES),
        "CustomerLocationID": "MAIN",
        "AvailableBalance": round(amount - applied, 2),
        "AppliedToOrders": 0.0,
    }


def _journal_transaction(p: _Pick, counts: Mapping[str, int], created: int) -> Values:
    return {
        "_lines": tuple((p.of(ACCOUNTS), p.money(10, 5000)) for _ in range(1 + p.upto(3))),
        "BranchID": p.of(catalog.BRANCHES),
        "CurrencyID": "USD",
        "Description": p.of(("Accrual", "Reclass", "Depreciation", "Payroll", "Adjustment")),
        "Hold": False,
        "LedgerID": "ACTUAL",
        "PostPeriod": _period(created),
        "Status": "P",
        "TransactionDate": _day(created),
    }


def _period(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return f"{moment.month:02d}{moment.year}"


GeneratorFn = Callable[[_Pick, Mapping[str, int], int], Values]

_GENERATORS: dict[str, GeneratorFn] = {
    "Customer": _customer,
    "Vendor": _vendor,
    "StockItem": _stock_item,
    "SalesInvoice": _sales_invoice,
    "Bill": _bill,
    "Payment": _payment,
    "JournalTransaction": _journal_transaction,
}


_SYSTEM_FIELDS = frozenset(("NoteID", "CreatedDateTime", "LastModifiedDateTime"))


def _generic_string(p: _Pick, name: str, counts: Mapping[str, int]) -> str:
    """A plausible value for a text field, chosen by what its name says it holds."""
    if name == "InventoryID":
        return _item_key(p.upto(max(counts.get("StockItem", 1), 1)))
    if name in ("VendorID", "Customer"):
        return _ref(counts, "Vendor" if name == "VendorID" else "Customer", p)
    if name.endswith("Subaccount"):
        return str(p.of(SUBACCOUNTS))
    for hint, choices in _STRING_HINTS:
        if hint in name:
            return str(p.of(choices))
    if name in ("Description", "Name", "LineDescription", "TransactionDescription"):
        return f"{p.of(ADJECTIVES)} {p.of(PRODUCT_WORDS)}"
    return f"{name[:3].upper()}{p.upto(100):02d}"


_STRING_HINTS: tuple[tuple[str, Sequence[str]], ...] = (
    ("Account", ACCOUNTS),
    ("Currency", catalog.CURRENCIES),
    ("Warehouse", catalog.WAREHOUSES),
    ("TaxCategory", TAX_CATEGORIES),
    ("UOM", UOMS),
    ("Branch", catalog.BRANCHES),
    ("Terms", catalog.TERMS),
    ("ShipVia", SHIP_VIAS),
    ("PaymentMethod", PAYMENT_METHODS),
    ("TaxZone", TAX_ZONES),
    ("Project", PROJECTS),
    ("Status", ("Open", "On Hold", "Closed")),
)


def _generic_value(p: _Pick, vf: catalog.Field, counts: Mapping[str, int], created: int) -> Any:
    if vf.type == catalog.STRING:
        return _generic_string(p, vf.name, counts)
    if vf.type == catalog.BOOLEAN:
        return p.chance(0.9 if "Active" in vf.name else 0.4)
    if vf.type == catalog.DECIMAL:
        return p.money(0, 1000)
    if vf.type in (catalog.INT, catalog.SHORT, catalog.LONG):
        return p.upto(100)
    if vf.type == catalog.DATETIME:
        return _day(created) + DAY_MS * p.upto(30)
    return None


def _generic(schema: str, p: _Pick, counts: Mapping[str, int], created: int, skip: frozenset[str]) -> Values:
    """Values for every field of a schema from its types: the entities without a hand-written generator."""
    return {f.name: _generic_value(p, f, counts, created) for f in catalog.SCHEMAS[schema].fields if f.name not in skip}


def _generic_record(entity: str, p: _Pick, counts: Mapping[str, int], created: int) -> Values:
    definition = catalog.ENTITIES[entity]
    values = _generic(entity, p, counts, created, _SYSTEM_FIELDS | set(definition.keys))
    if any(child.collection for child in definition.schema.children):
        values["_lines"] = tuple(range(1 + p.upto(3)))
    return values


def base_values(
    seed: int, entity: str, entity_salt: int, index: int, counts: Mapping[str, int], created: int
) -> Values:
    """Entity-specific values of record `index` (no keys, ids or times: the store owns those)."""
    p = _Pick(rng_for(entity_salt, index))
    if entity == "SalesOrder":
        return _sales_order(p, counts, created, sales_order_line_count(seed, index))
    generator = _GENERATORS.get(entity)
    if generator is None:
        return _generic_record(entity, p, counts, created)
    return generator(p, counts, created)


REVISIONS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "Customer": ("Status", ("A", "H", "A", "C", "A", "I"), "CreditLimit"),
    "Vendor": ("Status", ("A", "H", "A", "P", "A"), "MaxReceipt"),
    "StockItem": ("ItemStatus", ("AC", "NS", "AC", "NP", "AC"), "DefaultPrice"),
    "SalesOrder": ("Status", ("N", "S", "C", "I", "N", "L"), "ControlTotal"),
    "SalesInvoice": ("Status", ("N", "B", "N", "C", "V"), "Balance"),
    "Bill": ("Status", ("N", "B", "N", "C", "V"), "Balance"),
    "Payment": ("Status", ("N", "B", "C", "V"), "AvailableBalance"),
    "JournalTransaction": ("Status", ("U", "P", "C", "P"), ""),
}


def apply_revision(entity: str, values: Values, revision: int) -> None:
    """Scheduled modification number `revision` changes a status and an amount, so incremental pulls see real edits;
    on the entities without a hand-written generator it rewrites the description."""
    if revision <= 0:
        return
    if entity not in REVISIONS:
        text = "Name" if "Name" in values else "Description"
        values[text] = f"{values.get(text) or entity} (revision {revision})"
        return
    status_field, cycle, amount_field = REVISIONS[entity]
    values[status_field] = cycle[revision % len(cycle)]
    amount = values.get(amount_field) if amount_field else None
    if isinstance(amount, float):
        values[amount_field] = round(amount * (1 + 0.01 * (1 + (revision * 7) % 11)), 2)


def linked_values(seed: int, entity: str, index: int, child: str, values: Values) -> Values:
    """Values of a linked entity (MainContact with its Address, ShipToAddress) of record `index`."""
    p = _Pick(rng_for(salt(seed, f"{entity}/{child}"), index))
    if child == "MainContact":
        first, last = p.person()
        company = values.get("CustomerName") or values.get("VendorName") or ""
        domain = _slug(str(company)) or "example"
        return {
            "Active": True,
            "CompanyName": company,
            "ContactID": 100000 + index,
            "DisplayName": f"{first} {last}",
            "Email": f"{first.lower()}.{last.lower()}@{domain}.example.com",
            "Fax": None,
            "FirstName": first,
            "JobTitle": p.of(JOB_TITLES),
            "LastName": last,
            "Phone1": f"+1 (555) {p.upto(900) + 100:03d}-{p.upto(10000):04d}",
            "Phone1Type": "Business 1",
            "Phone2": None,
            "WebSite": f"https://www.{domain}.example.com",
            "Address": _address(p),
        }
    return _address(p)


def _address(p: _Pick) -> Values:
    city, state, postal, country = p.of(CITIES)
    return {
        "AddressLine1": f"{p.upto(9000) + 100} {p.of(STREETS)}",
        "AddressLine2": None if p.chance(0.8) else f"Suite {p.upto(900) + 100}",
        "City": city,
        "Country": country,
        "PostalCode": postal,
        "State": state or None,
        "Validated": p.chance(0.6),
    }


def detail_values(seed: int, entity: str, index: int, values: Values, counts: Mapping[str, int]) -> list[Values]:
    """Detail lines of record `index`, consistent with the header totals generated from the same parameters."""
    p = _Pick(rng_for(salt(seed, f"{entity}/Details"), index))
    builder = _DETAIL_BUILDERS.get(entity)
    lines = range(len(values.get("_lines", ())))
    if builder is None:
        return [_generic_line(entity, p, values, n, counts) for n in lines]
    return [builder(p, values, n) for n in lines]


def detail_schema(entity: str) -> str | None:
    """The schema of an entity's detail collection (the store keeps one per entity), or None without one."""
    return next((child.schema for child in catalog.SCHEMAS[entity].children if child.collection), None)


def _generic_line(entity: str, p: _Pick, values: Values, n: int, counts: Mapping[str, int]) -> Values:
    schema = detail_schema(entity) or ""
    created = int(values.get("CreatedDateTime") or 0)
    line = _generic(schema, p, counts, created, frozenset())
    if "LineNbr" in line:
        line["LineNbr"] = n + 1
    return line


def _item_key(index: int) -> str:
    return catalog.format_key(catalog.ENTITIES["StockItem"], index)[0]


def _sales_order_line(p: _Pick, values: Values, n: int) -> Values:
    item, qty, price, disc = values["_lines"][n]
    amount = values["_amounts"][n]
    shipped = float(p.upto(int(qty) + 1)) if values.get("Status") in ("S", "C", "I") else 0.0
    return {
        "Account": "40000",
        "Amount": amount,
        "Branch": values.get("Branch"),
        "Completed": values.get("Status") in ("C", "I"),
        "DiscountAmount": round(qty * price - amount, 2),
        "DiscountPercent": disc,
        "ExtendedPrice": round(qty * price, 2),
        "FreeItem": False,
        "InventoryID": _item_key(item),
        "LineDescription": f"{p.of(PRODUCT_WORDS)} {p.of(PRODUCT_SIZES)}",
        "LineNbr": n + 1,
        "LineType": "Goods for IN",
        "OpenQty": qty - shipped,
        "OrderQty": qty,
        "QtyOnShipments": shipped,
        "RequestedOn": values.get("RequestedOn"),
        "ShipOn": values.get("RequestedOn"),
        "Subitem": "0",
        "TaxCategory": p.of(TAX_CATEGORIES),
        "UnitCost": round(price * 0.6, 2),
        "UnitPrice": price,
        "UOM": p.of(UOMS),
        "WarehouseID": values.get("PreferredWarehouseID"),
        "NoteID": None,
    }


def _sales_invoice_line(p: _Pick, values: Values, n: int) -> Values:
    amount = values["_amounts"][n]
    qty = float(1 + p.upto(10))
    return {
        "Account": "40000",
        "Amount": amount,
        "BranchID": "HEADOFFICE",
        "DiscountAmount": 0.0,
        "DiscountPercent": 0.0,
        "InventoryID": _item_key(values["_lines"][n][0]),
        "LineNbr": n + 1,
        "ManualPrice": False,
        "OrderLineNbr": None,
        "OrderNbr": None,
        "OrderType": None,
        "Qty": qty,
        "SubAccount": "000000",
        "TaxCategory": p.of(TAX_CATEGORIES),
        "TransactionDescr": f"{p.of(PRODUCT_WORDS)} {p.of(PRODUCT_SIZES)}",
        "UnitPrice": round(amount / qty, 2),
        "UOM": p.of(UOMS),
        "WarehouseID": p.of(catalog.WAREHOUSES),
    }


def _bill_line(p: _Pick, values: Values, n: int) -> Values:
    amount = values["_amounts"][n]
    qty = float(1 + p.upto(10))
    return {
        "Account": p.of(("50000", "60000", "62000")),
        "Amount": amount,
        "Branch": values.get("BranchID"),
        "Description": p.of(("Materials", "Freight in", "Services")),
        "ExtendedCost": amount,
        "InventoryID": _item_key(values["_lines"][n][0]) if p.chance(0.5) else None,
        "Project": values.get("Project"),
        "Qty": qty,
        "Subaccount": p.of(SUBACCOUNTS),
        "TaxCategory": p.of(TAX_CATEGORIES),
        "TransactionDescription": p.of(("Purchase", "Expense", "Service fee")),
        "UnitCost": round(amount / qty, 2),
        "UOM": p.of(UOMS),
    }


def _journal_line(p: _Pick, values: Values, n: int) -> Values:
    lines = values["_lines"]
    account, amount = lines[n]
    debit = n < len(lines) - 1 or len(lines) == 1
    if len(lines) > 1 and not debit:
        amount = round(sum(a for _, a in lines[:-1]), 2)
    return {
        "Account": account if debit else "10100",
        "BranchID": values.get("BranchID"),
        "CreditAmount": 0.0 if debit else amount,
        "DebitAmount": amount if debit else 0.0,
        "Description": values.get("Description"),
        "LineNbr": n + 1,
        "NonBillable": False,
        "Project": "X",
        "ProjectTransactionID": None,
        "Qty": 0.0,
        "ReferenceNbr": None,
        "Subaccount": p.of(SUBACCOUNTS),
        "TransactionDescription": values.get("Description"),
        "UOM": None,
        "VendorOrCustomer": None,
    }


def _stock_item_warehouse(p: _Pick, values: Values, n: int) -> Values:
    warehouse = values["_lines"][n]
    return {
        "DefaultIssueLocationID": "R1S1",
        "DefaultReceiptLocationID": "RECEIVING",
        "InventoryAccount": values.get("InventoryAccount"),
        "IsDefault": warehouse == values.get("DefaultWarehouseID"),
        "Override": False,
        "PreferredVendor": None,
        "QtyOnHand": float(p.upto(500)),
        "ReplenishmentSource": p.of(("Purchase", "Transfer")),
        "ServiceLevel": 0.84,
        "Status": "Active",
        "WarehouseID": warehouse,
    }


_DETAIL_BUILDERS: dict[str, Callable[[_Pick, Values, int], Values]] = {
    "StockItem": _stock_item_warehouse,
    "SalesOrder": _sales_order_line,
    "SalesInvoice": _sales_invoice_line,
    "Bill": _bill_line,
    "JournalTransaction": _journal_line,
}
