"""The main job: replicate the sandbox's endpoint into Delta tables under ./lake with `acumatica_replicate`.

`python3 dev.py demo` runs this inside the project's environment, with its own AIRFLOW_HOME. It migrates the
SQLite metadata database, creates the `acumatica_api` pool, starts the sandbox and runs the DAG with
`airflow dags test` for two consecutive windows: the first loads every table; between the two, the ERP changes
(inserts, updates, detail lines, deletions of a tracked and of an untracked entity). It then prints, for every
table, its row count beside the sandbox's live count and the deletions applied. Running it again starts over.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import requests

from airflow_provider_acumatica.catalog import known_entity
from airflow_provider_acumatica.sandbox import SandboxConfig, SandboxServer

ROOT = Path(__file__).resolve().parent.parent
LAKE = ROOT / "lake"
SEATS = 2


def airflow(*args: str, env: dict[str, str] | None = None, quiet: bool = True) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(
        [sys.executable, "-m", "airflow", *args],
        env=env or dict(os.environ),
        capture_output=quiet,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        sys.exit(
            f"airflow {' '.join(args)} failed:\n{(completed.stdout or '')[-3000:]}{(completed.stderr or '')[-3000:]}"
        )
    return completed


def connection(base_url: str) -> str:
    return json.dumps(
        {
            "conn_type": "acumatica",
            "host": base_url,
            "login": "admin",
            "password": "123",
            "extra": {
                "auth_type": "oauth2_password",
                "client_id": "0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0@Company",
                "client_secret": "sandbox-secret",
            },
        }
    )


ENTITIES = ["Customer", "SalesOrder", "SalesInvoice", "StockItem", "ShipVia", "SalesPricesInquiry"]
EDITS = {
    "SalesOrder": {"inserts": 3, "updates": 5, "deletes": 2},
    "SalesInvoice": {"inserts": 2, "updates": 3, "deletes": 2},
    "Customer": {"inserts": 1, "updates": 4, "deletes": 0},
    "ShipVia": {"inserts": 1, "updates": 0, "deletes": 1},
}


def run_window(env: dict[str, str], start: datetime, end: datetime) -> dict[str, Any]:
    """One DAG run over (start, end]; the replicate tasks' summaries by entity."""
    conf = {
        "table_base": str(LAKE),
        "include": ENTITIES,
        "deletes_by_entity": {"SalesInvoice": "reconcile"},
        "window_start": start.isoformat(),
        "window_end": end.isoformat(),
    }
    logical_date = end.replace(minute=0, second=0, microsecond=0).isoformat()
    run = airflow("dags", "test", "acumatica_replicate", logical_date, "--conf", json.dumps(conf), env=env)
    if "state=success" not in run.stdout + run.stderr:
        sys.exit("The DAG run did not succeed:\n" + (run.stdout + run.stderr)[-4000:])
    return summaries(env)


def summaries(env: dict[str, str]) -> dict[str, Any]:
    """The replicate tasks' XCom of the latest run, read from the metadata database."""
    database = Path(env["AIRFLOW_HOME"]) / "airflow.db"
    with sqlite3.connect(database) as db:
        run_id = db.execute(
            "SELECT run_id FROM dag_run WHERE dag_id = 'acumatica_replicate' ORDER BY id DESC LIMIT 1"
        ).fetchone()[0]
        rows = db.execute(
            "SELECT value FROM xcom WHERE dag_id = 'acumatica_replicate' AND run_id = ? AND task_id = 'replicate' "
            "AND key = 'return_value'",
            (run_id,),
        ).fetchall()
    found = [_decoded(value) for (value,) in rows]
    return {summary["entity"]: summary for summary in found}


def _decoded(value: Any) -> Any:
    decoded = json.loads(value) if isinstance(value, str | bytes) else value
    return json.loads(decoded) if isinstance(decoded, str) else decoded


