"""
### One action that waits in the triggerer, for the real-deployment test

Releases the sales order `record_id` from hold. The sandbox makes the action run for a few seconds (202),
so the task defers: the triggerer polls the action's status in the session the worker handed over and signs
it out; the worker reads the record's new status back in `execute_complete`.
"""

from __future__ import annotations

from datetime import datetime

from airflow.providers.common.compat.sdk import DAG, Param

from airflow_provider_acumatica.operators.action import AcumaticaActionOperator

with DAG(
    dag_id="acumatica_deferred_action",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    doc_md=__doc__,
    tags=["acumatica", "test"],
    params={"record_id": Param("", type="string", description="The id of a sales order on hold.")},
    default_args={"pool": "acumatica_api"},
):
    AcumaticaActionOperator(
        task_id="release",
        entity="SalesOrder",
        action="ReleaseFromHold",
        record_id="{{ params.record_id }}",
        deferrable=True,
        poll_interval=1.0,
        max_poll_interval=2.0,
        timeout=60,
    )
