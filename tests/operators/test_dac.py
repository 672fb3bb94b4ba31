"""`AcumaticaDacExtractOperator` against the sandbox's DAC OData: typed output, pages by key under live inserts and
deletes (where plain `$skip` paging loses rows), incremental windows, and the auth strategies that work."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import requests

from airflow_provider_acumatica.exceptions import AcumaticaConfigError
from airflow_provider_acumatica.hooks.acumatica import AcumaticaHook
from airflow_provider_acumatica.operators.dac import AcumaticaDacExtractOperator
from airflow_provider_acumatica.sandbox import SandboxConfig, SandboxServer
from tests.connections import use_connection

ENTITY, DAC, RECORDS, PAGE_SIZE = "SalesOrder", "SOOrder", 2000, 100
STREAM = {"entity": ENTITY, "every": 2, "inserts": 2, "updates": 0, "deletes": 4, "seed": 5}


def live_ids(server: SandboxServer) -> set[str]:
    return {record["id"] for record in server.store.iter_records(ENTITY)}


def extract(tmp_path: Path, name: str = "o.jsonl", **kwargs: Any) -> AcumaticaDacExtractOperator:
    return AcumaticaDacExtractOperator(task_id="dac", output_path=str(tmp_path / name), **kwargs)


@contextmanager
def streaming(monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    """A fresh sandbox whose change stream inserts and deletes SalesOrders before every second DAC row read."""
    config = SandboxConfig(records=10, entity_records={ENTITY: RECORDS}, changes_per_hour=0)
    with SandboxServer(config) as server:
        use_connection(monkeypatch, server.base_url, "basic")
        requests.post(f"{server.base_url}/_sandbox/change_stream", json=STREAM, timeout=10).raise_for_status()
        yield server


def skip_paging(hook: AcumaticaHook) -> list[str]:
    """What a hand-written OData client does: `$skip` grows by the page size until a short page."""
    ids: list[str] = []
    while True:
        params = {"$top": PAGE_SIZE, "$skip": len(ids), "$select": "NoteID"}
        page = hook.request("GET", hook.dac_url(DAC), params=params).json()["value"]
        ids.extend(row["NoteID"] for row in page)
        if len(page) < PAGE_SIZE:
            return ids


def test_pages_by_key_write_every_row_that_stayed_once_where_skip_loses_some(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with streaming(monkeypatch) as server:
        before = live_ids(server)
        manifest = extract(tmp_path, dac=DAC, page_size=PAGE_SIZE).execute({})
        after = live_ids(server)
        stream = requests.get(f"{server.base_url}/_sandbox/change_stream", timeout=10).json()[ENTITY]
    handed = Counter(json.loads(line)["NoteID"] for line in (tmp_path / "o.jsonl").read_text().splitlines())
    stayed = before & after
    missing_by_key = {key for key in stayed if handed[key] != 1}
    with streaming(monkeypatch) as server:
        before_skip = live_ids(server)
        with AcumaticaHook() as hook:
            by_skip = Counter(skip_paging(hook))
        stayed_skip = before_skip & live_ids(server)
    missing_by_skip = {key for key in stayed_skip if by_skip[key] != 1}
    print(
        f"by key: {len(stayed)} rows stayed, {len(missing_by_key)} missing or repeated; "
        f"by $skip: {len(stayed_skip)} stayed, {len(missing_by_skip)} missing or repeated"
    )
    assert stream["deleted"] >= 40, "the change stream did not bite"
    assert not missing_by_key
    assert not [key for key, count in handed.items() if count > 1]
    assert set(handed) <= before | after
    assert manifest["records"] == sum(handed.values())
    assert len(missing_by_skip) >= 10


def test_a_parquet_extract_is_typed_from_metadata_and_equals_the_table(
    monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer, tmp_path: Path
) -> None:
    use_connection(monkeypatch, sandbox.base_url, "oauth2_password")
    manifest = extract(tmp_path, "lines.parquet", dac="SOLine", output_format="parquet", page_size=37).execute({})
    table = pq.read_table(tmp_path / "lines.parquet")
    with AcumaticaHook() as hook:
        whole = [row for page in hook.iter_dac_pages("SOLine", page_size=100_000) for row in page]
    assert manifest["dac"] == "SOLine" and manifest["records"] == len(whole) == table.num_rows
    assert table.column("NoteID").to_pylist() == [row["NoteID"] for row in whole]
    assert str(table.schema.field("OrderQty").type).startswith("decimal")
    assert str(table.schema.field("LineNbr").type) == "int32"
    assert sandbox.stats()["seats_in_use"] == 0


def test_an_incremental_run_pulls_its_window_on_last_modified(
    monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer, tmp_path: Path
) -> None:
    from datetime import datetime

    use_connection(monkeypatch, sandbox.base_url, "basic")
    with AcumaticaHook() as hook:
        rows = [row for page in hook.iter_dac_pages("Customer", page_size=100_000) for row in page]
    stamps = sorted(datetime.fromisoformat(row["LastModifiedDateTime"]) for row in rows)
    start, end = stamps[20], stamps[-20]
    context = {"data_interval_start": start, "data_interval_end": end}
    manifest = extract(tmp_path, dac="Customer", incremental_field="auto", select="AcctCD").execute(context)
    written = [json.loads(line) for line in (tmp_path / "o.jsonl").read_text().splitlines()]
    expected = [row["BAccountID"] for row in rows if start < datetime.fromisoformat(row["LastModifiedDateTime"]) <= end]
    assert [row["BAccountID"] for row in written] == expected
    assert set(written[0]) == {"AcctCD", "BAccountID"}
    assert manifest["window"] == {"start": start.isoformat(), "end": end.isoformat()}


def test_basic_takes_no_api_seat_and_session_is_refused(
    monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer, tmp_path: Path
) -> None:
    use_connection(monkeypatch, sandbox.base_url, "basic")
    extract(tmp_path, dac="SOOrder").execute({})
    stats = sandbox.stats()
    assert stats["peak_seats"] == 0 and stats["peak_users"] >= 1
    assert stats["seats_in_use"] == 0 and stats["users_in_use"] == 0
    use_connection(monkeypatch, sandbox.base_url, "session")
    with pytest.raises(AcumaticaConfigError, match=r"OAuth 2.0 strategy .* or basic"):
        extract(tmp_path, "s.jsonl", dac="SOOrder").execute({})
    assert not (tmp_path / "s.jsonl").exists()
