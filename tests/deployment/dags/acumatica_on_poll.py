"""
### An Airflow DAG: the example `acumatica_on_change` woken only by change polling, for the deployment test

Built with the example's own `on_change_dag` (the example file sits beside this one in the DAGs folder):
Customer only, polled every two seconds so that the test measures the run, not the poll interval.
"""

from __future__ import annotations

from acumatica_on_change import OnChangeSettings, on_change_dag

acumatica_on_poll = on_change_dag(
    OnChangeSettings(
        dag_id="acumatica_on_poll",
        triggers=frozenset({"poll"}),
        entities={"Customer": {}},
        queries={"Customer: Last Modified": "Customer"},
        poll_seconds=2.0,
    )
)
