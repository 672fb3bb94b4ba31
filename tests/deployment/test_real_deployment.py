"""The example DAGs in a real deployment: separate Airflow components, LocalExecutor, PostgreSQL.

What `airflow dags test` cannot show: the DAGs parsed by a standalone dag-processor, runs triggered
through the REST API and scheduled by the scheduler, tasks run by the LocalExecutor in their own
processes that fetch the connection (stored encrypted in PostgreSQL) through the api-server's
Execution API, and the pool created with the CLI. The files must match the sandbox's ground truth,
no seat may stay in use, and no log may contain a credential.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_acumatica.sandbox import SandboxConfig, SandboxServer
from airflow_provider_acumatica.sandbox.config import OAuthClient, SandboxUser
from tests.connections import connection
from tests.dags.test_acumatica_data_pull import ENTITIES, in_window
from tests.deployment.airflow_deployment import AirflowApi, AirflowDeployment
from tests.deployment.postgres import PostgresServer

DAGS = Path(__file__).resolve().parents[2] / "dags"
DATA_PULL = "acumatica_data_pull"
TOKEN_CHECK = "acumatica_token_check"
PASSWORD = "Pa55word-of-the-deployed-api-user-2083"
SECRET = "client-secret-of-the-deployment-test-5519"
POOL = "acumatica_api"
POOL_SLOTS = 2
STARTUP_TIMEOUT = 120
RUN_TIMEOUT = 150


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    """Static data, so the ground truth cannot move; one seat more than the pool, for the token check."""
    config = SandboxConfig(
        records=400,
        changes_per_hour=0,
        max_seats=POOL_SLOTS + 1,
        users=(SandboxUser(password=PASSWORD),),
        clients=(OAuthClient(secret=SECRET),),
    )
    with SandboxServer(config) as running:
        yield running


@pytest.fixture(scope="module")
def deployment(
    postgres: PostgresServer, server: SandboxServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AirflowDeployment]:
    """Set up as the README tells a user to: migrate, add the connection, size the pool; then start everything."""
    airflow = AirflowDeployment(tmp_path_factory.mktemp("deployment"), postgres.sqlalchemy_url, DAGS)
    try:
        airflow.cli("db", "migrate")
        conn = connection(server.base_url, "oauth2_password", password=PASSWORD, client_secret=SECRET)
        airflow.cli("connections", "add", "acumatica_default", "--conn-json", conn)
        airflow.cli("pools", "set", POOL, str(POOL_SLOTS), "Acumatica API seats of the license")
        airflow.start()
        yield airflow
    finally:
        airflow.stop()


@pytest.fixture(scope="module")
def api(deployment: AirflowDeployment) -> Iterator[AirflowApi]:
    """A REST client once every component is up and the dag-processor has serialized the example DAGs."""
    with AirflowApi(deployment) as client:
        client.wait_until_healthy(STARTUP_TIMEOUT)
        client.sign_in()
        client.wait_for_dags([DATA_PULL, TOKEN_CHECK], STARTUP_TIMEOUT)
        yield client


@pytest.fixture(scope="module")
def output_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("landed")


@pytest.fixture(scope="module")
def finished_runs(api: AirflowApi, output_base: Path) -> dict[str, dict[str, Any]]:
    """Both DAGs triggered at once through the REST API, each run waited for until it succeeds."""
    day = (datetime.now(UTC) - timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)
    for dag_id in (DATA_PULL, TOKEN_CHECK):
        api.unpause(dag_id)
    run_ids = {
        DATA_PULL: api.trigger(DATA_PULL, day.isoformat(), {"output_base": str(output_base)}),
        TOKEN_CHECK: api.trigger(TOKEN_CHECK, None, {}),
    }
    return {dag_id: api.wait_for_success(dag_id, run_id, RUN_TIMEOUT) for dag_id, run_id in run_ids.items()}


def test_data_pull_lands_the_sandbox_records_of_its_interval(
    finished_runs: dict[str, dict[str, Any]], server: SandboxServer, output_base: Path
) -> None:
    run = finished_runs[DATA_PULL]
    start = datetime.fromisoformat(run["data_interval_start"])
    end = datetime.fromisoformat(run["data_interval_end"])
    assert end == datetime.fromisoformat(run["logical_date"])
    assert end - start == timedelta(days=1)
    total = 0
    for entity in ENTITIES:
        path = output_base / f"dt={start:%Y-%m-%d}" / f"entity={entity}" / f"{entity.lower()}.jsonl"
        ids = [json.loads(line)["id"] for line in path.read_text().splitlines()]
        assert ids == in_window(server, entity, start, end), entity
        total += len(ids)
    assert total > 0


def test_every_task_signed_in_once_and_out_again(
    finished_runs: dict[str, dict[str, Any]], server: SandboxServer
) -> None:
    stats = server.stats()
    assert stats["token_grants"] == {"password": len(ENTITIES) + 1}
    assert stats["seats_in_use"] == 0


def test_no_credential_in_any_log_or_component_output(
    finished_runs: dict[str, dict[str, Any]], server: SandboxServer, deployment: AirflowDeployment
) -> None:
    issued = server.issued_credentials()
    assert len(issued) >= len(ENTITIES) + 1
    for dag_id in (DATA_PULL, TOKEN_CHECK):
        assert any((deployment.logs_folder / f"dag_id={dag_id}").rglob("attempt=*.log")), dag_id
    haystack = deployment.task_logs() + deployment.component_output()
    leaked = sorted(secret for secret in {PASSWORD, SECRET, *issued} if secret in haystack)
    assert leaked == []
