"""Incremental windows: literals per endpoint version, boundaries, and what `auto` picks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from airflow_provider_acumatica.exceptions import AcumaticaConfigError
from airflow_provider_acumatica.incremental import (
    Window,
    check_field_name,
    combine_filters,
    date_literal,
    window_from_context,
)

START = datetime(2026, 11, 27, tzinfo=UTC)


def test_literals_follow_the_contract_version() -> None:
    moment = datetime(2024, 7, 15, 10, 31, 28, 402000, tzinfo=timezone(timedelta(hours=3)))
    assert date_literal(moment, "24.200.001") == "datetimeoffset'2024-07-15T07:31:28.402+00:00'"
    assert date_literal(moment, "25.200.001") == "datetimeoffset'2024-07-15T07:31:28.402+00:00'"
    assert date_literal(moment, "26.200.001") == "2024-07-15T07:31:28.402+00:00"


def test_window_filter_is_open_left_closed_right() -> None:
    window = Window(START, START + timedelta(days=1))
    assert window.filter("LastModified", "24.200.001") == (
        "LastModified gt datetimeoffset'2026-11-27T00:00:00.000+00:00' and "
        "LastModified le datetimeoffset'2026-11-28T00:00:00.000+00:00'"
    )


def test_window_from_context() -> None:
    context = {"data_interval_start": START, "data_interval_end": START + timedelta(hours=1)}
    assert window_from_context(context) == Window(START, START + timedelta(hours=1))
    assert window_from_context({}) is None
    assert window_from_context({"data_interval_start": START, "data_interval_end": START}) is None
    naive = {"data_interval_start": datetime(2026, 1, 1), "data_interval_end": datetime(2026, 1, 2)}
    window = window_from_context(naive)
    assert window is not None
    assert window.start.tzinfo is UTC


def test_combine_filters_keeps_a_users_or_inside() -> None:
    assert combine_filters(None, " ") is None
    assert combine_filters("A eq 1") == "A eq 1"
    assert combine_filters("A eq 1 or B eq 2", "C gt 3") == "(A eq 1 or B eq 2) and (C gt 3)"


def test_field_names_are_checked() -> None:
    check_field_name("auto")
    check_field_name("MainContact/LastModified")
    with pytest.raises(AcumaticaConfigError, match="not a field name"):
        check_field_name("LastModified gt 1")


def test_windows_from_pendulum_intervals_stay_aware_under_arithmetic() -> None:
    """Airflow hands out pendulum values; pendulum 3 drops a stdlib tzinfo on `+`, so windows hold plain datetimes."""
    import pendulum

    start = pendulum.datetime(2026, 1, 1, tz="UTC")
    window = window_from_context({"data_interval_start": start, "data_interval_end": start.add(hours=1)})
    assert window is not None
    assert (window.end + timedelta(microseconds=1)).tzinfo is UTC
    assert type(window.start) is datetime
