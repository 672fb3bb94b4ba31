"""The main job: run the `acumatica_data_pull` DAG in a local Airflow against the sandbox.

`python3 dev.py demo` runs this inside the project's environment, with its own AIRFLOW_HOME. It
migrates the SQLite metadata database, creates the `acumatica_api` pool, starts the sandbox, runs
one data interval (yesterday) with `airflow dags test`, and prints where the files landed with
their record counts. Running it again replaces the files atomically.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from airflow_provider_acumatica.sandbox import SandboxConfig, SandboxServer

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "output"
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


def landed(day: str) -> list[tuple[Path, int]]:
    files = sorted((OUTPUT / f"dt={day}").glob("entity=*/*.jsonl"))
    return [(path, sum(1 for _ in path.open("rb"))) for path in files]


def main() -> int:
    print("Preparing the Airflow metadata database and the acumatica_api pool...", flush=True)
    airflow("db", "migrate")
    airflow("pools", "set", "acumatica_api", str(SEATS), "Acumatica API seats of the license")
    logical_date = datetime.now(UTC).strftime("%Y-%m-%d")
    with SandboxServer(SandboxConfig(max_seats=SEATS)) as sandbox:
        print(f"Sandbox running at {sandbox.base_url}", flush=True)
        env = {**os.environ, "AIRFLOW_CONN_ACUMATICA_DEFAULT": connection(sandbox.base_url)}
        airflow("dags", "reserialize", env=env)
        print(f"Running acumatica_data_pull for the interval ending {logical_date} (airflow dags test)...", flush=True)
        conf = json.dumps({"output_base": str(OUTPUT)})
        run = airflow("dags", "test", "acumatica_data_pull", logical_date, "--conf", conf, env=env)
        seats = sandbox.stats()["seats_in_use"]
    if "state=success" not in run.stdout + run.stderr:
        sys.exit("The DAG run did not succeed:\n" + (run.stdout + run.stderr)[-4000:])
    results = landed(previous_day(logical_date))
    print(f"\nacumatica_data_pull succeeded; files under {OUTPUT}:")
    for path, count in results:
        print(f"{count:>8,} records  {path.relative_to(ROOT)}")
    print(f"{sum(c for _, c in results):>8,} records in total; API seats still in use: {seats}")
    return 0 if seats == 0 and results else 1


def previous_day(day: str) -> str:
    """The partition of a daily run: its data interval starts the day before its logical date."""
    return (datetime.fromisoformat(day) - timedelta(days=1)).strftime("%Y-%m-%d")


if __name__ == "__main__":
    sys.exit(main())
