"""The extract operators in a real Airflow task run: every format, the manifest, the asset event."""

from __future__ import annotations

import csv
import hashlib
import json
import sqlite3
import textwrap
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from airflow_provider_acumatica.records import unwrap_record
from airflow_provider_acumatica.sandbox import SandboxServer
from tests.airflow_runs import AirflowHome, DagRunResult
from tests.connections import connection

DAG = textwrap.dedent(
    """
    from datetime import datetime

    from airflow.providers.common.compat.sdk import DAG
    from airflow_provider_acumatica.operators.extract import AcumaticaExtractOperator
    from airflow_provider_acumatica.operators.generic_inquiry import AcumaticaGenericInquiryOperator

    OUT = "{out}"

    with DAG("test_extract_formats", schedule=None, start_date=datetime(2026, 1, 1), catchup=False):
        for fmt in ("jsonl", "csv", "parquet"):
            AcumaticaExtractOperator(
                task_id=f"orders_{{fmt}}",
                entity="{{{{ params.entity }}}}",
                expand="Details",
                page_size=40,
                output_format=fmt,
                output_path=OUT + "/{{{{ params.entity }}}}/orders." + fmt,
                params={{"entity": "SalesOrder"}},
            )
        AcumaticaExtractOperator(
            task_id="customers_selected",
            entity="Customer",
            select="CustomerID,CustomerName,CreditLimit,LastModifiedDateTime",
            filter="Status eq 'Active'",
            output_format="parquet",
            output_path=OUT + "/customers.parquet",
        )
        AcumaticaGenericInquiryOperator(
            task_id="inquiry",
            inquiry="BI-Customers",
            orderby="CustomerID desc",
            page_size=33,
            output_format="csv",
            output_path=OUT + "/bi_customers.csv",
        )
    """
)


@pytest.fixture(scope="module")
def static_sandbox() -> Any:
    """Data that does not change during the test, so files compare exactly with the ground truth."""
    from airflow_provider_acumatica.sandbox import SandboxConfig

    with SandboxServer(SandboxConfig(records=120, changes_per_hour=0)) as server:
        yield server


@pytest.fixture(scope="module")
def run(
    airflow_home: AirflowHome, static_sandbox: SandboxServer, tmp_path_factory: pytest.TempPathFactory
) -> tuple[DagRunResult, Path]:
    out = tmp_path_factory.mktemp("extracts")
    airflow_home.write_dag("test_extract_formats", DAG.format(out=out))
    env = {"AIRFLOW_CONN_ACUMATICA_DEFAULT": connection(static_sandbox.base_url, "oauth2_password")}
    return airflow_home.test_dag("test_extract_formats", env), out


