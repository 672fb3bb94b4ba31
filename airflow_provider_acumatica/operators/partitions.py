"""Pulling pages on k sessions at once, joined in exactly the serial order.

Acumatica serves one session's requests one at a time, so a pull is as slow as its round trips.
The pull is split by page number: each page number's request (`paging.OffsetPlan`) is claimed by
exactly one session, and the responses are joined in page order by the caller's thread with the
same `paging.Stitcher` a serial pull uses. So the result is the serial pull's: the same records in
the same order, each once, with no count needed (Acumatica has none), with or without an
incremental window, and exact while the data changes. A page that must be fetched again (records
left the result during the pull, or the response is older than the page before it) is fetched by
the caller's thread on the first session, so the pull never holds more than k seats.

Workers stop claiming after the first short response; pages claimed past it (at most k - 1) come
back empty or are dropped. Should a re-fetched page then turn out not to be the last, the caller
fetches the rest itself. With one session the single worker is a prefetch: the next page is on the
wire while the caller encodes and writes the current one. Memory is bounded: at most `2k - 1`
responses are claimed and not yet taken, plus the page the caller is working on.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import Any

from airflow_provider_acumatica.exceptions import AcumaticaConfigError
from airflow_provider_acumatica.paging import FetchPage, Page, PageRequest, Response, Stitcher

MAX_PARALLELISM = 16


class PageStream:
    """`with PageStream(fetchers, stitcher) as pages:` iterates the joined pages in serial order.

    `fetchers[i](request)` fetches a request on session i. Leaving the block stops the workers and
    waits for their current request, so the caller can then sign every session out.
    """

    def __init__(self, fetchers: Sequence[FetchPage], stitcher: Stitcher) -> None:
        if not fetchers:
            raise ValueError("PageStream needs at least one fetcher")
        self._fetchers = list(fetchers)
        self._stitcher = stitcher
        self._plan = stitcher.plan
        self._ahead = 2 * len(fetchers) - 1
        self._ready = threading.Condition()
        self._pages: dict[int, Response] = {}
        self._next_claim = 0
        self._next_take = 0
        self._last: int | None = None
        self._error: BaseException | None = None
        self._stopped = False
        self._workers = [
            threading.Thread(target=self._work, args=(fetch,), name=f"acumatica-pages-{i}", daemon=True)
            for i, fetch in enumerate(self._fetchers)
        ]

    def __enter__(self) -> Iterator[Page]:
        for worker in self._workers:
            worker.start()
        return self._take()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        with self._ready:
            self._stopped = True
            self._pages.clear()
            self._ready.notify_all()
        for worker in self._workers:
            worker.join()

    def _claim(self) -> int | None:
        with self._ready:
            while not self._stopped and self._next_claim >= self._next_take + self._ahead:
                self._ready.wait()
            if self._stopped or (self._last is not None and self._next_claim > self._last):
                return None
            number, self._next_claim = self._next_claim, self._next_claim + 1
            return number

    def _work(self, fetch: FetchPage) -> None:
        while (number := self._claim()) is not None:
            request = self._plan.request(number)
            try:
                response = self._stitcher.fetch(fetch, request)
            except BaseException as err:
                with self._ready:
                    self._error = self._error or err
                    self._stopped = True
                    self._ready.notify_all()
                return
            with self._ready:
                if len(response.rows) < request.top and (self._last is None or number < self._last):
                    self._last = number
                if not self._stopped and (self._last is None or number <= self._last):
                    self._pages[number] = response
                self._ready.notify_all()

    def _take(self) -> Iterator[Page]:
        while True:
            response = self._response(self._plan.request(self._next_take))
            page = self._stitcher.stitch(response, self._fetchers[0])
            with self._ready:
                self._next_take += 1
                self._ready.notify_all()
            if page.rows:
                yield page.rows
            if page.last:
                return

    def _response(self, request: PageRequest) -> Response:
        """The workers' response to this request, or the caller's own when it is past where they stopped."""
        with self._ready:
            while request.number not in self._pages and self._error is None and not self._past_last(request):
                self._ready.wait()
            if self._error is not None:
                raise self._error
            if request.number in self._pages:
                return self._pages.pop(request.number)
        return self._stitcher.fetch(self._fetchers[0], request)

    def _past_last(self, request: PageRequest) -> bool:
        return self._last is not None and request.number > self._last


def check_parallelism(value: Any) -> int:
    """Sessions for one extraction; each holds an API seat, so the bound is small."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PARALLELISM:
        raise AcumaticaConfigError(
            f"parallelism must be a whole number from 1 to {MAX_PARALLELISM}, not {value!r}. Each unit holds one "
            "API seat for the whole extraction; keep it within the license's free seats."
        )
    return value
