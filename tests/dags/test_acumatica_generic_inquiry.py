"""The generic-inquiry example DAG through Airflow against the sandbox."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from airflow_provider_acumatica.sandbox import SandboxServer
from tests.airflow_runs import AirflowHome
from tests.connections import connection

DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / "acumatica_generic_inquiry.py"


def test_pulls_the_inquiry_to_csv(airflow_home: AirflowHome, sandbox: SandboxServer, tmp_path: Path) -> None:
    airflow_home.write_dag("acumatica_generic_inquiry", DAG_FILE.read_text())
    env = {"AIRFLOW_CONN_ACUMATICA_DEFAULT": connection(sandbox.base_url, "basic")}
    conf = json.dumps({"output_base": str(tmp_path), "inquiry": "BI-Customers"})
    result = airflow_home.test_dag("acumatica_generic_inquiry", env, "2026-11-27", ["--conf", conf])
    assert result.succeeded, result.output[-3000:]
    manifest = result.xcoms["pull[0]"]
    (path,) = tmp_path.rglob("BI_Customers.csv")
    assert manifest["path"] == f"file://{path}"
    with path.open(newline="") as handle:
        ids = [row["CustomerID"] for row in csv.DictReader(handle)]
    assert len(ids) == manifest["records"] == sandbox.store.count("Customer")
    assert sandbox.stats()["seats_in_use"] == 0
