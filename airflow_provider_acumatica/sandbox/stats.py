"""Counters that let a test check what a client did to the server, e.g. that it logged out every session.

Admin routes (`/_sandbox/...`) are not counted, so reading the counters does not change them.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from typing import Any


class SandboxStats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clear()

    def _clear(self) -> None:
        self._requests: Counter[str] = Counter()
        self._routes: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._events: Counter[str] = Counter()
        self._grants: Counter[str] = Counter()
        self._faults: Counter[str] = Counter()
        self._seats_in_use = 0
        self._peak_seats = 0
        self._users_in_use = 0
        self._peak_users = 0

    def reset(self) -> None:
        with self._lock:
            self._clear()

    def request(self, route: str, status: int) -> None:
        with self._lock:
            self._requests[str(status)] += 1
            self._routes[route][str(status)] += 1

    def event(self, name: str) -> None:
        """`login`, `logout`, or a session lifecycle event: `[user_]session_opened|closed|expired`."""
        with self._lock:
            self._events[name] += 1

    def grant(self, grant_type: str) -> None:
        with self._lock:
            self._grants[grant_type] += 1

    def fault(self, kind: str) -> None:
        with self._lock:
            self._faults[kind] += 1

    def seats(self, in_use: int) -> None:
        with self._lock:
            self._seats_in_use = in_use
            self._peak_seats = max(self._peak_seats, in_use)

    def users(self, in_use: int) -> None:
        """Conventional users (Basic on OData) signed in now; they take no API seat."""
        with self._lock:
            self._users_in_use = in_use
            self._peak_users = max(self._peak_users, in_use)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "seats_in_use": self._seats_in_use,
                "peak_seats": self._peak_seats,
                "logins": self._events["login"],
                "logouts": self._events["logout"],
                "token_grants": dict(self._grants),
                "requests": dict(self._requests),
                "routes": {route: dict(codes) for route, codes in self._routes.items()},
                "sessions": {
                    "open": self._seats_in_use,
                    "opened": self._events["session_opened"],
                    "closed": self._events["session_closed"],
                    "expired": self._events["session_expired"],
                },
                "users_in_use": self._users_in_use,
                "peak_users": self._peak_users,
                "user_sessions": {
                    "open": self._users_in_use,
                    "opened": self._events["user_session_opened"],
                    "closed": self._events["user_session_closed"],
                    "expired": self._events["user_session_expired"],
                },
                "faults_injected": dict(self._faults),
            }
