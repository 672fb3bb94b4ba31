"""The refresh-token chain shared through real Airflow Variables: several processes, and Airflow tasks."""

from __future__ import annotations

import configparser
import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import requests
from cryptography.fernet import Fernet

from airflow_provider_acumatica.auth.token_store import variable_key
from airflow_provider_acumatica.sandbox import SandboxServer
from tests.airflow_runs import AirflowHome
from tests.connections import EXTRAS, connection, consent_refresh_token

WORKER = Path(__file__).with_name("refresh_worker.py")
WORKERS = 4
WORKER_SECONDS = 5.0


def stored_token(home: AirflowHome, conn_id: str) -> str:
    """The Variable as the metadata database holds it, which must be Fernet-encrypted."""
    with sqlite3.connect(home.root / "airflow.db") as db:
        value, encrypted = db.execute(
            "SELECT val, is_encrypted FROM variable WHERE key = ?", (variable_key(conn_id),)
        ).fetchone()
    assert encrypted
    config = configparser.ConfigParser(interpolation=None)
    config.read(home.root / "airflow.cfg")
    return Fernet(config["core"]["fernet_key"].encode()).decrypt(value.encode()).decode()


def refresh_works(base_url: str, refresh_token: str) -> bool:
    body = {"grant_type": "refresh_token", "refresh_token": refresh_token, **EXTRAS["oauth2_authorization_code"]}
    return requests.post(base_url + "/identity/connect/token", data=body, timeout=10).status_code == 200


def start_worker(env: dict[str, str], conn_id: str, log: Path) -> subprocess.Popen[str]:
    with log.open("w") as stderr:
        return subprocess.Popen(
            [sys.executable, str(WORKER), conn_id, str(WORKER_SECONDS)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )


def wait_until_ready(worker: subprocess.Popen[str]) -> bool:
    """Airflow's own log lines share stdout; the worker's marker is a line of its own."""
    assert worker.stdout is not None
    return any(line.strip() == "ready" for line in worker.stdout)


def test_processes_share_one_chain_and_one_seat_through_variables(
    airflow_home: AirflowHome, make_sandbox: type[SandboxServer], tmp_path: Path
) -> None:
    server = make_sandbox(token_ttl=2, max_seats=2)
    first = consent_refresh_token(server.base_url)
    conn_id = "acumatica_shared"
    conn = connection(server.base_url, "oauth2_authorization_code", refresh_token=first)
    env = airflow_home.environment({f"AIRFLOW_CONN_{conn_id.upper()}": conn})
    workers = [start_worker(env, conn_id, tmp_path / f"worker{i}.log") for i in range(WORKERS)]
    for index, worker in enumerate(workers):
        assert wait_until_ready(worker), (tmp_path / f"worker{index}.log").read_text()[-3000:]
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    outputs = [worker.communicate(timeout=120)[0] for worker in workers]
    logs = [(tmp_path / f"worker{i}.log").read_text() for i in range(WORKERS)]
    for worker, output, log in zip(workers, outputs, logs, strict=True):
        assert worker.returncode == 0, log[-3000:]
        summary = json.loads(output.strip().splitlines()[-1])
        assert summary["calls"] > 0
        assert summary["store"] == "VariableBackend"
        assert summary["token_requests"] >= 3  # the access token expired at least twice during the run
    assert not any(first in log for log in logs)
    stats = server.stats()
    print(
        f"\nmulti-process: grants {stats['token_grants']}, token route {stats['routes']['token']}, "
        f"peak seats {stats['peak_seats']}"
    )
    assert stats["peak_seats"] == 1  # four processes, one chain, one seat (the license has two)
    assert stats["requests"].get("429", 0) == 0
    newest = stored_token(airflow_home, conn_id)
    assert newest != first
    assert refresh_works(server.base_url, newest)  # the stored token is the chain's live link


TASKS_DAG = textwrap.dedent(
    """
    from datetime import datetime

    from airflow.providers.common.compat.sdk import DAG, task

    from airflow_provider_acumatica.hooks.acumatica import AcumaticaHook

    @task
    def pull(conn_id: str) -> int:
        with AcumaticaHook(conn_id) as hook:
            return len(hook.request_json("GET", hook.entity_url("Customer"), params={"$top": 2}))

    with DAG("test_refresh_chain_in_tasks", schedule=None, start_date=datetime(2026, 1, 1), catchup=False):
        pull.override(task_id="first")("acumatica_chain") >> pull.override(task_id="second")("acumatica_chain")
    """
)


def test_tasks_write_the_rotated_token_through_the_execution_api(
    airflow_home: AirflowHome, sandbox: SandboxServer
) -> None:
    airflow_home.write_dag("test_refresh_chain_in_tasks", TASKS_DAG)
    first = consent_refresh_token(sandbox.base_url)
    conn = connection(sandbox.base_url, "oauth2_authorization_code", refresh_token=first)
    result = airflow_home.test_dag("test_refresh_chain_in_tasks", {"AIRFLOW_CONN_ACUMATICA_CHAIN": conn})
    assert result.states == {"first": "success", "second": "success"}, result.output[-3000:]
    assert {task: int(count) for task, count in result.xcoms.items()} == {"first": 2, "second": 2}
    assert "kept in this process only" not in result.output
    assert first not in result.output
    stats = sandbox.stats()
    assert stats["token_grants"]["refresh_token"] == 2
    assert stats["routes"]["token"] == {"200": 3}  # the second task found the first one's rotation: no miss
    newest = stored_token(airflow_home, "acumatica_chain")
    assert newest != first
    assert refresh_works(sandbox.base_url, newest)
