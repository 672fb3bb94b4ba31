"""The stitching unit on scripted lists: records leave or enter the list between two requests, and every
record that stays is handed over exactly once, in key order, with the page boundaries of a plain pull."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_acumatica.exceptions import AcumaticaDataChangedError
from airflow_provider_acumatica.paging import (
    MAX_WIDENINGS,
    OffsetPlan,
    Page,
    PageRequest,
    Stitcher,
    serial_pages,
)
from airflow_provider_acumatica.retry_policy import MalformedResponseError

LOG = logging.getLogger(__name__)
Edit = Callable[[list[str]], None]


class ScriptedList:
    """A server's result in key order; `edits[k]` changes it just before it answers request k (0-based)."""

    def __init__(self, count: int, edits: dict[int, Edit] | None = None, *, with_ids: bool = True) -> None:
        self.ids = [f"r{n:03d}" for n in range(count)]
        self.edits = edits or {}
        self.with_ids = with_ids
        self.requests: list[PageRequest] = []

    def fetch(self, request: PageRequest) -> Page:
        edit = self.edits.get(len(self.requests))
        if edit is not None:
            edit(self.ids)
        self.requests.append(request)
        rows = self.ids[request.skip : request.skip + request.top]
        return [self.row(key, number) for number, key in enumerate(rows, start=1)]

    def row(self, key: str, number: int) -> dict[str, Any]:
        return {"id": key, "rowNumber": number} if self.with_ids else {"key": key, "rowNumber": number}


def pull(server: ScriptedList, plan: OffsetPlan) -> tuple[list[Page], Stitcher]:
    stitcher = Stitcher(plan, "Order", LOG)
    return list(serial_pages(server.fetch, stitcher)), stitcher


def ids(pages: list[Page]) -> list[str]:
    return [row["id"] for page in pages for row in page]


def assert_exact(pages: list[Page], server: ScriptedList) -> None:
    """Every record still listed at the end was handed over exactly once, and all in key order."""
    handed = ids(pages)
    assert max(Counter(handed).values()) == 1
    assert set(server.ids) <= set(handed)
    assert handed == sorted(handed)


def delete(*keys: str) -> Edit:
    def edit(listed: list[str]) -> None:
        for key in keys:
            listed.remove(key)

    return edit


def insert_after(anchor: str, *keys: str) -> Edit:
    def edit(listed: list[str]) -> None:
        position = listed.index(anchor) + 1
        listed[position:position] = keys

    return edit


def test_the_plan_reaches_back_by_the_overlap_and_ends_where_the_plain_page_ends() -> None:
    plan = OffsetPlan.anchored(1000)
    assert plan.overlap == 8
    assert plan.request(0) == PageRequest(0, 0, 1000)
    assert plan.request(3) == PageRequest(3, 2992, 1008)
    assert plan.request(3, widening=2) == PageRequest(3, 2968, 1032)
    assert plan.request(1, widening=8) == PageRequest(1, 0, 2000)
    assert [OffsetPlan.anchored(size).overlap for size in (1, 99, 100, 500, 1000, 100_000)] == [1, 1, 1, 5, 8, 8]
    assert OffsetPlan.plain(50).request(2) == PageRequest(2, 100, 50)


def test_unchanged_data_gives_the_plain_pages_with_their_row_numbers() -> None:
    server = ScriptedList(25)
    pages, stitcher = pull(server, OffsetPlan(10, 3))
    assert [[row["id"] for row in page] for page in pages] == [server.ids[0:10], server.ids[10:20], server.ids[20:]]
    assert [[row["rowNumber"] for row in page] for page in pages] == [list(range(1, 11))] * 2 + [list(range(1, 6))]
    assert [(r.skip, r.top) for r in server.requests] == [(0, 10), (7, 13), (17, 13)]
    assert stitcher.refetches == 0


def test_a_full_last_page_ends_on_the_overlap_alone() -> None:
    server = ScriptedList(20)
    pages, _ = pull(server, OffsetPlan(10, 3))
    assert ids(pages) == server.ids
    assert [(r.skip, r.top) for r in server.requests] == [(0, 10), (7, 13), (17, 13)]


def test_deletions_before_the_offset_within_the_overlap() -> None:
    server = ScriptedList(30, {1: delete("r002", "r005"), 2: delete("r011")})
    pages, stitcher = pull(server, OffsetPlan(10, 3))
    assert ids(pages) == [f"r{n:03d}" for n in range(30)]
    assert stitcher.refetches == 0


def test_deletions_beyond_the_overlap_are_found_by_reaching_further_back() -> None:
    gone = [f"r{n:03d}" for n in range(1, 6)]
    server = ScriptedList(30, {1: delete(*gone)})
    pages, stitcher = pull(server, OffsetPlan(10, 3))
    assert ids(pages) == [f"r{n:03d}" for n in range(30)]
    assert [len(page) for page in pages] == [10, 15, 5]
    assert stitcher.refetches == 1
    assert [(r.number, r.skip, r.top) for r in server.requests[1:3]] == [(1, 7, 13), (1, 4, 16)]


def test_records_inserted_before_the_offset_push_the_page_back_without_repeating_any() -> None:
    server = ScriptedList(30, {1: insert_after("r003", "n1", "n2", "n3", "n4")})
    pages, stitcher = pull(server, OffsetPlan(10, 3))
    handed = ids(pages)
    assert [key for key in handed if key.startswith("r")] == [f"r{n:03d}" for n in range(30)]
    assert "n1" not in handed
    assert max(Counter(handed).values()) == 1
    assert stitcher.refetches == 0


