"""PUT semantics of the contract API: find-or-create, conditional headers, validation with 422 entity bodies."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from . import catalog, generate, shape
from .data import DataStore, Overlay, RecordView, Snapshot, WriteError, format_guid, to_ms
from .protocol import px_error

NOT_FOUND_TYPE = "PX.Api.ContractBased.NoEntitySatisfiesTheConditionException"
NOT_FOUND_MESSAGE = "No entity satisfies the condition."
_READ_ONLY = {"NoteID", "CreatedDateTime", "CreatedDate", "BAccountID"}
_SYSTEM = {"id", "rowNumber", "note", "custom", "_links", "files", "error", "delete", "_workflowActions"}
_REFERENCES = {
    ("SalesOrder", "CustomerID"): "Customer",
    ("SalesInvoice", "CustomerID"): "Customer",
    ("Payment", "CustomerID"): "Customer",
    ("Bill", "Vendor"): "Vendor",
    ("InventorySummaryInquiry", "InventoryID"): "StockItem",
    ("SalesPricesInquiry", "InventoryID"): "StockItem",
}
_NUMBER_TEXT = re.compile(r"-?\d+(\.\d+)?")
_RANGES = {
    "CreditLimit": (0.0, None),
    "WriteOffLimit": (0.0, None),
    "OrderQty": (0.0, None),
    "UnitPrice": (0.0, None),
    "DiscountPercent": (0.0, 100.0),
}


@dataclass(frozen=True)
class PutResult:
    index: int
    created: bool
    record: dict[str, Any]


def not_found(entity: str) -> WriteError:
    message = f"{NOT_FOUND_MESSAGE} No '{entity}' record matches the specified id or key values."
    return WriteError(500, px_error("An error has occurred.", message, NOT_FOUND_TYPE))


def display_name(field_name: str) -> str:
    """`CustomerClass` → `Customer Class`, `CustomerID` → `Customer ID`, as the UI labels fields."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", field_name)


@dataclass
class _Parsed:
    """A request body converted to canonical values, with the echo of what was sent and any field errors."""

    values: dict[str, Any]
    echo: dict[str, Any]
    errors: int = 0


class _Validator:
    def __init__(self, store: DataStore, version: str) -> None:
        self.store = store
        self.version = version

    def parse(self, schema: str, body: Mapping[str, Any]) -> _Parsed:
        parsed = _Parsed({}, {})
        fields = catalog.field_map(schema, self.version)
        kids = catalog.children(schema)
        for name, raw in body.items():
            if name in _SYSTEM:
                continue
            if name in kids:
                self._child(parsed, kids[name], raw)
                continue
            vf = fields.get(name)
            if vf is None or not isinstance(raw, Mapping) or "value" not in raw:
                continue
            value, error = self.convert(schema, vf, raw["value"])
            parsed.echo[name] = {"value": raw["value"]}
            if error is not None:
                parsed.echo[name]["error"] = error
                parsed.errors += 1
            elif vf.field.name not in _READ_ONLY and not vf.field.mirror and vf.field.name != _last_modified(schema):
                parsed.values[vf.field.name] = value
        return parsed

    def _child(self, parsed: _Parsed, child: catalog.Child, raw: Any) -> None:
        if child.collection and isinstance(raw, list):
            lines = [self.parse(child.schema, line) for line in raw if isinstance(line, Mapping)]
            parsed.values[child.name] = [
                {**line.values, "_id": body.get("id"), "_delete": bool(body.get("delete"))}
                for line, body in zip(lines, (b for b in raw if isinstance(b, Mapping)), strict=True)
            ]
            parsed.echo[child.name] = [line.echo for line in lines]
            parsed.errors += sum(line.errors for line in lines)
        elif not child.collection and isinstance(raw, Mapping):
            nested = self.parse(child.schema, raw)
            parsed.values[child.name] = nested.values
            parsed.echo[child.name] = nested.echo
            parsed.errors += nested.errors

    def convert(self, schema: str, vf: catalog.VersionField, value: Any) -> tuple[Any, str | None]:
        f = vf.field
        label = display_name(vf.api_name)
        if value is None:
            return None, None
        if f.options:
            return _option(f, label, value)
        if f.lookup:
            text = str(value).strip()
            match = next((item for item in f.lookup if item.casefold() == text.casefold()), None)
            return (match, None) if match else (None, f"{label} '{text}' cannot be found in the system.")
        reference = _REFERENCES.get((schema, f.name))
        if reference is not None and self.store.snapshot(reference).find(str(value)) is None:
            return None, f"{label} '{value}' cannot be found in the system."
        typed, error = _typed(vf.type, f.type, label, value)
        return (typed, error) if error is not None else (typed, _out_of_range(f.name, label, typed))


def _out_of_range(name: str, label: str, value: Any) -> str | None:
    low, high = _RANGES.get(name, (None, None))
    if low is not None and value < low:
        return f"'{label}' cannot be less than {low:g}."
    if high is not None and value > high:
        return f"'{label}' cannot be greater than {high:g}."
    return None


