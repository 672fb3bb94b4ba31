"""Bounded retries of transient failures: 429, 502-504, dropped connections, garbled bodies.

Every loop is bounded in attempts and in total time, honours `Retry-After` (capped) and otherwise
backs off exponentially with full jitter, so parallel workers do not retry in lockstep; a 429 without
`Retry-After` waits at least a floor that grows with each attempt, long enough for the licence's queue to drain.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import requests
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)

from airflow_provider_acumatica.exceptions import AcumaticaApiError, AcumaticaRateLimitError

LICENCE_BACKOFF_STEP = 5.0
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


class MalformedResponseError(AcumaticaApiError):
    """A success status whose body is not the JSON we asked for (truncated, or an HTML page)."""


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 5
    max_seconds: float = 600.0
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    retry_after_cap: float = 120.0

    def retrying(self, method: str, before_sleep: Callable[[RetryCallState], None]) -> Retrying:
        idempotent = method.upper() in IDEMPOTENT_METHODS
        return Retrying(
            stop=stop_after_attempt(self.max_retries + 1) | stop_before_delay(self.max_seconds),
            wait=self._wait,
            retry=retry_if_exception(lambda err: is_transient(err, idempotent=idempotent)),
            before_sleep=before_sleep,
            reraise=True,
        )

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            return float(min(retry_after, self.retry_after_cap))
        backoff = float(wait_random_exponential(multiplier=self.backoff_base, max=self.backoff_cap)(state))
        if isinstance(error, AcumaticaRateLimitError):
            return max(backoff, self._licence_floor(state.attempt_number))
        return backoff

    def _licence_floor(self, attempt: int) -> float:
        """A 429 without Retry-After is the licence's queue overflowing; it drains over seconds, not the
        sub-second first steps of the exponential backoff, so such retries wait a growing, jittered floor."""
        floor = self.backoff_base * LICENCE_BACKOFF_STEP * attempt * random.uniform(0.5, 1.0)
        return min(floor, self.backoff_cap)


def is_transient(error: BaseException, *, idempotent: bool) -> bool:
    """Whether sending the same request again may succeed and cannot do harm."""
    if isinstance(error, AcumaticaRateLimitError):
        return True
    if isinstance(error, MalformedResponseError):
        return idempotent
    if isinstance(error, AcumaticaApiError):
        return error.http_status == 503 or (idempotent and error.transient)
    if isinstance(error, requests.ConnectTimeout):
        return True
    if isinstance(error, requests.ConnectionError | requests.Timeout | requests.exceptions.ChunkedEncodingError):
        return idempotent
    return False
