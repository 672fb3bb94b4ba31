"""
### Acumatica daily data pull

Every day, pulls what changed in Acumatica during the day's data interval for Customer, Vendor,
StockItem, SalesOrder (with its Details), SalesInvoice and Payment: one mapped
`AcumaticaExtractOperator` task per entity, each filtering on the entity's last-modified field
(`incremental_field="auto"`: `field gt start and field le end`, so consecutive days neither miss
nor repeat a record). Files land under

    {output_base}/dt=YYYY-MM-DD/entity=<Entity>/<entity>.<format>

and appear only when complete. A last task publishes the manifests as the asset
`x-acumatica://data-pull/daily`, which `acumatica_data_ready` is scheduled on.

**Seats.** Every task runs in the Airflow pool `acumatica_api`: size it to the license's API seats
(a trial license has 2), so the DAG never gets "API Login Limit". Each task signs out when it ends,
also when it fails or is killed.

**Two layers of retries.**

1. Inside a task, the hook answers a 401 (expired session or token) by signing in once and replaying
   the request, and retries 429, 502-504, dropped connections and garbled bodies with exponential
   backoff, honouring `Retry-After`. A page is never lost or duplicated by these retries.
2. If a task still fails (for example the instance is down for longer than the hook's retry
   budget), Airflow retries the whole task with exponential backoff (`retries`,
   `retry_exponential_backoff`). A rejected password or an unknown entity is not retried at all:
   those errors fail the task immediately with what to fix.

**Settings.** Params `conn_id`, `output_base` (default: the Airflow Variable `acumatica_output_base`,
else `$AIRFLOW_HOME/data/acumatica`) and `output_format` (`jsonl` or `parquet`). No work happens
when the file is parsed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.providers.common.compat.sdk import Asset, AssetAlias, Param, dag, get_current_context, task
from airflow.timetables.interval import CronDataIntervalTimetable

from airflow_provider_acumatica.operators.extract import AcumaticaExtractOperator
from airflow_provider_acumatica.output.defaults import output_base

DAILY_PULL = Asset("x-acumatica://data-pull/daily")
ENTITIES: dict[str, dict[str, str]] = {
    "Customer": {},
    "Vendor": {},
    "StockItem": {},
    "SalesOrder": {"expand": "Details"},
    "SalesInvoice": {},
    "Payment": {},
}


@dag(
    dag_id="acumatica_data_pull",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["acumatica", "extract"],
    params={
        "conn_id": Param("acumatica_default", type="string", description="Acumatica connection id."),
        "output_base": Param(
            "", type="string", description="Where files land (empty: Variable acumatica_output_base)."
        ),
        "output_format": Param("jsonl", enum=["jsonl", "parquet"], description="File format."),
    },
    default_args={
        "owner": "data-engineering",
        "retries": 3,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=30),
        "pool": "acumatica_api",
    },
)
def acumatica_data_pull() -> None:
    @task
    def plan() -> list[dict[str, Any]]:
        """One set of arguments per entity, with a date- and entity-partitioned output path."""
        context = get_current_context()
        params = context["params"]
        day = context["data_interval_start"].strftime("%Y-%m-%d")
        base = output_base(params["output_base"])
        fmt = params["output_format"]
        return [
            {
                "entity": entity,
                "acumatica_conn_id": params["conn_id"],
                "output_path": f"{base}/dt={day}/entity={entity}/{entity.lower()}.{fmt}",
                "output_format": fmt,
                **options,
            }
            for entity, options in ENTITIES.items()
        ]

    extracts = AcumaticaExtractOperator.partial(
        task_id="extract",
        # The operator's default alias, declared so that the dag-processor registers it: left to the mapped
        # tasks, the first ones to finish at the same time both insert it and one fails on a unique key.
        outlets=[AssetAlias("acumatica:acumatica_data_pull.extract")],
        incremental_field="auto",
        page_size=1000,
        execution_timeout=timedelta(hours=2),
    ).expand_kwargs(plan())

    @task(outlets=[DAILY_PULL])
    def publish(manifests: list[dict[str, Any]]) -> dict[str, Any]:
        """One asset event for the whole day, carrying every entity's manifest."""
        summary = {"entities": {m["entity"]: m for m in manifests}, "records": sum(m["records"] for m in manifests)}
        get_current_context()["outlet_events"][DAILY_PULL].extra = summary
        return {"records": summary["records"], "files": [m["path"] for m in manifests]}

    publish(extracts.output)


acumatica_data_pull()
