"""
### Acumatica replica in the lake

Every hour, keeps one Delta Lake table per Acumatica entity equal to the ERP: every live record once,
in its latest state, deleted records gone, and each detail collection (e.g. SalesOrder `Details`) in
a child table `{entity}__{detail}` with `parent_id`. Tables land under

    {table_base}/{Entity}            {table_base}/{Entity}__{Detail}

and every table is an Airflow asset (its URI), updated with the commit's summary.

**Tasks.** `discover` lists the endpoint's entities (one sign-in; the shipped map classifies the
`Default` endpoint's): every record entity and inquiry form, narrowed by the `include` and `exclude`
params. `replicate` is an `AcumaticaReplicateOperator` mapped per entity: the interval's changes
merged by `id`, deletions by `deletes` (`auto`: tracked on SM207010 where the DAC is, a daily
reconcile elsewhere), all in one Delta commit per table, recorded with the run so a retry or re-run
changes nothing. Inquiry forms take parameter sets from the `inquiry_parameters` param
(`{"InventorySummaryInquiry": [{"InventoryID": "AALEGO500"}]}`); a form that needs parameters and has
none is skipped with a message saying so.

**One writer per table.** Each run maps one task per entity, and `max_active_runs=1` keeps two runs
from writing the same table at once. On S3 delta-rs commits with conditional writes, so even a
second writer would fail its commit rather than overwrite one.

**Seats and retries.** Every task runs in the pool `acumatica_api` (size it to the licence's API
seats) and signs out when it ends. Inside a task the hook retries 401 once, and 429/5xx with
backoff; Airflow retries a failed task on top (`retries`).

**Settings.** Params `conn_id`, `endpoint_version` (empty: the connection's), `table_base` (empty:
Variable `acumatica_lake_base`, else `$AIRFLOW_HOME/data/lake`), `table_conn_id` (an aws, google or
wasb connection for `s3://`, `gs://`, `az://`), `include`, `exclude`, `inquiry_parameters`,
`deletes`, `deletes_by_entity` (e.g. `{"SalesInvoice": "reconcile"}`), and `window_start`/`window_end`
(ISO 8601, both or neither: a manual run over that window instead of the data interval). No work
happens when the file is parsed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.providers.common.compat.sdk import AssetAlias, Param, dag, get_current_context, task
from airflow.timetables.interval import CronDataIntervalTimetable

from airflow_provider_acumatica.operators.replicate import AcumaticaReplicateOperator

REPLICA_TABLES = AssetAlias("acumatica:acumatica_replicate.replicate")


@dag(
    dag_id="acumatica_replicate",
    schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["acumatica", "lake", "delta"],
    params={
        "conn_id": Param("acumatica_default", type="string", description="Acumatica connection id."),
        "endpoint_version": Param("", type="string", description="Endpoint version (empty: the connection's)."),
        "table_base": Param("", type="string", description="Where tables live (empty: Variable acumatica_lake_base)."),
        "table_conn_id": Param("", type="string", description="Object-store connection for s3://, gs://, az://."),
        "include": Param([], type="array", description="Only these entities (empty: every one)."),
        "exclude": Param([], type="array", description="Never these entities."),
        "inquiry_parameters": Param({}, type="object", description="Inquiry form -> list of parameter sets."),
        "deletes": Param("auto", enum=["auto", "tracked", "reconcile", "none"], description="Deletion mode."),
        "deletes_by_entity": Param({}, type="object", description="Entity -> deletion mode, overriding deletes."),
        "window_start": Param("", type="string", description="ISO 8601 start (empty: the data interval's)."),
        "window_end": Param("", type="string", description="ISO 8601 end (empty: the data interval's)."),
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
def acumatica_replicate() -> None:
    @task
    def discover() -> list[dict[str, Any]]:
        """One set of arguments per entity the endpoint has, narrowed by the include and exclude params."""
        from airflow_provider_acumatica.exceptions import AcumaticaConfigError
        from airflow_provider_acumatica.hooks.acumatica import AcumaticaHook
        from airflow_provider_acumatica.output.defaults import lake_base

        params = get_current_context()["params"]
        with AcumaticaHook(params["conn_id"]) as hook:
            entities = hook.discover_entities(params["endpoint_version"] or None)
        chosen = [
            entity
            for entity in entities
            if (not params["include"] or entity.name in params["include"]) and entity.name not in params["exclude"]
        ]
        unknown = sorted(set(params["include"]) - {entity.name for entity in entities})
        if unknown:
            raise AcumaticaConfigError(f"include names entities the endpoint does not have: {', '.join(unknown)}.")
        common = {
            "acumatica_conn_id": params["conn_id"],
            "endpoint_version": params["endpoint_version"] or None,
            "table_base": lake_base(params["table_base"]),
            "table_conn_id": params["table_conn_id"] or None,
            "window_start": params["window_start"] or None,
            "window_end": params["window_end"] or None,
        }
        return [
            {
                **common,
                "entity": entity.name,
                "deletes": params["deletes_by_entity"].get(entity.name, params["deletes"]),
                "parameters": params["inquiry_parameters"].get(entity.name) if entity.is_inquiry else None,
            }
            for entity in chosen
        ]

    AcumaticaReplicateOperator.partial(
        task_id="replicate",
        # Declared here so the dag-processor registers the alias before mapped tasks add events to it at once.
        outlets=[REPLICA_TABLES],
        skip_if_parameters_required=True,
        execution_timeout=timedelta(hours=1),
    ).expand_kwargs(discover())


acumatica_replicate()