def test_the_anchor_record_itself_deleted() -> None:
    server = ScriptedList(30, {1: delete("r009")})
    pages, stitcher = pull(server, OffsetPlan(10, 3))
    assert ids(pages) == [f"r{n:03d}" for n in range(30)]
    assert [len(page) for page in pages] == [10, 11, 9]
    assert stitcher.refetches == 0


def test_every_record_of_the_previous_page_deleted_is_a_clear_error() -> None:
    server = ScriptedList(40, {1: delete(*[f"r{n:03d}" for n in range(10)])})
    with pytest.raises(AcumaticaDataChangedError, match="page 1 no longer overlaps page 0") as caught:
        pull(server, OffsetPlan(10, 3))
    assert "Run the task again" in str(caught.value)
    assert server.requests[-1].skip == 0


def test_re_fetches_are_bounded() -> None:
    """Page 100 lost 900 records ahead of it: the reach doubles MAX_WIDENINGS times (to 768), then gives up."""
    server = ScriptedList(2000, {100: delete(*[f"r{n:03d}" for n in range(900)])})
    with pytest.raises(AcumaticaDataChangedError, match="from 768 records before it"):
        pull(server, OffsetPlan(10, 3))
    assert len(server.requests) == 101 + MAX_WIDENINGS


def test_an_empty_page_after_a_full_one() -> None:
    server = ScriptedList(20, {2: delete("r017", "r018", "r019")})
    pages, stitcher = pull(server, OffsetPlan(10, 3))
    assert ids(pages) == [f"r{n:03d}" for n in range(20)]
    assert stitcher.refetches == 1
    assert server.requests[2] == PageRequest(2, 17, 13)


def test_a_short_page_without_an_anchor_after_a_full_one() -> None:
    server = ScriptedList(25, {2: delete("r015", "r016", "r017", "r018", "r019")})
    pages, stitcher = pull(server, OffsetPlan(10, 3))
    assert ids(pages) == [f"r{n:03d}" for n in range(25)]
    assert stitcher.refetches == 1


def test_a_re_fetch_starts_at_the_reach_that_worked_for_the_page_before() -> None:
    """Page 1 needs a reach of 8 (two re-fetches); page 2, as far behind, gets it on its first re-fetch."""
    edits = {1: delete(*[f"r{n:03d}" for n in range(2, 14, 2)]), 4: delete(*[f"r{n:03d}" for n in range(13, 25, 2)])}
    server = ScriptedList(50, edits)
    pages, stitcher = pull(server, OffsetPlan(10, 2))
    assert_exact(pages, server)
    assert [(r.number, r.skip) for r in server.requests[:7]] == [
        (0, 0),
        (1, 8),
        (1, 6),
        (1, 2),
        (2, 18),
        (2, 12),
        (3, 28),
    ]
    assert stitcher.refetches == 3


def test_records_without_an_id_fall_back_to_plain_offsets_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    server = ScriptedList(25, with_ids=False)
    with caplog.at_level(logging.WARNING):
        pages, _ = pull(server, OffsetPlan(10, 3))
    assert [row["key"] for page in pages for row in page] == server.ids
    assert [row["rowNumber"] for row in pages[1]] == list(range(1, 11))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "records without an id" in warnings[0]


def test_plain_paging_takes_every_row_of_each_response() -> None:
    server = ScriptedList(25, with_ids=False)
    pages, _ = pull(server, OffsetPlan.plain(10))
    assert [len(page) for page in pages] == [10, 10, 5]
    assert [(r.skip, r.top) for r in server.requests] == [(0, 10), (10, 10), (20, 10)]


def test_more_rows_than_top_are_refused() -> None:
    def ignoring_top(request: PageRequest) -> Page:
        return [{"id": f"r{n}"} for n in range(request.top + 1)]

    with pytest.raises(MalformedResponseError, match=r"returned 11 rows for \$top=10"):
        list(serial_pages(ignoring_top, Stitcher(OffsetPlan(10, 3), "Order", LOG)))


def serve(keys: list[str]) -> Callable[[PageRequest], Page]:
    return lambda request: [{"id": key} for key in keys[request.skip : request.skip + request.top]]


def test_a_response_older_than_the_page_before_is_trusted_only_at_its_last_record() -> None:
    """Other sessions fetched pages 1 and 2 before page 0, and 12 records ahead of them were deleted in between:
    anchored on an earlier record of the page before, the old responses would hand over the deleted records and
    then page 0's r009 a second time. Fetched again, they are newer than page 0 and join exactly."""
    new = [f"r{n:03d}" for n in range(30)]
    old = new[:9] + [f"d{n:02d}" for n in range(12)] + new[9:]
    stitcher = Stitcher(OffsetPlan(10, 2), "Order", LOG)
    early = [stitcher.fetch(serve(old), stitcher.plan.request(number)) for number in (1, 2)]
    pages = [stitcher.stitch(stitcher.fetch(serve(new), stitcher.plan.request(0)), serve(new))]
    pages += [stitcher.stitch(response, serve(new)) for response in early]
    pages.append(stitcher.stitch(stitcher.fetch(serve(new), stitcher.plan.request(3)), serve(new)))
    assert [row["id"] for page in pages for row in page.rows] == new
    assert [page.last for page in pages] == [False, False, False, True]
    assert stitcher.refetches == 2
