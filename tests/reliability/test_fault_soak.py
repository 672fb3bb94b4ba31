"""Soak: 50,000 records under a realistic fault mix land exactly the file a fault-free run lands.

The sandbox fails about one data request in ten (429 with and without Retry-After, 502, 503,
dropped connections, garbled bodies), expires tokens and sessions every few hundred requests and
licenses two seats. Each run is checked against one fault-free reference run of the same data, and
against the sandbox's own counters, so that it cannot pass without the faults having happened.
A fault that outlasts the retry budget must fail the task cleanly: a clear error, the previous file
untouched, no temporary file, no seat held. docs/reliability.md has the measured numbers.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_acumatica.exceptions import AcumaticaApiError, AcumaticaError, AcumaticaRateLimitError
from airflow_provider_acumatica.hooks.acumatica import AcumaticaHook
from airflow_provider_acumatica.operators.extract import AcumaticaExtractOperator
from airflow_provider_acumatica.sandbox import SandboxConfig, SandboxServer
from tests.connections import use_connection

RECORDS = 50_000
PAGE_SIZE = 100
MAX_RETRIES = 5
STORM_MAX_RETRIES = 2
STORM_AFTER_PAGES = 20
# The hook's backoff (1 s doubling, capped at 60 s) is not a connection setting: these runs use it 100x shorter.
BACKOFF_BASE = 0.01
BACKOFF_CAP = 0.1
FAULT_MIX: dict[str, Any] = {
    "rate_429": 0.05,
    "retry_after_share": 0.5,
    "retry_after_seconds": 0.05,
    "rate_502": 0.015,
    "rate_503": 0.015,
    "rate_drop": 0.01,
    "rate_malformed": 0.01,
    "token_expire_after_requests": 150,
    "session_expire_after_requests": 250,
    "max_seats": 2,
    "fault_seed": 16,  # its draws are close to the nominal rates
}
GATEWAY_STORM = {"rate_503": 1.0}
RATE_LIMIT_STORM = {"rate_429": 1.0, "retry_after_share": 0.5, "retry_after_seconds": 0.05}
RETRIED_FAULTS = ("429", "502", "503", "drop", "malformed")
EXPIRIES = {"session": ("session_expired",), "oauth2_password": ("token_expired", "session_expired")}
RETRY_LINE = re.compile(r"retry (\d+)/(\d+) in (\d+\.\d) s")


class ShortBackoffExtract(AcumaticaExtractOperator):
    """The extract operator on a short backoff clock, keeping its hooks so the test can read their counters."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hooks: list[AcumaticaHook] = []

    def new_hook(self) -> AcumaticaHook:
        hook = super().new_hook()
        hook.retry_policy = replace(hook.retry_policy, backoff_base=BACKOFF_BASE, backoff_cap=BACKOFF_CAP)
        self.hooks.append(hook)
        return hook

    def hook_totals(self) -> Counter[str]:
        return sum((Counter(hook.stats()) for hook in self.hooks), Counter())


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    config = SandboxConfig(records=50, entity_records={"SalesOrder": RECORDS}, changes_per_hour=0)
    with SandboxServer(config) as running:
        yield running


@pytest.fixture(scope="module")
def reference(server: SandboxServer, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, int]:
    """Digest and line count of one fault-free run, the file every faulted run must reproduce."""
    server.reset(faults=True)
    path = tmp_path_factory.mktemp("reference") / "orders.jsonl"
    with pytest.MonkeyPatch.context() as monkeypatch:
        use_connection(monkeypatch, server.base_url, "session")
        extract(path).execute({})
    return sorted_lines_digest(path)


def extract(path: Path, **kwargs: Any) -> ShortBackoffExtract:
    return ShortBackoffExtract(
        task_id=f"soak_{time.monotonic_ns()}", entity="SalesOrder", page_size=PAGE_SIZE, output_path=str(path), **kwargs
    )