def live_counts(sandbox: SandboxServer, entity: str, tables: list[str]) -> dict[str, int]:
    """What the ERP holds now: records, and the lines of each detail collection; an inquiry's result rows."""
    info = known_entity("Default", entity)
    if info is not None and info.is_inquiry:
        return {entity: inquiry_rows(sandbox.base_url, entity, str(info.result_field))}
    answer = requests.get(f"{sandbox.base_url}/_sandbox/state/{entity}", timeout=60)
    answer.raise_for_status()
    records = answer.json()
    counts = {entity: len(records)}
    for table in tables:
        if "__" in table:
            detail = table.split("__", 1)[1]
            counts[table] = sum(len(record.get(detail) or []) for record in records)
    return counts


def inquiry_rows(base_url: str, entity: str, result_field: str) -> int:
    """The inquiry's result rows, read as the ERP's own UI user would: one sign-in, one PUT, one sign-out."""
    with requests.Session() as session:
        login = {"name": "admin", "password": "123", "tenant": "Company", "branch": "HQ"}
        session.post(f"{base_url}/entity/auth/login", json=login, timeout=30).raise_for_status()
        try:
            url = f"{base_url}/entity/Default/24.200.001/{entity}"
            answer = session.put(url, params={"$expand": result_field}, json={}, timeout=60)
            answer.raise_for_status()
            return len(answer.json()[result_field])
        finally:
            session.post(f"{base_url}/entity/auth/logout", timeout=30)


def table_rows(uri: str) -> int:
    from deltalake import DeltaTable, QueryBuilder

    reader = QueryBuilder().register("t", DeltaTable(uri)).execute("SELECT count(*) AS n FROM t")
    return int(pa.table(reader.read_all())["n"][0].as_py())


def main() -> int:
    print("Preparing the Airflow metadata database and the acumatica_api pool...", flush=True)
    airflow("db", "migrate")
    airflow("pools", "set", "acumatica_api", str(SEATS), "Acumatica API seats of the license")
    shutil.rmtree(LAKE, ignore_errors=True)
    with SandboxServer(SandboxConfig(max_seats=SEATS, changes_per_hour=0)) as sandbox:
        print(f"Sandbox running at {sandbox.base_url}", flush=True)
        env = {**os.environ, "AIRFLOW_CONN_ACUMATICA_DEFAULT": connection(sandbox.base_url)}
        airflow("dags", "reserialize", env=env)
        first_end = datetime.now(UTC)
        print("Window 1: loading every table (airflow dags test acumatica_replicate)...", flush=True)
        run_window(env, first_end - timedelta(hours=1), first_end)
        for entity, counts in EDITS.items():
            answer = requests.post(
                f"{sandbox.base_url}/_sandbox/changes", json={"entity": entity, "seed": 7, **counts}, timeout=30
            )
            answer.raise_for_status()
        print("The ERP changed: " + "; ".join(f"{e} {c}" for e, c in EDITS.items()), flush=True)
        time.sleep(0.05)
        second_end = datetime.now(UTC)
        print("Window 2: merging the changes and deletions...", flush=True)
        second = run_window(env, first_end, second_end)
        equal = report(sandbox, second)
        seats = sandbox.stats()["seats_in_use"]
    print(f"API seats still in use: {seats}")
    return 0 if equal and seats == 0 else 1


def report(sandbox: SandboxServer, second: dict[str, Any]) -> bool:
    print(f"\nTables under {LAKE.relative_to(ROOT)} after window 2:")
    print(f"{'table':<34}{'rows':>8}{'ERP live':>10}{'deleted':>9}  deletions")
    equal = True
    for entity in sorted(second):
        summary = second[entity]
        live = live_counts(sandbox, entity, list(summary["tables"]))
        for table, result in sorted(summary["tables"].items()):
            rows = table_rows(result["uri"])
            expected = live[table]
            equal &= rows == expected
            mark = "" if rows == expected else "  <- differs"
            print(f"{table:<34}{rows:>8,}{expected:>10,}{result['deleted']:>9,}  {summary['deletes']}{mark}")
    print("\nEvery table equals the ERP." if equal else "\nSome tables differ from the ERP.")
    return equal


if __name__ == "__main__":
    sys.exit(main())
