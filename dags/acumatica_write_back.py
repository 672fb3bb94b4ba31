"""
### Acumatica write-back

Pushes a file of customer updates (JSON Lines, CSV or Parquet in the flat shape the extracts write, e.g.
`{"CustomerID": "C0000001", "CreditLimit": 2500}`) into Acumatica with one keyed PUT per record, then a
summary task fails the run when the share of rejected records exceeds `max_reject_share`. Every record's
outcome (inserted, updated, unchanged or rejected with the server's field messages, and what the read-back
found different) is in the results file, published as the asset `x-acumatica://write-back/customer-results`.

Params: `conn_id`, `input_path` (a path or a URI), `results_path` (default: beside the input),
`max_reject_share`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.providers.common.compat.sdk import Asset, Param, dag, task

from airflow_provider_acumatica.operators.upsert import AcumaticaUpsertOperator

RESULTS = Asset("x-acumatica://write-back/customer-results")


@dag(
    dag_id="acumatica_write_back",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["acumatica", "write-back"],
    params={
        "conn_id": Param("acumatica_default", type="string"),
        "input_path": Param("/data/acumatica/customer_updates.jsonl", type="string"),
        "results_path": Param("", type="string"),
        "max_reject_share": Param(0.05, type="number", minimum=0, maximum=1),
    },
    default_args={
        "owner": "data-engineering",
        "retries": 1,
        "retry_delay": timedelta(minutes=2),
    },  # keyed PUTs are idempotent
)
def acumatica_write_back() -> None:
    upsert = AcumaticaUpsertOperator(
        task_id="upsert",
        acumatica_conn_id="{{ params.conn_id }}",
        entity="Customer",
        input_path="{{ params.input_path }}",
        results_path="{{ params.results_path or params.input_path.rsplit('.', 1)[0] + '.results.jsonl' }}",
        key_fields=["CustomerID"],
        verify=True,
        max_rejects=10**9,  # the summary applies the share, so the results are always published first
        outlets=[RESULTS],
    )

    @task
    def summary(manifest: dict[str, Any], params: dict[str, Any] | None = None) -> dict[str, Any]:
        return check_rejects(manifest, float((params or {}).get("max_reject_share", 0.05)))

    summary(upsert.output)


def check_rejects(manifest: dict[str, Any], max_share: float) -> dict[str, Any]:
    """The counts, or a failure naming the results file when too many records were rejected."""
    records = manifest["records"]
    share = manifest["rejected"] / records if records else 0.0
    if share > max_share:
        raise ValueError(
            f"{manifest['rejected']} of {records} records were rejected ({share:.0%} > {max_share:.0%}); "
            f"see {manifest['results_path']}."
        )
    return {key: manifest[key] for key in ("records", "inserted", "updated", "unchanged", "rejected", "mismatched")}


acumatica_write_back()
