"""`iter_ids` lists every live record's id exactly once while the sandbox inserts and deletes records."""

from __future__ import annotations

from collections import Counter

import pytest
import requests

from airflow_provider_acumatica.hooks.acumatica import AcumaticaHook, id_field
from airflow_provider_acumatica.sandbox import SandboxConfig, SandboxServer
from tests.connections import use_connection

ENTITY, RECORDS, PAGE_SIZE = "Customer", 3000, 150
STREAM = {"entity": ENTITY, "every": 2, "inserts": 3, "updates": 2, "deletes": 4, "seed": 11}


def live_ids(server: SandboxServer) -> set[str]:
    return {record["id"] for record in server.store.iter_records(ENTITY)}


def test_iter_ids_has_every_record_that_stayed_once_under_the_change_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    config = SandboxConfig(records=10, entity_records={ENTITY: RECORDS}, changes_per_hour=0)
    with SandboxServer(config) as server:
        before = live_ids(server)
        requests.post(f"{server.base_url}/_sandbox/change_stream", json=STREAM, timeout=10).raise_for_status()
        use_connection(monkeypatch, server.base_url, "session")
        with AcumaticaHook() as hook:
            listed = list(hook.iter_ids(ENTITY, page_size=PAGE_SIZE))
        after = live_ids(server)
        stream = requests.get(f"{server.base_url}/_sandbox/change_stream", timeout=10).json()[ENTITY]
    counts = Counter(listed)
    stayed = before & after
    print(f"iter_ids: {len(listed)} ids, {len(stayed)} stayed, {stream['deleted']} deleted, {stream['inserted']} added")
    assert not [key for key, count in counts.items() if count > 1]
    assert stayed <= set(counts)
    assert set(counts) <= before | after
    assert stream["deleted"] >= 40 and stream["inserted"] >= 30


def test_iter_ids_equals_the_live_set_and_selects_the_key(
    monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer
) -> None:
    with AcumaticaHook(use_connection(monkeypatch, sandbox.base_url, "session")) as hook:
        pages = list(hook.iter_id_pages(ENTITY, page_size=40))
        keys = {entity: id_field(hook.entity_schema(entity)) for entity in ("Customer", "SalesOrder", "Bill")}
    assert sorted(key for page in pages for key in page) == sorted(live_ids(sandbox))
    assert keys == {"Customer": "CustomerID", "SalesOrder": "OrderNbr", "Bill": "ReferenceNbr"}
