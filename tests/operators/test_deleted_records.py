"""`iter_deleted` and `AcumaticaDeletedRecordsOperator` against the sandbox's tracked DACs (SM207010)."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from airflow_provider_acumatica.exceptions import AcumaticaDeletionsNotTrackedError
from airflow_provider_acumatica.hooks.acumatica import AcumaticaHook
from airflow_provider_acumatica.operators.deleted_records import AcumaticaDeletedRecordsOperator
from airflow_provider_acumatica.sandbox import SandboxServer
from tests.connections import use_connection


def delete(server: SandboxServer, entity: str, count: int, seed: int = 3) -> list[str]:
    body = {"entity": entity, "deletes": count, "seed": seed}
    answer = requests.post(f"{server.base_url}/_sandbox/changes", json=body, timeout=10)
    answer.raise_for_status()
    return list(answer.json()["deleted"])


def track(server: SandboxServer, **settings: Any) -> None:
    requests.post(f"{server.base_url}/_sandbox/deleted_records", json=settings, timeout=10).raise_for_status()


def window_around(action: Any) -> tuple[dict[str, datetime], Any]:
    start = datetime.now(UTC)
    time.sleep(0.01)
    result = action()
    time.sleep(0.01)
    return {"data_interval_start": start, "data_interval_end": datetime.now(UTC)}, result


def deletions(tmp_path: Path, name: str = "d.jsonl", **kwargs: Any) -> AcumaticaDeletedRecordsOperator:
    return AcumaticaDeletedRecordsOperator(task_id="deleted", output_path=str(tmp_path / name), **kwargs)


def test_the_records_deleted_in_the_window_come_back_exactly(
    monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer, tmp_path: Path
) -> None:
    use_connection(monkeypatch, sandbox.base_url, "basic")
    delete(sandbox, "SalesOrder", 3, seed=1)
    context, deleted = window_around(lambda: delete(sandbox, "SalesOrder", 11) + delete(sandbox, "SalesOrder", 4, 9))
    delete(sandbox, "SalesOrder", 2, seed=2)
    manifest = deletions(tmp_path, entity="SalesOrder", page_size=3).execute(context)
    rows = [json.loads(line) for line in (tmp_path / "d.jsonl").read_text().splitlines()]
    assert sorted(row["id"] for row in rows) == sorted(deleted)
    assert all(context["data_interval_start"] < datetime.fromisoformat(row["deleted_at"]) for row in rows)
    assert (manifest["entity"], manifest["dac"], manifest["content"]) == ("SalesOrder", "SOOrder", "deletions")
    assert manifest["records"] == 15 and manifest["pages"] == 5
    assert sandbox.stats()["seats_in_use"] == sandbox.stats()["users_in_use"] == 0


def test_iter_deleted_yields_ids_and_times_over_a_bearer_token(
    monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer
) -> None:
    use_connection(monkeypatch, sandbox.base_url, "oauth2_password")
    context, deleted = window_around(lambda: delete(sandbox, "Customer", 5))
    with AcumaticaHook() as hook:
        rows = list(hook.iter_deleted("Customer", context["data_interval_start"], context["data_interval_end"]))
    assert sorted(row["id"] for row in rows) == sorted(deleted)
    assert set(rows[0]) == {"id", "deleted_at"}


def test_an_untracked_dac_gives_the_sm207010_steps_and_no_file(
    monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer, tmp_path: Path
) -> None:
    use_connection(monkeypatch, sandbox.base_url, "basic")
    with pytest.raises(AcumaticaDeletionsNotTrackedError, match=r"Tables to Track Deleted Records \(SM207010\)"):
        deletions(tmp_path, dac="ARInvoice").execute({})
    assert not list(tmp_path.iterdir())


def test_an_expired_retention_purges_and_an_old_window_warns(
    monkeypatch: pytest.MonkeyPatch,
    sandbox: SandboxServer,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    use_connection(monkeypatch, sandbox.base_url, "basic")
    track(sandbox, tracked=["SOOrder", "Customer"], days_to_keep=10)
    deleted = delete(sandbox, "SalesOrder", 6)
    now = datetime.now(UTC)
    context = {"data_interval_start": now - timedelta(days=12), "data_interval_end": now}
    with AcumaticaHook() as hook:
        assert set(deleted) <= {row["id"] for row in hook.iter_deleted("SOOrder", now - timedelta(days=12), now)}
    track(sandbox, age_days=11)
    with caplog.at_level(logging.WARNING):
        manifest = deletions(tmp_path, dac="SOOrder").execute(context)
    logged = capfd.readouterr().out + caplog.text
    assert manifest["records"] == 0
    assert "may already be purged" in logged and "iter_ids" in logged
