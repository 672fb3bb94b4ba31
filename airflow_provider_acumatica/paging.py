"""Offset paging that stays exact while the data changes: overlapping pages anchored by record id.

Acumatica's contract API pages with `$top`/`$skip` only, in key order, with no count and no
cursor. Plain offsets skip a record whenever one before the offset leaves the result between two
requests, and repeat one whenever a record enters it. So every page after the first starts a few
records early: page n >= 1 is `$skip = n*page_size - overlap`, `$top = page_size + overlap`, and
ends where the plain page would. Its first rows overlap the page before, and the page is cut after
its *anchor*: the last row whose `id` (the NoteID, which never changes) the previous page handed
over. Everything after the anchor is new, in key order, whatever moved before it.

When no anchor is in the response (`overlap` or more records left the result ahead of the page, or
the page came back empty), the page is fetched again reaching twice as far back, down to `$skip=0`,
at most MAX_WIDENINGS times; when even that finds none, the records of the previous page are gone
and `AcumaticaDataChangedError` says so. With several sessions a response may be older than the
page before it; it is trusted only at that page's last record, and otherwise fetched again. Only the
previous page's ids are kept, so memory is flat. A response whose records have no `id` falls back to
plain offsets, with one warning. docs/exactness.md has the argument, the guarantees and the limits.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from airflow_provider_acumatica.exceptions import AcumaticaDataChangedError
from airflow_provider_acumatica.retry_policy import MalformedResponseError

Page = list[dict[str, Any]]

MAX_OVERLAP = 8
"""Records a page re-reads from the page before: 0.8% more at the default page size of 1000."""
MAX_WIDENINGS = 8
"""Re-fetches of one page, each with twice the overlap: at most 256 * MAX_OVERLAP records extra."""


@dataclass(frozen=True)
class PageRequest:
    """The `$skip`/`$top` of one request for page `number`."""

    number: int
    skip: int
    top: int

    @property
    def params(self) -> dict[str, int]:
        return {"$top": self.top, "$skip": self.skip}


FetchPage = Callable[[PageRequest], Page]


class Log(Protocol):
    """The caller's logger (a task's, a hook's), so these lines land in the task log."""

    def info(self, message: str, /, *args: Any) -> object: ...

    def warning(self, message: str, /, *args: Any) -> object: ...


