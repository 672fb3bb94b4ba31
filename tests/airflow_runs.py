"""Running DAGs through Airflow itself (`airflow dags test`) in a throwaway Airflow home.

Operator tests go through a real task run: template rendering, XCom, asset events and the task
runner's error handling are part of what is tested, not only `execute()`.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DAG_RUN_TIMEOUT = 300


@dataclass
class DagRunResult:
    returncode: int
    output: str
    xcoms: dict[str, Any]
    states: dict[str, str]

    @property
    def succeeded(self) -> bool:
        return self.returncode == 0 and bool(self.states) and all(s == "success" for s in self.states.values())


class AirflowHome:
    """An Airflow home with a migrated SQLite database and a DAG folder tests write into.

    `python` is the interpreter whose Airflow runs (default: the test's own); with `isolated`, commands
    run from the home with neither the source tree nor `PYTHONPATH` on `sys.path`, so only what is
    installed in that interpreter's environment is imported.
    """

    def __init__(self, root: Path, python: str = sys.executable, isolated: bool = False) -> None:
        self.root = root
        self.python = python
        self.isolated = isolated
        self.dags = root / "dags"
        self.dags.mkdir(parents=True, exist_ok=True)
        self._run(["db", "migrate"], {})

    def environment(self, extra: dict[str, str]) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW_CONN_")}
        env.update(
            {
                "AIRFLOW_HOME": str(self.root),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
                **extra,
            }
        )
        if self.isolated:
            env.pop("PYTHONPATH", None)
            env["PATH"] = os.pathsep.join([str(Path(self.python).parent), env.get("PATH", "")])
        return env

    def _run(self, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.python, "-m", "airflow", *args],
            env=self.environment(env),
            cwd=self.root if self.isolated else None,
            capture_output=True,
            text=True,
            timeout=DAG_RUN_TIMEOUT,
            check=False,
        )

    def airflow(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """One `airflow` CLI command in this home."""
        return self._run(list(args), env or {})

    def write_dag(self, name: str, source: str) -> None:
        (self.dags / f"{name}.py").write_text(source)

    def test_dag(
        self,
        dag_id: str,
        env: dict[str, str],
        logical_date: str | None = None,
        extra_args: list[str] | None = None,
    ) -> DagRunResult:
        self._run(["dags", "reserialize"], env)
        args = ["dags", "test", dag_id, *([logical_date] if logical_date else []), *(extra_args or [])]
        completed = self._run(args, env)
        output = completed.stdout + completed.stderr
        return DagRunResult(completed.returncode, output, self._xcoms(dag_id), self._states(dag_id))

    def _query(self, sql: str, dag_id: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.root / "airflow.db") as db:
            run_id = db.execute(
                "SELECT run_id FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", (dag_id,)
            ).fetchone()
            return db.execute(sql, (dag_id, run_id[0] if run_id else "")).fetchall()

    def _xcoms(self, dag_id: str) -> dict[str, Any]:
        rows = self._query(
            "SELECT task_id, map_index, value FROM xcom WHERE dag_id = ? AND run_id = ? AND key = 'return_value'",
            dag_id,
        )
        return {task if index < 0 else f"{task}[{index}]": _decode(value) for task, index, value in rows}

    def _states(self, dag_id: str) -> dict[str, str]:
        rows = self._query(
            "SELECT task_id, map_index, state FROM task_instance WHERE dag_id = ? AND run_id = ?", dag_id
        )
        return {task if index < 0 else f"{task}[{index}]": str(state) for task, index, state in rows}


def _decode(value: Any) -> Any:
    """XCom values are JSON; Airflow 3.0 stores them JSON-encoded twice."""
    decoded = json.loads(value) if isinstance(value, str | bytes) else value
    return json.loads(decoded) if isinstance(decoded, str) and decoded[:1] in "{[" else decoded
