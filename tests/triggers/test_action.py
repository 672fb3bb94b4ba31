"""The action trigger's `run()` under asyncio against the sandbox, in the session the operator handed over."""

from __future__ import annotations

import asyncio
import importlib
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from airflow.providers.common.compat.sdk import TaskDeferred

from airflow_provider_acumatica.operators.action import ActionTimeoutError, AcumaticaActionOperator
from airflow_provider_acumatica.sandbox import SandboxServer
from airflow_provider_acumatica.triggers import action as trigger_module
from airflow_provider_acumatica.triggers.action import AcumaticaActionTrigger
from tests.connections import use_connection


@pytest.fixture
def server(make_sandbox: Callable[..., SandboxServer], monkeypatch: pytest.MonkeyPatch) -> SandboxServer:
    started = make_sandbox(records=30, changes_per_hour=0)
    use_connection(monkeypatch, started.base_url, "session")
    return started


def opened_order(server: SandboxServer, index: int = 2) -> str:
    record_id: str = server.store.snapshot("SalesOrder").view(index).id
    server.store.upsert("SalesOrder", "24.200.001", {"id": record_id, "Status": {"value": "N"}})
    return record_id


def deferred(record_id: str, **kwargs: Any) -> tuple[AcumaticaActionOperator, AcumaticaActionTrigger]:
    """The operator's execute up to its deferral: the action POSTed, its session handed to the trigger."""
    operator = AcumaticaActionOperator(
        task_id=f"a{time.monotonic_ns()}",
        entity="SalesOrder",
        action="PutOnHold",
        record_id=record_id,
        deferrable=True,
        poll_interval=0.05,
        **kwargs,
    )
    with pytest.raises(TaskDeferred) as deferral:
        operator.execute({})
    assert deferral.value.method_name == "execute_complete"
    trigger = deferral.value.trigger
    assert isinstance(trigger, AcumaticaActionTrigger)
    return operator, trigger


def first_event(trigger: AcumaticaActionTrigger) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        async for event in trigger.run():
            return dict(event.payload)
        raise AssertionError("the trigger ended without an event")

    return asyncio.run(run())


def rebuilt(trigger: AcumaticaActionTrigger) -> AcumaticaActionTrigger:
    """What the triggerer runs: the class from the classpath, built from the serialized kwargs."""
    classpath, kwargs = trigger.serialize()
    module, name = classpath.rsplit(".", 1)
    built = getattr(importlib.import_module(module), name)(**kwargs)
    assert isinstance(built, AcumaticaActionTrigger)
    return built


def test_the_trigger_polls_until_done_signs_out_and_the_operator_reads_the_status(server: SandboxServer) -> None:
    record_id = opened_order(server)
    server.set_faults(action_seconds=2.0)
    operator, trigger = deferred(record_id)
    assert server.stats()["seats_in_use"] == 1
    event = first_event(rebuilt(trigger))
    assert event == {"status": "done"}
    assert server.stats()["seats_in_use"] == 0
    polls = server.stats()["routes"]["contract"]
    assert polls["202"] >= 2 and polls["204"] == 1
    result = operator.execute_complete({}, event)
    assert result == {"entity": "SalesOrder", "action": "PutOnHold", "id": record_id, "status": "On Hold"}
    assert server.stats()["seats_in_use"] == 0 and server.stats()["logins"] == 2


def test_an_instant_action_does_not_defer(server: SandboxServer) -> None:
    record_id = opened_order(server)
    result = AcumaticaActionOperator(
        task_id="instant", entity="SalesOrder", action="PutOnHold", record_id=record_id, deferrable=True
    ).execute({})
    assert result["status"] == "On Hold" and server.stats()["seats_in_use"] == 0


