"""Airflow 3 as it is deployed: scheduler, dag-processor, triggerer and api-server as separate processes.

They share one PostgreSQL metadata database and are configured only through `AIRFLOW__…`
environment variables, as in a container deployment. The LocalExecutor runs each task in a process
forked from the scheduler; the CeleryExecutor variant starts Celery workers (Redis as the broker),
each under its own host name as on separate machines. Either way the task reaches the api-server's
Execution API over HTTP for connections, Variables, XComs and state. DAG runs are driven through the
public REST API.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from cryptography.fernet import Fernet

from tests.deployment.processes import ManagedProcess, free_port, stop_all
from tests.deployment.worker_identity import VARIABLE as HOSTNAME_VARIABLE

ROOT = Path(__file__).resolve().parents[2]

COMPONENTS = ("scheduler", "dag-processor", "triggerer", "api-server")
CLI_TIMEOUT = 180
HTTP_TIMEOUT = 10
POLL_SECONDS = 1.0
PROBLEM_STATES = {"failed", "up_for_retry", "upstream_failed"}
LOG_TAIL_CHARS = 6000


class DeploymentError(AssertionError):
    """The deployment or a DAG run in it did not do what it should; the message says what each part did."""


@dataclass(frozen=True)
class CeleryWorkers:
    """The CeleryExecutor's broker and the workers to start, one per host name."""

    broker_url: str
    hostnames: tuple[str, ...]
    concurrency: int = 2
    # Seconds without a heartbeat after which the scheduler fails (and so retries) a task of a lost worker.
    heartbeat_timeout: int = 30


