"""Kill and retry: SIGTERM to a running extraction or replication, as Airflow sends on mark-failed or lost heartbeat.

The task runs in a real Airflow task process, slowed by the sandbox's latency so that the signal
lands mid-pull: under `airflow dags test`, which runs it in the CLI's own process (through the
Task SDK task runner on 3.3, the legacy runner on 3.0), and under the Task SDK supervisor with a
forked task runner, as a 3.0 worker runs it. The killed run must sign its session out and leave
nothing at the output path, not even the hidden `.partial` temporary (a replication: every Delta
table at its previous version); the retry must land exactly the ground truth. docs/reliability.md
says which code path handles the signal on each version.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from airflow import __version__ as airflow_version
from deltalake import DeltaTable

from airflow_provider_acumatica.operators.replicate import AcumaticaReplicateOperator
from airflow_provider_acumatica.sandbox import SandboxConfig, SandboxServer
from tests.airflow_runs import DAG_RUN_TIMEOUT, AirflowHome
from tests.connections import connection
from tests.operators.test_extract_through_airflow import truth, without_row_numbers
from tests.operators.test_replicate import edit
from tests.replica_checks import differences, stored

DAG_ID = "reliability_kill_and_retry"
REPLICA_DAG_ID = "reliability_kill_replication"
RECORDS = 2_000
PAGE_SIZE = 20
LATENCY_MS = 200
KILL_AFTER_PAGES = 5
# 3.3's task runner calls on_kill and the hook refuses the next page; 3.0's runners raise on "received SIGTERM".
KILL_REASONS = ("was terminated (the task is being killed)", "received SIGTERM")
DAGS_TEST = "dags-test"
WORKER = "task-sdk-worker"
WORKER_SCRIPT = Path(__file__).with_name("task_sdk_worker.py")
TABLES = ("SalesOrder", "SalesOrder__Details")

DAG = textwrap.dedent(
    """
    from datetime import datetime

    from airflow.providers.common.compat.sdk import DAG
    from airflow_provider_acumatica.operators.extract import AcumaticaExtractOperator

    with DAG("{dag_id}", schedule=None, start_date=datetime(2026, 1, 1), catchup=False):
        AcumaticaExtractOperator(
            task_id="extract", entity="SalesOrder", page_size={page_size}, retries=0,
            output_path="{out}/orders.jsonl",
        )
    """
)
REPLICA_DAG = textwrap.dedent(
    """
    from datetime import datetime

    from airflow.providers.common.compat.sdk import DAG
    from airflow_provider_acumatica.operators.replicate import AcumaticaReplicateOperator

    with DAG("{dag_id}", schedule=None, start_date=datetime(2026, 1, 1), catchup=False):
        AcumaticaReplicateOperator(
            task_id="replicate", entity="SalesOrder", page_size={page_size}, retries=0, details=["Details"],
            table_base="{lake}",
        )
    """
)


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    config = SandboxConfig(records=50, entity_records={"SalesOrder": RECORDS}, changes_per_hour=0)
    with SandboxServer(config) as running:
        yield running


def served_pages(server: SandboxServer) -> int:
    return int(server.stats()["routes"].get("contract", {}).get("200", 0))


def command(runner: str, dag_id: str, task_id: str) -> list[str]:
    if runner == DAGS_TEST:
        return [sys.executable, "-m", "airflow", "dags", "test", dag_id]
    return [sys.executable, str(WORKER_SCRIPT), dag_id, task_id, f"{dag_id}.py"]


def task_process(process: subprocess.Popen[bytes], runner: str) -> psutil.Process:
    """The CLI itself for `dags test`; for a worker, the task runner the supervisor forked (what Airflow signals)."""
    if runner == DAGS_TEST:
        return psutil.Process(process.pid)
    (task_runner,) = psutil.Process(process.pid).children()
    return task_runner


def run_and_terminate(
    home: AirflowHome, env: dict[str, str], task: tuple[str, str, str], server: SandboxServer, log: Path
) -> str:
    """Run the task (runner, DAG id, task id), SIGTERM its process once it has pulled a few pages; return the log."""
    runner = task[0]
    environment = home.environment(env)
    subprocess.run(
        [sys.executable, "-m", "airflow", "dags", "reserialize"], env=environment, capture_output=True, check=True
    )
    with log.open("w") as sink:
        process = subprocess.Popen(command(*task), env=environment, stdout=sink, stderr=sink)
        try:
            wait_for_pages(server, process, log)
            task_process(process, runner).send_signal(signal.SIGTERM)
            process.wait(timeout=DAG_RUN_TIMEOUT)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    return log.read_text()


def wait_for_pages(server: SandboxServer, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + DAG_RUN_TIMEOUT
    while served_pages(server) < KILL_AFTER_PAGES:
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"The task never reached page {KILL_AFTER_PAGES}:\n{log.read_text()[-4000:]}")
        time.sleep(0.02)


RUNNERS = [
    DAGS_TEST,
    pytest.param(
        WORKER,
        marks=pytest.mark.skipif(
            not airflow_version.startswith("3.0."),
            reason="the SDK's dry-run client starts no task after 3.0; on 3.3 `dags test` runs the SDK task runner",
        ),
    ),
]


@pytest.mark.parametrize("runner", RUNNERS)
def test_sigterm_signs_out_leaves_no_file_and_the_retry_lands_it_whole(
    airflow_home: AirflowHome, server: SandboxServer, tmp_path: Path, runner: str
) -> None:
    out = tmp_path / "out"
    airflow_home.write_dag(DAG_ID, DAG.format(dag_id=DAG_ID, page_size=PAGE_SIZE, out=out))
    env = {"AIRFLOW_CONN_ACUMATICA_DEFAULT": connection(server.base_url, "session")}
    server.reset(faults=True)
    server.set_faults(latency_ms=LATENCY_MS)

    killed = run_and_terminate(airflow_home, env, (runner, DAG_ID, "extract"), server, tmp_path / "killed.log")
    stats = server.stats()
    assert KILL_AFTER_PAGES <= served_pages(server) < RECORDS // PAGE_SIZE
    assert any(reason in killed for reason in KILL_REASONS), killed[-4000:]
    assert "sessions opened 1 / closed 1" in killed
    assert stats["logouts"] == stats["logins"] == 1
    assert stats["seats_in_use"] == 0
    assert list(out.glob("*")) == []

    server.reset(faults=True)
    retry = airflow_home.test_dag(DAG_ID, env)
    assert retry.succeeded, retry.output[-4000:]
    lines = (out / "orders.jsonl").read_text().splitlines()
    assert [without_row_numbers(json.loads(line)) for line in lines] == truth(server, "SalesOrder")
    assert retry.xcoms["extract"]["records"] == RECORDS
    assert list(out.glob("*")) == [out / "orders.jsonl"]
    assert server.stats()["seats_in_use"] == 0


@pytest.mark.parametrize("runner", RUNNERS)
def test_sigterm_during_a_replication_keeps_every_table_and_the_retry_lands_the_erp(
    airflow_home: AirflowHome, server: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, runner: str
) -> None:
    lake = tmp_path / "lake"
    airflow_home.write_dag(REPLICA_DAG_ID, REPLICA_DAG.format(dag_id=REPLICA_DAG_ID, page_size=PAGE_SIZE, lake=lake))
    env = {"AIRFLOW_CONN_ACUMATICA_DEFAULT": connection(server.base_url, "session")}
    server.reset(faults=True)
    monkeypatch.setenv("AIRFLOW_CONN_ACUMATICA_DEFAULT", env["AIRFLOW_CONN_ACUMATICA_DEFAULT"])
    AcumaticaReplicateOperator(task_id="load", entity="SalesOrder", table_base=str(lake), details=["Details"]).execute(
        {}
    )
    loaded = {table: stored(f"{lake}/{table}") for table in TABLES}
    edit(server, "SalesOrder", 7, inserts=5, updates=20, deletes=5)
    server.reset(faults=True)
    server.set_faults(latency_ms=LATENCY_MS)

    task = (runner, REPLICA_DAG_ID, "replicate")
    killed = run_and_terminate(airflow_home, env, task, server, tmp_path / "killed.log")
    stats = server.stats()
    assert KILL_AFTER_PAGES <= served_pages(server) < RECORDS // PAGE_SIZE
    assert any(reason in killed for reason in KILL_REASONS), killed[-4000:]
    assert stats["logouts"] == stats["logins"] == 1
    assert stats["seats_in_use"] == 0
    for table in TABLES:
        assert DeltaTable(f"{lake}/{table}").version() == 0, table
        assert stored(f"{lake}/{table}") == loaded[table], table

    server.reset(faults=True)
    retry = airflow_home.test_dag(REPLICA_DAG_ID, env)
    assert retry.succeeded, retry.output[-4000:]
    assert differences(server.base_url, str(lake), "SalesOrder", ("Details",)) == []
    assert server.stats()["seats_in_use"] == 0