def test_the_deadline_ends_the_wait_with_a_timeout_event_and_a_sign_out(server: SandboxServer) -> None:
    server.set_faults(action_seconds=30)
    operator, trigger = deferred(opened_order(server), timeout=0.3)
    started = time.monotonic()
    event = first_event(trigger)
    assert time.monotonic() - started < 2
    assert event["status"] == "timeout" and "still running after timeout=0.3 s" in event["message"]
    assert server.stats()["seats_in_use"] == 0
    with pytest.raises(ActionTimeoutError, match="check the record before running the action again"):
        operator.execute_complete({}, event)
    assert server.stats()["seats_in_use"] == 0


def test_a_session_signed_out_meanwhile_is_an_error_event(server: SandboxServer) -> None:
    server.set_faults(action_seconds=30)
    operator, trigger = deferred(opened_order(server))
    signed_out = requests.post(
        trigger.logout_url, data=b"", headers={**trigger.headers, "Content-Length": "0"}, timeout=10
    )
    assert signed_out.status_code == 204 and server.stats()["seats_in_use"] == 0
    event = first_event(trigger)
    assert event["status"] == "error" and "HTTP 401" in event["message"]
    with pytest.raises(Exception, match="signed the session of SalesOrder/PutOnHold out"):
        operator.execute_complete({}, event)


def test_a_triggerer_restart_keeps_the_session_and_a_user_kill_signs_it_out(server: SandboxServer) -> None:
    """Cancelled without a user's action (a restart), the session stays for the resumed trigger; on_kill ends it."""
    server.set_faults(action_seconds=1.0)
    _, trigger = deferred(opened_order(server))

    async def cancelled_after_a_poll() -> None:
        task = asyncio.ensure_future(anext(aiter(trigger.run())))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancelled_after_a_poll())
    if not trigger_module._HAS_ON_KILL:
        assert server.stats()["seats_in_use"] == 0, "without on_kill, any cancellation must sign out"
        return
    assert server.stats()["seats_in_use"] == 1
    resumed = rebuilt(trigger)
    assert first_event(resumed) == {"status": "done"}
    assert server.stats()["seats_in_use"] == 0

    server.set_faults(action_seconds=30)
    _, killed = deferred(opened_order(server, 3))
    assert server.stats()["seats_in_use"] == 1
    asyncio.run(killed.on_kill())
    assert server.stats()["seats_in_use"] == 0


@pytest.mark.parametrize(("auth_type", "handed_over"), [("oauth2_password", "Bearer "), ("basic", None)])
def test_token_and_basic_sessions_are_handed_over_and_signed_out(
    make_sandbox: Callable[..., SandboxServer], monkeypatch: pytest.MonkeyPatch, auth_type: str, handed_over: str | None
) -> None:
    """A bearer token travels to the trigger; a Basic header never does (it is the password): the cookies do."""
    server = make_sandbox(records=30, changes_per_hour=0)
    use_connection(monkeypatch, server.base_url, auth_type)
    server.set_faults(action_seconds=0.3)
    operator, trigger = deferred(opened_order(server))
    authorization = trigger.headers.get("Authorization")
    assert (authorization or "").startswith(handed_over) if handed_over else authorization is None
    assert first_event(trigger) == {"status": "done"}
    assert server.stats()["seats_in_use"] == 0
    assert operator.execute_complete({}, {"status": "done"})["status"] == "On Hold"
    assert server.stats()["seats_in_use"] == 0


def test_no_credential_in_the_repr_or_the_log(server: SandboxServer, caplog: pytest.LogCaptureFixture) -> None:
    server.set_faults(action_seconds=0.2)
    caplog.set_level(logging.DEBUG)
    _, trigger = deferred(opened_order(server))
    secrets = [value for value in server.issued_credentials() if len(value) >= 5]
    assert secrets and all(secret in trigger.headers["Cookie"] for secret in secrets)
    shown = repr(trigger) + str(trigger)
    assert "SalesOrder/PutOnHold" in shown and "hidden" in shown
    first_event(trigger)
    assert [secret for secret in secrets if secret in shown + caplog.text] == []
