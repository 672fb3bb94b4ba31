"""The compose stack's wiring, checked as data: these machines cannot run Docker."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_SERVICES = {
    "airflow-init": None,
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
    "airflow-worker": "celery worker",
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "docker" / "docker-compose.yaml").read_text())
    return document


def test_every_airflow_component_and_the_sandbox_are_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {*AIRFLOW_SERVICES, "postgres", "redis", "sandbox"}
    for name, command in AIRFLOW_SERVICES.items():
        if command:
            assert services[name]["command"] == command, name
        assert services[name]["image"] == "airflow-provider-acumatica:local"
        assert services[name]["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    assert services["airflow-worker"]["deploy"]["replicas"] >= 2


def test_airflow_runs_celery_on_postgres_with_the_dags_mounted(compose: dict[str, Any]) -> None:
    env = compose["services"]["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    volumes = compose["services"]["airflow-worker"]["volumes"]
    assert "../dags:/opt/airflow/dags" in volumes
    assert (ROOT / "dags" / "acumatica_data_pull.py").exists()


def test_the_connection_points_at_the_sandbox_service(compose: dict[str, Any]) -> None:
    env = compose["services"]["airflow-worker"]["environment"]
    conn = json.loads(env["AIRFLOW_CONN_ACUMATICA_DEFAULT"])
    sandbox = compose["services"]["sandbox"]
    port = sandbox["command"][sandbox["command"].index("--port") + 1]
    assert conn["conn_type"] == "acumatica"
    assert conn["host"] == f"http://sandbox:{port}"
    assert conn["extra"]["allow_insecure_http"] is True
    assert conn["extra"]["auth_type"] == "oauth2_password"
    assert sandbox["entrypoint"] == ["acumatica-sandbox"]
    assert "0.0.0.0" in sandbox["command"]
    assert env["AIRFLOW_VAR_ACUMATICA_OUTPUT_BASE"].startswith("/opt/airflow/")


def test_init_creates_the_pool_one_below_the_sandbox_seats(compose: dict[str, Any]) -> None:
    init = " ".join(compose["services"]["airflow-init"]["command"])
    assert "airflow db migrate" in init
    sandbox = compose["services"]["sandbox"]["command"]
    seats = int(sandbox[sandbox.index("--max-seats") + 1])
    # As in tests/deployment/test_celery_deployment.py: one seat spare for a task of a lost worker.
    assert f"airflow pools set acumatica_api {seats - 1} " in init
    for name in AIRFLOW_SERVICES:
        if name != "airflow-init":
            depends = compose["services"][name]["depends_on"]
            assert depends["airflow-init"]["condition"] == "service_completed_successfully"
            assert depends["sandbox"]["condition"] == "service_healthy"


def test_celery_settings_are_those_the_celery_deployment_test_runs(compose: dict[str, Any]) -> None:
    """The test's own broker and database, the compose file's services; the same settings otherwise."""
    from tests.deployment.airflow_deployment import CeleryWorkers, celery_environment

    tested = celery_environment(CeleryWorkers("redis://127.0.0.1:1/0", ("worker-a",)), "postgresql+psycopg2://a@b/c")
    env = compose["services"]["airflow-worker"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == tested["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert (
        env["AIRFLOW__CELERY__RESULT_BACKEND"].split("://")[0]
        == tested["AIRFLOW__CELERY__RESULT_BACKEND"].split("://")[0]
    )
    assert env["AIRFLOW__CELERY__BROKER_URL"].split("://")[0] == tested["AIRFLOW__CELERY__BROKER_URL"].split("://")[0]
