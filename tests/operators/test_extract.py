"""The extract operator's rules, called directly against the sandbox: windows, faults, atomicity, errors."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_acumatica.exceptions import AcumaticaApiError, AcumaticaConfigError, AcumaticaError
from airflow_provider_acumatica.operators.extract import AcumaticaExtractOperator
from airflow_provider_acumatica.operators.generic_inquiry import AcumaticaGenericInquiryOperator
from airflow_provider_acumatica.records import unwrap_record
from airflow_provider_acumatica.sandbox import SandboxConfig, SandboxServer
from tests.connections import use_connection


@pytest.fixture(scope="module")
def static_server() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(records=150, changes_per_hour=0)) as server:
        yield server


@pytest.fixture
def static(static_server: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> SandboxServer:
    static_server.reset(faults=True)
    use_connection(monkeypatch, static_server.base_url, "session")
    return static_server


def extract(tmp_path: Path, name: str = "out.jsonl", **kwargs: Any) -> AcumaticaExtractOperator:
    kwargs.setdefault("entity", "SalesOrder")
    return AcumaticaExtractOperator(task_id=f"t{time.monotonic_ns()}", output_path=str(tmp_path / name), **kwargs)


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def interval(start: datetime, end: datetime) -> dict[str, datetime]:
    return {"data_interval_start": start, "data_interval_end": end}


def stamp(record: dict[str, Any], field: str) -> datetime:
    return datetime.fromisoformat(record[field]["value"])


def test_consecutive_windows_neither_miss_nor_repeat(static: SandboxServer, tmp_path: Path) -> None:
    records = list(static.store.iter_records("SalesOrder"))
    stamps = sorted(stamp(r, "LastModified") for r in records)
    first, boundary, last = stamps[0] - timedelta(milliseconds=1), stamps[len(stamps) // 2], stamps[-1]
    on_boundary = {r["id"] for r in records if stamp(r, "LastModified") == boundary}
    early = extract(tmp_path, "early.jsonl", incremental_field="auto", page_size=17)
    late = extract(tmp_path, "late.jsonl", incremental_field="LastModified", page_size=17)
    early_manifest = early.execute(interval(first, boundary))
    late_manifest = late.execute(interval(boundary, last))
    early_ids = [r["id"] for r in lines(tmp_path / "early.jsonl")]
    late_ids = [r["id"] for r in lines(tmp_path / "late.jsonl")]
    assert on_boundary <= set(early_ids)
    assert not set(early_ids) & set(late_ids)
    assert sorted(early_ids + late_ids) == sorted(r["id"] for r in records)
    assert early_manifest["window"] == {"start": first.isoformat(), "end": boundary.isoformat()}
    assert late_manifest["records"] == len(late_ids)


def test_an_explicit_window_replaces_the_data_interval(static: SandboxServer, tmp_path: Path) -> None:
    records = list(static.store.iter_records("SalesOrder"))
    stamps = sorted(stamp(r, "LastModified") for r in records)
    start, end = stamps[40], stamps[90]
    operator = extract(tmp_path, incremental_field="auto", window_start=start.isoformat(), window_end=end.isoformat())
    manifest = operator.execute(interval(stamps[0], stamps[-1]))
    assert manifest["window"] == {"start": start.isoformat(), "end": end.isoformat()}
    assert manifest["records"] == sum(1 for s in stamps if start < s <= end)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2026-12-01T00:00:00+00:00", None, "Give both window_start and window_end"),
        ("yesterday", "2026-12-01T00:00:00+00:00", "window_start 'yesterday' is not an ISO 8601"),
        ("2026-12-02T00:00:00+00:00", "2026-12-01T00:00:00+00:00", "must be after window_start"),
    ],
)
def test_a_bad_explicit_window_is_refused_at_parse_time_or_once_rendered(
    static: SandboxServer, tmp_path: Path, start: str | None, end: str | None, message: str
) -> None:
    with pytest.raises(AcumaticaConfigError, match=message):
        extract(tmp_path, incremental_field="auto", window_start=start, window_end=end)
    templated = extract(tmp_path, incremental_field="auto", window_start="{{ params.start }}", window_end=end)
    templated.window_start = start
    with pytest.raises(AcumaticaConfigError, match=message):
        templated.execute({})
    assert not (tmp_path / "out.jsonl").exists()


def test_cv5_endpoints_get_bare_date_literals(static: SandboxServer, tmp_path: Path) -> None:
    records = list(static.store.iter_records("SalesOrder", version="26.200.001"))
    stamps = sorted(stamp(r, "LastModifiedDateTime") for r in records)
    operator = extract(tmp_path, endpoint_version="26.200.001", incremental_field="auto")
    manifest = operator.execute(interval(stamps[9], stamps[-1]))
    assert manifest["endpoint_version"] == "26.200.001"
    assert manifest["records"] == sum(1 for s in stamps if s > stamps[9])


def test_no_data_interval_pulls_everything_and_says_so(
    static: SandboxServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    manifest = extract(tmp_path, incremental_field="auto").execute({})
    assert manifest["records"] == 150
    assert manifest["window"] is None


def test_user_filter_is_combined_with_the_window(static: SandboxServer, tmp_path: Path) -> None:
    records = [unwrap_record(r) for r in static.store.iter_records("SalesOrder")]
    stamps = sorted(datetime.fromisoformat(r["LastModified"]) for r in records)
    start, end = stamps[20], stamps[-1]
    operator = extract(tmp_path, incremental_field="LastModified", filter="Status eq 'Open' or Status eq 'Completed'")
    operator.execute(interval(start, end))
    expected = [
        r["id"]
        for r in records
        if r["Status"] in {"Open", "Completed"} and start < datetime.fromisoformat(r["LastModified"]) <= end
    ]
    assert [r["id"] for r in lines(tmp_path / "out.jsonl")] == expected


def test_401_and_429_mid_extraction_give_exactly_the_records(static: SandboxServer, tmp_path: Path) -> None:
    static.set_faults(
        session_expire_after_requests=2, rate_429=0.3, retry_after_share=1.0, retry_after_seconds=0, fault_seed=11
    )
    manifest = extract(tmp_path, page_size=10, expand="Details").execute({})
    static.set_faults(session_expire_after_requests=None, rate_429=0.0)
    stats = static.stats()
    assert stats["requests"].get("429", 0) > 0
    assert stats["requests"].get("401", 0) > 0
    expected = [unwrap_record(r) for r in static.store.iter_records("SalesOrder", expand=("Details",))]
    assert [without_rows(r) for r in lines(tmp_path / "out.jsonl")] == [without_rows(r) for r in expected]
    assert manifest["records"] == 150
    assert stats["seats_in_use"] == 0


def without_rows(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "rowNumber"}


def test_failure_mid_extraction_keeps_the_previous_good_file(static: SandboxServer, tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    target.write_text('{"previous": "good file"}\n')
    static.set_faults(rate_500=0.25, fault_seed=5)
    with pytest.raises(AcumaticaApiError, match="HTTP 500"):
        extract(tmp_path, page_size=5).execute({})
    assert target.read_text() == '{"previous": "good file"}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]
    assert static.stats()["seats_in_use"] == 0


def test_failure_without_a_previous_file_leaves_nothing(static: SandboxServer, tmp_path: Path) -> None:
    static.set_faults(rate_500=0.25, fault_seed=5)
    with pytest.raises(AcumaticaApiError):
        extract(tmp_path, "fresh.parquet", output_format="parquet", page_size=5).execute({})
    assert list(tmp_path.iterdir()) == []


def test_on_kill_signs_out_and_stops_the_extraction(static: SandboxServer, tmp_path: Path) -> None:
    static.set_faults(latency_ms=40)
    operator = extract(tmp_path, page_size=5)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            operator.execute({})
        except BaseException as err:
            errors.append(err)

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 10
    while static.stats()["seats_in_use"] == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    operator.on_kill()
    worker.join(timeout=30)
    assert not worker.is_alive()
    assert errors
    assert isinstance(errors[0], AcumaticaError)
    assert static.stats()["seats_in_use"] == 0
    assert not (tmp_path / "out.jsonl").exists()
    assert not list(tmp_path.glob("*.partial"))


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"output_format": "xml"}, "xml"),
        ({"output_format": "csv", "flatten": False}, "flatten=False"),
        ({"page_size": 0}, "page_size"),
        ({"entity": ""}, "entity must be a non-empty name"),
        ({"incremental_field": "LastModified gt 1"}, "not a field name"),
        ({"output_format": "csv", "name": "out.parquet"}, "parquet"),
    ],
)
def test_bad_arguments_fail_when_the_dag_is_parsed(tmp_path: Path, kwargs: dict[str, Any], fragment: str) -> None:
    name = kwargs.pop("name", "out.jsonl")
    with pytest.raises(AcumaticaConfigError) as caught:
        extract(tmp_path, name, **kwargs)
    assert fragment in str(caught.value)


def test_bad_filter_is_explained(static: SandboxServer, tmp_path: Path) -> None:
    with pytest.raises(AcumaticaApiError) as caught:
        extract(tmp_path, filter="Status eq").execute({})
    assert caught.value.http_status == 500
    assert "filter" in str(caught.value).lower()
    assert not list(tmp_path.iterdir())


def test_unknown_entity_is_explained_with_close_matches(static: SandboxServer, tmp_path: Path) -> None:
    with pytest.raises(AcumaticaConfigError, match="Close matches: SalesOrder"):
        extract(tmp_path, entity="SalesOrders", output_format="parquet", name="o.parquet").execute({})
    with pytest.raises(AcumaticaConfigError, match="Close matches: SalesOrder"):
        extract(tmp_path, entity="SalesOrders").execute({})


def test_unwritable_path_is_explained(static: SandboxServer, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    operator = AcumaticaExtractOperator(task_id="t", entity="Customer", output_path=str(blocker / "out.jsonl"))
    with pytest.raises(AcumaticaError) as caught:
        operator.execute({})
    assert str(blocker) in str(caught.value)
    assert static.stats()["seats_in_use"] == 0


def test_generic_inquiry_unknown_name_lists_the_published_ones(static: SandboxServer, tmp_path: Path) -> None:
    operator = AcumaticaGenericInquiryOperator(task_id="gi", inquiry="BI-Custom", output_path=str(tmp_path / "x.jsonl"))
    with pytest.raises(AcumaticaConfigError, match="BI-Customers"):
        operator.execute({})


def test_generic_inquiry_parquet_takes_types_from_metadata(static: SandboxServer, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    operator = AcumaticaGenericInquiryOperator(
        task_id="gi",
        inquiry="SalesOrderLines",
        select="OrderNbr,LineNbr,Quantity,LastModifiedDateTime",
        output_format="parquet",
        output_path=str(tmp_path / "lines.parquet"),
    )
    manifest = operator.execute({})
    table = pq.read_table(tmp_path / "lines.parquet")
    assert table.column_names == ["OrderNbr", "LineNbr", "Quantity", "LastModifiedDateTime"]
    assert str(table.schema.field("LineNbr").type) == "int32"
    assert str(table.schema.field("Quantity").type).startswith("decimal128")
    assert manifest["records"] == table.num_rows > 0


def test_openlineage_facets_name_the_source_and_the_file(static: SandboxServer, tmp_path: Path) -> None:
    operator = extract(tmp_path)
    operator.execute({})
    lineage = operator.get_openlineage_facets_on_complete(task_instance=None)
    assert [(d.namespace, d.name) for d in lineage.inputs] == [(static.base_url, "Default/24.200.001/SalesOrder")]
    (output,) = lineage.outputs
    assert output.namespace == "file"
    assert output.name.strip("/") == str(tmp_path / "out.jsonl").strip("/")


def test_template_fields_cover_what_users_template() -> None:
    for field in ("entity", "filter", "select", "expand", "incremental_field", "output_path"):
        assert field in AcumaticaExtractOperator.template_fields