class AirflowDeployment:
    """An Airflow home under `root` whose components run until `stop()`."""

    def __init__(self, root: Path, database_url: str, dags_folder: Path, celery: CeleryWorkers | None = None) -> None:
        self.home = root / "airflow-home"
        self.output_folder = root / "component-output"
        self.api_port = free_port()
        self.celery = celery
        self.environment = self._environment(database_url, dags_folder)
        if celery is not None:
            self.environment.update(celery_environment(celery, database_url))
        self._components: list[ManagedProcess] = []
        self._workers: dict[str, ManagedProcess] = {}
        self._lost: list[ManagedProcess] = []

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def logs_folder(self) -> Path:
        return self.home / "logs"

    def _environment(self, database_url: str, dags_folder: Path) -> dict[str, str]:
        """Nothing inherited from the developer's Airflow settings; the same settings for every component."""
        inherited = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "_AIRFLOW"))}
        return {
            **inherited,
            # The log servers' gunicorn puts its control socket under HOME: keep it inside the test's folder.
            "HOME": str(self.home.parent),
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(64),
            # Airflow 3.0 puts `iss: null` into its tokens when no issuer is set, which PyJWT 2.10+ refuses to sign.
            "AIRFLOW__API_AUTH__JWT_ISSUER": "airflow-provider-acumatica-deployment-test",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database_url,
            # Only the runs the test triggers: no scheduled run competing for the pool and the seats.
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        }

    def cli(self, *args: str) -> None:
        """Run `airflow <args>` against this deployment, as an operator types it."""
        completed = subprocess.run(
            [sys.executable, "-m", "airflow", *args],
            env=self.environment,
            cwd=self.home.parent,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
            check=False,
        )
        if completed.returncode != 0:
            raise DeploymentError(f"airflow {' '.join(args[:2])} failed ({completed.returncode}):\n{completed.stderr}")

    def start(self) -> None:
        for name in COMPONENTS:
            self._components.append(self._start_component(name, f"{name}.log"))
        for hostname in self.celery.hostnames if self.celery else ():
            self._start_worker(hostname)

    def _start_component(self, name: str, output_name: str) -> ManagedProcess:
        args = [name]
        if name == "api-server":
            args += ["--host", "127.0.0.1", "--port", str(self.api_port), "--workers", "1"]
        return ManagedProcess(
            name,
            [sys.executable, "-m", "airflow", *args],
            env=self.environment,
            output_path=self.output_folder / output_name,
            cwd=self.home.parent,
        )

    def kill_and_restart(self, name: str) -> None:
        """`kill -9` of one component and everything it forked, then a new one, as a supervisor restarts it."""
        (component,) = [component for component in self._components if component.name == name]
        component.kill()
        self._components.remove(component)
        self._lost.append(component)
        restarts = sum(lost.name == name for lost in self._lost)
        self._components.append(self._start_component(name, f"{name}-restart-{restarts}.log"))

    def _start_worker(self, hostname: str) -> None:
        assert self.celery is not None
        command = [sys.executable, "-m", "airflow", "celery", "worker", "--celery-hostname", f"{hostname}@%h"]
        command += ["--concurrency", str(self.celery.concurrency)]
        own = {HOSTNAME_VARIABLE: hostname, "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port())}
        worker = ManagedProcess(
            f"worker {hostname}",
            command,
            env={**self.environment, **own},
            output_path=self.output_folder / f"worker-{hostname}.log",
            cwd=self.home.parent,
        )
        self._workers[hostname] = worker
        self._components.append(worker)

    def kill_worker(self, hostname: str) -> None:
        """The worker machine is lost: the worker, its pool and the task processes die at once."""
        worker = self._workers.pop(hostname)
        worker.kill()
        self._components.remove(worker)
        self._lost.append(worker)

    def stop(self) -> None:
        stop_all(self._components)

    def describe_components(self) -> str:
        return "\n".join(component.describe() for component in self._components)

    def dead_components(self) -> list[str]:
        return [component.name for component in self._components if not component.running()]

    def component_output(self) -> str:
        """Everything the components printed to stdout and stderr, killed workers included."""
        return "\n".join(component.output() for component in [*self._components, *self._lost])

    def task_logs(self) -> str:
        """Every file under the logs folder: task logs and the components' own log files."""
        files = sorted(path for path in self.logs_folder.rglob("*") if path.is_file())
        return "\n".join(path.read_text(errors="replace") for path in files)

    def task_log(self, dag_id: str, run_id: str, task_id: str, map_index: int) -> str:
        """The end of the log file of every attempt of one task instance; empty if it never started."""
        folder = self.logs_folder / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        if map_index >= 0:
            folder /= f"map_index={map_index}"
        attempts = sorted(folder.glob("attempt=*.log"))
        return "\n".join(path.read_text(errors="replace")[-LOG_TAIL_CHARS:] for path in attempts)


class AirflowApi:
    """The public REST API (`/api/v2`), with a token from the Simple auth manager's all-admins mode."""

    def __init__(self, deployment: AirflowDeployment) -> None:
        self.deployment = deployment
        self.session = requests.Session()

    def __enter__(self) -> AirflowApi:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.session.close()

    def wait_until_healthy(self, timeout: float) -> None:
        """Until the api-server answers and has seen a heartbeat of the scheduler, dag-processor and triggerer."""
        deadline = time.monotonic() + timeout
        health: dict[str, Any] | str = "no answer yet"
        while not _all_healthy(health):
            if time.monotonic() > deadline or self.deployment.dead_components():
                raise DeploymentError(f"Airflow is not healthy: {health}\n{self.deployment.describe_components()}")
            time.sleep(POLL_SECONDS)
            health = self._health()

    def sign_in(self) -> None:
        """`GET /auth/token` hands out an admin token without credentials in all-admins mode (3.0 to 3.3)."""
        answer = self.session.get(f"{self.deployment.api_url}/auth/token", timeout=HTTP_TIMEOUT)
        if not answer.ok:
            raise DeploymentError(
                f"GET /auth/token: HTTP {answer.status_code}\n{self.deployment.describe_components()}"
            )
        self.session.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"

    def _health(self) -> dict[str, Any] | str:
        try:
            answer = self.session.get(f"{self.deployment.api_url}/api/v2/monitor/health", timeout=HTTP_TIMEOUT)
        except requests.ConnectionError as error:
            return f"api-server not reachable ({error.__class__.__name__})"
        return dict(answer.json()) if answer.ok else f"HTTP {answer.status_code}"

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = self.session.request(method, f"{self.deployment.api_url}/api/v2{path}", timeout=HTTP_TIMEOUT, **kwargs)
        if not answer.ok:
            raise DeploymentError(f"{method} /api/v2{path}: HTTP {answer.status_code} {answer.text}")
        return answer.json()

    def wait_for_dags(self, dag_ids: list[str], timeout: float) -> None:
        """Until the dag-processor has parsed and serialized every one of them."""
        deadline = time.monotonic() + timeout
        while missing := sorted(set(dag_ids) - self._known_dags()):
            if time.monotonic() > deadline:
                errors = self.call("GET", "/importErrors")
                raise DeploymentError(f"DAGs never appeared: {missing}; import errors: {errors}")
            time.sleep(POLL_SECONDS)

    def _known_dags(self) -> set[str]:
        return {dag["dag_id"] for dag in self.call("GET", "/dags", params={"limit": 100})["dags"]}

    def unpause(self, dag_id: str) -> None:
        self.call("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def pause(self, dag_id: str) -> None:
        self.call("PATCH", f"/dags/{dag_id}", json={"is_paused": True})

    def dag_runs(self, dag_id: str, *states: str) -> list[dict[str, Any]]:
        """The DAG's runs, oldest first, in any of `states` (all when none is named)."""
        params: dict[str, Any] = {"limit": 100, "order_by": "id", "state": list(states)}
        return list(self.call("GET", f"/dags/{dag_id}/dagRuns", params=params)["dag_runs"])

    def trigger(self, dag_id: str, logical_date: str | None, conf: dict[str, Any]) -> str:
        run = self.call("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": logical_date, "conf": conf})
        return str(run["dag_run_id"])

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        answer = self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 100})
        return list(answer["task_instances"])

    def wait_for_success(
        self, dag_id: str, run_id: str, timeout: float, retries_expected: bool = False
    ) -> dict[str, Any]:
        """The finished run; fails as soon as a task fails or is up for retry, with the logs of what went wrong.

        Without faults nothing should ever be retried, so a retry is a bug; a test that loses a worker on
        purpose expects one and waits through it.
        """
        started = time.monotonic()
        problems = {"failed", "upstream_failed"} if retries_expected else PROBLEM_STATES
        while True:
            run: dict[str, Any] = self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}")
            if run["state"] == "success":
                return run
            tasks = self.task_instances(dag_id, run_id)
            gave_up = run["state"] == "failed" or time.monotonic() - started > timeout
            if gave_up or any(task["state"] in problems for task in tasks) or self.deployment.dead_components():
                raise DeploymentError(self._failure_report(run, tasks, time.monotonic() - started))
            time.sleep(POLL_SECONDS)

    def _failure_report(self, run: dict[str, Any], tasks: list[dict[str, Any]], waited: float) -> str:
        dag_id, run_id = run["dag_id"], run["dag_run_id"]
        lines = [f"{dag_id} run {run_id} is {run['state']} after {waited:.0f} s. Task instances:"]
        lines += [f"  {task['task_id']}[{task['map_index']}]: {task['state']}" for task in tasks]
        for task in tasks:
            log = self.deployment.task_log(dag_id, run_id, task["task_id"], task["map_index"])
            if task["state"] != "success" and log:
                lines.append(f"--- log of {task['task_id']}[{task['map_index']}]:\n{log}")
        lines.append(self.deployment.describe_components())
        return "\n".join(lines)


def celery_environment(celery: CeleryWorkers, database_url: str) -> dict[str, str]:
    """Every component reports its host name through `worker_identity`, importable from the repository root."""
    timeout = str(celery.heartbeat_timeout)
    return {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CELERY__BROKER_URL": celery.broker_url,
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{database_url}",
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "tests.deployment.worker_identity.hostname",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": timeout,
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }


def _all_healthy(health: dict[str, Any] | str) -> bool:
    if isinstance(health, str):
        return False
    parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
    return all((health.get(part) or {}).get("status") == "healthy" for part in parts)