def truth(server: SandboxServer, entity: str, expand: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    return [without_row_numbers(unwrap_record(r)) for r in server.store.iter_records(entity, expand=expand)]


def without_row_numbers(value: Any) -> Any:
    """`rowNumber` numbers the rows of each response, so it differs between pages and ground truth."""
    if isinstance(value, dict):
        return {k: without_row_numbers(v) for k, v in value.items() if k != "rowNumber"}
    if isinstance(value, list):
        return [without_row_numbers(v) for v in value]
    return value


def test_all_tasks_succeed_and_release_their_seats(
    run: tuple[DagRunResult, Path], static_sandbox: SandboxServer
) -> None:
    result, _ = run
    assert result.succeeded, result.output[-4000:]
    assert static_sandbox.stats()["seats_in_use"] == 0


def test_json_lines_round_trips_the_records(run: tuple[DagRunResult, Path], static_sandbox: SandboxServer) -> None:
    _, out = run
    lines = (out / "SalesOrder" / "orders.jsonl").read_text().splitlines()
    assert [without_row_numbers(json.loads(line)) for line in lines] == truth(
        static_sandbox, "SalesOrder", ("Details",)
    )


def test_csv_round_trips_the_records(run: tuple[DagRunResult, Path], static_sandbox: SandboxServer) -> None:
    _, out = run
    with (out / "SalesOrder" / "orders.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    expected = truth(static_sandbox, "SalesOrder", ("Details",))
    assert [row["id"] for row in rows] == [record["id"] for record in expected]
    assert [Decimal(row["OrderTotal"]) for row in rows] == [Decimal(str(r["OrderTotal"])) for r in expected]
    details = [without_row_numbers(json.loads(row["Details"])) for row in rows]
    assert details == [record["Details"] for record in expected]


def test_parquet_round_trips_typed_columns(run: tuple[DagRunResult, Path], static_sandbox: SandboxServer) -> None:
    _, out = run
    table = pq.read_table(out / "SalesOrder" / "orders.parquet")
    schema = {field.name: str(field.type) for field in table.schema}
    assert schema["OrderTotal"].startswith("decimal128")
    assert schema["LastModified"] == "timestamp[us, tz=UTC]"
    assert schema["Approved"] == "bool"
    assert schema["OrderNbr"] == "string"
    assert schema["Details"].startswith("list<element: struct<")
    rows = table.to_pylist()
    expected = truth(static_sandbox, "SalesOrder", ("Details",))
    assert [row["id"] for row in rows] == [record["id"] for record in expected]
    assert [row["OrderTotal"] for row in rows] == [Decimal(str(r["OrderTotal"])) for r in expected]
    assert [row["LastModified"].isoformat(timespec="milliseconds") for row in rows] == [
        _utc_millis(r["LastModified"]) for r in expected
    ]
    assert [len(row["Details"]) for row in rows] == [len(r["Details"]) for r in expected]


def _utc_millis(text: str) -> str:
    from datetime import UTC, datetime

    return datetime.fromisoformat(text).astimezone(UTC).isoformat(timespec="milliseconds")


def test_select_and_filter_shape_the_parquet_columns(
    run: tuple[DagRunResult, Path], static_sandbox: SandboxServer
) -> None:
    _, out = run
    table = pq.read_table(out / "customers.parquet")
    assert {"CustomerID", "CustomerName", "CreditLimit", "LastModifiedDateTime"} <= set(table.column_names)
    assert "Email" not in table.column_names
    active = [r["CustomerID"] for r in truth(static_sandbox, "Customer") if r["Status"] == "Active"]
    assert table.column("CustomerID").to_pylist() == active


def test_generic_inquiry_to_csv(run: tuple[DagRunResult, Path], static_sandbox: SandboxServer) -> None:
    _, out = run
    with (out / "bi_customers.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    ids = [r["CustomerID"] for r in truth(static_sandbox, "Customer")]
    assert [row["CustomerID"] for row in rows] == sorted(ids, reverse=True)
    assert "CreditLimit" in rows[0]


def test_manifests_describe_the_files_and_carry_no_secret(run: tuple[DagRunResult, Path]) -> None:
    result, out = run
    manifest = result.xcoms["orders_jsonl"]
    path = out / "SalesOrder" / "orders.jsonl"
    assert manifest["path"] == path.as_uri()
    assert manifest["format"] == "jsonl"
    assert manifest["records"] == 120
    assert manifest["pages"] == 3
    assert manifest["bytes"] == path.stat().st_size
    assert manifest["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert manifest["endpoint_version"] == "24.200.001"
    assert manifest["entity"] == "SalesOrder"
    assert manifest["window"] is None
    assert result.xcoms["inquiry"]["inquiry"] == "BI-Customers"
    everything = json.dumps(result.xcoms)
    for secret in ("sandbox-secret", "access_token", "Bearer", '"123"'):
        assert secret not in everything
    assert not list(out.rglob("*.partial"))


def test_each_file_is_an_asset_event_with_the_manifest(
    run: tuple[DagRunResult, Path], airflow_home: AirflowHome
) -> None:
    _, out = run
    with sqlite3.connect(airflow_home.root / "airflow.db") as db:
        rows = db.execute(
            "SELECT asset.uri, asset_event.extra FROM asset_event JOIN asset ON asset.id = asset_event.asset_id"
        ).fetchall()
    events = {uri: json.loads(extra) for uri, extra in rows}
    uri = (out / "SalesOrder" / "orders.parquet").as_uri()
    assert uri in events
    assert events[uri]["records"] == 120
    assert events[uri]["format"] == "parquet"


def test_the_log_reports_progress_and_the_window(run: tuple[DagRunResult, Path]) -> None:
    result, _ = run
    assert "Wrote 120 records in 3 pages" in result.output
    assert "sessions opened 1 / closed 1" in result.output


def test_unknown_entity_fails_the_task_with_close_matches(
    airflow_home: AirflowHome, static_sandbox: SandboxServer, tmp_path: Path, make_dag: Callable[..., str]
) -> None:
    airflow_home.write_dag("test_extract_unknown", make_dag("test_extract_unknown", "Custmer", tmp_path))
    env = {"AIRFLOW_CONN_ACUMATICA_DEFAULT": connection(static_sandbox.base_url, "session")}
    result = airflow_home.test_dag("test_extract_unknown", env)
    assert result.states == {"extract": "failed"}
    assert "Customer" in result.output
    assert not list(tmp_path.iterdir())
    assert static_sandbox.stats()["seats_in_use"] == 0


@pytest.fixture
def make_dag() -> Callable[..., str]:
    def make(dag_id: str, entity: str, out: Path) -> str:
        return textwrap.dedent(
            f"""
            from datetime import datetime

            from airflow.providers.common.compat.sdk import DAG
            from airflow_provider_acumatica.operators.extract import AcumaticaExtractOperator

            with DAG("{dag_id}", schedule=None, start_date=datetime(2026, 1, 1), catchup=False):
                AcumaticaExtractOperator(
                    task_id="extract", entity="{entity}", output_format="parquet", retries=0,
                    output_path="{out}/out.parquet",
                )
            """
        )

    return make