def parse_fields(store: DataStore, version: str, schema: str, body: Mapping[str, Any]) -> tuple[dict[str, Any], Any]:
    """A body's canonical values and, when a field is refused, the echo with per-field errors (else None)."""
    parsed = _Validator(store, version).parse(schema, body)
    return parsed.values, (parsed.echo if parsed.errors else None)


def _option(f: catalog.Field, label: str, value: Any) -> tuple[Any, str | None]:
    text = str(value.get("id") if isinstance(value, Mapping) else value).strip().casefold()
    for code, option_label in f.options:
        if text in (code.casefold(), option_label.casefold()):
            return code, None
    return None, f"{label}: the value '{value}' is not in the list of allowed values."


def _typed(version_type: str, base_type: str, label: str, value: Any) -> tuple[Any, str | None]:
    if base_type == catalog.DECIMAL:
        number = _number(value)
        return (number, None) if number is not None else (None, f"'{value}' is not a valid decimal value for {label}.")
    if base_type in (catalog.INT, catalog.SHORT, catalog.LONG):
        number = _number(value)
        if number is None or number != int(number):
            return None, f"'{value}' is not a valid integer value for {label}."
        return int(number), None
    if base_type == catalog.BOOLEAN:
        if isinstance(value, bool):
            return value, None
        text = str(value).strip().lower()
        return (text == "true", None) if text in ("true", "false") else (None, f"'{value}' is not a valid boolean.")
    if base_type == catalog.DATETIME:
        try:
            return to_ms(datetime.fromisoformat(str(value).replace("Z", "+00:00"))), None
        except ValueError:
            return None, f"'{value}' is not a valid date for {label}."
    return str(value), None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and _NUMBER_TEXT.fullmatch(value.strip()):
        return float(value)
    return None


def _last_modified(schema: str) -> str | None:
    entity = catalog.ENTITIES.get(schema)
    return entity.last_modified if entity else None


def _keys_in(entity: catalog.Entity, values: Mapping[str, Any]) -> tuple[str, ...] | None:
    keys = tuple(values.get(name) for name in entity.keys)
    if any(key is None or str(key).strip() == "" for key in keys):
        return None
    return tuple(str(key) for key in keys)


def _locate(snap: Snapshot, body: Mapping[str, Any], values: Mapping[str, Any], target: int | None) -> int | None:
    if isinstance(body.get("id"), str):
        index = snap.find(body["id"])
        if index is None:
            raise not_found(snap.entity.name)
        return index
    keys = _keys_in(snap.entity, values)
    if keys is not None:
        return snap.find(keys)
    return target


def _missing_required(entity: catalog.Entity, version: str, values: Mapping[str, Any]) -> dict[str, Any]:
    required = [f.name for f in entity.schema.fields if f.required]
    if not entity.auto_number:
        required = [*entity.keys, *(name for name in required if name not in entity.keys)]
    return {
        catalog.api_name(entity.name, version, name): {"error": f"'{display_name(name)}' cannot be empty."}
        for name in required
        if values.get(name) in (None, "")
    }


def _error_body(entity: catalog.Entity, parsed: _Parsed, existing: str | None, extra: Mapping[str, Any]) -> Any:
    verb = "Updating" if existing else "Inserting"
    body: dict[str, Any] = {"id": existing} if existing else {}
    body.update(parsed.echo)
    body.update(extra)
    body["error"] = f"{verb}  '{entity.name}' record raised at least one error. Please review the errors."
    body["custom"] = {}
    return body


def _line_id(entity: str, index: int, number: int) -> str:
    value = generate.mix64(generate.salt(index, f"{entity}/new-line") ^ number)
    return format_guid(value << 64 | generate.mix64(value))


def _merge_details(
    entity: catalog.Entity, index: int, current: Sequence[Mapping[str, Any]], sent: Sequence[Mapping[str, Any]]
) -> tuple[dict[str, Any], ...]:
    """Lines with a known `id` are updated (or removed with `"delete": true`); lines without one are appended."""
    lines = [dict(line) for line in current]
    by_id = {line["_id"]: line for line in lines}
    for number, line in enumerate(sent):
        changes = {k: v for k, v in line.items() if not k.startswith("_")}
        target = by_id.get(line.get("_id") or "")
        if target is not None and line.get("_delete"):
            lines.remove(target)
        elif target is not None:
            target.update(changes)
        elif not line.get("_delete"):
            next_nbr = max((int(old.get("LineNbr") or 0) for old in lines), default=0) + 1
            lines.append({"LineNbr": next_nbr, **changes, "_id": _line_id(entity.name, index, len(lines) + number)})
    return tuple(lines)


