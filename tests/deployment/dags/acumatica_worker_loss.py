"""
### One long extract, for the worker-loss test

A Customer pull in small pages, slowed by the sandbox's latency, so that a worker can be killed while
the task runs. Retried after two seconds, on whichever worker takes it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.providers.common.compat.sdk import DAG, Param

from airflow_provider_acumatica.operators.extract import AcumaticaExtractOperator

with DAG(
    dag_id="acumatica_worker_loss",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    doc_md=__doc__,
    tags=["acumatica", "test"],
    params={"output_path": Param("", type="string", description="Where the file lands.")},
    default_args={"retries": 2, "retry_delay": timedelta(seconds=2), "pool": "acumatica_api"},
):
    AcumaticaExtractOperator(task_id="extract", entity="Customer", output_path="{{ params.output_path }}", page_size=10)
