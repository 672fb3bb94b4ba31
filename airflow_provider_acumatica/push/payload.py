"""Acumatica push notifications (SM302000 webhooks) as Acumatica documents them, and their dedup key.

A notification is `{"Inserted": [...], "Deleted": [...], "Query", "CompanyId", "Id", "TimeStamp",
"AdditionalInfo"}`; an update is a pair, the new row in `Inserted` and the old one in `Deleted`. Acumatica
delivers at least once, so `(CompanyId, Query, Id)` identifies a notification across resends.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

KNOWN_KEYS = ("Inserted", "Deleted", "Query", "CompanyId", "Id", "TimeStamp", "AdditionalInfo")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_DOTNET_EPOCH = datetime(1, 1, 1, tzinfo=UTC)


class InvalidNotification(ValueError):
    """The body is not a push notification of the documented shape."""


@dataclass(frozen=True)
class NotificationKey:
    company_id: str
    query: str
    id: str

    def to_json(self) -> dict[str, str]:
        return {"CompanyId": self.company_id, "Query": self.query, "Id": self.id}


@dataclass(frozen=True)
class Notification:
    inserted: tuple[dict[str, Any], ...]
    deleted: tuple[dict[str, Any], ...]
    query: str
    company_id: str
    id: str
    timestamp: int
    additional_info: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> NotificationKey:
        return NotificationKey(self.company_id, self.query, self.id)

    @property
    def occurred_at(self) -> datetime:
        """`TimeStamp` read as .NET UTC ticks (100 ns since 0001-01-01): inferred from samples, not documented."""
        return _DOTNET_EPOCH + timedelta(microseconds=self.timestamp // 10)

    def to_json(self) -> dict[str, Any]:
        """The notification as Acumatica sent it, unknown top-level keys included."""
        return {
            "Inserted": [dict(row) for row in self.inserted],
            "Deleted": [dict(row) for row in self.deleted],
            "Query": self.query,
            "CompanyId": self.company_id,
            "Id": self.id,
            "TimeStamp": self.timestamp,
            "AdditionalInfo": dict(self.additional_info),
            **self.extra,
        }

    def summary(self, key_columns: Sequence[str] = (), max_keys: int = 50) -> dict[str, Any]:
        """Counts and the changed rows' key values, bounded: what an event may carry, never whole rows."""
        rows = [*self.inserted, *self.deleted]
        keys = [_row_key(row, key_columns) for row in rows[:max_keys]]
        return {
            "query": self.query,
            "company_id": self.company_id,
            "id": self.id,
            "timestamp": self.timestamp,
            "inserted": len(self.inserted),
            "deleted": len(self.deleted),
            "keys": keys,
            "truncated": len(rows) > max_keys,
        }


def _row_key(row: Mapping[str, Any], key_columns: Sequence[str]) -> dict[str, Any]:
    """The given key columns, else those that look like keys (`…ID`, `…Nbr`, `…CD`, `id`), values as sent."""
    if key_columns:
        return {column: row.get(column) for column in key_columns}
    return {column: value for column, value in row.items() if _looks_like_key(column)}


def _looks_like_key(column: str) -> bool:
    return column == "id" or column.endswith(("ID", "Nbr", "CD"))


def parse_notification(body: bytes | str | Mapping[str, Any]) -> Notification:
    """Parse and check a webhook body; `InvalidNotification` names the first thing that is wrong."""
    document = _document(body)
    return Notification(
        inserted=_rows(document, "Inserted"),
        deleted=_rows(document, "Deleted"),
        query=_text(document, "Query"),
        company_id=_text(document, "CompanyId"),
        id=_guid(document),
        timestamp=_timestamp(document),
        additional_info=_additional_info(document),
        extra={key: value for key, value in document.items() if key not in KNOWN_KEYS},
    )


def _document(body: bytes | str | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(body, Mapping):
        return body
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError) as err:
        raise InvalidNotification(f"The body is not JSON ({err}).") from None
    if not isinstance(document, dict):
        raise InvalidNotification(f"The body is JSON but not an object (got {type(document).__name__}).")
    return document


def _rows(document: Mapping[str, Any], name: str) -> tuple[dict[str, Any], ...]:
    rows = document.get(name, [])
    if rows is None:
        return ()
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise InvalidNotification(f"{name} must be a list of objects (rows of the generic inquiry).")
    return tuple(rows)


def _text(document: Mapping[str, Any], name: str) -> str:
    value = document.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InvalidNotification(f"{name} is missing or not a non-empty string.")
    return value


def _guid(document: Mapping[str, Any]) -> str:
    value = _text(document, "Id")
    if not _GUID.match(value):
        raise InvalidNotification(f"Id must be a GUID such as 1af4d140-5321-41f2-a2ec-50b67f577c6c, not {value!r}.")
    return value


def _timestamp(document: Mapping[str, Any]) -> int:
    value = document.get("TimeStamp")
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidNotification("TimeStamp is missing or not a non-negative integer (.NET ticks).")
    return value


def _additional_info(document: Mapping[str, Any]) -> dict[str, Any]:
    value = document.get("AdditionalInfo", {})
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidNotification("AdditionalInfo must be an object when present.")
    return value


def spool_name(key: NotificationKey) -> str:
    """A file name from the dedup key alone, so that a resent notification lands on the same name."""
    digest = hashlib.sha256(f"{key.company_id}\n{key.query}\n{key.id}".encode()).hexdigest()
    return f"{digest[:40]}.json"
