"""Turning Acumatica's wrapped record shape into plain values."""

from __future__ import annotations

from typing import Any

_WRAPPER_KEYS = frozenset({"value", "error", "type"})
_SCALARS = frozenset({str, int, float, bool, type(None)})
_MISSING = object()


def unwrap(value: Any) -> Any:
    """Replace every `{"value": x}` wrapper by x and every empty field `{}` by None, recursively.

    Detail collections stay lists and linked entities stay objects, with their own fields unwrapped.
    """
    if isinstance(value, dict):
        if not value:
            return None
        if "value" in value and value.keys() <= _WRAPPER_KEYS:
            return unwrap(value["value"])
        return {key: unwrap(item) for key, item in value.items()}
    if isinstance(value, list):
        return [unwrap(item) for item in value]
    return value


def unwrap_record(record: dict[str, Any]) -> dict[str, Any]:
    """A record's fields as plain values; `_links` (server URLs, not data) is dropped.

    Most fields are `{"value": scalar}`; those are unwrapped inline, which halves the cost of a page
    (this runs once per field of every record extracted). Everything else goes through `unwrap`.
    """
    plain: dict[str, Any] = {}
    for key, item in record.items():
        if item.__class__ is dict and len(item) == 1 and key != "_links":
            inner = item.get("value", _MISSING)
            if inner.__class__ in _SCALARS:
                plain[key] = inner
                continue
        if key != "_links":
            plain[key] = unwrap(item)
    return plain
