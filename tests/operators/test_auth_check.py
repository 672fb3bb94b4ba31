"""`AcumaticaAuthCheckOperator` through a real Airflow task run against the sandbox."""

from __future__ import annotations

import textwrap

from airflow_provider_acumatica.sandbox import SandboxServer
from tests.airflow_runs import AirflowHome
from tests.connections import connection, consent_refresh_token

DAG = textwrap.dedent(
    """
    from datetime import datetime

    from airflow.providers.common.compat.sdk import DAG
    from airflow_provider_acumatica.operators.auth_check import AcumaticaAuthCheckOperator

    with DAG("test_auth_check", schedule=None, start_date=datetime(2026, 1, 1), catchup=False):
        AcumaticaAuthCheckOperator(task_id="good", retries=0)
        AcumaticaAuthCheckOperator(task_id="refresh_chain", acumatica_conn_id="acumatica_code", retries=0)
        AcumaticaAuthCheckOperator(task_id="wrong_tenant", acumatica_conn_id="acumatica_tenant", retries=0)
        AcumaticaAuthCheckOperator(task_id="bad_secret", acumatica_conn_id="acumatica_bad", retries=0)
    """
)


def test_auth_check_through_airflow(airflow_home: AirflowHome, sandbox: SandboxServer) -> None:
    airflow_home.write_dag("test_auth_check", DAG)
    refresh_token = consent_refresh_token(sandbox.base_url)
    env = {
        "AIRFLOW_CONN_ACUMATICA_DEFAULT": connection(sandbox.base_url, "oauth2_password"),
        "AIRFLOW_CONN_ACUMATICA_CODE": connection(
            sandbox.base_url, "oauth2_authorization_code", refresh_token=refresh_token
        ),
        "AIRFLOW_CONN_ACUMATICA_TENANT": connection(sandbox.base_url, "oauth2_password", tenant="Other"),
        "AIRFLOW_CONN_ACUMATICA_BAD": connection(sandbox.base_url, "oauth2_password", client_secret="wrong-secret"),
    }
    result = airflow_home.test_dag("test_auth_check", env)
    assert result.states == {
        "good": "success",
        "refresh_chain": "success",
        "wrong_tenant": "failed",
        "bad_secret": "failed",
    }, result.output[-3000:]
    good = result.xcoms["good"]
    assert good["auth_type"] == "oauth2_password"
    assert good["endpoint"] == "Default/24.200.001"
    assert 3500 <= good["token_expires_in_seconds"] <= 3600
    assert good["scopes"] == ["api", "offline_access"]
    assert good["round_trip_ms"] >= 0
    assert "wrong-secret" not in str(result.xcoms)
    assert result.xcoms["refresh_chain"]["auth_type"] == "oauth2_authorization_code"
    assert "client ID belongs to tenant 'Company'" in result.output
    assert "invalid_client" in result.output
    assert "wrong-secret" not in result.output
    stats = sandbox.stats()
    assert stats["token_grants"]["refresh_token"] == 1
    assert stats["seats_in_use"] == 0
