"""The example DAGs on the CeleryExecutor: two workers under their own host names, Redis, PostgreSQL.

Tasks of one DAG run land on different workers, each its own process with its own hook, as on
separate machines. What the provider promises across tasks must hold there: the pool caps the API
seats across workers, one rotating refresh-token chain serves tasks on both workers at once, the
files are exact, every session is signed out, a lost worker costs a retry and (until the session
times out) a seat, and no credential reaches a log.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_acumatica.records import unwrap_record
from airflow_provider_acumatica.sandbox import SandboxConfig, SandboxServer
from airflow_provider_acumatica.sandbox.config import OAuthClient, SandboxUser
from tests.connections import connection, consent_refresh_token
from tests.dags.test_acumatica_data_pull import ENTITIES, in_window
from tests.deployment.airflow_deployment import AirflowApi, AirflowDeployment, CeleryWorkers
from tests.deployment.postgres import PostgresServer
from tests.deployment.redis import RedisServer

ROOT = Path(__file__).resolve().parents[2]
DATA_PULL = "acumatica_data_pull"
WORKER_LOSS = "acumatica_worker_loss"
WORKERS = ("worker-a", "worker-b")
PASSWORD = "Pa55word-of-the-celery-api-user-7731"
SECRET = "client-secret-of-the-celery-test-4410"
AUTH_CODE_CONN = "acumatica_auth_code"
POOL = "acumatica_api"
POOL_SLOTS = 2
# Short, so that the seat of a killed task is given back within the test.
SESSION_TIMEOUT = 20
# Shorter than a task, so tasks on both workers refresh the one chain while others use it.
TOKEN_TTL = 4
STARTUP_TIMEOUT = 120
RUN_TIMEOUT = 240


def _sandbox(**settings: Any) -> SandboxConfig:
    return SandboxConfig(
        records=400,
        changes_per_hour=0,
        users=(SandboxUser(password=PASSWORD),),
        clients=(OAuthClient(secret=SECRET),),
        **settings,
    )


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    """Password-grant connection; one seat more than the pool, for the seat a killed task leaves behind."""
    with SandboxServer(_sandbox(max_seats=POOL_SLOTS + 1, session_timeout=SESSION_TIMEOUT)) as running:
        yield running


@pytest.fixture(scope="module")
def chain_server() -> Iterator[SandboxServer]:
    """Authorization-code connection: tokens outlive no task, so every task refreshes the shared chain."""
    with SandboxServer(_sandbox(max_seats=POOL_SLOTS, token_ttl=TOKEN_TTL)) as running:
        running.set_faults(latency_ms=1500)
        yield running


@pytest.fixture(scope="module")
def consented_token(chain_server: SandboxServer) -> str:
    return consent_refresh_token(chain_server.base_url, client_secret=SECRET)


@pytest.fixture(scope="module")
def dags_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("celery-dags")
    shutil.copy(ROOT / "dags" / f"{DATA_PULL}.py", folder)
    shutil.copy(Path(__file__).parent / "dags" / f"{WORKER_LOSS}.py", folder)
    return folder


@pytest.fixture(scope="module")
def deployment(
    postgres: PostgresServer,
    redis: RedisServer,
    server: SandboxServer,
    chain_server: SandboxServer,
    consented_token: str,
    dags_folder: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[AirflowDeployment]:
    """Set up as the README tells a user to, with one worker slot each so that both workers take tasks."""
    workers = CeleryWorkers(redis.url, WORKERS, concurrency=1)
    airflow = AirflowDeployment(tmp_path_factory.mktemp("celery"), postgres.sqlalchemy_url, dags_folder, workers)
    try:
        airflow.cli("db", "migrate")
        password_conn = connection(server.base_url, "oauth2_password", password=PASSWORD, client_secret=SECRET)
        airflow.cli("connections", "add", "acumatica_default", "--conn-json", password_conn)
        chain_conn = connection(
            chain_server.base_url,
            "oauth2_authorization_code",
            password=PASSWORD,
            client_secret=SECRET,
            refresh_token=consented_token,
        )
        airflow.cli("connections", "add", AUTH_CODE_CONN, "--conn-json", chain_conn)
        airflow.cli("pools", "set", POOL, str(POOL_SLOTS), "Acumatica API seats of the license", "--include-deferred")
        airflow.start()
        yield airflow
    finally:
        airflow.stop()


@pytest.fixture(scope="module")
def api(deployment: AirflowDeployment) -> Iterator[AirflowApi]:
    with AirflowApi(deployment) as client:
        client.wait_until_healthy(STARTUP_TIMEOUT)
        client.sign_in()
        client.wait_for_dags([DATA_PULL, WORKER_LOSS], STARTUP_TIMEOUT)
        for dag_id in (DATA_PULL, WORKER_LOSS):
            client.unpause(dag_id)
        yield client


def _day(days_ago: int) -> datetime:
    return (datetime.now(UTC) - timedelta(days=days_ago)).replace(hour=0, minute=0, second=0, microsecond=0)


def _pull(api: AirflowApi, output_base: Path, conn_id: str, days_ago: int) -> dict[str, Any]:
    """One run per logical date: each pull gets its own day."""
    conf = {"output_base": str(output_base), "conn_id": conn_id}
    run_id = api.trigger(DATA_PULL, _day(days_ago).isoformat(), conf)
    run = api.wait_for_success(DATA_PULL, run_id, RUN_TIMEOUT)
    return {"run": run, "tasks": api.task_instances(DATA_PULL, run_id)}


@pytest.fixture(scope="module")
def password_pull(api: AirflowApi, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    output = tmp_path_factory.mktemp("landed-password")
    return {**_pull(api, output, "acumatica_default", days_ago=3), "output": output}


@pytest.fixture(scope="module")
def chain_pull(api: AirflowApi, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    output = tmp_path_factory.mktemp("landed-chain")
    return {**_pull(api, output, AUTH_CODE_CONN, days_ago=4), "output": output}


def _assert_exact(pull: dict[str, Any], server: SandboxServer) -> None:
    start = datetime.fromisoformat(pull["run"]["data_interval_start"])
    end = datetime.fromisoformat(pull["run"]["data_interval_end"])
    total = 0
    for entity in ENTITIES:
        path = pull["output"] / f"dt={start:%Y-%m-%d}" / f"entity={entity}" / f"{entity.lower()}.jsonl"
        ids = [json.loads(line)["id"] for line in path.read_text().splitlines()]
        assert ids == in_window(server, entity, start, end), entity
        total += len(ids)
    assert total > 0


def _extract_hosts(tasks: list[dict[str, Any]]) -> set[str]:
    return {task["hostname"] for task in tasks if task["task_id"] == "extract"}


def test_tasks_of_one_run_ran_on_both_workers_and_landed_exact_files(
    password_pull: dict[str, Any], server: SandboxServer
) -> None:
    assert _extract_hosts(password_pull["tasks"]) == set(WORKERS)
    assert all(task["try_number"] == 1 for task in password_pull["tasks"])
    _assert_exact(password_pull, server)


def test_the_pool_capped_the_seats_across_workers_and_every_session_was_signed_out(
    password_pull: dict[str, Any], server: SandboxServer
) -> None:
    stats = server.stats()
    assert 1 <= stats["peak_seats"] <= POOL_SLOTS
    assert stats["seats_in_use"] == 0
    assert stats["token_grants"] == {"password": len(ENTITIES)}


def test_one_refresh_chain_serves_tasks_on_both_workers(
    chain_pull: dict[str, Any], chain_server: SandboxServer
) -> None:
    """Strict run: an `invalid_grant` that a task did not recover from would have failed or retried it."""
    assert _extract_hosts(chain_pull["tasks"]) == set(WORKERS)
    _assert_exact(chain_pull, chain_server)
    stats = chain_server.stats()
    assert stats["peak_seats"] == 1
    assert stats["token_grants"]["authorization_code"] == 1
    assert stats["token_grants"]["refresh_token"] >= len(ENTITIES)
    assert set(stats["token_grants"]) == {"authorization_code", "refresh_token"}


def _wait_until_running(api: AirflowApi, server: SandboxServer, run_id: str, timeout: float) -> str:
    """The worker of the extract once it has fetched a few pages."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        (task,) = api.task_instances(WORKER_LOSS, run_id)
        pages = server.stats()["routes"].get("contract", {})
        if task["state"] == "running" and task["hostname"] and sum(pages.values()) >= 3:
            return str(task["hostname"])
        time.sleep(0.2)
    raise AssertionError(f"the extract never got going: {api.task_instances(WORKER_LOSS, run_id)}")


