"""Hooks under the sandbox's licence limits: paced hooks share one budget, declined requests are retried."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_acumatica import pacing
from airflow_provider_acumatica.auth import base as auth_base
from airflow_provider_acumatica.hooks.acumatica import AcumaticaHook
from airflow_provider_acumatica.retry_policy import RetryPolicy
from airflow_provider_acumatica.sandbox import FaultSettings, LicenceSettings, SandboxServer
from tests.connections import use_connection
from tests.hooks.test_acumatica import connect, ground_truth, ids

PATIENT = RetryPolicy(max_retries=20, max_seconds=60, backoff_base=0.05, backoff_cap=0.4)


def pull_at_once(hooks: list[AcumaticaHook], page_size: int) -> list[list[dict[str, Any]]]:
    """Each hook signs in first, one after the other, then all pull Customer on their own threads."""
    for hook in hooks:
        hook.get_conn()
    results: list[list[dict[str, Any]]] = [[] for _ in hooks]

    def pull(index: int) -> None:
        results[index] = list(hooks[index].iter_records("Customer", page_size=page_size))

    threads = [threading.Thread(target=pull, args=(index,)) for index in range(len(hooks))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for hook in hooks:
        hook.close()
    return results


def test_paced_hooks_share_one_budget_and_stay_within_the_licence(
    monkeypatch: pytest.MonkeyPatch, make_sandbox: Callable[..., SandboxServer]
) -> None:
    monkeypatch.setattr(pacing, "WINDOW_SECONDS", 2.0)
    sandbox = make_sandbox(
        records=60,
        max_seats=10,
        licence=LicenceSettings(max_requests_per_minute=30, max_concurrent_requests=2, window_seconds=2),
    )
    hooks = [
        connect(monkeypatch, sandbox, "session", max_requests_per_minute=10, max_concurrent_requests=2)
        for _ in range(4)
    ]
    started = time.monotonic()
    results = pull_at_once(hooks, page_size=20)
    elapsed = time.monotonic() - started
    assert all(ids(records) == ids(ground_truth(sandbox, "Customer")) for records in results)
    assert len({id(hook.pacer) for hook in hooks}) == 1
    licence = sandbox.stats()["licence"]
    assert (licence["declined"], licence["delayed"], licence["peak_queue"]) == (0, 0, 0)
    data_requests = sum(hook.call_stats.calls for hook in hooks)
    assert data_requests > 10
    assert elapsed >= 2.0 * ((data_requests - 1) // 10)
    assert sum(hook.call_stats.licence_wait_seconds for hook in hooks) > 0


def test_declined_requests_are_retried_and_the_records_exact(
    monkeypatch: pytest.MonkeyPatch, make_sandbox: Callable[..., SandboxServer]
) -> None:
    sandbox = make_sandbox(
        records=40,
        max_seats=10,
        faults=FaultSettings(latency_ms=100),
        licence=LicenceSettings(max_concurrent_requests=1, max_waiting=0),
    )
    conn_id = use_connection(monkeypatch, sandbox.base_url, "session")
    hooks = [AcumaticaHook(conn_id, retry_policy=PATIENT) for _ in range(3)]
    results = pull_at_once(hooks, page_size=20)
    assert all(ids(records) == ids(ground_truth(sandbox, "Customer")) for records in results)
    assert sandbox.stats()["licence"]["declined"] > 0
    assert sum(hook.call_stats.retries for hook in hooks) == sandbox.stats()["licence"]["declined"]
    assert sandbox.stats()["seats_in_use"] == 0


def test_a_sign_in_declined_under_the_request_limit_is_retried_not_taken_for_a_full_licence(
    monkeypatch: pytest.MonkeyPatch, make_sandbox: Callable[..., SandboxServer], caplog: pytest.LogCaptureFixture
) -> None:
    """One hook keeps the licence's only request slot busy, so the other's sign-in finds no room in a queue of 0."""
    caplog.set_level(logging.WARNING, logger=auth_base.__name__)
    monkeypatch.setattr(auth_base, "_DECLINED_WAIT", 0.2)
    monkeypatch.setattr(auth_base, "_DECLINED_ATTEMPTS", 30)
    sandbox = make_sandbox(
        records=40,
        max_seats=10,
        faults=FaultSettings(latency_ms=150),
        licence=LicenceSettings(max_concurrent_requests=1, max_waiting=0),
    )
    conn_id = use_connection(monkeypatch, sandbox.base_url, "oauth2_password")
    busy, late = AcumaticaHook(conn_id, retry_policy=PATIENT), AcumaticaHook(conn_id, retry_policy=PATIENT)
    busy.get_conn()
    pulled: list[dict[str, Any]] = []
    holder = threading.Thread(target=lambda: pulled.extend(busy.iter_records("Customer", page_size=4)))
    holder.start()
    time.sleep(0.05)
    with late:
        late_records = list(late.iter_records("Customer", page_size=20))
    holder.join()
    busy.close()
    truth = ids(ground_truth(sandbox, "Customer"))
    assert ids(pulled) == ids(late_records) == truth
    assert late.auth.stats.auth_requests > 1
    assert sandbox.stats()["licence"]["declined"] > 0
    warnings = [record.getMessage() for record in caplog.records if record.name == auth_base.__name__]
    assert any("declined the sign-in" in message for message in warnings)
    assert not any("API Login Limit" in message for message in warnings)
    assert sandbox.stats()["seats_in_use"] == 0
