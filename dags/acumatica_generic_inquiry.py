"""
### Acumatica generic inquiry

Pulls one generic inquiry over OData v4 (`/t/<tenant>/api/odata/gi/<inquiry>`) into one file,
daily. The inquiry must be published with **Expose via OData** on Generic Inquiry (SM208000), and
the connection needs the `tenant` (or a client ID ending in `@Tenant`). HTTP Basic (`auth_type`
`basic`) is what OData expects; OAuth bearer tokens work too.

Params: `conn_id`, `inquiry` (its title, as in the OData URL), `output_base` (default: the
Variable `acumatica_output_base`, else `$AIRFLOW_HOME/data/acumatica`) and `output_format`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.providers.common.compat.sdk import Param, dag, get_current_context, task

from airflow_provider_acumatica.operators.generic_inquiry import AcumaticaGenericInquiryOperator
from airflow_provider_acumatica.output.defaults import output_base


@dag(
    dag_id="acumatica_generic_inquiry",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["acumatica", "extract", "odata"],
    params={
        "conn_id": Param("acumatica_default", type="string"),
        "inquiry": Param("BI-Customers", type="string", description="Generic inquiry title."),
        "output_base": Param("", type="string"),
        "output_format": Param("csv", enum=["jsonl", "csv", "parquet"]),
    },
    default_args={
        "owner": "data-engineering",
        "retries": 3,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": True,
        "pool": "acumatica_api",
    },
)
def acumatica_generic_inquiry() -> None:
    @task
    def plan() -> list[dict[str, Any]]:
        context = get_current_context()
        params = context["params"]
        day = context["logical_date"].strftime("%Y-%m-%d") if context.get("logical_date") else "manual"
        name = params["inquiry"]
        safe = "".join(c if c.isalnum() else "_" for c in name)
        path = f"{output_base(params['output_base'])}/dt={day}/inquiry={safe}/{safe}.{params['output_format']}"
        return [
            {
                "inquiry": name,
                "acumatica_conn_id": params["conn_id"],
                "output_format": params["output_format"],
                "output_path": path,
            }
        ]

    AcumaticaGenericInquiryOperator.partial(
        task_id="pull", page_size=1000, execution_timeout=timedelta(hours=1)
    ).expand_kwargs(plan())


acumatica_generic_inquiry()
