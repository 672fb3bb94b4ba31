"""The change trigger's `run()` under asyncio against the sandbox over HTTP: events, watermark, seats, backoff."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from airflow_provider_acumatica.exceptions import AcumaticaConfigError
from airflow_provider_acumatica.sandbox import SandboxServer
from airflow_provider_acumatica.triggers.change import AcumaticaChangeTrigger
from tests.connections import use_connection

POLL = 0.2
TIMEOUT = 10


class MemoryAccessor:
    """Stands in for Airflow 3.3's per-asset state store accessor, which only a triggerer injects."""

    def __init__(self, values: dict[str, Any] | None = None) -> None:
        self.values = dict(values or {})

    async def aget(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    async def aset(self, key: str, value: Any) -> None:
        self.values[key] = value


class StateStore:
    def __init__(self, accessor: MemoryAccessor) -> None:
        self.accessor = accessor

    def _single_accessor(self) -> MemoryAccessor:
        return self.accessor


class Log:
    """What the trigger logged so far: Airflow's structlog writes to stdout, not to `logging` handlers."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self._capsys = capsys
        self._seen = ""

    @property
    def text(self) -> str:
        captured = self._capsys.readouterr()
        self._seen += captured.out + captured.err
        return self._seen


@pytest.fixture
def log(capsys: pytest.CaptureFixture[str]) -> Log:
    return Log(capsys)


@pytest.fixture
def server(make_sandbox: Callable[..., SandboxServer], monkeypatch: pytest.MonkeyPatch) -> SandboxServer:
    started = make_sandbox(records=20, changes_per_hour=0)
    use_connection(monkeypatch, started.base_url, "session")
    return started


def watching(accessor: MemoryAccessor | None = None, **kwargs: Any) -> AcumaticaChangeTrigger:
    trigger = AcumaticaChangeTrigger(entity="Customer", poll_interval=POLL, max_backoff=4 * POLL, **kwargs)
    trigger.asset_state_store = StateStore(accessor or MemoryAccessor())
    return trigger


def stats(server: SandboxServer) -> dict[str, Any]:
    answer: dict[str, Any] = requests.get(server.base_url + "/_sandbox/stats", timeout=TIMEOUT).json()
    return answer


def change(server: SandboxServer, **counts: int) -> None:
    body = {"entity": "Customer", "seed": 7, **(counts or {"updates": 1})}
    requests.post(server.base_url + "/_sandbox/changes", json=body, timeout=TIMEOUT).raise_for_status()


def list_requests(server: SandboxServer) -> int:
    return sum(stats(server)["routes"].get("contract", {}).values())


async def events_within(trigger: AcumaticaChangeTrigger, seconds: float, during: Any = None) -> list[dict[str, Any]]:
    """Every event the trigger yields within `seconds`; `during` (a coroutine) runs alongside."""
    collected: list[dict[str, Any]] = []

    async def collect() -> None:
        async for event in trigger.run():
            collected.append(dict(event.payload))

    task = asyncio.ensure_future(collect())
    if during is not None:
        await during
    await asyncio.sleep(seconds)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return collected


async def until(condition: Callable[[], bool], seconds: float = TIMEOUT) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


def until_async(condition: Callable[[], bool]) -> Coroutine[Any, Any, None]:
    """Wait for `condition` however loaded the machine is, instead of a fixed number of polls."""
    return until(condition, seconds=30)


def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coroutine)


def test_serialize_round_trips_and_holds_no_moving_state() -> None:
    trigger = AcumaticaChangeTrigger(entity="SalesOrder", acumatica_conn_id="erp", poll_interval=60, max_backoff=600)
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_acumatica.triggers.change.AcumaticaChangeTrigger"
    assert AcumaticaChangeTrigger(**kwargs).serialize() == (classpath, kwargs)
    again = AcumaticaChangeTrigger(entity="SalesOrder", acumatica_conn_id="erp", poll_interval=60, max_backoff=600)
    assert again.serialize() == (classpath, kwargs)
    assert kwargs == {
        "entity": "SalesOrder",
        "acumatica_conn_id": "erp",
        "last_modified_field": "auto",
        "poll_interval": 60,
        "max_backoff": 600,
        "endpoint_version": None,
    }


def test_bad_limits_and_field_names_are_refused_at_parse_time() -> None:
    with pytest.raises(AcumaticaConfigError, match="max_backoff"):
        AcumaticaChangeTrigger(entity="Customer", poll_interval=60, max_backoff=30)
    with pytest.raises(AcumaticaConfigError):
        AcumaticaChangeTrigger(entity="Customer", last_modified_field="LastModified; drop")


def test_no_event_at_start_even_with_records_and_the_server_time_is_stored(server: SandboxServer) -> None:
    accessor = MemoryAccessor()
    assert run(events_within(watching(accessor), 6 * POLL)) == []
    stored = datetime.fromisoformat(accessor.values["acumatica_change_watermark__acumatica_default__Customer"])
    assert abs(stored - datetime.now(UTC)) < timedelta(seconds=5)
    assert list_requests(server) >= 3


def test_one_event_per_batch_of_changes_then_quiet(server: SandboxServer) -> None:
    accessor = MemoryAccessor()
    trigger = watching(accessor)

    async def edit_after_the_first_poll() -> None:
        await until(lambda: bool(accessor.values))
        change(server, updates=3, inserts=1)

    events = run(events_within(trigger, 8 * POLL, edit_after_the_first_poll()))
    assert len(events) in {1, 2}, events
    first = events[0]
    assert first["entity"] == "Customer" and first["acumatica_conn_id"] == "acumatica_default"
    assert datetime.fromisoformat(first["detected_at"]) >= datetime.fromisoformat(first["changed_since"])
    assert first["changed_id"]


def test_a_stored_watermark_resumes_after_a_restart_and_the_change_in_between_fires(server: SandboxServer) -> None:
    key = "acumatica_change_watermark__acumatica_default__Customer"
    before = (datetime.now(UTC) - timedelta(seconds=2)).isoformat()
    change(server)
    accessor = MemoryAccessor({key: before})
    events = run(events_within(watching(accessor), 0.5, until_async(lambda: accessor.values[key] != before)))
    assert len(events) == 1
    assert events[0]["changed_since"] == before
    assert accessor.values[key] == events[0]["detected_at"]


def test_no_seat_is_held_between_polls_and_every_session_is_signed_out(server: SandboxServer) -> None:
    samples: list[int] = []

    async def sample() -> None:
        for _ in range(40):
            samples.append(stats(server)["seats_in_use"])
            await asyncio.sleep(POLL / 4)

    run(events_within(watching(), 0.1, sample()))
    counters = stats(server)
    assert counters["sessions"]["opened"] >= 5
    assert counters["sessions"]["opened"] == counters["sessions"]["closed"]
    assert counters["seats_in_use"] == 0 and counters["peak_seats"] == 1
    assert samples.count(0) > len(samples) / 2


def test_cancelling_mid_poll_still_signs_out(server: SandboxServer) -> None:
    requests.post(server.base_url + "/_sandbox/faults", json={"latency_ms": 300}, timeout=TIMEOUT)

    async def cancel_while_a_poll_waits() -> None:
        await until(lambda: stats(server)["seats_in_use"] == 1)

    run(events_within(watching(), 0.0, cancel_while_a_poll_waits()))
    counters = stats(server)
    assert counters["seats_in_use"] == 0
    assert counters["sessions"]["opened"] == counters["sessions"]["closed"] >= 1


def test_server_errors_back_off_signed_out_then_polling_resumes(server: SandboxServer, log: Log) -> None:
    accessor = MemoryAccessor()
    trigger = watching(accessor)

    async def fail_then_recover() -> None:
        await until(lambda: bool(accessor.values))
        requests.post(server.base_url + "/_sandbox/faults", json={"rate_503": 1.0}, timeout=TIMEOUT)
        await until(lambda: "trying again in 0.8 s" in log.text)
        requests.post(server.base_url + "/_sandbox/faults", json={"rate_503": 0.0}, timeout=TIMEOUT)
        change(server)

    events = run(events_within(trigger, 8 * POLL, fail_then_recover()))
    assert "Polling Customer failed (HTTP 503); trying again in 0.4 s." in log.text
    assert len(events) >= 1
    assert stats(server)["seats_in_use"] == 0


def test_rejected_credentials_are_tried_once_until_the_connection_changes(
    server: SandboxServer, monkeypatch: pytest.MonkeyPatch, log: Log
) -> None:
    use_connection(monkeypatch, server.base_url, "session", password="wrong-password-4411")
    accessor = MemoryAccessor()

    async def fix_the_connection_later() -> None:
        await until(lambda: "Not signing in again until the connection acumatica_default changes." in log.text)
        await asyncio.sleep(4 * POLL)
        assert stats(server)["routes"]["login"] == {"500": 1}
        use_connection(monkeypatch, server.base_url, "session")
        await until(lambda: bool(accessor.values))

    assert run(events_within(watching(accessor), 0.0, fix_the_connection_later())) == []
    assert "The connection acumatica_default changed: signing in again." in log.text
    assert stats(server)["routes"]["login"]["500"] == 1
    assert "wrong-password-4411" not in log.text


def test_an_unknown_entity_is_logged_and_retried_only_at_the_longest_wait(server: SandboxServer, log: Log) -> None:
    trigger = AcumaticaChangeTrigger(entity="Customerz", poll_interval=POLL, max_backoff=30.0)
    trigger.asset_state_store = StateStore(MemoryAccessor())
    assert run(events_within(trigger, 6 * POLL)) == []
    assert "Polling Customerz failed" in log.text and "Trying again in 30 s." in log.text
    assert stats(server)["seats_in_use"] == 0


def test_an_entity_without_a_last_modified_field_says_what_to_do(server: SandboxServer, log: Log) -> None:
    trigger = AcumaticaChangeTrigger(entity="ShipVia", poll_interval=POLL, max_backoff=30.0)
    trigger.asset_state_store = StateStore(MemoryAccessor())
    said = "ShipVia has no last-modified field, so no change can be polled for."
    assert run(events_within(trigger, 0.0, until_async(lambda: said in log.text))) == []
    assert "ShipVia has no last-modified field, so no change can be polled for." in log.text
    assert stats(server)["seats_in_use"] == 0
