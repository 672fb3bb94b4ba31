"""The extract operator on a window that ended in the past while the sandbox edits it between the pages:
every steady record once, serial and on k sessions (docs/exactness.md)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_acumatica.operators.extract import AcumaticaExtractOperator
from tests.changing_data import ENTITY, FIELD, PAGE_SIZE, Scenario, changing_sandbox
from tests.connections import use_connection


def extract(scenario: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **kwargs: Any) -> dict[str, Any]:
    use_connection(monkeypatch, scenario.server.base_url, "oauth2_password")
    operator = AcumaticaExtractOperator(
        task_id=f"t{time.monotonic_ns()}",
        entity=ENTITY,
        incremental_field=FIELD,
        page_size=PAGE_SIZE,
        output_path=str(tmp_path / "out.jsonl"),
        **kwargs,
    )
    manifest: dict[str, Any] = operator.execute(scenario.context)
    return manifest


def handed(tmp_path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]


def test_serial_pull_hands_over_every_steady_record_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with changing_sandbox() as scenario:
        manifest = extract(scenario, tmp_path, monkeypatch)
        verdict = scenario.judge(handed(tmp_path))
        stream = scenario.stream_status()
    assert verdict.exact, verdict
    assert manifest["records"] == verdict.handed
    assert verdict.steady < verdict.at_start - 50
    assert stream["deleted"] >= 30
    assert stream["updated"] >= 30
    assert verdict.modified_since_read > 0, "no record read was modified afterwards: nothing to catch later"
    assert verdict.deleted_since_read > 0
    assert stream["list_requests"] > manifest["pages"] + 1, "no page was fetched again: the stream did not bite"


@pytest.mark.parametrize("parallelism", [2, 3])
def test_parallel_pull_hands_over_every_steady_record_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parallelism: int
) -> None:
    with changing_sandbox(max_seats=parallelism) as scenario:
        extract(scenario, tmp_path, monkeypatch, parallelism=parallelism)
        verdict = scenario.judge(handed(tmp_path))
        stats = scenario.server.stats()
        stream = scenario.stream_status()
    assert verdict.exact, verdict
    assert stream["deleted"] >= 30
    assert stats["peak_seats"] <= parallelism
    assert stats["seats_in_use"] == 0


def test_a_window_that_ends_after_now_is_warned_about(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    with changing_sandbox() as scenario:
        scenario.server.app.change_streams.set(ENTITY, None)
        now = datetime.now(UTC)
        use_connection(monkeypatch, scenario.server.base_url, "session")
        AcumaticaExtractOperator(
            task_id="open_window",
            entity=ENTITY,
            incremental_field=FIELD,
            output_path=str(tmp_path / "out.jsonl"),
        ).execute({"data_interval_start": now - timedelta(days=1), "data_interval_end": now + timedelta(hours=1)})
    logged = capfd.readouterr().out + caplog.text
    assert "after the pull started" in logged
    assert "Exactness (docs/exactness.md) holds for windows that ended before the run" in logged
