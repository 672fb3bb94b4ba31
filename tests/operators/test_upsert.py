"""The upsert operator against the sandbox: round trips, modes, rejects, retries, lines, verify, seats."""

from __future__ import annotations

import csv
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_acumatica.exceptions import AcumaticaConfigError, AcumaticaError
from airflow_provider_acumatica.operators.extract import AcumaticaExtractOperator
from airflow_provider_acumatica.operators.upsert import AcumaticaUpsertOperator
from airflow_provider_acumatica.sandbox import SandboxServer
from tests.connections import use_connection

Sandbox = Callable[..., SandboxServer]


@pytest.fixture
def server(make_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> SandboxServer:
    started = make_sandbox(records=40, changes_per_hour=0, max_seats=8)
    use_connection(monkeypatch, started.base_url, "session")
    return started


def upsert(path: Path, **kwargs: Any) -> AcumaticaUpsertOperator:
    kwargs.setdefault("entity", "Customer")
    kwargs.setdefault("key_fields", ["CustomerID"])
    return AcumaticaUpsertOperator(task_id=f"t{time.monotonic_ns()}", input_path=str(path), **kwargs)


def write_lines(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def results_of(path: Path) -> list[dict[str, Any]]:
    return lines(path.with_name(path.name.rsplit(".", 1)[0] + ".results.jsonl"))


def extract(tmp_path: Path, name: str, **kwargs: Any) -> list[dict[str, Any]]:
    kwargs.setdefault("select", "CustomerID,CustomerName,CreditLimit,Terms")
    AcumaticaExtractOperator(
        task_id=f"x{time.monotonic_ns()}", entity="Customer", output_path=str(tmp_path / name), **kwargs
    ).execute({})
    return lines(tmp_path / name)


def test_round_trip_extract_change_upsert_extract(server: SandboxServer, tmp_path: Path) -> None:
    before = extract(tmp_path, "before.jsonl")
    changed = [{**r, "CreditLimit": 1000.0 + n} if n % 3 == 0 else r for n, r in enumerate(before)]
    source = write_lines(tmp_path / "changes.jsonl", changed)
    manifest = upsert(source).execute({})
    after = extract(tmp_path, "after.jsonl")
    assert [{k: v for k, v in r.items() if k != "rowNumber"} for r in after] == [
        {k: v for k, v in r.items() if k != "rowNumber"} for r in changed
    ]
    results = results_of(source)
    assert [r["outcome"] for r in results] == ["updated" if n % 3 == 0 else "unchanged" for n in range(len(before))]
    assert [r["key"] for r in results] == [{"CustomerID": r["CustomerID"]} for r in before]
    assert all(r["http_status"] == 200 and r["id"] == b["id"] for r, b in zip(results, before, strict=True))
    expected_updates = len(range(0, len(before), 3))
    assert manifest["records"] == len(before)
    counts = (manifest["updated"], manifest["unchanged"], manifest["rejected"])
    assert counts == (expected_updates, len(before) - expected_updates, 0)
    assert "CreditLimit" not in json.dumps(manifest)
    assert server.stats()["seats_in_use"] == 0


def test_insert_and_update_modes_reject_with_412(server: SandboxServer, tmp_path: Path) -> None:
    records = [
        {"CustomerID": "C0000001", "CustomerName": "Exists"},
        {"CustomerID": "NEWONE", "CustomerName": "New One Ltd"},
    ]
    inserted = write_lines(tmp_path / "insert.jsonl", records)
    with pytest.raises(AcumaticaError, match="1 of 2 records were rejected"):
        upsert(inserted, mode="insert").execute({})
    exists, new = results_of(inserted)
    assert (exists["outcome"], exists["http_status"]) == ("rejected", 412)
    assert "mode='insert' never changes one" in exists["message"]
    assert new["outcome"] == "inserted" and new["id"]
    updated = write_lines(tmp_path / "update.jsonl", [*records, {"CustomerID": "GHOST", "CustomerName": "No"}])
    manifest = upsert(updated, mode="update", max_rejects=1).execute({})
    assert [r["outcome"] for r in results_of(updated)] == ["updated", "updated", "rejected"]
    assert "mode='update' never creates one" in results_of(updated)[2]["message"]
    assert manifest["rejected"] == 1


def test_422_rejects_carry_the_field_messages(server: SandboxServer, tmp_path: Path) -> None:
    source = write_lines(
        tmp_path / "bad.jsonl",
        [
            {"CustomerID": "C0000002", "CustomerClass": "MARTIAN", "CreditLimit": "lots"},
            {"CustomerID": "C0000003", "CreditLimit": -1},
            {"CustomerID": "C0000004", "CustomerName": "Fine"},
        ],
    )
    results_path = tmp_path / "out" / "results.jsonl"
    results_path.parent.mkdir()
    manifest = upsert(source, max_rejects=0.7, results_path=str(results_path)).execute({})
    first, second, third = lines(results_path)
    assert first["http_status"] == 422
    assert first["message"].startswith("Updating 'Customer' record raised at least one error")
    assert first["field_errors"]["CustomerClass"] == "Customer Class 'MARTIAN' cannot be found in the system."
    assert "decimal" in first["field_errors"]["CreditLimit"]
    assert second["field_errors"] == {"CreditLimit": "'Credit Limit' cannot be less than 0."}
    assert third["outcome"] == "updated"
    assert manifest["rejected"] == 2 and manifest["results_path"].endswith(str(results_path))
    with pytest.raises(AcumaticaError, match=r"more than max_rejects=0\.5"):
        upsert(source, max_rejects=0.5).execute({})


def test_a_dropped_answer_is_retried_without_a_duplicate(server: SandboxServer, tmp_path: Path) -> None:
    order = server.store.snapshot("SalesOrder").view(0)
    line = order.details()[0]
    records = [{"CustomerID": f"DROP{n}", "CustomerName": f"Dropped {n}"} for n in range(8)]
    source = write_lines(tmp_path / "new.jsonl", records)
    server.set_faults(rate_drop=0.25, fault_seed=5)
    upsert(source).execute({})
    orders = write_lines(
        tmp_path / "orders.jsonl",
        [{"id": order.id, "Details": [{"id": line["_id"], "OrderQty": 7}]}],
    )
    for _ in range(3):
        upsert(orders, entity="SalesOrder", key_fields=None).execute({})
    stats = server.stats()
    server.set_faults(rate_drop=0.0)
    assert stats["faults_injected"].get("drop", 0) > 0
    assert [r["outcome"] for r in results_of(source)].count("rejected") == 0
    ids = [r["CustomerID"] for r in extract(tmp_path, "all.jsonl", select="CustomerID")]
    assert sorted(i for i in ids if i.startswith("DROP")) == sorted(r["CustomerID"] for r in records)
    stored = server.store.snapshot("SalesOrder").view(0).details()
    assert len(stored) == len(order.details())
    assert stored[0]["OrderQty"] == 7


def test_lines_without_id_are_refused_unless_appending(server: SandboxServer, tmp_path: Path) -> None:
    order = server.store.snapshot("SalesOrder").view(1)
    kept, dropped = order.details()[0]["_id"], order.details()[1]["_id"]
    record = {
        "OrderType": "SO",
        "OrderNbr": order.values["OrderNbr"],
        "Details": [
            {"id": kept, "OrderQty": 4},
            {"id": dropped, "delete": True},
            {"InventoryID": "ITEM0000003", "OrderQty": 1},
        ],
    }
    source = write_lines(tmp_path / "order.jsonl", [record])
    keys = ["OrderType", "OrderNbr"]
    with pytest.raises(AcumaticaError, match="1 of 1 records were rejected"):
        upsert(source, entity="SalesOrder", key_fields=keys).execute({})
    (refused,) = results_of(source)
    assert refused["http_status"] is None
    assert "Details[2] has no id" in refused["message"] and "append_lines=True" in refused["message"]
    upsert(source, entity="SalesOrder", key_fields=keys, append_lines=True).execute({})
    stored = server.store.snapshot("SalesOrder").view(1).details()
    assert stored[0]["_id"] == kept
    assert dropped not in [line["_id"] for line in stored]
    assert len(stored) == len(order.details())
    assert (stored[0]["OrderQty"], stored[-1]["InventoryID"]) == (4, "ITEM0000003")


def test_verify_reports_a_field_the_server_ignored(server: SandboxServer, tmp_path: Path) -> None:
    source = write_lines(
        tmp_path / "verify.jsonl",
        [{"CustomerID": "C0000005", "BAccountID": 1, "CustomerName": "Checked Ltd", "CreditLimit": "250.50"}],
    )
    manifest = upsert(source, verify=True).execute({})
    (result,) = results_of(source)
    assert result["outcome"] == "updated"
    assert result["differences"] == [{"field": "BAccountID", "sent": 1, "stored": 1004}]
    assert manifest["mismatched"] == 1


def test_csv_and_parquet_inputs_are_typed_from_swagger(server: SandboxServer, tmp_path: Path) -> None:
    with (tmp_path / "c.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerows([["CustomerID", "CreditLimit", "PrintInvoices", "Terms"], ["C0000006", "75.25", "true", ""]])
    customers = server.store.snapshot("Customer")
    priority = int(customers.view(customers.find("C0000007") or 0).values.get("OrderPriority") or 0) + 1
    pq.write_table(pa.table({"CustomerID": ["C0000007"], "OrderPriority": [priority]}), tmp_path / "p.parquet")
    upsert(tmp_path / "c.csv").execute({})
    upsert(tmp_path / "p.parquet").execute({})
    customers = server.store.snapshot("Customer")
    six = customers.view(customers.find("C0000006") or 0).values
    assert (six["CreditLimit"], six["PrintInvoices"]) == (75.25, True)
    assert six["Terms"]
    seven = customers.view(customers.find("C0000007") or 0).values
    assert seven["OrderPriority"] == priority
    assert results_of(tmp_path / "p.parquet")[0]["outcome"] == "updated"


def test_parallel_sessions_keep_the_input_order(server: SandboxServer, tmp_path: Path) -> None:
    server.set_faults(latency_ms=20)
    records = [{"CustomerID": f"C{n:07d}", "CustomerName": f"Parallel {n}"} for n in range(1, 33)]
    source = write_lines(tmp_path / "many.jsonl", records)
    upsert(source, parallelism=4).execute({})
    stats = server.stats()
    assert [r["key"]["CustomerID"] for r in results_of(source)] == [r["CustomerID"] for r in records]
    assert stats["peak_seats"] == 4
    assert stats["seats_in_use"] == 0
    assert stats["sessions"]["opened"] == stats["sessions"]["closed"] == 4


def test_a_500_on_a_write_is_reported_not_retried(server: SandboxServer, tmp_path: Path) -> None:
    source = write_lines(tmp_path / "five.jsonl", [{"CustomerID": "C0000008", "CustomerName": "Five Hundred"}])
    server.set_faults(rate_500=0.5, fault_seed=10)  # this seed's draws: swagger.json passes, the PUT fails
    with pytest.raises(AcumaticaError, match="rejected"):
        upsert(source).execute({})
    server.set_faults(rate_500=0.0)
    (result,) = results_of(source)
    assert result["http_status"] == 500 and "not retried" in result["message"]
    assert server.stats()["routes"]["contract"]["500"] == 1


@pytest.mark.parametrize("parallelism", [1, 2])
def test_on_kill_signs_out_and_keeps_the_results_so_far(
    server: SandboxServer, tmp_path: Path, parallelism: int
) -> None:
    server.set_faults(latency_ms=40)
    records = [{"CustomerID": f"KILL{n}", "CustomerName": f"Kill {n}"} for n in range(200)]
    source = write_lines(tmp_path / "kill.jsonl", records)
    operator = upsert(source, parallelism=parallelism)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            operator.execute({})
        except BaseException as err:
            errors.append(err)

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 10
    while server.stats()["routes"].get("contract", {}).get("200", 0) < 12 and time.monotonic() < deadline:
        time.sleep(0.02)
    operator.on_kill()
    worker.join(timeout=30)
    assert not worker.is_alive()
    assert errors and isinstance(errors[0], AcumaticaError)
    assert server.stats()["seats_in_use"] == 0
    written = results_of(source)
    assert 10 <= len(written) < len(records)
    rows = [r["row"] for r in written]
    assert rows == sorted(set(rows)), "each finished record once, in input order"
    assert rows[-1] - len(rows) < parallelism, "only records in flight at the kill may be missing"
    assert all(r["key"]["CustomerID"] == records[r["row"] - 1]["CustomerID"] for r in written)
    customers = server.store.snapshot("Customer")
    assert all(customers.find(r["key"]["CustomerID"]) is not None for r in written)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "merge"}, "mode must be one of upsert, insert, update"),
        ({"max_rejects": 1.5}, "share from 0 to below 1"),
        ({"max_rejects": -1}, "whole number of records"),
        ({"parallelism": 0}, "parallelism"),
    ],
)
def test_bad_arguments_fail_at_once(tmp_path: Path, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(AcumaticaConfigError, match=message):
        upsert(tmp_path / "x.jsonl", **kwargs)


def test_keyless_records_and_unknown_columns(server: SandboxServer, tmp_path: Path) -> None:
    source = write_lines(tmp_path / "keyless.jsonl", [{"CustomerName": "Nobody"}])
    with pytest.raises(AcumaticaError, match="rejected"):
        upsert(source, key_fields=None).execute({})
    assert "a keyless PUT would insert a new record each time" in results_of(source)[0]["message"]
    unknown = write_lines(tmp_path / "unknown.jsonl", [{"CustomerID": "C0000001", "Colour": "red"}])
    with pytest.raises(AcumaticaConfigError, match="Customer has no field 'Colour'"):
        upsert(unknown).execute({})
    with pytest.raises(AcumaticaConfigError, match="does not exist"):
        upsert(tmp_path / "missing.jsonl").execute({})
