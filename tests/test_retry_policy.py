"""The retry policy's waits: Retry-After wins, a licence 429 waits a growing floor, everything else backs off."""

from __future__ import annotations

from typing import Any

from tenacity import RetryCallState, Retrying

from airflow_provider_acumatica.exceptions import AcumaticaApiError, AcumaticaRateLimitError
from airflow_provider_acumatica.retry_policy import LICENCE_BACKOFF_STEP, RetryPolicy

POLICY = RetryPolicy(backoff_base=1.0, backoff_cap=60.0, retry_after_cap=120.0)


def failed_with(error: BaseException, attempt: int) -> RetryCallState:
    state = RetryCallState(Retrying(), fn=None, args=(), kwargs={})
    state.attempt_number = attempt
    state.set_exception((type(error), error, None))
    return state


def waits(error: BaseException, attempt: int, policy: RetryPolicy = POLICY, tries: int = 200) -> list[float]:
    return [policy._wait(failed_with(error, attempt)) for _ in range(tries)]


def declined() -> AcumaticaRateLimitError:
    return AcumaticaRateLimitError("Acumatica answered 429 Too Many Requests for GET /entity/...")


def test_a_licence_429_waits_at_least_a_floor_that_grows_with_each_attempt() -> None:
    for attempt in (1, 3, 5):
        assert min(waits(declined(), attempt)) >= LICENCE_BACKOFF_STEP * attempt * 0.5
        assert max(waits(declined(), attempt)) <= POLICY.backoff_cap
    assert min(waits(declined(), 30)) == POLICY.backoff_cap


def test_retry_after_is_honoured_as_given_and_capped() -> None:
    assert set(waits(AcumaticaRateLimitError("busy", retry_after=3.0), 4, tries=5)) == {3.0}
    assert set(waits(AcumaticaRateLimitError("busy", retry_after=900.0), 1, tries=5)) == {POLICY.retry_after_cap}


def test_other_transient_errors_keep_the_plain_exponential_backoff() -> None:
    gateway: Any = AcumaticaApiError("bad gateway", http_status=502)
    first = waits(gateway, 1)
    assert min(first) < LICENCE_BACKOFF_STEP * 0.5
    assert max(first) <= 2.0


def test_the_floor_scales_with_the_backoff_base() -> None:
    fast = RetryPolicy(backoff_base=0.01, backoff_cap=0.5)
    assert max(waits(declined(), 5, fast)) <= 0.01 * LICENCE_BACKOFF_STEP * 5
