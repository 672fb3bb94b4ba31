"""Client-side pacing under the licence's request limits, shared by every hook and thread of a process.

An Acumatica licence caps concurrent API requests and requests per minute; past half the per-minute
limit the server delays requests silently, and past 20 waiting it declines them (429). With
`max_requests_per_minute` and `max_concurrent_requests` set on the connection, every hook of one
(host, tenant, login) in this process takes a `Pacer` slot before each request: at most N requests in
any sliding window of 60 s and at most M in flight. Waits are bounded; a wait past the bound raises
`AcumaticaRateLimitError`, which the retry policy treats as any 429.

The limit is per process. Across Airflow workers, give each connection a pool so the tasks running at
once split the licence between them.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

from airflow_provider_acumatica.exceptions import AcumaticaRateLimitError

WINDOW_SECONDS = 60.0
MAX_WAIT_SECONDS = 600.0

_registry: dict[tuple[str, str, str, int | None, int | None], Pacer] = {}
_registry_lock = threading.Lock()


class Pacer:
    """A sliding-window rate limiter plus a concurrency cap; either may be None (no limit)."""

    def __init__(
        self,
        per_window: int | None,
        concurrent: int | None,
        window_seconds: float = WINDOW_SECONDS,
        max_wait_seconds: float = MAX_WAIT_SECONDS,
    ) -> None:
        self.per_window = per_window
        self.concurrent = concurrent
        self.window_seconds = window_seconds
        self.max_wait_seconds = max_wait_seconds
        self._ready = threading.Condition()
        self._sent: deque[float] = deque()
        self._in_flight = 0
        self.waited_seconds = 0.0
        self.peak_in_flight = 0

    @contextmanager
    def slot(self) -> Iterator[float]:
        """Hold one request's place; yields the seconds this request waited for it."""
        waited = self._acquire()
        try:
            yield waited
        finally:
            with self._ready:
                self._in_flight -= 1
                self._ready.notify_all()

    def _acquire(self) -> float:
        started = time.monotonic()
        deadline = started + self.max_wait_seconds
        with self._ready:
            while True:
                now = time.monotonic()
                pause = self._pause(now)
                if pause <= 0:
                    break
                if now >= deadline:
                    raise AcumaticaRateLimitError(
                        f"Waited {self.max_wait_seconds:.0f} s for the licence's request budget without a turn. "
                        "Lower parallelism, or give the connection's tasks an Airflow pool."
                    )
                self._ready.wait(min(pause, deadline - now))
            self._sent.append(now)
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
            waited = now - started
            self.waited_seconds += waited
            return waited

    def _pause(self, now: float) -> float:
        """0 when a request may go now, else how long to wait before looking again. Called with the lock held."""
        while self._sent and self._sent[0] <= now - self.window_seconds:
            self._sent.popleft()
        if self.concurrent is not None and self._in_flight >= self.concurrent:
            return self.window_seconds
        if self.per_window is not None and len(self._sent) >= self.per_window:
            return self._sent[0] + self.window_seconds - now
        return 0.0


def pacer_for(
    host: str, tenant: str | None, login: str | None, per_minute: int | None, concurrent: int | None
) -> Pacer | None:
    """The process's one pacer for this licence holder, or None when the connection sets no limit."""
    if per_minute is None and concurrent is None:
        return None
    key = (host, tenant or "", login or "", per_minute, concurrent)
    with _registry_lock:
        pacer = _registry.get(key)
        if pacer is None:
            pacer = _registry[key] = Pacer(per_minute, concurrent, WINDOW_SECONDS, MAX_WAIT_SECONDS)
        return pacer
