"""Injected failures, so clients can be tested against the ways a real Acumatica site misbehaves.

Settings are an immutable `FaultSettings` value swapped whole at runtime (`POST /_sandbox/faults`), so
a request always sees one consistent set. Every change restarts the random generator from
`fault_seed`, which makes a test's sequence of faults repeatable.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from enum import Enum
from typing import Any

from airflow_provider_acumatica.sandbox.protocol import Response, px_error

RATE_FIELDS = ("rate_429", "rate_500", "rate_502", "rate_503", "rate_drop", "rate_malformed")
CONSENT_ANSWERS = ("approve", "deny")


@dataclass(frozen=True)
class FaultSettings:
    """What goes wrong, and how often. Rates are shares of data requests, between 0 and 1."""

    latency_ms: int = 0
    action_seconds: float = 0.0
    rate_429: float = 0.0
    retry_after_share: float = 0.0
    retry_after_seconds: float = 1
    rate_500: float = 0.0
    rate_502: float = 0.0
    rate_503: float = 0.0
    rate_drop: float = 0.0
    rate_malformed: float = 0.0
    token_expire_after_requests: int | None = None
    token_expire_after_seconds: float | None = None
    session_expire_after_requests: int | None = None
    session_expire_after_seconds: float | None = None
    max_seats: int | None = None
    fault_seed: int = 0
    faults_on_auth: bool = False
    consent: str = "approve"

    def __post_init__(self) -> None:
        _check_int(self, "latency_ms", minimum=0)
        _check_int(self, "fault_seed", minimum=None)
        _check_int(self, "max_seats", minimum=0, optional=True)
        for name in ("token_expire_after_requests", "session_expire_after_requests"):
            _check_int(self, name, minimum=0, optional=True)
        for name in (*RATE_FIELDS, "retry_after_share"):
            _check_number(self, name, "a number between 0 and 1", lambda value: 0 <= value <= 1)
        if sum(getattr(self, name) for name in RATE_FIELDS) > 1.0 + 1e-9:
            raise ValueError(f"the rates {', '.join(RATE_FIELDS)} must add up to at most 1")
        _check_number(self, "retry_after_seconds", "a number >= 0", lambda value: value >= 0)
        _check_number(self, "action_seconds", "a number of seconds >= 0", lambda value: value >= 0)
        for name in ("token_expire_after_seconds", "session_expire_after_seconds"):
            _check_number(self, name, "a number of seconds > 0 or null", lambda value: value > 0, optional=True)
        if not isinstance(self.faults_on_auth, bool):
            raise ValueError("faults_on_auth must be true or false")
        if self.consent not in CONSENT_ANSWERS:
            raise ValueError(f"consent must be one of {', '.join(CONSENT_ANSWERS)}")

    def updated(self, changes: Mapping[str, Any]) -> FaultSettings:
        """Apply a partial change; unknown names are refused so a typo cannot silently do nothing."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_int(settings: FaultSettings, name: str, minimum: int | None, optional: bool = False) -> None:
    value = getattr(settings, name)
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer{' or null' if optional else ''}, not {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, not {value}")


def _check_number(
    settings: FaultSettings, name: str, expected: str, valid: Callable[[float], bool], optional: bool = False
) -> None:
    value = getattr(settings, name)
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not valid(value):
        raise ValueError(f"{name} must be {expected}, not {value!r}")


class Fault(Enum):
    TOO_MANY_REQUESTS = "429"
    INTERNAL_ERROR = "500"
    BAD_GATEWAY = "502"
    UNAVAILABLE = "503"
    DROP = "drop"
    MALFORMED = "malformed"


_FAULT_BY_RATE = {
    "rate_429": Fault.TOO_MANY_REQUESTS,
    "rate_500": Fault.INTERNAL_ERROR,
    "rate_502": Fault.BAD_GATEWAY,
    "rate_503": Fault.UNAVAILABLE,
    "rate_drop": Fault.DROP,
    "rate_malformed": Fault.MALFORMED,
}


class FaultInjector:
    """Holds the current settings and one seeded random generator shared by all request threads."""

    def __init__(self, settings: FaultSettings) -> None:
        self._lock = threading.Lock()
        self._settings = settings
        self._rng = random.Random(settings.fault_seed)

    @property
    def settings(self) -> FaultSettings:
        return self._settings

    def replace(self, settings: FaultSettings) -> None:
        with self._lock:
            self._settings = settings
            self._rng = random.Random(settings.fault_seed)

    def update(self, changes: Mapping[str, Any]) -> FaultSettings:
        with self._lock:
            self._settings = self._settings.updated(changes)
            self._rng = random.Random(self._settings.fault_seed)
            return self._settings

    def draw(self) -> Fault | None:
        """One draw per request: the rates partition [0, 1), so at most one fault fires."""
        with self._lock:
            point = self._rng.random()
            settings = self._settings
        for name in RATE_FIELDS:
            point -= getattr(settings, name)
            if point < 0:
                return _FAULT_BY_RATE[name]
        return None

    def chance(self, share: float) -> bool:
        with self._lock:
            return self._rng.random() < share


def too_many_requests(retry_after: float | None) -> Response:
    """Whole seconds are sent as the RFC's integer; fractions as a decimal, for fast tests only."""
    headers = [] if retry_after is None else [("Retry-After", f"{retry_after:g}")]
    body = px_error(
        "An error has occurred.",
        "The number of API requests has exceeded the limit allowed by the license. Try again later.",
        "PX.Api.ApiRequestLimitExceededException",
    )
    return Response.json(body, status=429, headers=headers)


def internal_error() -> Response:
    body = px_error(
        "An error has occurred.",
        "Object reference not set to an instance of an object.",
        "System.NullReferenceException",
    )
    return Response.json(body, status=500)


def html_instead_of_json() -> Response:
    """A 200 that is not JSON, as a proxy or a crashed page would send."""
    page = (
        "<!DOCTYPE html>\r\n<html><head><title>Runtime Error</title></head>\r\n"
        "<body><h1>Server Error in '/' Application.</h1><h2><i>Runtime Error</i></h2></body></html>\r\n"
    )
    return Response(status=200, body=page.encode("ascii"), headers=[("Content-Type", "text/html; charset=utf-8")])


def truncated(response: Response) -> Response:
    """The real answer cut in half, keeping the 200 and a Content-Length that matches what is sent."""
    return Response(status=response.status, body=response.body[: len(response.body) // 2], headers=response.headers)