@pytest.fixture(scope="module")
def worker_loss(
    api: AirflowApi,
    deployment: AirflowDeployment,
    server: SandboxServer,
    password_pull: dict[str, Any],
    chain_pull: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    """Runs last: `kill -9` of the worker in the middle of a slow extract; the other worker retries it."""
    output = tmp_path_factory.mktemp("landed-loss") / "customer.jsonl"
    server.reset()
    server.set_faults(latency_ms=400)
    run_id = api.trigger(WORKER_LOSS, None, {"output_path": str(output)})
    killed = _wait_until_running(api, server, run_id, RUN_TIMEOUT)
    deployment.kill_worker(killed)
    killed_at = time.monotonic()
    api.wait_for_success(WORKER_LOSS, run_id, RUN_TIMEOUT, retries_expected=True)
    server.set_faults(latency_ms=0)
    (task,) = api.task_instances(WORKER_LOSS, run_id)
    return {"killed": killed, "killed_at": killed_at, "task": task, "output": output}


def test_a_killed_worker_costs_a_retry_on_the_other_worker_and_no_record(
    worker_loss: dict[str, Any], server: SandboxServer
) -> None:
    task = worker_loss["task"]
    assert task["try_number"] >= 2
    assert task["hostname"] != worker_loss["killed"]
    landed = [json.loads(line)["id"] for line in worker_loss["output"].read_text().splitlines()]
    assert landed == [unwrap_record(record)["id"] for record in server.store.iter_records("Customer")]
    leftovers = {path.name for path in worker_loss["output"].parent.iterdir()} - {worker_loss["output"].name}
    assert all(name.startswith(".customer.jsonl.") and name.endswith(".partial") for name in leftovers)


def test_the_seat_of_the_killed_task_is_back_after_the_session_timeout(
    worker_loss: dict[str, Any], server: SandboxServer
) -> None:
    deadline = worker_loss["killed_at"] + SESSION_TIMEOUT + 15
    while server.stats()["seats_in_use"] and time.monotonic() < deadline:
        time.sleep(0.5)
    stats = server.stats()
    assert stats["seats_in_use"] == 0
    assert stats["peak_seats"] <= POOL_SLOTS + 1


def test_no_credential_in_any_log_or_component_output(
    worker_loss: dict[str, Any],
    server: SandboxServer,
    chain_server: SandboxServer,
    consented_token: str,
    deployment: AirflowDeployment,
) -> None:
    issued = {*server.issued_credentials(), *chain_server.issued_credentials()}
    assert len(issued) > 2 * len(ENTITIES)
    haystack = deployment.task_logs() + deployment.component_output()
    assert any((deployment.logs_folder / f"dag_id={DATA_PULL}").rglob("attempt=*.log"))
    leaked = sorted(secret for secret in {PASSWORD, SECRET, consented_token, *issued} if secret in haystack)
    assert leaked == []
