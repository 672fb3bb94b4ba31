"""The replica example DAG through Airflow: discovery, one mapped task per entity, every table equal to the ERP."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from airflow_provider_acumatica.catalog import known_entity
from airflow_provider_acumatica.sandbox import SandboxConfig, SandboxServer
from tests.airflow_runs import AirflowHome
from tests.connections import connection
from tests.replica_checks import differences

DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(records=30, changes_per_hour=0, max_seats=4)) as running:
        yield running


def test_every_entity_of_the_endpoint_lands_in_its_own_tables(
    airflow_home: AirflowHome, server: SandboxServer, tmp_path: Path
) -> None:
    airflow_home.write_dag("acumatica_replicate", (DAGS / "acumatica_replicate.py").read_text())
    airflow_home.airflow("pools", "set", "acumatica_api", "2", "Acumatica API seats")
    lake = tmp_path / "lake"
    env = {"AIRFLOW_CONN_ACUMATICA_DEFAULT": connection(server.base_url, "oauth2_password")}
    conf = json.dumps({"table_base": str(lake), "exclude": ["JournalTransaction"]})
    hour = (datetime.now(UTC) - timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    result = airflow_home.test_dag("acumatica_replicate", env, hour.isoformat(), ["--conf", conf])
    assert result.succeeded or _only_skips(result.states), result.output[result.output.find("Task failed") :][:5000]
    summaries = {summary["entity"]: summary for task, summary in result.xcoms.items() if task.startswith("replicate[")}
    assert "JournalTransaction" not in summaries and "InventorySummaryInquiry" not in summaries
    assert "needs parameters to be read" in result.output
    assert len(summaries) >= 20
    for entity, summary in summaries.items():
        info = known_entity("Default", entity)
        if info is None or info.is_inquiry:
            continue
        details = tuple(name for name in summary["tables"] if name != entity)
        assert differences(server.base_url, str(lake), entity, tuple(d.split("__", 1)[1] for d in details)) == []
    with sqlite3.connect(airflow_home.root / "airflow.db") as db:
        events = db.execute("SELECT a.uri, e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id").fetchall()
    extras = {uri: json.loads(extra) for uri, extra in events}
    for table in (lake / "SalesOrder", lake / "SalesOrder__Details"):
        extra = extras[table.as_uri()]
        assert extra["entity"] == "SalesOrder" and extra["table"] == table.name and extra["version"] == 0
    assert server.stats()["seats_in_use"] == 0


def _only_skips(states: dict[str, str]) -> bool:
    return bool(states) and all(state in {"success", "skipped"} for state in states.values())
