"""The licence's request limits: concurrent requests, requests per minute, and the queue in front of them.

As documented (License Restrictions for API Users, see `peers.md` "License limits"):

* Every request except sign-out enters one FIFO queue; at most `max_concurrent_requests` run at once.
* Once the current window (60 s) has seen 50 % of `max_requests_per_minute`, each further request is
  delayed, silently, by (time left in the window) / (requests remaining in it).
* A request is declined when it would make more than `max_waiting` (20) wait, or once it has waited
  `max_wait_seconds` (600). A declined request is not counted in the window.

The documentation gives only the status (429) for a declined request, no body and no Retry-After. The
sandbox answers with the same body as its injected 429 (`faults.too_many_requests`), the
`PX.Api.ApiRequestLimitExceededException` error a data request gets, without Retry-After.

Both limits are off (None) by default. The window and the two decline thresholds are settings so tests
can exercise them in seconds.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class LicenceSettings:
    max_concurrent_requests: int | None = None
    max_requests_per_minute: int | None = None
    window_seconds: float = 60
    max_waiting: int = 20
    max_wait_seconds: float = 600

    def __post_init__(self) -> None:
        for name in ("max_concurrent_requests", "max_requests_per_minute"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be an integer >= 1 or null (no limit), not {value!r}")
        if isinstance(self.max_waiting, bool) or not isinstance(self.max_waiting, int) or self.max_waiting < 0:
            raise ValueError(f"max_waiting must be an integer >= 0, not {self.max_waiting!r}")
        for name in ("window_seconds", "max_wait_seconds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"{name} must be a number of seconds > 0, not {value!r}")

    def updated(self, changes: Mapping[str, Any]) -> LicenceSettings:
        """A partial change; unknown names are refused so a typo cannot silently do nothing."""
        known = {spec.name for spec in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown licence setting(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Licence:
    """Admits requests through the queue and the per-minute pacing; `enter` and `leave` bracket one request."""

    def __init__(self, settings: LicenceSettings) -> None:
        self._settings = settings
        self._ready = threading.Condition()
        self._waiting: deque[object] = deque()
        self._running = 0
        self._clear()

    def _clear(self) -> None:
        self._window_start = 0.0
        self._window_count = 0
        self._delayed = 0
        self._delay_seconds = 0.0
        self._declined = 0
        self._peak_running = 0
        self._peak_waiting = 0

    @property
    def settings(self) -> LicenceSettings:
        return self._settings

    def update(self, changes: Mapping[str, Any]) -> LicenceSettings:
        with self._ready:
            self._settings = self._settings.updated(changes)
            self._ready.notify_all()
            return self._settings

    def replace(self, settings: LicenceSettings) -> None:
        with self._ready:
            self._settings = settings
            self._ready.notify_all()

    def reset(self) -> None:
        """Forget the counters and the window; requests in flight finish normally."""
        with self._ready:
            self._clear()
            self._peak_running = self._running
            self._peak_waiting = len(self._waiting)

    def enter(self) -> bool:
        """Wait for a core and then the per-minute delay; False when the request is declined."""
        if not self._take_core():
            return False
        delay = self._pace()
        if delay > 0:
            time.sleep(delay)
        return True

    def leave(self) -> None:
        with self._ready:
            self._running -= 1
            self._ready.notify_all()

    def snapshot(self) -> dict[str, Any]:
        with self._ready:
            return {
                **self._settings.as_dict(),
                "running": self._running,
                "waiting": len(self._waiting),
                "delayed": self._delayed,
                "delay_seconds": round(self._delay_seconds, 3),
                "declined": self._declined,
                "peak_concurrency": self._peak_running,
                "peak_queue": self._peak_waiting,
            }

    def _take_core(self) -> bool:
        with self._ready:
            if not self._waiting and self._has_free_core():
                self._start_running()
                return True
            if len(self._waiting) >= self._settings.max_waiting:
                self._declined += 1
                return False
            ticket = object()
            self._waiting.append(ticket)
            self._peak_waiting = max(self._peak_waiting, len(self._waiting))
            admitted = self._wait_turn(ticket, time.monotonic())
            self._ready.notify_all()
            return admitted

    def _wait_turn(self, ticket: object, since: float) -> bool:
        """FIFO: only the head of the queue may take a free core. Called with the condition held."""
        while not (self._waiting[0] is ticket and self._has_free_core()):
            left = since + self._settings.max_wait_seconds - time.monotonic()
            if left <= 0:
                self._waiting.remove(ticket)
                self._declined += 1
                return False
            self._ready.wait(left)
        self._waiting.popleft()
        self._start_running()
        return True

    def _has_free_core(self) -> bool:
        limit = self._settings.max_concurrent_requests
        return limit is None or self._running < limit

    def _start_running(self) -> None:
        self._running += 1
        self._peak_running = max(self._peak_running, self._running)

    def _pace(self) -> float:
        """Count the request in the current window and return the delay the licence imposes on it."""
        with self._ready:
            limit = self._settings.max_requests_per_minute
            window = self._settings.window_seconds
            now = time.monotonic()
            if now >= self._window_start + window:
                self._window_start, self._window_count = now, 0
            past = self._window_count
            self._window_count += 1
            if limit is None or past < limit / 2:
                return 0.0
            delay = (self._window_start + window - now) / max(limit - past, 1)
            self._delayed += 1
            self._delay_seconds += delay
            return delay
