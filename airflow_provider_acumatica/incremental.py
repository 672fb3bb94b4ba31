"""Incremental windows: `field gt start and field le end` for a run's data interval.

Half-open on the left and closed on the right, so consecutive intervals (a, b], (b, c] neither
miss nor repeat a record whose timestamp falls exactly on a boundary.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from airflow_provider_acumatica.exceptions import AcumaticaConfigError

AUTO = "auto"
FIRST_BARE_LITERAL_VERSION = (26, 200, 1)
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*$")


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    def to_dict(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}

    def filter(self, field: str, endpoint_version: str) -> str:
        start = date_literal(self.start, endpoint_version)
        end = date_literal(self.end, endpoint_version)
        return f"{field} gt {start} and {field} le {end}"


def window_from_context(context: Mapping[str, Any]) -> Window | None:
    """The run's data interval, or None for a manual or asset-triggered run that has none."""
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if start is None or end is None:
        return None
    if end <= start:
        return None
    return Window(_utc(start), _utc(end))


def explicit_window(start: str | datetime | None, end: str | datetime | None) -> Window | None:
    """A window given as operator arguments (ISO 8601 text once templated), checked like a data interval."""
    if start is None and end is None:
        return None
    if start is None or end is None:
        raise AcumaticaConfigError("Give both window_start and window_end, or neither (to use the data interval).")
    window = Window(_moment("window_start", start), _moment("window_end", end))
    if window.end <= window.start:
        raise AcumaticaConfigError(
            f"window_end ({window.end.isoformat()}) must be after window_start ({window.start.isoformat()})."
        )
    return window


def _moment(name: str, value: str | datetime) -> datetime:
    if isinstance(value, datetime):
        return _utc(value)
    try:
        return _utc(datetime.fromisoformat(value))
    except ValueError:
        raise AcumaticaConfigError(
            f"{name} {value!r} is not an ISO 8601 date and time, e.g. 2026-12-06T10:00:00+00:00."
        ) from None


def _utc(moment: datetime) -> datetime:
    """A plain `datetime` in UTC, also for Airflow's pendulum values: pendulum 3 drops a stdlib tzinfo on `+`."""
    utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return datetime(utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond, tzinfo=UTC)


def version_tuple(endpoint_version: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in endpoint_version.split("."))
    except ValueError:
        raise AcumaticaConfigError(
            f"endpoint_version {endpoint_version!r} is not of the form YY.R00.001, e.g. 24.200.001."
        ) from None


def date_literal(moment: datetime, endpoint_version: str) -> str:
    """`datetimeoffset'...'` up to 25.200.001 (Contract Version 4); a bare literal from 26.200.001 (CV5)."""
    text = _utc(moment).isoformat(timespec="milliseconds")
    if version_tuple(endpoint_version) >= FIRST_BARE_LITERAL_VERSION:
        return text
    return f"datetimeoffset'{text}'"


def combine_filters(*filters: str | None) -> str | None:
    """AND the non-empty filters, each in parentheses so a user's `or` cannot escape."""
    parts = [f.strip() for f in filters if f and f.strip()]
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    return " and ".join(f"({part})" for part in parts)


def check_field_name(field: str) -> None:
    if field != AUTO and not _FIELD.match(field):
        raise AcumaticaConfigError(
            f"incremental_field {field!r} is not a field name. Use e.g. LastModifiedDateTime, or 'auto'."
        )
