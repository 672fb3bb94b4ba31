"""`parallelism`: k sessions at once, the serial file byte for byte, never more than k seats, all closed."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_acumatica import pacing
from airflow_provider_acumatica.exceptions import AcumaticaApiError, AcumaticaConfigError, AcumaticaError
from airflow_provider_acumatica.hooks.acumatica import AcumaticaHook
from airflow_provider_acumatica.operators.extract import AcumaticaExtractOperator
from airflow_provider_acumatica.operators.partitions import PageStream
from airflow_provider_acumatica.paging import OffsetPlan, PageRequest, Stitcher
from airflow_provider_acumatica.retry_policy import MalformedResponseError
from airflow_provider_acumatica.sandbox import LicenceSettings, SandboxConfig, SandboxServer
from tests.connections import use_connection

RECORDS = 230


@pytest.fixture(scope="module")
def static_server() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(records=RECORDS, changes_per_hour=0, max_seats=8)) as server:
        yield server


@pytest.fixture
def static(static_server: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> SandboxServer:
    static_server.reset(faults=True)
    use_connection(monkeypatch, static_server.base_url, "oauth2_password")
    return static_server


def extract(tmp_path: Path, name: str, **kwargs: Any) -> AcumaticaExtractOperator:
    kwargs.setdefault("entity", "SalesOrder")
    return AcumaticaExtractOperator(task_id=f"t{time.monotonic_ns()}", output_path=str(tmp_path / name), **kwargs)


def without_timing(manifest: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in manifest.items() if k not in {"path", "started", "finished", "duration_seconds"}}


@pytest.mark.parametrize("page_size", [1, 10, 23, 46, 229, 230, 231, 1000])
@pytest.mark.parametrize("parallelism", [2, 3, 4])
def test_the_file_is_the_serial_file(static: SandboxServer, tmp_path: Path, parallelism: int, page_size: int) -> None:
    serial = extract(tmp_path, "serial.jsonl", page_size=page_size).execute({})
    static.reset()
    parallel = extract(tmp_path, "parallel.jsonl", page_size=page_size, parallelism=parallelism).execute({})
    stats = static.stats()
    assert (tmp_path / "parallel.jsonl").read_bytes() == (tmp_path / "serial.jsonl").read_bytes()
    assert without_timing(parallel) == without_timing(serial)
    assert parallel["records"] == RECORDS
    assert stats["peak_seats"] <= parallelism
    assert stats["seats_in_use"] == 0
    assert stats["token_grants"] == {"password": stats["sessions"]["opened"]}
    pages_serial = RECORDS // page_size + 1
    assert pages_serial <= stats["routes"]["contract"]["200"] <= pages_serial + parallelism - 1


def test_parquet_with_an_incremental_window_matches_serial(static: SandboxServer, tmp_path: Path) -> None:
    records = list(static.store.iter_records("SalesOrder"))
    stamps = sorted(datetime.fromisoformat(r["LastModified"]["value"]) for r in records)
    context = {"data_interval_start": stamps[30] - timedelta(milliseconds=1), "data_interval_end": stamps[-40]}
    common: dict[str, Any] = {"output_format": "parquet", "incremental_field": "auto", "page_size": 17}
    serial = extract(tmp_path, "serial.parquet", **common).execute(context)
    parallel = extract(tmp_path, "parallel.parquet", parallelism=4, **common).execute(context)
    assert (tmp_path / "parallel.parquet").read_bytes() == (tmp_path / "serial.parquet").read_bytes()
    assert parallel["records"] == serial["records"] == sum(1 for s in stamps if stamps[30] <= s <= stamps[-40])
    assert parallel["window"] == serial["window"]


def test_k_sessions_are_open_at_once_and_share_the_pages(static: SandboxServer, tmp_path: Path) -> None:
    static.set_faults(latency_ms=30)
    manifest = extract(tmp_path, "out.jsonl", page_size=23, parallelism=4).execute({})
    stats = static.stats()
    assert manifest["records"] == RECORDS
    assert stats["peak_seats"] == 4
    assert stats["sessions"] == {"open": 0, "opened": 4, "closed": 4, "expired": 0}
    assert stats["logouts"] == 4
    assert stats["token_grants"] == {"password": 4}


def test_a_failing_part_fails_the_task_and_closes_every_session(static: SandboxServer, tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    target.write_text("previous\n")
    static.set_faults(rate_500=0.2, fault_seed=3)
    with pytest.raises(AcumaticaApiError, match="HTTP 500"):
        extract(tmp_path, "out.jsonl", page_size=5, parallelism=4).execute({})
    stats = static.stats()
    assert stats["seats_in_use"] == 0
    assert stats["peak_seats"] <= 4
    assert target.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]


def test_retried_faults_still_give_the_serial_file(static: SandboxServer, tmp_path: Path) -> None:
    extract(tmp_path, "clean.jsonl", page_size=10).execute({})
    static.set_faults(
        rate_429=0.3, retry_after_share=1.0, retry_after_seconds=0, session_expire_after_requests=4, fault_seed=11
    )
    extract(tmp_path, "faulty.jsonl", page_size=10, parallelism=3).execute({})
    stats = static.stats()
    assert stats["requests"].get("429", 0) > 0
    assert stats["requests"].get("401", 0) > 0
    assert (tmp_path / "faulty.jsonl").read_bytes() == (tmp_path / "clean.jsonl").read_bytes()
    assert stats["seats_in_use"] == 0


def test_on_kill_signs_out_every_session(static: SandboxServer, tmp_path: Path) -> None:
    static.set_faults(latency_ms=40)
    operator = extract(tmp_path, "out.jsonl", page_size=5, parallelism=3)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            operator.execute({})
        except BaseException as err:
            errors.append(err)

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 10
    while static.stats()["seats_in_use"] < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    operator.on_kill()
    worker.join(timeout=30)
    assert not worker.is_alive()
    assert errors
    assert isinstance(errors[0], AcumaticaError)
    assert static.stats()["seats_in_use"] == 0
    assert not list(tmp_path.iterdir())


def test_more_parallelism_than_seats_fails_and_closes_the_others(
    make_sandbox: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    server = make_sandbox(records=100, changes_per_hour=0, max_seats=2)
    use_connection(monkeypatch, server.base_url, "session")
    with pytest.raises(AcumaticaError, match="API Login Limit"):
        extract(tmp_path, "out.jsonl", page_size=5, parallelism=3).execute({})
    assert server.stats()["seats_in_use"] == 0


def test_a_page_longer_than_top_is_refused(
    static: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = AcumaticaHook.request_json

    def ignoring_top(self: AcumaticaHook, method: str, path: str, **kwargs: Any) -> Any:
        answer = original(self, method, path, **kwargs)
        return answer + answer if isinstance(answer, list) else answer

    monkeypatch.setattr(AcumaticaHook, "request_json", ignoring_top)
    with pytest.raises(MalformedResponseError, match=r"rows for \$top=10"):
        extract(tmp_path, "out.jsonl", page_size=10, parallelism=2).execute({})
    assert static.stats()["seats_in_use"] == 0
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("value", [0, 17, -1, 2.0, True, "4", None])
def test_parallelism_is_checked_when_the_dag_is_parsed(tmp_path: Path, value: Any) -> None:
    with pytest.raises(AcumaticaConfigError, match="parallelism must be a whole number from 1 to 16"):
        extract(tmp_path, "out.jsonl", parallelism=value)


def listed(count: int) -> list[dict[str, Any]]:
    return [{"id": f"id-{n}", "n": n} for n in range(count)]


def stitcher(page_size: int) -> Stitcher:
    return Stitcher(OffsetPlan.anchored(page_size), "Test", logging.getLogger(__name__))


def test_page_stream_holds_a_bounded_number_of_pages() -> None:
    """With a slow first page, the other sessions stop after 2k - 1 claimed pages instead of racing ahead."""
    records = listed(50)
    claimed: list[int] = []
    release = threading.Event()

    def fetch(request: PageRequest) -> list[dict[str, Any]]:
        claimed.append(request.number)
        if request.number == 0:
            release.wait(5)
        return records[request.skip : request.skip + request.top]

    with PageStream([fetch] * 3, stitcher(1)) as pages:
        time.sleep(0.2)
        assert sorted(claimed) == [0, 1, 2, 3, 4]
        release.set()
        assert [page[0]["n"] for page in pages] == list(range(50))
    assert max(claimed) <= 50 + 2


def test_page_stream_stops_the_workers_when_the_caller_stops_early() -> None:
    records = listed(1000)
    fetched: list[int] = []

    def fetch(request: PageRequest) -> list[dict[str, Any]]:
        fetched.append(request.number)
        return records[request.skip : request.skip + request.top]

    with PageStream([fetch, fetch], stitcher(1)) as pages:
        first = next(iter(pages))
    assert first == [{"id": "id-0", "n": 0}]
    count = len(fetched)
    time.sleep(0.05)
    assert len(fetched) == count <= 4


def test_the_caller_fetches_on_when_a_re_fetched_page_is_no_longer_the_last() -> None:
    """Page 1 comes back short without its anchor, so the worker stops; by the re-fetch, records were added and
    the page is full, so the caller's thread fetches the pages after it on the first session."""
    keys = [f"r{n:02d}" for n in range(15)]
    requests: list[tuple[PageRequest, str]] = []

    def fetch(request: PageRequest) -> list[dict[str, Any]]:
        if len(requests) == 1:
            del keys[7:10]
        if len(requests) == 2:
            keys.extend(f"n{n:02d}" for n in range(20))
        requests.append((request, threading.current_thread().name))
        return [{"id": key} for key in keys[request.skip : request.skip + request.top]]

    with PageStream([fetch], Stitcher(OffsetPlan(10, 1), "Test", logging.getLogger(__name__))) as pages:
        handed = [row["id"] for page in pages for row in page]
    assert handed == [f"r{n:02d}" for n in range(15)] + [f"n{n:02d}" for n in range(20)]
    assert [(r.number, r.skip, r.top) for r, _ in requests] == [
        (0, 0, 10),
        (1, 9, 11),
        (1, 8, 12),
        (1, 6, 14),
        (2, 19, 11),
        (3, 29, 11),
    ]
    assert [thread for _, thread in requests] == ["acumatica-pages-0"] * 2 + [threading.main_thread().name] * 4


