"""Inquiry forms of the contract API: computed from the sandbox's records, read with a PUT, refused as a list.

* `GET …/<Inquiry>` (a list): 500 with the real `CannotOptimizeException` body, naming the filter field whose view
  has a BQL delegate, as the real server answers a list GET on an inquiry form.
* `PUT …/<Inquiry>?$expand=<result>` with the parameters in the body (`{"InventoryID": {"value": "…"}}`, `{}` =
  defaults): 200 with one object, the parameters echoed and, when `$expand` names it, the result array whole
  (no paging: `$top`/`$skip` apply to list GETs only).
* A required parameter left empty, or a value the form's selector cannot find: 422 with the filter echoed, the
  field's `error` ("'Inventory ID' cannot be empty.") and the top-level summary, the shape of every refused PUT.

`InventorySummaryInquiry` sums the `WarehouseDetails` of one StockItem (optionally one warehouse) at the
item's average cost; `SalesPricesInquiry` lists the base sales price (`DefaultPrice` per sales UOM) of every live
StockItem matching `InventoryID`, `ItemClassID`, `PriceClass`, `PriceType`, `PriceCode` and `EffectiveAsOf`; its
other parameters are accepted and echoed but filter nothing, since the sandbox has no price managers or
workgroups.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from . import catalog, generate, shape
from .data import DataStore, RecordView, Snapshot, WriteError, format_guid
from .protocol import Response, px_error
from .writes import display_name, parse_fields

CANNOT_OPTIMIZE = "PX.Api.ContractBased.OptimizedExport.CannotOptimizeException"
DAY_MS = 86_400_000

Row = dict[str, Any]


def cannot_optimize(inquiry: catalog.Inquiry) -> Response:
    """The real server's answer to a list GET on an inquiry form."""
    message = (
        "Optimization cannot be performed.The following fields cause the error:\r\n"
        f"{inquiry.delegate_field}: View Filter has BQL delegate"
    )
    return Response.json(px_error("An error has occurred.", message, CANNOT_OPTIMIZE), 500)


def _guid(seed: int, name: str, number: int) -> str:
    value = generate.mix64(generate.salt(seed, name) ^ number)
    return format_guid(value << 64 | generate.mix64(value ^ number))


def _inventory_summary(store: DataStore, parameters: Mapping[str, Any]) -> Iterator[Row]:
    items = store.snapshot("StockItem")
    index = items.find(str(parameters["InventoryID"]))
    if index is None:
        return
    item = items.view(index)
    warehouse = parameters.get("WarehouseID")
    cost = float(item.values.get("AverageCost") or 0.0)
    for line in item.details():
        if warehouse and str(line["WarehouseID"]).casefold() != str(warehouse).casefold():
            continue
        on_hand = float(line["QtyOnHand"])
        yield {
            "BaseUOM": item.values.get("BaseUOM"),
            "EstimatedTotalCost": round(on_hand * cost, 2),
            "EstimatedUnitCost": cost,
            "ExpirationDate": None,
            "LocationID": line.get("DefaultIssueLocationID"),
            "LotSerialNbr": None,
            "QtyAvailable": on_hand,
            "QtyAvailableForShipment": on_hand,
            "QtyNotAvailable": 0.0,
            "QtyOnHand": on_hand,
            "Subitem": None,
            "WarehouseID": line["WarehouseID"],
        }


def _same(wanted: Any, actual: Any) -> bool:
    return wanted in (None, "") or str(wanted).casefold() == str(actual or "").casefold()


def _price_row(item: RecordView) -> Row:
    values = item.values
    return {
        "BreakQty": 0.0,
        "CreatedDateTime": values["CreatedDateTime"],
        "CurrencyID": "USD",
        "Description": values.get("Description"),
        "EffectiveDate": values["CreatedDateTime"] - values["CreatedDateTime"] % DAY_MS,
        "ExpirationDate": None,
        "InventoryID": values["InventoryID"],
        "LastModifiedDateTime": values["LastModifiedDateTime"],
        "NoteID": _guid(item.snap.state.store.seed, "SalesPrice", item.index),
        "Price": values.get("DefaultPrice"),
        "PriceCode": None,
        "PriceType": "Base",
        "Promotion": False,
        "RecordID": item.index + 1,
        "Tax": values.get("TaxCategory"),
        "TaxCalculationMode": "Tax Settings",
        "UOM": values.get("SalesUOM"),
        "Warehouse": None,
    }


def _price_matches(item: RecordView, parameters: Mapping[str, Any]) -> bool:
    values = item.values
    as_of = parameters.get("EffectiveAsOf")
    price_type = parameters.get("PriceType")
    return (
        _same(parameters.get("InventoryID"), values["InventoryID"])
        and _same(parameters.get("ItemClassID"), values.get("ItemClass"))
        and _same(parameters.get("PriceClass"), values.get("PriceClass"))
        and parameters.get("PriceCode") in (None, "")
        and (price_type in (None, "", "All Prices") or _same(price_type, "Base"))
        and (as_of is None or values["CreatedDateTime"] - values["CreatedDateTime"] % DAY_MS <= as_of)
    )


def _sales_prices(store: DataStore, parameters: Mapping[str, Any]) -> Iterator[Row]:
    items: Snapshot = store.snapshot("StockItem")
    for index in items.all().slice(0, None):
        item = items.view(index)
        if _price_matches(item, parameters):
            yield _price_row(item)


_RESULTS: dict[str, Callable[[DataStore, Mapping[str, Any]], Iterator[Row]]] = {
    "InventorySummaryInquiry": _inventory_summary,
    "SalesPricesInquiry": _sales_prices,
}


def _refused(inquiry: catalog.Inquiry, echo: Mapping[str, Any]) -> WriteError:
    body = {
        **echo,
        "error": f"Inserting  '{inquiry.name}' record raised at least one error. Please review the errors.",
        "custom": {},
    }
    return WriteError(422, body)


def _check_required(inquiry: catalog.Inquiry, parameters: Mapping[str, Any], body: Mapping[str, Any]) -> None:
    missing = {
        name: {**(body.get(name) or {}), "error": f"'{display_name(name)}' cannot be empty."}
        for name in inquiry.required
        if parameters.get(name) in (None, "")
    }
    if missing:
        raise _refused(inquiry, missing)


def run(store: DataStore, inquiry: catalog.Inquiry, version: str, body: Mapping[str, Any], expand: str) -> Response:
    """One inquiry request: parameters from the body, the result array computed now and returned whole."""
    parameters, errors = parse_fields(store, version, inquiry.name, body)
    if errors is not None:
        raise _refused(inquiry, errors)
    _check_required(inquiry, parameters, body)
    answer: dict[str, Any] = {
        "id": _guid(store.seed, inquiry.name, store.now_ms()),
        "rowNumber": 1,
        "note": {"value": ""},
        **shape.wrapped(inquiry.name, version, parameters),
    }
    if inquiry.result in {part.strip() for part in expand.split(",")}:
        rows = _RESULTS[inquiry.name](store, parameters)
        answer[inquiry.result] = [
            {
                "id": _guid(store.seed, inquiry.result_schema, number),
                "rowNumber": number,
                "note": {"value": ""},
                **shape.wrapped(inquiry.result_schema, version, row),
                "custom": {},
            }
            for number, row in enumerate(rows, start=1)
        ]
    answer["custom"] = {}
    return Response.json(answer)
