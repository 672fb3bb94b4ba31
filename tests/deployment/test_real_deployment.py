"""The example DAGs in a real deployment: separate Airflow components, LocalExecutor, PostgreSQL.

What `airflow dags test` cannot show: the DAGs parsed by a standalone dag-processor, runs triggered
through the REST API and scheduled by the scheduler, tasks run by the LocalExecutor in their own
processes that fetch the connection (stored encrypted in PostgreSQL) through the api-server's
Execution API, the pool created with the CLI, and a deferred action waited for by the triggerer
process. The files must match the sandbox's ground truth, no seat may stay in use, and no log may
contain a credential.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import airflow
import pytest

from airflow_provider_acumatica.sandbox import SandboxConfig, SandboxServer
from airflow_provider_acumatica.sandbox.config import OAuthClient, SandboxUser
from tests.connections import connection
from tests.dags.test_acumatica_data_pull import ENTITIES, in_window
from tests.deployment.airflow_deployment import AirflowApi, AirflowDeployment
from tests.deployment.postgres import PostgresServer

ROOT = Path(__file__).resolve().parents[2]
DATA_PULL = "acumatica_data_pull"
TOKEN_CHECK = "acumatica_token_check"
DEFERRED_ACTION = "acumatica_deferred_action"
# Long enough for the task to be seen deferred, short enough to keep the test quick.
ACTION_SECONDS = 6
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
def dags_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example DAGs and the test's deferred-action DAG."""
    folder = tmp_path_factory.mktemp("dags")
    for dag in (ROOT / "dags").glob("*.py"):
        shutil.copy(dag, folder)
    shutil.copy(Path(__file__).parent / "dags" / f"{DEFERRED_ACTION}.py", folder)
    return folder


@pytest.fixture(scope="module")
def deployment(
    postgres: PostgresServer, server: SandboxServer, dags_folder: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AirflowDeployment]:
    """Set up as the README tells a user to: migrate, add the connection, size the pool; then start everything.

    The pool counts deferred tasks too: a deferred action still holds its API seat."""
    airflow = AirflowDeployment(tmp_path_factory.mktemp("deployment"), postgres.sqlalchemy_url, dags_folder)
    try:
        airflow.cli("db", "migrate")
        conn = connection(server.base_url, "oauth2_password", password=PASSWORD, client_secret=SECRET)
        airflow.cli("connections", "add", "acumatica_default", "--conn-json", conn)
        airflow.cli("pools", "set", POOL, str(POOL_SLOTS), "Acumatica API seats of the license", "--include-deferred")
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
        client.wait_for_dags([DATA_PULL, TOKEN_CHECK, DEFERRED_ACTION], STARTUP_TIMEOUT)
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


@pytest.fixture(scope="module")
def deferred_run(finished_runs: dict[str, dict[str, Any]], api: AirflowApi, server: SandboxServer) -> dict[str, Any]:
    """After the example DAGs (so their ground truth and counts stay theirs): one long action, deferred.

    The task instance's states are sampled while it runs, to see it go through `deferred`."""
    orders = server.store.snapshot("SalesOrder")
    record_id = orders.view(0).id
    server.store.upsert("SalesOrder", "24.200.001", {"id": record_id, "Status": {"value": "H"}})
    grants_before = server.stats()["token_grants"].get("password", 0)
    credentials_before = set(server.issued_credentials())
    server.set_faults(action_seconds=ACTION_SECONDS)
    api.unpause(DEFERRED_ACTION)
    run_id = api.trigger(DEFERRED_ACTION, None, {"record_id": record_id})
    states: list[str] = []
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        (task,) = api.task_instances(DEFERRED_ACTION, run_id)
        if task["state"] and task["state"] not in states[-1:]:
            states.append(task["state"])
        if task["state"] in ("success", "failed"):
            break
        time.sleep(0.5)
    run = api.wait_for_success(DEFERRED_ACTION, run_id, RUN_TIMEOUT)
    server.set_faults(action_seconds=0)
    return {
        "run": run,
        "record_id": record_id,
        "states": states,
        "grants": server.stats()["token_grants"].get("password", 0) - grants_before,
        "credentials": set(server.issued_credentials()) - credentials_before,
    }


def test_a_deferred_action_waits_in_the_triggerer_and_signs_its_session_out(
    deferred_run: dict[str, Any], server: SandboxServer, deployment: AirflowDeployment
) -> None:
    assert "deferred" in deferred_run["states"], deferred_run["states"]
    orders = server.store.snapshot("SalesOrder")
    index = orders.find(deferred_run["record_id"])
    assert index is not None and orders.view(index).values["Status"] == "N"
    # One session for the POST (handed to the trigger, which signs it out), one for the read-back.
    assert deferred_run["grants"] == 2
    assert server.stats()["seats_in_use"] == 0
    run_id = deferred_run["run"]["dag_run_id"]
    log = deployment.task_log(DEFERRED_ACTION, run_id, "release", -1)
    assert "deferring to the triggerer" in log and "Status is now 'Open'" in log
    folder = deployment.logs_folder / f"dag_id={DEFERRED_ACTION}" / f"run_id={run_id}" / "task_id=release"
    trigger_log = "\n".join(path.read_text() for path in folder.glob("*trigger*"))
    assert "Waiting for SalesOrder/ReleaseFromHold" in trigger_log
    assert "SalesOrder/ReleaseFromHold: done; the session is signed out." in trigger_log
    haystack = deployment.task_logs() + deployment.component_output()
    if airflow.__version__.startswith("3.0."):
        # Airflow 3.0's task supervisor prints the task's DeferTask message, trigger kwargs and all, unmasked
        # at debug level to the executor's output (the README warns); 3.3 does not. Nothing else may leak.
        haystack = "\n".join(line for line in haystack.splitlines() if "msg=DeferTask(" not in line)
    leaked = sorted(secret for secret in {PASSWORD, SECRET, *deferred_run["credentials"]} if secret in haystack)
    assert leaked == []
