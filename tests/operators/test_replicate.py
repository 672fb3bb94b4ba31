"""`AcumaticaReplicateOperator` against the sandbox: after every interval the Delta tables equal the ERP."""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import requests
from deltalake import DeltaTable

from airflow_provider_acumatica.exceptions import (
    AcumaticaConfigError,
    AcumaticaDeletionsNotTrackedError,
    AcumaticaError,
)
from airflow_provider_acumatica.operators.replicate import AcumaticaReplicateOperator
from airflow_provider_acumatica.sandbox import SandboxServer
from airflow_provider_acumatica.sinks.records import parameter_key
from tests import replica_checks
from tests.connections import use_connection
from tests.replica_checks import differences, stored
from tests.s3 import BUCKET

ORDER_DETAILS = ("Details",)


@pytest.fixture
def server(make_sandbox: Callable[..., SandboxServer], monkeypatch: pytest.MonkeyPatch) -> SandboxServer:
    started = make_sandbox(records=40, changes_per_hour=0, max_seats=4)
    use_connection(monkeypatch, started.base_url, "oauth2_password")
    return started


class Intervals:
    """Consecutive data intervals that end when asked, as a scheduler hands them out after the edits."""

    def __init__(self) -> None:
        self.end = datetime.now(UTC) - timedelta(hours=1)
        self.number = 0

    def next(self) -> dict[str, Any]:
        time.sleep(0.01)
        start, self.end = self.end, datetime.now(UTC)
        self.number += 1
        return self.context(start, self.end)

    def context(self, start: datetime, end: datetime) -> dict[str, Any]:
        return {"data_interval_start": start, "data_interval_end": end, "run_id": f"scheduled__{end.isoformat()}"}


@pytest.fixture
def intervals() -> Intervals:
    return Intervals()


def edit(server: SandboxServer, entity: str, seed: int, **counts: int) -> dict[str, Any]:
    answer = requests.post(
        f"{server.base_url}/_sandbox/changes", json={"entity": entity, "seed": seed, **counts}, timeout=10
    )
    answer.raise_for_status()
    result: dict[str, Any] = answer.json()
    return result