def _default_values(entity: catalog.Entity, values: dict[str, Any]) -> dict[str, Any]:
    status = next((f for f in entity.schema.fields if f.name == "Status" and f.options), None)
    if status is not None and values.get("Status") is None:
        values["Status"] = status.options[0][0]
    return values


def apply_put(
    store: DataStore,
    entity_name: str,
    version: str,
    body: Any,
    *,
    target: int | None = None,
    if_match: bool = False,
    if_none_match: bool = False,
    projection: shape.Projection = shape.FULL,
    site_path: str = "",
) -> PutResult:
    """Upsert like the real PUT: by `id`, key fields or a `$filter` match (`target`); raises WriteError on refusal."""
    entity = catalog.ENTITIES[entity_name]
    if not isinstance(body, Mapping) or not body:
        raise WriteError(400, {"message": "The request is invalid.", "modelState": {"": [_empty_reason(body)]}})
    with store.lock:
        snap = store.snapshot(entity_name)
        parsed = _Validator(store, version).parse(entity_name, body)
        index = _locate(snap, body, parsed.values, target)
        if index is not None and if_none_match:
            raise WriteError(412, {"message": "An entity with these keys already exists and cannot be inserted."})
        if index is None and if_match:
            raise WriteError(412, {"message": "There is no entity with these keys in the database."})
        existing_id = snap.state.guid(index) if index is not None else None
        missing = _missing_required(entity, version, parsed.values) if index is None else {}
        missing = {name: error for name, error in missing.items() if name not in parsed.echo}
        if parsed.errors or missing:
            raise WriteError(422, _error_body(entity, parsed, existing_id, missing))
        stored = _store(store, snap, entity, index, parsed.values)
    expanded = {name: shape.FULL for name in catalog.children(entity_name) if name in body}
    view = store.snapshot(entity_name).view(stored)
    record = shape.shape_record(view, version, shape.merge_projection(projection, expanded), 1, site_path)
    return PutResult(stored, index is None, record)


def _empty_reason(body: Any) -> str:
    if body is None or body == {}:
        return "The request body should not be empty."
    return "The request body should be a JSON object describing the entity."


def _store(store: DataStore, snap: Snapshot, entity: catalog.Entity, index: int | None, values: dict[str, Any]) -> int:
    kids = catalog.children(entity.name)
    linked = {name: values.pop(name) for name in list(values) if name in kids and not kids[name].collection}
    details = next((values.pop(name) for name in list(values) if name in kids and kids[name].collection), None)
    if index is None:
        return store.write(entity.name, None, lambda new: _new_overlay(entity, new, values, linked, details, snap.at))
    current: RecordView = snap.view(index)
    if not _changes(current, values, linked, details):
        return index
    base = store.base_overlay(entity.name, index)
    merged_details = base.details
    if details is not None:
        merged_details = _merge_details(entity, index, current.details(), details)
    merged_linked = {**base.linked}
    for name, changes in linked.items():
        merged_linked[name] = {**merged_linked.get(name, {}), **changes}
    keyless = {k: v for k, v in values.items() if k not in entity.keys}
    overlay = replace(
        base,
        modified=snap.at,
        values={**base.values, **keyless},
        linked=merged_linked,
        details=merged_details,
    )
    return store.write(entity.name, index, lambda _: overlay)


def _changes(
    current: RecordView,
    values: Mapping[str, Any],
    linked: Mapping[str, Mapping[str, Any]],
    details: Sequence[Mapping[str, Any]] | None,
) -> bool:
    """Whether a PUT changes anything: the real server writes only differing fields and then stamps the record."""
    keys = current.entity.keys
    if any(current.values.get(name) != value for name, value in values.items() if name not in keys):
        return True
    if any(current.linked(name).get(k) != v for name, changes in linked.items() for k, v in changes.items()):
        return True
    lines = {line["_id"]: line for line in current.details()} if details else {}
    for line in details or ():
        target = lines.get(line.get("_id") or "")
        if target is None or line.get("_delete"):
            return True
        if any(target.get(k) != v for k, v in line.items() if not k.startswith("_")):
            return True
    return False


def _new_overlay(
    entity: catalog.Entity,
    index: int,
    values: dict[str, Any],
    linked: Mapping[str, Mapping[str, Any]],
    details: Sequence[Mapping[str, Any]] | None,
    at: int,
) -> Overlay:
    keys = _keys_in(entity, values) or _auto_keys(entity, index, values)
    lines = _merge_details(entity, index, (), details) if details is not None else None
    return Overlay(
        created=at,
        modified=at,
        keys=keys,
        generated=False,
        values=_default_values(entity, {k: v for k, v in values.items() if k not in entity.keys}),
        linked=dict(linked),
        details=lines,
    )


def _auto_keys(entity: catalog.Entity, index: int, values: Mapping[str, Any]) -> tuple[str, ...]:
    generated = catalog.format_key(entity, index)
    if len(generated) == 1:
        return generated
    return (str(values.get(entity.keys[0]) or generated[0]), generated[1])
