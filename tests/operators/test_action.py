"""The action operator against the sandbox: 204 at once, 202 polled to 204, a timeout, 404 and 422."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_acumatica.exceptions import AcumaticaConfigError, AcumaticaError
from airflow_provider_acumatica.operators.action import AcumaticaActionOperator
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
    with pytest.raises(AcumaticaConfigError, match="either keys"):
        action(action="PutOnHold")
    assert server.stats()["seats_in_use"] == 0