def sorted_lines_digest(path: Path) -> tuple[str, int]:
    """sha256 over the sorted record lines, and their count: the records, whatever order pages came in."""
    lines = sorted(path.read_bytes().splitlines())
    return hashlib.sha256(b"\n".join(lines)).hexdigest(), len(lines)


def served_pages(server: SandboxServer) -> int:
    return int(server.stats()["routes"].get("contract", {}).get("200", 0))


@pytest.mark.parametrize("parallelism", [1, 2])
@pytest.mark.parametrize("auth_type", ["session", "oauth2_password"])
def test_faults_change_nothing_in_the_file(
    server: SandboxServer,
    reference: tuple[str, int],
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    tmp_path: Path,
    auth_type: str,
    parallelism: int,
) -> None:
    server.reset(faults=True)
    server.set_faults(**FAULT_MIX)
    use_connection(monkeypatch, server.base_url, auth_type, max_retries=MAX_RETRIES)
    operator = extract(tmp_path / "orders.jsonl", parallelism=parallelism)
    manifest = operator.execute({})
    stats, hooks = server.stats(), operator.hook_totals()
    retry_lines = RETRY_LINE.findall(capfd.readouterr().out)

    assert sorted_lines_digest(tmp_path / "orders.jsonl") == reference
    assert manifest["records"] == reference[1] == RECORDS
    assert stats["seats_in_use"] == 0
    assert stats["peak_seats"] <= parallelism

    injected = stats["faults_injected"]
    expiries = sum(injected.get(kind, 0) for kind in EXPIRIES[auth_type])
    assert all(injected.get(kind, 0) > 0 for kind in (*RETRIED_FAULTS, *EXPIRIES[auth_type])), injected
    assert hooks["retries"] == sum(injected[kind] for kind in RETRIED_FAULTS)
    assert hooks["reauthentications"] == expiries
    assert stats["logins"] + sum(stats["token_grants"].values()) == parallelism + expiries

    assert len(retry_lines) == hooks["retries"]
    assert all(int(attempt) <= int(budget) == MAX_RETRIES for attempt, budget, _ in retry_lines)
    assert all(float(wait) <= BACKOFF_CAP for _, _, wait in retry_lines)


@contextmanager
def storm_after(server: SandboxServer, pages: int, faults: dict[str, Any]) -> Iterator[None]:
    """Switch `faults` on once `pages` pages were served, so the failure hits a half-written file."""
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            if served_pages(server) >= pages:
                server.set_faults(**faults)
                return
            time.sleep(0.005)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join()


@pytest.mark.parametrize(
    ("storm", "parallelism", "error", "message"),
    [
        (GATEWAY_STORM, 1, AcumaticaApiError, "failed with HTTP 503 and a non-JSON body (a gateway or proxy"),
        (RATE_LIMIT_STORM, 2, AcumaticaRateLimitError, "answered 429 Too Many Requests"),
    ],
    ids=["503-storm", "429-storm-parallel"],
)
def test_a_fault_that_outlasts_the_retries_fails_cleanly(
    server: SandboxServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    storm: dict[str, Any],
    parallelism: int,
    error: type[AcumaticaError],
    message: str,
) -> None:
    server.reset(faults=True)
    use_connection(monkeypatch, server.base_url, "session", max_retries=STORM_MAX_RETRIES)
    target = tmp_path / "orders.jsonl"
    target.write_text('{"previous": "good file"}\n')
    with storm_after(server, STORM_AFTER_PAGES, storm), pytest.raises(error) as caught:
        extract(target, parallelism=parallelism).execute({})
    stats = server.stats()
    assert message in str(caught.value)
    assert STORM_AFTER_PAGES <= served_pages(server) < RECORDS // PAGE_SIZE
    assert sum(stats["faults_injected"].values()) > STORM_MAX_RETRIES
    assert target.read_text() == '{"previous": "good file"}\n'
    assert [path.name for path in tmp_path.iterdir()] == ["orders.jsonl"]
    assert stats["seats_in_use"] == 0