def test_paced_parallel_sessions_stay_within_the_licence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Four sessions share one pacer: the sandbox never queues a data request nor delays or declines one."""
    monkeypatch.setattr(pacing, "WINDOW_SECONDS", 2.0)
    licence = LicenceSettings(max_requests_per_minute=60, max_concurrent_requests=2, window_seconds=2)
    config = SandboxConfig(records=RECORDS, changes_per_hour=0, max_seats=8, licence=licence)
    with SandboxServer(config) as server:
        use_connection(monkeypatch, server.base_url, "oauth2_password")
        serial = extract(tmp_path, "serial.jsonl", page_size=10).execute({})
        server.reset()
        use_connection(
            monkeypatch, server.base_url, "oauth2_password", max_requests_per_minute=20, max_concurrent_requests=2
        )
        started = time.monotonic()
        paced = extract(tmp_path, "paced.jsonl", page_size=10, parallelism=4).execute({})
        elapsed = time.monotonic() - started
        stats = server.stats()
    assert (tmp_path / "paced.jsonl").read_bytes() == (tmp_path / "serial.jsonl").read_bytes()
    assert paced["records"] == serial["records"] == RECORDS
    assert (stats["licence"]["declined"], stats["licence"]["delayed"]) == (0, 0)
    data_requests = stats["routes"]["contract"]["200"]
    assert elapsed >= 2.0 * ((data_requests - 1) // 20)
