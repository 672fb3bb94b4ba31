"""Pulling `$top`/`$skip` pages on k sessions at once, handed over in exactly the serial order.

Acumatica serves one session's requests one at a time, so a pull is as slow as its round trips.
The pull is split by page number: page n is `$skip = n * page_size`, each page number is claimed
by exactly one session, and pages are handed over in page order. That is the serial pull's own
partition, so the result is the same records in the same order, each once, with no count needed
(Acumatica has none) and with or without an incremental window. Like the serial pull, it stops at
the first short page; pages claimed past it (at most k - 1) come back empty or are dropped.

With one session the single worker is a prefetch: the next page is on the wire while the caller
encodes and writes the current one. Memory is bounded: at most `2k - 1` pages are claimed and not
yet taken, plus the page the caller is working on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Any

from airflow_provider_acumatica.exceptions import AcumaticaConfigError

MAX_PARALLELISM = 16

Page = list[dict[str, Any]]
FetchPage = Callable[[int], Page]


class PageStream:
    """`with PageStream(fetchers, page_size) as pages:` iterates the pages in serial order.

    `fetchers[i](n)` fetches page n on session i. Leaving the block stops the workers and waits for
    their current request, so the caller can then sign every session out.
    """

    def __init__(self, fetchers: Sequence[FetchPage], page_size: int) -> None:
        if not fetchers:
            raise ValueError("PageStream needs at least one fetcher")
        self._fetchers = list(fetchers)
        self._page_size = page_size
        self._ahead = 2 * len(fetchers) - 1
        self._ready = threading.Condition()
        self._pages: dict[int, Page] = {}
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
            try:
                page = fetch(number)
            except BaseException as err:
                with self._ready:
                    self._error = self._error or err
                    self._stopped = True
                    self._ready.notify_all()
                return
            with self._ready:
                if len(page) < self._page_size and (self._last is None or number < self._last):
                    self._last = number
                if not self._stopped and (self._last is None or number <= self._last):
                    self._pages[number] = page
                self._ready.notify_all()

    def _take(self) -> Iterator[Page]:
        while True:
            with self._ready:
                while self._next_take not in self._pages and self._error is None and not self._finished():
                    self._ready.wait()
                if self._error is not None:
                    raise self._error
                if self._finished():
                    return
                page = self._pages.pop(self._next_take)
                self._next_take += 1
                self._ready.notify_all()
            if page:
                yield page

    def _finished(self) -> bool:
        return self._last is not None and self._next_take > self._last


def check_parallelism(value: Any) -> int:
    """Sessions for one extraction; each holds an API seat, so the bound is small."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PARALLELISM:
        raise AcumaticaConfigError(
            f"parallelism must be a whole number from 1 to {MAX_PARALLELISM}, not {value!r}. Each unit holds one "
            "API seat for the whole extraction; keep it within the license's free seats."
        )
    return value
