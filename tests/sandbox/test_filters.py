"""The `$filter` parser: operators, precedence, literals, functions per dialect, errors and the time-range plan."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_acumatica.sandbox.filters import (
    Column,
    CompiledFilter,
    Dialect,
    FilterError,
    TimeRange,
    compile_filter,
)

T_2024_07_15_UTC = 1_721_044_288_402  # 2024-07-15T11:51:28.402Z

COLUMNS = {
    "Name": Column("string", lambda row: row.get("Name")),
    "Status": Column("string", lambda row: row.get("Status"), {"n": "Open", "c": "Completed"}),
    "Amount": Column("number", lambda row: row.get("Amount")),
    "Qty": Column("number", lambda row: row.get("Qty")),
    "Hold": Column("boolean", lambda row: row.get("Hold")),
    "Modified": Column("datetime", lambda row: row.get("Modified"), indexed=True),
    "Created": Column("datetime", lambda row: row.get("Created")),
    "NoteID": Column("guid", lambda row: row.get("NoteID")),
    "MainContact/Email": Column("string", lambda row: row.get("Email")),
}

ROW: dict[str, Any] = {
    "Name": "O'Brien Tools",
    "Status": "Open",
    "Amount": 150.5,
    "Qty": 3,
    "Hold": False,
    "Modified": T_2024_07_15_UTC,
    "Created": T_2024_07_15_UTC - 86_400_000,
    "NoteID": "7ADBF4E5-4E48-EA11-817F-EB1AF000B4CF",
    "Email": "ops@obrien.example.com",
}


def cv4(text: str) -> CompiledFilter:
    return compile_filter(text, Dialect.CV4, COLUMNS.get, "Customer")


def cv5(text: str) -> CompiledFilter:
    return compile_filter(text, Dialect.CV5, COLUMNS.get, "Customer")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Amount eq 150.5", True),
        ("Amount ne 150.5", False),
        ("Amount gt 150", True),
        ("Amount ge 150.5", True),
        ("Amount lt 150.5", False),
        ("Amount le 150.5", True),
        ("Qty eq 3", True),
        ("Qty eq 3.0M", True),
        ("Amount gt -1", True),
        ("Hold eq false", True),
        ("Hold", False),
        ("not Hold", True),
        ("Name eq 'o''brien tools'", True),
        ("Name eq 'Other'", False),
        ("Name gt 'N'", True),
        ("Name eq null", False),
        ("Name ne null", True),
        ("Amount gt null", False),
        ("MainContact/Email eq 'ops@obrien.example.com'", True),
        ("NoteID eq '7adbf4e5-4e48-ea11-817f-eb1af000b4cf'", True),
        ("NoteID eq guid'7adbf4e5-4e48-ea11-817f-eb1af000b4cf'", True),
        ("Status eq 'Open'", True),
        ("Status eq 'N'", True),
        ("Status eq 'C'", False),
        ("startswith(Name,'o''b')", True),
        ("endswith(Name,'TOOLS')", True),
        ("substringof('brien', Name)", True),
        ("substringof('brien', Name) eq true", True),
        ("substringof('zzz', Name) eq false", True),
        ("tolower(Name) eq 'o''brien tools'", True),
        ("toupper(Name) eq 'O''BRIEN TOOLS'", True),
    ],
)
def test_cv4_operators_functions_and_literals(text: str, expected: bool) -> None:
    assert cv4(text).matches(ROW) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("contains(Name,'brien')", True),
        ("contains(MainContact/Email,'@obrien')", True),
        ("Modified eq 2024-07-15T11:51:28.402Z", True),
        ("Modified eq 2024-07-15T14:51:28.402+03:00", True),
        ("Modified gt 2024-07-15T11:51:28.4019999Z", True),
        ("Modified lt 2024-07-15", False),
        ("Created ge 2024-07-14 and Created lt 2024-07-15", True),
    ],
)
def test_cv5_syntax(text: str, expected: bool) -> None:
    assert cv5(text).matches(ROW) is expected
    assert compile_filter(text, Dialect.GI, COLUMNS.get).matches(ROW) is expected


@pytest.mark.parametrize(
    "literal",
    [
        "datetimeoffset'2024-07-15T14:51:28.402+03:00'",
        "datetimeoffset'2024-07-15T11:51:28.402Z'",
        "datetime'2024-07-15T11:51:28.402'",
    ],
)
def test_cv4_typed_date_time_literals(literal: str) -> None:
    assert cv4(f"Modified eq {literal}").matches(ROW)


def test_precedence_not_binds_tighter_than_and_than_or() -> None:
    assert cv4("Hold eq true or Amount gt 100 and Qty eq 3").matches(ROW)
    assert not cv4("(Hold eq true or Amount gt 100) and Qty eq 4").matches(ROW)
    assert cv4("Hold eq true or Amount gt 100 and Qty eq 4 or Name eq 'O''Brien Tools'").matches(ROW)
    assert not cv4("not Amount gt 100 and Qty eq 3").matches(ROW)
    assert cv4("not (Amount gt 100 and Qty eq 4)").matches(ROW)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("Amount eq", "position 9"),
        ("Amount eq 1 and", "end of the expression"),
        ("Amount eq 1 Qty eq 3", "position 12"),
        ("(Amount eq 1", "')'"),
        ("Name eq 'open", "unterminated string"),
        ("Amount eq 1 # 2", "'#'"),
        ("Foo eq 1", "Could not find a property named 'Foo' on type 'Customer'"),
        ("Name eq 1", "incompatible types"),
        ("Modified gt '2024-07-15'", "'Edm.DateTimeOffset' and 'Edm.String'"),
        ("contains(Name,'x')", "substringof"),
        ("Modified gt 2024-07-15T11:51:28Z", "datetimeoffset'2024-07-15T11:51:28Z'"),
        ("Modified gt datetimeoffset'2024-07-15T11:51:28.402 03:00'", "%2B"),
        ("Name", "boolean"),
        ("length(Name) eq 3", "unknown function 'length'"),
        ("startswith(Name)", "takes 2 argument"),
        ("", "expected an expression"),
    ],
)
def test_cv4_errors_name_the_position_and_token(text: str, fragment: str) -> None:
    with pytest.raises(FilterError) as caught:
        cv4(text)
    assert fragment in str(caught.value)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("substringof('x', Name)", "contains(Field, 'text')"),
        ("Modified gt datetimeoffset'2024-07-15T11:51:28Z'", "typed literal"),
        ("Modified gt 2024-07-15T11:51:28.402 03:00", "%2B"),
    ],
)
def test_cv5_errors(text: str, fragment: str) -> None:
    with pytest.raises(FilterError) as caught:
        cv5(text)
    assert fragment in str(caught.value)


def test_a_time_range_is_extracted_from_top_level_conjuncts() -> None:
    low, high = "datetimeoffset'2024-07-01T00:00:00Z'", "datetimeoffset'2024-08-01T00:00:00Z'"
    plain = cv4(f"Modified gt {low}")
    assert plain.time_range == TimeRange(low=1_719_792_000_000, low_inclusive=False)
    assert not plain.residual
    both = cv4(f"Modified ge {low} and Modified lt {high} and Status eq 'Open'")
    assert both.time_range == TimeRange(1_719_792_000_000, True, 1_722_470_400_000, False)
    assert both.residual
    flipped = cv4(f"{low} lt Modified")
    assert flipped.time_range == TimeRange(low=1_719_792_000_000, low_inclusive=False)
    equal = cv4("Modified eq datetimeoffset'2024-07-15T11:51:28.402Z'")
    assert equal.time_range == TimeRange(T_2024_07_15_UTC, True, T_2024_07_15_UTC, True)


@pytest.mark.parametrize(
    "text",
    [
        "Modified gt datetimeoffset'2024-07-01T00:00:00Z' or Amount gt 1",
        "not Modified gt datetimeoffset'2024-07-01T00:00:00Z'",
        "Created gt datetimeoffset'2024-07-01T00:00:00Z'",
        "Modified ne datetimeoffset'2024-07-01T00:00:00Z'",
    ],
)
def test_no_time_range_when_the_filter_is_not_a_conjunction_of_ranges(text: str) -> None:
    compiled = cv4(text)
    assert compiled.time_range is None
    assert compiled.residual


def test_time_range_intersection_keeps_the_tighter_bound() -> None:
    a = TimeRange(low=10, low_inclusive=True, high=50)
    b = TimeRange(low=10, low_inclusive=False, high=40, high_inclusive=False)
    both = a.intersect(b)
    assert both == TimeRange(10, False, 40, False)
    assert not both.contains(10) and both.contains(11) and not both.contains(40)
    assert TimeRange().contains(0)
