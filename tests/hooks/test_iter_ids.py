"""`iter_ids` lists every live record's id exactly once while the sandbox inserts and deletes records."""

from __future__ import annotations

from collections import Counter

import pytest
import requests

from airflow_provider_acumatica.exceptions import AcumaticaConfigError
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


def test_iter_ids_over_the_dac_has_every_record_that_stayed_once_for_a_fraction_of_the_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = SandboxConfig(records=10, entity_records={ENTITY: RECORDS}, changes_per_hour=0)
    with SandboxServer(config) as server:
        use_connection(monkeypatch, server.base_url, "basic")
        with AcumaticaHook() as hook:
            by_contract = list(hook.iter_ids(ENTITY, key_field="CustomerID", page_size=PAGE_SIZE))
            contract_bytes = hook.call_stats.bytes_received
        before = live_ids(server)
        requests.post(f"{server.base_url}/_sandbox/change_stream", json=STREAM, timeout=10).raise_for_status()
        with AcumaticaHook() as hook:
            listed = list(hook.iter_ids(ENTITY, page_size=PAGE_SIZE, via="dac"))
            dac_bytes = hook.call_stats.bytes_received
        after = live_ids(server)
        stream = requests.get(f"{server.base_url}/_sandbox/change_stream", timeout=10).json()[ENTITY]
        seats = requests.get(f"{server.base_url}/_sandbox/stats", timeout=10).json()
    counts = Counter(listed)
    print(f"iter_ids via dac: {len(listed)} ids, {dac_bytes} bytes; via contract: {contract_bytes} bytes")
    assert sorted(by_contract) == sorted(before)
    assert not [key for key, count in counts.items() if count > 1]
    assert before & after <= set(counts) <= before | after
    assert stream["deleted"] >= 40 and stream["inserted"] >= 30
    assert seats["seats_in_use"] == 0 and seats["users_in_use"] == 0
    assert dac_bytes < contract_bytes / 2


def test_iter_ids_over_the_dac_refuses_what_it_cannot_do(
    monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer
) -> None:
    use_connection(monkeypatch, sandbox.base_url, "basic")
    with AcumaticaHook() as hook:
        with pytest.raises(AcumaticaConfigError, match="via must be 'contract' or 'dac', not 'odata'"):
            list(hook.iter_ids(ENTITY, via="odata"))
        with pytest.raises(AcumaticaConfigError, match="Close matches: Customer"):
            list(hook.iter_ids("Customers", via="dac"))
    use_connection(monkeypatch, sandbox.base_url, "session")
    with AcumaticaHook() as hook, pytest.raises(AcumaticaConfigError, match="not the session strategy"):
        list(hook.iter_ids(ENTITY, via="dac"))
