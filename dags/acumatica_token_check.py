"""
### Acumatica token check

Every 30 minutes, signs in with each Acumatica connection named in the `conn_ids` param (one mapped
task per connection), makes one cheap call, and signs out again.

* For `oauth2_authorization_code` connections the sign-in is a refresh, so this DAG keeps the
  refresh-token chain alive between data pulls.
* A failure names what to fix: an expired client secret, a consent to redo, a full license
  ("API Login Limit"), a TLS problem, a client ID registered in another tenant.
* Retries are short: a sign-in rejected for bad credentials fails at once (Acumatica locks
  accounts after repeated failures); only transient problems are retried.

Each task returns a status manifest (auth type, endpoint reached, seconds until the access token
expires, scopes granted, round-trip milliseconds), never a secret.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.providers.common.compat.sdk import Param, dag, get_current_context, task

from airflow_provider_acumatica.operators.auth_check import AcumaticaAuthCheckOperator


@dag(
    dag_id="acumatica_token_check",
    schedule=timedelta(minutes=30),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["acumatica", "monitoring"],
    params={
        "conn_ids": Param(
            ["acumatica_default"],
            type="array",
            items={"type": "string"},
            minItems=1,
            description="Acumatica connection ids to check.",
        )
    },
    default_args={"owner": "data-engineering", "retries": 2, "retry_delay": timedelta(minutes=2)},
)
def acumatica_token_check() -> None:
    @task
    def connection_ids() -> list[str]:
        """Read at run time, so a manual trigger can check other connections."""
        return [str(conn_id) for conn_id in get_current_context()["params"]["conn_ids"]]

    AcumaticaAuthCheckOperator.partial(task_id="check", execution_timeout=timedelta(minutes=5)).expand(
        acumatica_conn_id=connection_ids()
    )


acumatica_token_check()
