"""The licence's request limits, seen by plain clients over HTTP: queue, per-minute delay, declines, sign-out."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from airflow_provider_acumatica.sandbox import FaultSettings, LicenceSettings, SandboxServer
from airflow_provider_acumatica.sandbox.__main__ import build_parser, config_from
from tests.sandbox.support import TIMEOUT, get_customers, logout

LOGIN = {"name": "admin", "password": "123", "tenant": "Company", "branch": "HQ"}


@pytest.fixture
def licensed(make_sandbox: Callable[..., SandboxServer]) -> Callable[..., SandboxServer]:
    """A sandbox with enough seats for many sessions, the given licence and a per-request latency."""

    def start(latency_ms: int = 0, **licence: Any) -> SandboxServer:
        return make_sandbox(
            max_seats=30, faults=FaultSettings(latency_ms=latency_ms), licence=LicenceSettings(**licence)
        )

    return start


@pytest.fixture
def sessions() -> Iterator[Callable[[SandboxServer, int], list[requests.Session]]]:
    opened: list[requests.Session] = []

    def login(sandbox: SandboxServer, count: int) -> list[requests.Session]:
        batch = [requests.Session() for _ in range(count)]
        for session in batch:
            answer = session.post(f"{sandbox.base_url}/entity/auth/login", json=LOGIN, timeout=TIMEOUT)
            assert answer.status_code == 204, answer.text
        opened.extend(batch)
        return batch

    yield login
    for session in opened:
        session.close()


def all_at_once(sandbox: SandboxServer, clients: list[requests.Session], stagger: float = 0.0) -> list[int]:
    """One list request per session, each on its own thread; `stagger` spaces their starts."""
    codes: list[int] = [0] * len(clients)

    def fetch(index: int) -> None:
        codes[index] = get_customers(sandbox.base_url, clients[index]).status_code

    threads = [threading.Thread(target=fetch, args=(index,)) for index in range(len(clients))]
    for thread in threads:
        thread.start()
        time.sleep(stagger)
    for thread in threads:
        thread.join()
    return codes


def licence_stats(sandbox: SandboxServer) -> dict[str, Any]:
    answer = requests.get(sandbox.base_url + "/_sandbox/stats", timeout=TIMEOUT)
    return dict(answer.json()["licence"])


def test_off_by_default(licensed: Callable[..., SandboxServer], sessions: Any) -> None:
    sandbox = licensed(latency_ms=200)
    assert all_at_once(sandbox, sessions(sandbox, 6)) == [200] * 6
    stats = licence_stats(sandbox)
    assert stats["max_concurrent_requests"] is None and stats["max_requests_per_minute"] is None
    assert (stats["delayed"], stats["declined"], stats["peak_queue"]) == (0, 0, 0)
    assert stats["peak_concurrency"] == 6


def test_requests_beyond_the_concurrency_wait_in_the_queue(
    licensed: Callable[..., SandboxServer], sessions: Any
) -> None:
    sandbox = licensed(latency_ms=200, max_concurrent_requests=2)
    clients = sessions(sandbox, 6)
    started = time.monotonic()
    assert all_at_once(sandbox, clients) == [200] * 6
    assert time.monotonic() - started >= 0.55
    stats = licence_stats(sandbox)
    assert stats["peak_concurrency"] == 2
    assert stats["peak_queue"] >= 3
    assert stats["declined"] == 0


def test_the_queue_is_first_in_first_out(licensed: Callable[..., SandboxServer], sessions: Any) -> None:
    sandbox = licensed(latency_ms=300, max_concurrent_requests=1)
    clients = sessions(sandbox, 4)
    finished: list[int] = []
    lock = threading.Lock()

    def fetch(index: int) -> None:
        assert get_customers(sandbox.base_url, clients[index]).status_code == 200
        with lock:
            finished.append(index)

    threads = [threading.Thread(target=fetch, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
        time.sleep(0.05)
    for thread in threads:
        thread.join()
    assert finished == [0, 1, 2, 3]


def test_declined_when_more_than_the_queue_size_would_wait(
    licensed: Callable[..., SandboxServer], sessions: Any
) -> None:
    sandbox = licensed(latency_ms=800, max_concurrent_requests=1, max_waiting=2)
    clients = sessions(sandbox, 5)
    codes = all_at_once(sandbox, clients, stagger=0.02)
    assert sorted(codes) == [200, 200, 200, 429, 429]
    stats = licence_stats(sandbox)
    assert (stats["declined"], stats["peak_queue"], stats["peak_concurrency"]) == (2, 2, 1)


def test_a_declined_request_gets_429_with_the_license_error(
    licensed: Callable[..., SandboxServer], sessions: Any
) -> None:
    sandbox = licensed(latency_ms=600, max_concurrent_requests=1, max_waiting=0)
    first, second = sessions(sandbox, 2)
    busy = threading.Thread(target=get_customers, args=(sandbox.base_url, first))
    busy.start()
    time.sleep(0.1)
    answer = get_customers(sandbox.base_url, second)
    busy.join()
    assert answer.status_code == 429
    assert "Retry-After" not in answer.headers
    assert answer.json()["exceptionType"] == "PX.Api.ApiRequestLimitExceededException"
    assert "limit allowed by the license" in answer.json()["exceptionMessage"]


def test_declined_after_waiting_too_long(licensed: Callable[..., SandboxServer], sessions: Any) -> None:
    sandbox = licensed(latency_ms=1000, max_concurrent_requests=1, max_wait_seconds=0.3)
    first, second = sessions(sandbox, 2)
    busy = threading.Thread(target=get_customers, args=(sandbox.base_url, first))
    busy.start()
    time.sleep(0.1)
    started = time.monotonic()
    answer = get_customers(sandbox.base_url, second)
    waited = time.monotonic() - started
    busy.join()
    assert answer.status_code == 429
    assert 0.25 <= waited < 0.9
    assert licence_stats(sandbox)["declined"] == 1


def test_delayed_once_half_the_minute_is_used(licensed: Callable[..., SandboxServer], sessions: Any) -> None:
    sandbox = licensed(max_requests_per_minute=10, window_seconds=2)
    (client,) = sessions(sandbox, 1)
    started = time.monotonic()
    for _ in range(9):
        assert get_customers(sandbox.base_url, client).status_code == 200
    elapsed = time.monotonic() - started
    stats = licence_stats(sandbox)
    # The login and four requests fill half the window; each of the other five waits left / remaining.
    assert stats["delayed"] == 5
    assert 0.5 < stats["delay_seconds"] <= 2.0
    assert elapsed >= stats["delay_seconds"]
    assert stats["declined"] == 0


def test_a_new_window_starts_undelayed(licensed: Callable[..., SandboxServer], sessions: Any) -> None:
    sandbox = licensed(max_requests_per_minute=4, window_seconds=0.5)
    (client,) = sessions(sandbox, 1)
    for _ in range(3):
        get_customers(sandbox.base_url, client)
    delayed = licence_stats(sandbox)["delayed"]
    time.sleep(0.6)
    get_customers(sandbox.base_url, client)
    assert delayed == 2
    assert licence_stats(sandbox)["delayed"] == delayed


def test_sign_out_is_never_queued(licensed: Callable[..., SandboxServer], sessions: Any) -> None:
    sandbox = licensed(latency_ms=1000, max_concurrent_requests=1, max_waiting=0)
    first, second = sessions(sandbox, 2)
    busy = threading.Thread(target=get_customers, args=(sandbox.base_url, first))
    busy.start()
    time.sleep(0.1)
    started = time.monotonic()
    answer = logout(sandbox.base_url, second)
    quick = time.monotonic() - started
    stats = licence_stats(sandbox)
    busy.join()
    assert answer.status_code == 204
    assert quick < 0.5
    assert (stats["running"], stats["declined"]) == (1, 0)


def test_admin_routes_are_never_queued_or_counted(licensed: Callable[..., SandboxServer], sessions: Any) -> None:
    sandbox = licensed(latency_ms=500, max_concurrent_requests=1, max_waiting=0, max_requests_per_minute=6)
    (client,) = sessions(sandbox, 1)
    busy = threading.Thread(target=get_customers, args=(sandbox.base_url, client))
    busy.start()
    time.sleep(0.1)
    started = time.monotonic()
    for _ in range(5):
        assert requests.get(sandbox.base_url + "/_sandbox/licence", timeout=TIMEOUT).status_code == 200
    assert time.monotonic() - started < 0.4
    busy.join()
    # Login and two list requests stay below half of 6 only if the admin calls were not counted.
    assert get_customers(sandbox.base_url, client).status_code == 200
    assert (licence_stats(sandbox)["delayed"], licence_stats(sandbox)["declined"]) == (0, 0)


def test_limits_change_at_runtime_and_reset_restores_them(sandbox: SandboxServer) -> None:
    url = sandbox.base_url + "/_sandbox/licence"
    answer = requests.post(url, json={"max_requests_per_minute": 120, "max_concurrent_requests": 2}, timeout=TIMEOUT)
    assert answer.status_code == 200
    assert (answer.json()["max_requests_per_minute"], answer.json()["max_concurrent_requests"]) == (120, 2)
    assert requests.get(url, timeout=TIMEOUT).json()["max_concurrent_requests"] == 2
    requests.post(sandbox.base_url + "/_sandbox/reset", json={"faults": True}, timeout=TIMEOUT)
    assert requests.get(url, timeout=TIMEOUT).json()["max_concurrent_requests"] is None


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"max_concurent_requests": 2}, "max_concurent_requests"),
        ({"max_concurrent_requests": 0}, "max_concurrent_requests"),
        ({"max_requests_per_minute": "120"}, "max_requests_per_minute"),
        ({"window_seconds": 0}, "window_seconds"),
        ({"max_waiting": -1}, "max_waiting"),
    ],
)
def test_bad_licence_settings_are_refused(sandbox: SandboxServer, body: dict[str, Any], named: str) -> None:
    answer = requests.post(sandbox.base_url + "/_sandbox/licence", json=body, timeout=TIMEOUT)
    assert answer.status_code == 400
    assert named in answer.json()["message"]


def test_licence_flags() -> None:
    args = build_parser().parse_args(
        [
            "--max-concurrent-requests",
            "2",
            "--max-requests-per-minute",
            "120",
            "--licence-window-seconds",
            "5",
            "--licence-max-waiting",
            "3",
            "--licence-max-wait-seconds",
            "1.5",
        ]
    )
    assert config_from(args).licence == LicenceSettings(2, 120, 5, 3, 1.5)
    assert config_from(build_parser().parse_args([])).licence == LicenceSettings()