def replicate(lake: Path | str, entity: str, context: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    operator = AcumaticaReplicateOperator(task_id=f"replicate_{entity}", entity=entity, table_base=str(lake), **kwargs)
    summary: dict[str, Any] = operator.execute(context)
    return summary


def assert_equal_to_erp(server: SandboxServer, lake: Path, entity: str, details: tuple[str, ...] = ()) -> None:
    assert differences(server.base_url, str(lake), entity, details) == []


def erp(server: SandboxServer, entity: str) -> dict[str, dict[str, Any]]:
    return replica_checks.erp(server.base_url, entity)


def seats_free(server: SandboxServer) -> bool:
    stats = server.stats()
    return bool(stats["seats_in_use"] == 0 and stats["sessions"]["opened"] == stats["sessions"]["closed"])


def test_five_intervals_of_inserts_updates_and_deletions_leave_tables_equal_to_the_erp(
    server: SandboxServer, intervals: Intervals, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    first = replicate(lake, "SalesOrder", intervals.next(), details=ORDER_DETAILS)
    assert first["deletes"] == "snapshot" and first["tables"]["SalesOrder"]["inserted"] == 40
    assert_equal_to_erp(server, lake, "SalesOrder", ORDER_DETAILS)
    for seed in range(2, 6):
        changed = edit(server, "SalesOrder", seed, inserts=2, updates=3, deletes=2)
        summary = replicate(lake, "SalesOrder", intervals.next(), details=ORDER_DETAILS)
        assert summary["deletes"] == "tracked"
        table = summary["tables"]["SalesOrder"]
        assert (table["inserted"], table["deleted"]) == (2, 2)
        assert table["updated"] == len(set(changed["updated"]) - set(changed["deleted"]) - set(changed["inserted"]))
        assert_equal_to_erp(server, lake, "SalesOrder", ORDER_DETAILS)
    assert DeltaTable(f"{lake}/SalesOrder").version() == 4
    assert seats_free(server)


def test_a_rerun_of_a_committed_interval_changes_nothing(
    server: SandboxServer, intervals: Intervals, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    replicate(lake, "SalesOrder", intervals.next(), details=ORDER_DETAILS)
    edit(server, "SalesOrder", 7, inserts=1, updates=2, deletes=1)
    context = intervals.next()
    done = replicate(lake, "SalesOrder", context, details=ORDER_DETAILS)
    before = {name: DeltaTable(table["uri"]).version() for name, table in done["tables"].items()}
    edit(server, "SalesOrder", 8, updates=3, deletes=1)
    again = replicate(lake, "SalesOrder", context, details=ORDER_DETAILS)
    assert all(table["already_committed"] for table in again["tables"].values())
    assert {name: DeltaTable(table["uri"]).version() for name, table in again["tables"].items()} == before


def test_reconcile_deletes_rows_no_longer_live_and_auto_reconciles_only_when_due(
    server: SandboxServer, intervals: Intervals, tmp_path: Path
) -> None:
    """ARInvoice is not on SM207010 in the sandbox: auto falls back to a reconcile every `reconcile_every`."""
    lake = tmp_path / "lake"
    replicate(lake, "SalesInvoice", intervals.next(), details=())
    gone = edit(server, "SalesInvoice", 3, deletes=2, updates=1)["deleted"]
    waiting = replicate(lake, "SalesInvoice", intervals.next(), details=())
    assert waiting["deletes"] == "none"
    assert set(gone) <= {row["id"] for row in stored(f"{lake}/SalesInvoice")}
    due = replicate(lake, "SalesInvoice", intervals.next(), details=(), reconcile_every=timedelta(microseconds=1))
    assert (due["deletes"], due["tables"]["SalesInvoice"]["deleted"]) == ("reconcile", 2)
    assert_equal_to_erp(server, lake, "SalesInvoice")
    edit(server, "SalesInvoice", 4, deletes=1)
    forced = replicate(lake, "SalesInvoice", intervals.next(), details=(), deletes="reconcile")
    assert (forced["deletes"], forced["tables"]["SalesInvoice"]["deleted"]) == ("reconcile", 1)
    assert_equal_to_erp(server, lake, "SalesInvoice")


def test_a_window_older_than_the_retention_reconciles_and_says_so(
    server: SandboxServer,
    intervals: Intervals,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    lake = tmp_path / "lake"
    replicate(lake, "SalesOrder", intervals.next(), details=())
    edit(server, "SalesOrder", 5, deletes=3)
    late = intervals.context(datetime.now(UTC) - timedelta(days=11), datetime.now(UTC))
    with caplog.at_level(logging.WARNING):
        summary = replicate(lake, "SalesOrder", late, details=(), deletes="tracked")
    assert (summary["deletes"], summary["tables"]["SalesOrder"]["deleted"]) == ("reconcile", 3)
    assert "before the 10-day retention" in capfd.readouterr().out + caplog.text
    assert_equal_to_erp(server, lake, "SalesOrder")


def test_deletes_none_keeps_deleted_rows(server: SandboxServer, intervals: Intervals, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    replicate(lake, "SalesOrder", intervals.next(), details=())
    gone = edit(server, "SalesOrder", 6, deletes=2)["deleted"]
    summary = replicate(lake, "SalesOrder", intervals.next(), details=(), deletes="none")
    assert summary["deletes"] == "none" and set(gone) <= {row["id"] for row in stored(f"{lake}/SalesOrder")}


def test_a_removed_line_disappears_and_a_deleted_order_takes_its_lines(
    server: SandboxServer, intervals: Intervals, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    replicate(lake, "SalesOrder", intervals.next(), details=ORDER_DETAILS)
    order = next(iter(erp(server, "SalesOrder").values()))
    kept = order["Details"][:1]
    answer = requests.Session()
    answer.post(
        f"{server.base_url}/entity/auth/login",
        json={"name": "admin", "password": "123", "tenant": "Company", "branch": "HQ"},
        timeout=10,
    ).raise_for_status()
    removed = [{"id": line["id"], "delete": True} for line in order["Details"][1:]]
    answer.put(
        f"{server.base_url}/entity/Default/24.200.001/SalesOrder",
        json={"id": order["id"], "Details": removed},
        timeout=10,
    ).raise_for_status()
    answer.post(f"{server.base_url}/entity/auth/logout", timeout=10)
    edit(server, "SalesOrder", 9, deletes=1)
    summary = replicate(lake, "SalesOrder", intervals.next(), details=ORDER_DETAILS)
    lines = [line for line in stored(f"{lake}/SalesOrder__Details") if line["parent_id"] == order["id"]]
    assert [line["id"] for line in lines] == [line["id"] for line in kept]
    assert summary["tables"]["SalesOrder__Details"]["deleted"] >= len(removed)
    assert_equal_to_erp(server, lake, "SalesOrder", ORDER_DETAILS)


def test_an_entity_without_a_last_modified_field_is_a_snapshot_each_run(
    server: SandboxServer, intervals: Intervals, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    replicate(lake, "ShipVia", intervals.next())
    edit(server, "ShipVia", 2, inserts=1, deletes=1)
    context = intervals.next()
    summary = replicate(lake, "ShipVia", context)
    assert summary["deletes"] == "snapshot" and summary["window"] is None
    assert (summary["tables"]["ShipVia"]["inserted"], summary["tables"]["ShipVia"]["deleted"]) == (1, 1)
    assert_equal_to_erp(server, lake, "ShipVia")
    again = replicate(lake, "ShipVia", context)
    assert all(table["already_committed"] for table in again["tables"].values())


def test_an_inquiry_form_keeps_one_snapshot_per_configured_parameter_set(
    server: SandboxServer, intervals: Intervals, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    items = list(erp(server, "StockItem").values())[:2]
    parameters = [{"InventoryID": item["InventoryID"]} for item in items]
    first = replicate(lake, "InventorySummaryInquiry", intervals.next(), parameters=parameters)
    rows = stored(f"{lake}/InventorySummaryInquiry")
    per_set = {row["_acumatica_parameters"] for row in rows}
    assert len(per_set) == 2 and first["deletes"] == "snapshot"
    again = replicate(lake, "InventorySummaryInquiry", intervals.next(), parameters=[parameters[0], parameters[0]])
    kept = stored(f"{lake}/InventorySummaryInquiry")
    first_set = [row for row in rows if row["_acumatica_parameters"] == parameter_key(parameters[0])]
    assert {row["id"] for row in kept} == {row["id"] for row in first_set}
    assert again["tables"]["InventorySummaryInquiry"]["deleted"] == len(rows) - len(first_set) > 0


def test_types_follow_swagger_and_every_row_says_when_it_was_last_seen(
    server: SandboxServer, intervals: Intervals, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    context = intervals.next()
    replicate(lake, "SalesOrder", context, details=ORDER_DETAILS)
    schema = pa.schema(DeltaTable(f"{lake}/SalesOrder").schema().to_arrow())
    assert pa.types.is_decimal(schema.field("OrderTotal").type)
    assert pa.types.is_timestamp(schema.field("LastModified").type)
    assert pa.types.is_boolean(schema.field("Approved").type)
    assert "rowNumber" not in schema.names and "ShipToAddress" not in schema.names
    rows = stored(f"{lake}/SalesOrder__Details")
    assert {row["_acumatica_last_seen"] for row in rows} == {context["data_interval_end"]}


def test_a_newly_published_custom_field_adds_a_nullable_column(
    server: SandboxServer, intervals: Intervals, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    replicate(lake, "Customer", intervals.next(), details=())
    requests.post(
        f"{server.base_url}/_sandbox/custom_fields",
        json={"entity": "Customer", "view": "BAccount", "field": "UsrLoyaltyTier", "type": "CustomStringField"},
        timeout=10,
    ).raise_for_status()
    edit(server, "Customer", 3, updates=2)
    summary = replicate(lake, "Customer", intervals.next(), details=())
    assert summary["tables"]["Customer"]["updated"] == 2
    rows = stored(f"{lake}/Customer")
    assert all("custom_BAccount_UsrLoyaltyTier" in row for row in rows)
    assert any(row["custom_BAccount_UsrLoyaltyTier"] is not None for row in rows)
    assert_equal_to_erp(server, lake, "Customer")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"entity": "SalesOrdr"}, "Close matches: SalesOrder"),
        ({"entity": "SalesOrder", "details": ["Nope"]}, "no detail collection 'Nope'.*Details"),
        ({"entity": "SalesOrder", "parameters": {"a": 1}}, "parameters apply only to inquiry forms"),
        ({"entity": "InventorySummaryInquiry", "parameters": []}, "empty list"),
    ],
)
def test_bad_input_names_the_problem_and_writes_nothing(
    server: SandboxServer, intervals: Intervals, tmp_path: Path, kwargs: dict[str, Any], message: str
) -> None:
    lake = tmp_path / "lake"
    with pytest.raises(AcumaticaConfigError, match=message):
        AcumaticaReplicateOperator(task_id="bad", table_base=str(lake), **kwargs).execute(intervals.next())
    assert not lake.exists() or not any(lake.iterdir())
    assert seats_free(server)


def test_bad_arguments_fail_when_the_dag_is_parsed(tmp_path: Path) -> None:
    for kwargs, message in [
        ({"deletes": "sometimes"}, "deletes must be one of auto, tracked, reconcile, none"),
        ({"reconcile_every": 3600}, "reconcile_every must be a positive timedelta"),
        ({"retention_days": 0}, "retention_days must be a positive number"),
        ({"window_start": "2026-01-01T00:00:00+00:00"}, "Give both window_start and window_end"),
    ]:
        with pytest.raises(AcumaticaConfigError, match=message):
            AcumaticaReplicateOperator(task_id="bad", entity="SalesOrder", table_base=str(tmp_path), **kwargs)


def test_a_table_of_another_entity_is_refused_and_left_as_it_was(
    server: SandboxServer, intervals: Intervals, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    replicate(lake, "ShipVia", intervals.next())
    (lake / "ShipVia").rename(lake / "FOBPoint")
    with pytest.raises(AcumaticaConfigError, match="holds ShipVia, not FOBPoint"):
        replicate(lake, "FOBPoint", intervals.next())
    assert DeltaTable(f"{lake}/FOBPoint").version() == 0
    assert seats_free(server)


def test_the_result_is_a_summary_without_records_or_secrets(
    server: SandboxServer, intervals: Intervals, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    summary = replicate(lake, "SalesOrder", intervals.next(), details=ORDER_DETAILS)
    assert set(summary) == {"entity", "window", "deletes", "tables"}
    assert set(summary["tables"]) == {"SalesOrder", "SalesOrder__Details"}
    assert set(summary["tables"]["SalesOrder"]) == {
        "uri",
        "version",
        "inserted",
        "updated",
        "deleted",
        "skipped_stale",
        "already_committed",
    }
    text = repr(summary)
    assert not [secret for secret in server.issued_credentials() if secret in text] and "123" not in text


def test_replicates_into_s3_through_an_aws_connection(
    server: SandboxServer, intervals: Intervals, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = f'{{"endpoint_url": "{s3_endpoint}", "region_name": "us-east-1"}}'
    monkeypatch.setenv(
        "AIRFLOW_CONN_LAKE_S3",
        f'{{"conn_type": "aws", "login": "testing-key", "password": "testing-secret", "extra": {extra}}}',
    )
    base = f"s3://{BUCKET}/replica-{time.monotonic_ns()}"
    replicate(base, "SalesOrder", intervals.next(), details=ORDER_DETAILS, table_conn_id="lake_s3")
    edit(server, "SalesOrder", 11, inserts=1, updates=1, deletes=1)
    summary = replicate(base, "SalesOrder", intervals.next(), details=ORDER_DETAILS, table_conn_id="lake_s3")
    assert summary["tables"]["SalesOrder"]["uri"] == f"{base}/SalesOrder"
    options = {
        "AWS_ACCESS_KEY_ID": "testing-key",
        "AWS_SECRET_ACCESS_KEY": "testing-secret",
        "AWS_ENDPOINT_URL": s3_endpoint,
        "AWS_REGION": "us-east-1",
        "AWS_ALLOW_HTTP": "true",
    }
    assert sorted(row["id"] for row in stored(f"{base}/SalesOrder", **options)) == sorted(erp(server, "SalesOrder"))


def test_sigterm_during_the_merge_keeps_the_last_version_and_the_retry_lands_the_interval(
    server: SandboxServer, intervals: Intervals, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed after the lines' commit, before the records': the retry skips the lines and commits the records."""
    from airflow_provider_acumatica.sinks.delta import DeltaSink

    lake = tmp_path / "lake"
    replicate(lake, "SalesOrder", intervals.next(), details=ORDER_DETAILS)
    edit(server, "SalesOrder", 12, inserts=2, updates=2, deletes=1)
    context = intervals.next()
    real_merge = DeltaSink.merge

    def killed(self: DeltaSink, *args: Any, **kwargs: Any) -> Any:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
        return real_merge(self, *args, **kwargs)

    monkeypatch.setattr(DeltaSink, "merge", killed)
    with pytest.raises(AcumaticaError, match="received SIGTERM"):
        replicate(lake, "SalesOrder", context, details=ORDER_DETAILS)
    assert DeltaTable(f"{lake}/SalesOrder").version() == 0
    assert DeltaTable(f"{lake}/SalesOrder__Details").version() == 1
    assert seats_free(server)
    monkeypatch.setattr(DeltaSink, "merge", real_merge)
    retried = replicate(lake, "SalesOrder", context, details=ORDER_DETAILS)
    assert retried["tables"]["SalesOrder__Details"]["already_committed"]
    assert not retried["tables"]["SalesOrder"]["already_committed"]
    assert_equal_to_erp(server, lake, "SalesOrder", ORDER_DETAILS)


def test_a_table_another_tool_changed_incompatibly_is_named_and_left_alone(
    server: SandboxServer, intervals: Intervals, tmp_path: Path
) -> None:
    from deltalake import write_deltalake

    lake = tmp_path / "lake"
    replicate(lake, "SalesOrder", intervals.next(), details=())
    schema = pa.schema(DeltaTable(f"{lake}/SalesOrder").schema().to_arrow())
    rows = pa.Table.from_pylist(stored(f"{lake}/SalesOrder"), schema=schema)
    index = rows.schema.get_field_index("OrderTotal")
    changed = rows.set_column(index, "OrderTotal", rows["OrderTotal"].cast(pa.string()))
    write_deltalake(f"{lake}/SalesOrder", changed, mode="overwrite", schema_mode="overwrite")
    edit(server, "SalesOrder", 13, updates=2)
    with pytest.raises(AcumaticaConfigError, match=r"Column 'OrderTotal' of SalesOrder is string .* decimal"):
        replicate(lake, "SalesOrder", intervals.next(), details=())
    assert DeltaTable(f"{lake}/SalesOrder").version() == 1
    assert seats_free(server)


def test_tracked_deletions_of_an_untracked_dac_name_the_screen_to_fix_it(
    server: SandboxServer, intervals: Intervals, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    replicate(lake, "SalesInvoice", intervals.next(), details=())
    with pytest.raises(AcumaticaDeletionsNotTrackedError, match="SM207010"):
        replicate(lake, "SalesInvoice", intervals.next(), details=(), deletes="tracked")
    assert DeltaTable(f"{lake}/SalesInvoice").version() == 0
    assert seats_free(server)


def test_a_table_base_under_a_file_is_refused_before_anything_is_written(
    server: SandboxServer, intervals: Intervals, tmp_path: Path
) -> None:
    (tmp_path / "not-a-folder").write_text("x")
    with pytest.raises(AcumaticaConfigError, match="is a file, not a folder"):
        replicate(tmp_path / "not-a-folder" / "lake", "SalesOrder", intervals.next())
    assert seats_free(server)


def test_without_the_lake_extra_the_error_says_how_to_install_it(
    server: SandboxServer, intervals: Intervals, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "deltalake", None)
    with pytest.raises(AcumaticaConfigError, match=r"pip install 'airflow-provider-acumatica\[lake\]'"):
        replicate(tmp_path / "lake", "SalesOrder", intervals.next())
    assert not (tmp_path / "lake").exists() and seats_free(server)


def test_openlineage_facets_name_the_entity_and_every_table(
    server: SandboxServer, intervals: Intervals, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    operator = AcumaticaReplicateOperator(
        task_id="lineage", entity="SalesOrder", table_base=str(lake), details=ORDER_DETAILS
    )
    operator.execute(intervals.next())
    lineage = operator.get_openlineage_facets_on_complete(task_instance=None)
    assert [(d.namespace, d.name) for d in lineage.inputs] == [(server.base_url, "Default/24.200.001/SalesOrder")]
    assert sorted((d.namespace, d.name) for d in lineage.outputs) == [
        ("file", str(lake / "SalesOrder")),
        ("file", str(lake / "SalesOrder__Details")),
    ]
