"""The action operator against the sandbox: 204 at once, 202 polled to 204, a timeout, 404 and 422; files of records."""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_acumatica.exceptions import AcumaticaConfigError, AcumaticaError
from airflow_provider_acumatica.operators.action import OUTCOMES, ActionTimeoutError, AcumaticaActionOperator
from airflow_provider_acumatica.sandbox import SandboxServer
from tests.connections import use_connection


@pytest.fixture
def server(make_sandbox: Callable[..., SandboxServer], monkeypatch: pytest.MonkeyPatch) -> SandboxServer:
    started = make_sandbox(records=30, changes_per_hour=0)
    use_connection(monkeypatch, started.base_url, "session")
    return started


def in_status(server: SandboxServer, code: str, index: int = 2) -> Any:
    record_id = server.store.snapshot("SalesOrder").view(index).id
    server.store.upsert("SalesOrder", "24.200.001", {"id": record_id, "Status": {"value": code}})
    snap = server.store.snapshot("SalesOrder")
    return snap.view(snap.find(record_id) or 0)


def action(**kwargs: Any) -> AcumaticaActionOperator:
    kwargs.setdefault("entity", "SalesOrder")
    return AcumaticaActionOperator(task_id=f"a{time.monotonic_ns()}", **kwargs)


def test_an_instant_action_reports_the_new_status(server: SandboxServer) -> None:
    held = in_status(server, "H")
    keys = {"OrderType": held.values["OrderType"], "OrderNbr": held.values["OrderNbr"]}
    result = action(action="ReleaseFromHold", keys=keys).execute({})
    assert result == {"entity": "SalesOrder", "action": "ReleaseFromHold", "keys": keys, "status": "Open"}
    assert server.stats()["seats_in_use"] == 0


def test_a_long_action_is_polled_until_done(server: SandboxServer) -> None:
    opened = in_status(server, "N")
    server.set_faults(action_seconds=0.3)
    result = action(action="PutOnHold", record_id=opened.id, poll_interval=0.05).execute({})
    assert result["status"] == "On Hold"
    polls = server.stats()["routes"]["contract"]
    assert polls["202"] >= 2 and polls["204"] == 1
    assert server.stats()["seats_in_use"] == 0


def test_a_timeout_says_the_action_may_still_finish(server: SandboxServer) -> None:
    opened = in_status(server, "N")
    server.set_faults(action_seconds=5)
    with pytest.raises(AcumaticaError, match=r"still running after timeout=0\.2 s"):
        action(action="PutOnHold", record_id=opened.id, poll_interval=0.05, timeout=0.2).execute({})
    assert server.stats()["seats_in_use"] == 0


def test_unknown_actions_and_wrong_states_are_explained(server: SandboxServer) -> None:
    opened = in_status(server, "N")
    with pytest.raises(AcumaticaConfigError, match="SalesOrder has no action 'Teleport'"):
        action(action="Teleport", record_id=opened.id).execute({})
    with pytest.raises(AcumaticaError, match="not allowed in the record's current state"):
        action(action="ReleaseFromHold", record_id=opened.id).execute({})
    with pytest.raises(AcumaticaConfigError, match="exactly one of keys="):
        action(action="PutOnHold")
    assert server.stats()["seats_in_use"] == 0


def order_keys(view: Any) -> dict[str, Any]:
    return {"OrderType": view.values["OrderType"], "OrderNbr": view.values["OrderNbr"]}


