"""The daily data-pull example DAG through Airflow against the sandbox, and its downstream check."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_acumatica.records import unwrap_record
from airflow_provider_acumatica.sandbox import SandboxConfig, SandboxServer
from tests.airflow_runs import AirflowHome
from tests.connections import connection

DAGS = Path(__file__).resolve().parents[2] / "dags"
ENTITIES = ["Customer", "Vendor", "StockItem", "SalesOrder", "SalesInvoice", "Payment"]
FIELDS = {"SalesOrder": "LastModified"}


@pytest.fixture(scope="module")
def server() -> Any:
    with SandboxServer(SandboxConfig(records=400, changes_per_hour=0)) as running:
        yield running


def in_window(server: SandboxServer, entity: str, start: datetime, end: datetime) -> list[str]:
    field = FIELDS.get(entity, "LastModifiedDateTime")
    records = [unwrap_record(r) for r in server.store.iter_records(entity)]
    return [r["id"] for r in records if start < datetime.fromisoformat(r[field]) <= end]


def test_daily_pull_lands_each_entity_for_its_interval(
    airflow_home: AirflowHome, server: SandboxServer, tmp_path: Path
) -> None:
    for name in ("acumatica_data_pull", "acumatica_data_ready"):
        airflow_home.write_dag(name, (DAGS / f"{name}.py").read_text())
    day = (datetime.now(UTC) - timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)
    env = {"AIRFLOW_CONN_ACUMATICA_DEFAULT": connection(server.base_url, "oauth2_password")}
    conf = json.dumps({"output_base": str(tmp_path)})
    result = airflow_home.test_dag("acumatica_data_pull", env, day.strftime("%Y-%m-%d"), ["--conf", conf])
    assert result.succeeded, result.output[-4000:]
    manifests = {m["entity"]: m for task, m in result.xcoms.items() if task.startswith("extract[")}
    assert sorted(manifests) == sorted(ENTITIES)
    start = day - timedelta(days=1)
    total = 0
    for entity in ENTITIES:
        assert manifests[entity]["window"] == {"start": start.isoformat(), "end": day.isoformat()}
        path = tmp_path / f"dt={start:%Y-%m-%d}" / f"entity={entity}" / f"{entity.lower()}.jsonl"
        assert manifests[entity]["path"] == f"file://{path}"
        ids = [json.loads(line)["id"] for line in path.read_text().splitlines()]
        assert ids == in_window(server, entity, start, day), entity
        total += len(ids)
    assert total > 0
    assert result.xcoms["publish"]["records"] == total
    assert server.stats()["seats_in_use"] == 0
    assert server.stats()["token_grants"] == {"password": len(ENTITIES)}
