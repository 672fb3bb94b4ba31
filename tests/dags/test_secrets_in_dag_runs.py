"""Every example DAG and every auth strategy, run through Airflow: no secret in logs, XComs or rendered fields.

Run at INFO: at DEBUG, Airflow 3.3.2's `airflow dags test` logs the raw values given to `mask_secret`
(a known upstream behaviour the README warns about).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_acumatica.sandbox import SandboxConfig, SandboxServer
from airflow_provider_acumatica.sandbox.config import OAuthClient, SandboxUser
from tests.airflow_runs import AirflowHome, DagRunResult
from tests.connections import connection, consent_refresh_token

DAGS = Path(__file__).resolve().parents[2] / "dags"
PASSWORD = "Pa55word-of-the-api-user-0451"
SECRET = "client-secret-for-the-dag-runs-7731"
STRATEGIES = [
    "oauth2_password",
    "oauth2_authorization_code",
    "oauth2_client_credentials",
    "api_key",
    "basic",
    "session",
]


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    config = SandboxConfig(
        records=60,
        max_seats=6,
        allow_client_credentials=True,
        users=(SandboxUser(password=PASSWORD),),
        clients=(OAuthClient(secret=SECRET),),
    )
    with SandboxServer(config) as running:
        yield running


def connections(server: SandboxServer) -> dict[str, str]:
    refresh_token = consent_refresh_token(server.base_url, client_secret=SECRET)
    env = {}
    for auth_type in STRATEGIES:
        extra = {"client_secret": SECRET} if auth_type not in {"basic", "session"} else {}
        if auth_type == "oauth2_authorization_code":
            extra["refresh_token"] = refresh_token
        env[f"AIRFLOW_CONN_ACUMATICA_{auth_type.upper()}"] = connection(
            server.base_url, auth_type, password=PASSWORD, **extra
        )
    env["AIRFLOW_CONN_ACUMATICA_DEFAULT"] = env["AIRFLOW_CONN_ACUMATICA_OAUTH2_PASSWORD"]
    return env


def rendered_fields(home: AirflowHome) -> str:
    with sqlite3.connect(home.root / "airflow.db") as db:
        return json.dumps(db.execute("SELECT rendered_fields FROM rendered_task_instance_fields").fetchall())


def test_no_secret_anywhere_in_the_example_dag_runs(
    airflow_home: AirflowHome, server: SandboxServer, tmp_path: Path
) -> None:
    env = connections(server)
    conn_ids = [f"acumatica_{auth_type}" for auth_type in STRATEGIES]
    runs: list[DagRunResult] = []
    for name in ("acumatica_token_check", "acumatica_data_pull", "acumatica_generic_inquiry", "acumatica_write_back"):
        airflow_home.write_dag(name, (DAGS / f"{name}.py").read_text())
    runs.append(
        airflow_home.test_dag("acumatica_token_check", env, extra_args=["--conf", json.dumps({"conn_ids": conn_ids})])
    )
    conf = json.dumps({"output_base": str(tmp_path)})
    runs.append(airflow_home.test_dag("acumatica_data_pull", env, "2026-11-27", ["--conf", conf]))
    gi_conf = json.dumps({"output_base": str(tmp_path), "conn_id": "acumatica_basic"})
    runs.append(airflow_home.test_dag("acumatica_generic_inquiry", env, "2026-11-27", ["--conf", gi_conf]))
    updates = tmp_path / "customer_updates.jsonl"
    updates.write_text(json.dumps({"CustomerID": "C0000001", "CreditLimit": 900}) + "\n")
    wb_conf = json.dumps({"input_path": str(updates), "conn_id": "acumatica_api_key"})
    runs.append(airflow_home.test_dag("acumatica_write_back", env, extra_args=["--conf", wb_conf]))
    for run in runs:
        assert run.succeeded, run.output[-3000:]
    assert len([task for task in runs[0].states if task.startswith("check[")]) == len(STRATEGIES)
    logs = "\n".join(
        path.read_text(errors="replace") for path in (airflow_home.root / "logs").rglob("*") if path.is_file()
    )
    haystack = "\n".join(
        [*(r.output for r in runs), json.dumps([r.xcoms for r in runs]), rendered_fields(airflow_home), logs]
    )
    secrets = {PASSWORD, SECRET, *server.issued_credentials()}
    assert len(secrets) > 10
    leaked = sorted(secret for secret in secrets if secret in haystack)
    assert leaked == []
    assert server.stats()["seats_in_use"] == 0