def write_lines(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def on_file(path: Path, **kwargs: Any) -> AcumaticaActionOperator:
    kwargs.setdefault("key_fields", ["OrderType", "OrderNbr"])
    return action(input_path=str(path), **kwargs)


def test_a_file_runs_the_action_on_each_record_and_records_each_outcome(server: SandboxServer, tmp_path: Path) -> None:
    held = [order_keys(in_status(server, "H", index)) for index in (2, 3)]
    opened = order_keys(in_status(server, "N", 4))
    source = tmp_path / "orders.csv"
    with source.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, ["OrderType", "OrderNbr"])
        writer.writeheader()
        writer.writerows([held[0], opened, {"OrderType": "SO", "OrderNbr": ""}, held[1]])
    server.set_faults(action_seconds=0.1)
    manifest = on_file(source, action="ReleaseFromHold", poll_interval=0.05, max_rejects=2).execute({})
    results = lines(tmp_path / "orders.results.jsonl")
    assert [(r["row"], r["key"], r["outcome"], r.get("status")) for r in results] == [
        (1, held[0], "done", "Open"),
        (2, opened, "rejected", None),
        (3, {"OrderType": "SO", "OrderNbr": ""}, "rejected", None),
        (4, held[1], "done", "Open"),
    ]
    assert results[1]["http_status"] == 422
    assert "cannot be performed on a record with the 'Open' status" in results[1]["message"]
    assert results[2]["http_status"] is None and "OrderNbr empty" in results[2]["message"]
    assert {k: manifest[k] for k in ("records", "done", "rejected", "timed_out")} == {
        "records": 4,
        "done": 2,
        "rejected": 2,
        "timed_out": 0,
    }
    assert set(manifest) == {"entity", "action", "input_path", "results_path", "records", *OUTCOMES} | {
        "started",
        "finished",
        "duration_seconds",
    }
    assert server.stats()["peak_seats"] == 1 and server.stats()["seats_in_use"] == 0


def test_a_parquet_file_names_records_by_id(server: SandboxServer, tmp_path: Path) -> None:
    ids = [in_status(server, "N", index).id for index in (5, 6)]
    source = tmp_path / "ids.parquet"
    pq.write_table(pa.Table.from_pylist([{"id": record_id} for record_id in ids]), source)
    manifest = action(action="PutOnHold", input_path=str(source)).execute({})
    assert manifest["done"] == 2
    assert [(r["key"], r["status"]) for r in lines(tmp_path / "ids.results.jsonl")] == [
        ({"id": ids[0]}, "On Hold"),
        ({"id": ids[1]}, "On Hold"),
    ]


def test_more_rejects_than_allowed_fail_after_the_results_are_written(server: SandboxServer, tmp_path: Path) -> None:
    source = write_lines(tmp_path / "open.jsonl", [order_keys(in_status(server, "N", i)) for i in (2, 3)])
    results = tmp_path / "out" / "results.jsonl"
    results.parent.mkdir()
    with pytest.raises(AcumaticaError, match=r"2 of 2 records were rejected, more than max_rejects=0\.5"):
        on_file(source, action="ReleaseFromHold", results_path=str(results), max_rejects=0.5).execute({})
    assert [r["outcome"] for r in lines(results)] == ["rejected", "rejected"]
    assert server.stats()["seats_in_use"] == 0


def test_an_unknown_action_or_a_timeout_stops_the_file(server: SandboxServer, tmp_path: Path) -> None:
    source = write_lines(tmp_path / "open.jsonl", [order_keys(in_status(server, "N", i)) for i in (2, 3)])
    with pytest.raises(AcumaticaConfigError, match="SalesOrder has no action 'Teleport'"):
        on_file(source, action="Teleport", max_rejects=5).execute({})
    (unknown,) = lines(tmp_path / "open.results.jsonl")
    assert unknown["outcome"] == "rejected" and unknown["http_status"] == 404
    server.set_faults(action_seconds=5)
    with pytest.raises(ActionTimeoutError, match="records after row 1 were not run"):
        on_file(source, action="PutOnHold", poll_interval=0.05, timeout=0.2).execute({})
    (timed_out,) = lines(tmp_path / "open.results.jsonl")
    assert timed_out["outcome"] == "timed_out" and "still running after timeout=0.2 s" in timed_out["message"]
    assert server.stats()["seats_in_use"] == 0


def test_file_mode_arguments_are_checked() -> None:
    with pytest.raises(AcumaticaConfigError, match=r"exactly one of keys=.*got keys, input_path"):
        action(action="PutOnHold", keys={"OrderNbr": "1"}, input_path="x.jsonl")
    with pytest.raises(AcumaticaConfigError, match="key_fields names the key columns of input_path"):
        action(action="PutOnHold", record_id="x", key_fields=["OrderNbr"])
    with pytest.raises(AcumaticaConfigError, match="deferrable=True waits for one record"):
        action(action="PutOnHold", input_path="x.jsonl", deferrable=True)
    with pytest.raises(AcumaticaConfigError, match="max_rejects"):
        action(action="PutOnHold", input_path="x.jsonl", max_rejects=-1)