@dataclass(frozen=True)
class OffsetPlan:
    """Which records each page asks for; `overlap` 0 is plain `$top`/`$skip` paging."""

    page_size: int
    overlap: int

    @classmethod
    def anchored(cls, page_size: int) -> OffsetPlan:
        """About 1% overlap, at least one record (needed for an anchor) and at most MAX_OVERLAP."""
        return cls(page_size, max(1, min(MAX_OVERLAP, page_size // 100)))

    @classmethod
    def plain(cls, page_size: int) -> OffsetPlan:
        return cls(page_size, 0)

    def request(self, number: int, widening: int = 0) -> PageRequest:
        """Page `number`, reaching `overlap * 2**widening` records back; it always ends where the plain page ends."""
        end = (number + 1) * self.page_size
        skip = max(0, number * self.page_size - (self.overlap << widening))
        return PageRequest(number, skip, end - skip)


@dataclass(frozen=True)
class Response:
    """What one request returned, and when: `sent` and `answered` are ticks of the pull's clock."""

    request: PageRequest
    rows: Page
    sent: int
    answered: int


@dataclass(frozen=True)
class StitchedPage:
    rows: Page
    last: bool


class Stitcher:
    """Cuts each response after its anchor; fed the pages of one pull in page order, by one thread.

    `stitch` takes the response to `plan.request(number)`, fetched through `fetch`, and a `refetch` for
    when the response has no anchor it can trust. A page is the last when the response it was cut from
    is shorter than its `$top`.
    """

    def __init__(self, plan: OffsetPlan, what: str, log: Log) -> None:
        self.plan = plan
        self.refetches = 0
        self._clock = itertools.count()
        self._clock_lock = threading.Lock()
        self._what = what
        self._log = log
        self._anchored = plan.overlap > 0
        self._previous: frozenset[str] = frozenset()
        self._frontier: str | None = None
        self._frontier_answered = -1
        self._reach = 0

    def fetch(self, fetch: FetchPage, request: PageRequest) -> Response:
        """`fetch(request)`, stamped with ticks of a clock shared by every session of the pull (any thread).

        A response sent after another was answered is surely the newer one: the server read the data in
        between. Of responses in flight at the same time, either may be the newer one.
        """
        sent = self._tick()
        rows = fetch(request)
        return Response(request, rows, sent, self._tick())

    def _tick(self) -> int:
        with self._clock_lock:
            return next(self._clock)

    def stitch(self, response: Response, refetch: FetchPage) -> StitchedPage:
        check_page_length(response.rows, response.request.top, self._what)
        start = self._positional_start(response)
        if start is None:
            response, start = self._anchor(response, refetch)
        rows = response.rows
        page = _renumbered(rows[start:], start)
        if self._anchored and rows:
            if page:
                self._previous = frozenset(row["id"] for row in page)
            self._frontier, self._frontier_answered = rows[-1]["id"], response.answered
        return StitchedPage(page, last=len(rows) < response.request.top)

    def _positional_start(self, response: Response) -> int | None:
        """Where the page starts by offset alone: on the first page, and once records turned out to have no id."""
        if self._anchored and not _all_have_ids(response.rows):
            self._anchored = False
            self._log.warning(
                "%s: records without an id, so pages are joined by offset alone; records that enter or leave "
                "the result during the pull can then be skipped or repeated (see docs/exactness.md).",
                self._what,
            )
        request = response.request
        if not self._anchored or request.number == 0:
            return request.number * self.plan.page_size - request.skip
        return None

    def _anchor(self, response: Response, refetch: FetchPage) -> tuple[Response, int]:
        """The first row after a trusted anchor, fetching the page again while there is none.

        An anchor is trusted when it is the last record of the response the page before was cut from (the
        frontier), or when this response is newer than that one: then whatever lies between them has left.
        A re-fetch is always newer, so an untrusted anchor costs one re-fetch. A response without an anchor
        is fetched again from further back; the first re-fetch reaches as far as the one that found the
        previous page's anchor, since records that leave the result at a steady rate need about the same
        reach page after page.
        """
        widening = 0
        while True:
            start = self._after_anchor(response.rows)
            newer = response.sent > self._frontier_answered
            if start is not None and (newer or response.rows[start - 1]["id"] == self._frontier):
                self._reach = widening
                return response, start
            if start is None:
                if (newer and response.request.skip == 0) or widening == MAX_WIDENINGS:
                    raise self._changed_too_much(response.request)
                widening = max(1, self._reach) if widening == 0 else widening + 1
            response = self._refetch(refetch, self.plan.request(response.request.number, widening), start is None)
            positional = self._positional_start(response)
            if positional is not None:
                return response, positional

    def _refetch(self, refetch: FetchPage, request: PageRequest, unanchored: bool) -> Response:
        reason = (
            "no record of the page before is in the response (records left the result during the pull)"
            if unanchored
            else "the page before lost its last record and this response may be older than it"
        )
        self._log.info(
            "%s page %d: %s; fetching it again from $skip=%d.", self._what, request.number, reason, request.skip
        )
        self.refetches += 1
        response = self.fetch(refetch, request)
        check_page_length(response.rows, request.top, self._what)
        return response

    def _after_anchor(self, rows: Page) -> int | None:
        for position in range(len(rows) - 1, -1, -1):
            if rows[position]["id"] in self._previous:
                return position + 1
        return None

    def _changed_too_much(self, request: PageRequest) -> AcumaticaDataChangedError:
        reach = request.number * self.plan.page_size - request.skip
        where = "from the first record" if request.skip == 0 else f"from {reach} records before it"
        return AcumaticaDataChangedError(
            f"{self._what}: page {request.number} no longer overlaps page {request.number - 1}, even read {where}: "
            f"the records of page {request.number - 1} left the result while the pull ran. The data changed too "
            "much during the pull for the pages to be joined exactly. Run the task again, or pull a smaller window."
        )


def serial_pages(fetch: FetchPage, stitcher: Stitcher) -> Iterator[Page]:
    """The stitched pages of one pull, one request at a time, until the last page."""
    number = 0
    while True:
        page = stitcher.stitch(stitcher.fetch(fetch, stitcher.plan.request(number)), fetch)
        if page.rows:
            yield page.rows
        if page.last:
            return
        number += 1


def check_page_length(rows: list[Any], top: int, what: str) -> None:
    """More rows than `$top` means the server (or a proxy) ignored paging: `$skip` would repeat records."""
    if len(rows) > top:
        raise MalformedResponseError(
            f"{what}: the server returned {len(rows)} rows for $top={top}, so $top/$skip paging cannot be "
            "trusted and records would repeat. Check for a proxy that rewrites the query string.",
            http_status=200,
        )


def _all_have_ids(rows: Page) -> bool:
    return all(isinstance(row, dict) and isinstance(row.get("id"), str) for row in rows)


def _renumbered(rows: Page, dropped: int) -> Page:
    """`rowNumber` counts the rows of a response; less the rows cut off, it counts those of the page, as before."""
    if dropped:
        for row in rows:
            number = row.get("rowNumber") if isinstance(row, dict) else None
            if isinstance(number, int) and not isinstance(number, bool):
                row["rowNumber"] = number - dropped
    return rows
