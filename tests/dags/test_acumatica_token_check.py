"""The token-check example DAG imports cleanly and runs against the sandbox through Airflow."""

from __future__ import annotations

import json
from pathlib import Path

from airflow_provider_acumatica.sandbox import SandboxServer
from tests.airflow_runs import AirflowHome
from tests.connections import connection

DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / "acumatica_token_check.py"


def test_checks_every_named_connection(airflow_home: AirflowHome, sandbox: SandboxServer) -> None:
    airflow_home.write_dag("acumatica_token_check", DAG_FILE.read_text())
    env = {
        "AIRFLOW_CONN_ACUMATICA_DEFAULT": connection(sandbox.base_url, "oauth2_password"),
        "AIRFLOW_CONN_ACUMATICA_SESSION": connection(sandbox.base_url, "session"),
    }
    conf = json.dumps({"conn_ids": ["acumatica_default", "acumatica_session"]})
    result = airflow_home.test_dag("acumatica_token_check", env, extra_args=["--conf", conf])
    assert result.succeeded, result.output[-3000:]
    assert result.states == {"connection_ids": "success", "check[0]": "success", "check[1]": "success"}
    assert result.xcoms["check[0]"]["auth_type"] == "oauth2_password"
    assert result.xcoms["check[1]"]["auth_type"] == "session"
    assert sandbox.stats()["seats_in_use"] == 0
