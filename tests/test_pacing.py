"""The pacer alone: sliding-window rate, concurrency cap, bounded waits, one pacer per licence holder."""

from __future__ import annotations

import threading
import time

import pytest

from airflow_provider_acumatica import pacing
from airflow_provider_acumatica.exceptions import AcumaticaRateLimitError
from airflow_provider_acumatica.pacing import Pacer, pacer_for


def test_no_more_than_the_limit_in_any_window() -> None:
    pacer = Pacer(per_window=4, concurrent=None, window_seconds=0.5)
    sent: list[float] = []
    for _ in range(10):
        with pacer.slot():
            sent.append(time.monotonic())
    for index in range(len(sent) - 4):
        assert sent[index + 4] - sent[index] >= 0.5 - 1e-3
    assert sent[-1] - sent[0] < 1.5
    assert pacer.waited_seconds >= 0.9


def test_no_more_than_the_concurrency_in_flight() -> None:
    pacer = Pacer(per_window=None, concurrent=2)

    def work() -> None:
        with pacer.slot():
            time.sleep(0.05)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert pacer.peak_in_flight == 2


def test_a_wait_past_the_bound_fails_as_a_429() -> None:
    pacer = Pacer(per_window=1, concurrent=None, window_seconds=30, max_wait_seconds=0.2)
    with pacer.slot():
        pass
    started = time.monotonic()
    with pytest.raises(AcumaticaRateLimitError, match="pool"), pacer.slot():
        pass
    assert 0.15 < time.monotonic() - started < 1.0


def test_one_pacer_per_licence_holder() -> None:
    first = pacer_for("https://erp.example.com", "Company", "admin", 120, 2)
    assert pacer_for("https://erp.example.com", "Company", "admin", 120, 2) is first
    assert pacer_for("https://erp.example.com", "Other", "admin", 120, 2) is not first
    assert pacer_for("https://erp.example.com", "Company", "admin", None, None) is None
    assert first is not None and first.window_seconds == pacing.WINDOW_SECONDS
