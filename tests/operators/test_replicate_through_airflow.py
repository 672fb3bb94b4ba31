"""Five intervals of replication through Airflow task runs: after each one every table equals the sandbox.

One `airflow dags test` run executes the whole sequence as tasks: edit the ERP (inserts, updates, deletions,
line changes, a custom field published midway, faults in one interval, a change stream editing SalesOrder and
Customer during the pulls of intervals 2 to 4), replicate every entity over the interval that just ended,
check every table and child table against the sandbox's state.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from airflow_provider_acumatica.sandbox import SandboxConfig, SandboxServer
from tests import replica_checks
from tests.airflow_runs import AirflowHome
from tests.connections import connection

INTERVALS = 5

DAG_SOURCE = '''
from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import requests
from airflow.providers.common.compat.sdk import dag, get_current_context, task

from airflow_provider_acumatica.hooks.acumatica import AcumaticaHook
from airflow_provider_acumatica.operators.replicate import AcumaticaReplicateOperator
from tests.replica_checks import differences, stored

SANDBOX = {base_url!r}
LAKE = {lake!r}
ITEMS = {items!r}
INTERVALS = {intervals}
TABLES = {{"SalesOrder": ("Details",), "SalesInvoice": (), "Customer": (), "ShipVia": ()}}
EDITS = {{"SalesOrder": (2, 3, 2), "SalesInvoice": (1, 2, 1), "Customer": (1, 2, 0), "ShipVia": (1, 0, 1)}}
STREAMED = {{"SalesOrder": "SOOrder", "Customer": "Customer"}}
STREAMING = range(2, INTERVALS)
FAULTS = {{"rate_429": 0.15, "rate_502": 0.1, "rate_drop": 0.05, "token_expire_after_requests": 6}}
CALM = {{"rate_429": 0.0, "rate_502": 0.0, "rate_drop": 0.0, "token_expire_after_requests": None}}


def sandbox(path: str, body: dict) -> dict:
    answer = requests.post(f"{{SANDBOX}}/_sandbox/{{path}}", json=body, timeout=30)
    answer.raise_for_status()
    return answer.json()


@task
def edit(number: int) -> dict[str, str]:
    """Change the ERP as users would, then close the interval: it ends once the edits are made."""
    ti = get_current_context()["ti"]
    previous = ti.xcom_pull(task_ids=f"edit_{{number - 1}}") if number > 1 else None
    sandbox("faults", CALM)
    if number > 1:
        for position, (entity, (inserts, updates, deletes)) in enumerate(EDITS.items()):
            sandbox("changes", {{"entity": entity, "inserts": inserts, "updates": updates, "deletes": deletes,
                                "seed": number * 10 + position}})
    if number == 3:
        sandbox("custom_fields", {{"entity": "Customer", "view": "BAccount", "field": "UsrLoyaltyTier",
                                   "type": "CustomStringField"}})
    if number == 4:
        sandbox("faults", FAULTS)
    if number in STREAMING:
        for position, entity in enumerate(STREAMED):
            sandbox("change_stream", {{"entity": entity, "every": 1, "inserts": 1, "updates": 1, "deletes": 1,
                                       "seed": number * 100 + position}})
    time.sleep(0.05)
    start = previous["end"] if previous else (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    return {{"start": start, "end": datetime.now(UTC).isoformat()}}


@task
def check(number: int) -> dict[str, int]:
    """Every table equals the ERP now; the inquiry holds one snapshot per parameter set.

    While the change stream edited the ERP during the pulls, the records it changed or deleted after the window
    end are the next window's: those are left out of the comparison, everything else must be equal.
    """
    sandbox("faults", CALM)
    streamed = requests.get(f"{{SANDBOX}}/_sandbox/change_stream", timeout=30).json()
    for entity in STREAMED:
        sandbox("change_stream", {{"entity": entity, "every": 0}})
    end = datetime.fromisoformat(get_current_context()["ti"].xcom_pull(task_ids=f"edit_{{number}}")["end"])
    problems = []
    with AcumaticaHook() as hook:
        for entity, details in TABLES.items():
            if number in STREAMING and entity in STREAMED:
                deleted = [row["id"] for row in hook.iter_deleted(STREAMED[entity], end, datetime.now(UTC))]
                problems += differences(SANDBOX, LAKE, entity, details, changed_after=end, deleted_after=deleted)
            else:
                problems += differences(SANDBOX, LAKE, entity, details)
    assert not problems, "\\n".join(problems[:20])
    rows = stored(f"{{LAKE}}/InventorySummaryInquiry")
    with AcumaticaHook() as hook:
        expected = sum(len(hook.read_inquiry("InventorySummaryInquiry", "Results", item)) for item in ITEMS)
    assert len(rows) == expected, (len(rows), expected)
    rows = {{entity: len(stored(f"{{LAKE}}/{{entity}}")) for entity in TABLES}}
    return {{**rows, "streamed_edits": sum(stream["applied"] for stream in streamed.values())}}


@dag(dag_id="replica_intervals", schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def replica_intervals() -> None:
    previous = None
    for number in range(1, INTERVALS + 1):
        window = {{
            "window_start": "{{{{ ti.xcom_pull(task_ids='edit_%d')['start'] }}}}" % number,
            "window_end": "{{{{ ti.xcom_pull(task_ids='edit_%d')['end'] }}}}" % number,
        }}
        edited = edit.override(task_id=f"edit_{{number}}")(number)
        if previous is not None:
            previous >> edited
        replicas = [
            AcumaticaReplicateOperator(
                task_id=f"replicate_{{entity}}_{{number}}",
                entity=entity,
                table_base=LAKE,
                details=details,
                reconcile_every=timedelta(microseconds=1) if entity == "SalesInvoice" else timedelta(days=1),
                **window,
            )
            for entity, details in TABLES.items()
        ]
        inquiry = AcumaticaReplicateOperator(
            task_id=f"replicate_inquiry_{{number}}", entity="InventorySummaryInquiry", table_base=LAKE,
            parameters=ITEMS, **window,
        )
        checked = check.override(task_id=f"check_{{number}}")(number)
        edited >> [*replicas, inquiry] >> checked
        previous = checked


replica_intervals()
'''


@pytest.fixture(scope="module")
def server() -> SandboxServer:
    with SandboxServer(SandboxConfig(records=60, changes_per_hour=0, max_seats=4)) as running:
        yield running


def test_five_intervals_through_airflow_leave_every_table_equal_to_the_erp(
    airflow_home: AirflowHome, server: SandboxServer, tmp_path: Path
) -> None:
    items = [
        {"InventoryID": record["InventoryID"]}
        for record in list(replica_checks.erp(server.base_url, "StockItem").values())[:2]
    ]
    source = DAG_SOURCE.format(base_url=server.base_url, lake=str(tmp_path / "lake"), items=items, intervals=INTERVALS)
    airflow_home.write_dag("replica_intervals", textwrap.dedent(source))
    env = {"AIRFLOW_CONN_ACUMATICA_DEFAULT": connection(server.base_url, "oauth2_password")}
    result = airflow_home.test_dag("replica_intervals", env)
    assert result.succeeded, result.output[-6000:]
    assert len([task for task in result.states if task.startswith("check_")]) == INTERVALS
    streamed = [result.xcoms[f"check_{n}"]["streamed_edits"] for n in range(1, INTERVALS + 1)]
    assert streamed[0] == streamed[-1] == 0 and all(edits > 0 for edits in streamed[1:-1]), streamed
    assert re.search(r"[1-9]\d* retries", result.output), "interval 4 ran under faults: some request was retried"
    deletes = {task: summary["deletes"] for task, summary in result.xcoms.items() if task.startswith("replicate_")}
    assert {deletes[f"replicate_SalesOrder_{n}"] for n in range(2, INTERVALS + 1)} == {"tracked"}
    assert {deletes[f"replicate_SalesInvoice_{n}"] for n in range(2, INTERVALS + 1)} == {"reconcile"}
    assert {deletes[f"replicate_ShipVia_{n}"] for n in range(1, INTERVALS + 1)} == {"snapshot"}
    orders = [result.xcoms[f"replicate_SalesOrder_{n}"]["tables"]["SalesOrder"] for n in range(2, INTERVALS + 1)]
    assert all(table["inserted"] >= 1 and table["deleted"] >= 1 for table in orders)
    net = sum(table["inserted"] - table["deleted"] for table in orders)
    assert result.xcoms[f"check_{INTERVALS}"]["SalesOrder"] == 60 + net
    stats = server.stats()
    assert stats["seats_in_use"] == 0 and stats["sessions"]["opened"] == stats["sessions"]["closed"]
