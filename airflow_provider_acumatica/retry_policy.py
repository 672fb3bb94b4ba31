"""Bounded retries of transient failures: 429, 502-504, dropped connections, garbled bodies.

Every loop is bounded in attempts and in total time, honours `Retry-After` (capped) and otherwise
backs off exponentially with full jitter, so parallel workers do not retry in lockstep.
"""

from __future__ import annotations

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
        backoff = wait_random_exponential(multiplier=self.backoff_base, max=self.backoff_cap)
        return float(backoff(state))


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
