"""The push trigger over a real spool folder: batches, coalescing, consumption after hand-over, ack mode."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_acumatica.push.payload import Notification, parse_notification
from airflow_provider_acumatica.push.spool import Spool
from airflow_provider_acumatica.triggers.push import ACK_MODE, AcumaticaPushTrigger, SpoolWatcher

CUSTOMERS = "Customer: Last Modified"
ORDERS = "SalesOrder: Last Modified"


def notification(timestamp: int, query: str = CUSTOMERS) -> Notification:
    return parse_notification(
        {
            "Inserted": [{"CustomerID": f"C{timestamp}", "Status": "Active"}],
            "Deleted": [],
            "Query": query,
            "CompanyId": "Company",
            "Id": str(uuid.uuid4()),
            "TimeStamp": timestamp,
        }
    )


def trigger(spool: Path, settle_seconds: float = 0.2, **kwargs: Any) -> AcumaticaPushTrigger:
    return AcumaticaPushTrigger(spool=str(spool), poll_interval=0.05, settle_seconds=settle_seconds, **kwargs)


async def first_events(watched: AcumaticaPushTrigger, count: int, during: Any = None) -> list[dict[str, Any]]:
    """The first `count` events; the generator is closed right after, as a triggerer restart would."""
    events: list[dict[str, Any]] = []
    runner = watched.run()
    background = asyncio.ensure_future(during) if during is not None else None
    try:
        async with asyncio.timeout(10):
            async for event in runner:
                events.append(dict(event.payload))
                if len(events) == count:
                    break
    finally:
        await runner.aclose()
        if background is not None:
            await background
    return events


async def no_event_within(watched: AcumaticaPushTrigger, seconds: float) -> bool:
    try:
        async with asyncio.timeout(seconds):
            async for _ in watched.run():
                return False
    except TimeoutError:
        return True
    return True


def test_serialize_round_trips_and_holds_names_and_limits_only(tmp_path: Path) -> None:
    watched = AcumaticaPushTrigger(spool=str(tmp_path), queries=[ORDERS, CUSTOMERS])
    classpath, kwargs = watched.serialize()
    assert classpath == "airflow_provider_acumatica.triggers.push.AcumaticaPushTrigger"
    assert kwargs == {
        "spool": str(tmp_path),
        "spool_conn_id": None,
        "queries": [CUSTOMERS, ORDERS],
        "poll_interval": 5.0,
        "settle_seconds": 2.0,
        "max_batch": 1000,
    }
    assert AcumaticaPushTrigger(**kwargs).serialize() == (classpath, kwargs)


def test_bad_limits_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="poll_interval must be positive"):
        AcumaticaPushTrigger(spool=str(tmp_path), poll_interval=0)


def test_an_empty_spool_fires_nothing(tmp_path: Path) -> None:
    assert asyncio.run(no_event_within(trigger(tmp_path), 0.5))


def test_a_burst_coalesces_into_one_bounded_event(tmp_path: Path) -> None:
    spool = Spool.at(str(tmp_path))

    async def burst() -> None:
        for timestamp in range(100, 160):
            spool.store(notification(timestamp))
            await asyncio.sleep(0.001)

    # Settle long enough for 60 fsynced files on a loaded machine: the burst must fit in one settle time.
    (event,) = asyncio.run(first_events(trigger(tmp_path, settle_seconds=3.0), 1, burst()))
    assert event["notifications"] == 60
    assert event["queries"] == {CUSTOMERS: 60}
    assert (event["first_timestamp"], event["last_timestamp"]) == (100, 159)
    assert len(event["ids"]) == 50 and len(event["summaries"]) == 20 and event["truncated"] is True
    assert event["summaries"][0]["keys"] == [{"CustomerID": "C100"}]


def test_a_batch_is_consumed_only_once_the_triggerer_comes_back_for_more(tmp_path: Path) -> None:
    spool = Spool.at(str(tmp_path))
    spool.store(notification(1))
    asyncio.run(first_events(trigger(tmp_path), 1))
    assert len(spool.pending()) == 1, "closed right after the event, as a killed triggerer: still pending"

    async def hand_over_then_ask_again() -> list[dict[str, Any]]:
        runner = trigger(tmp_path).run()
        first = await anext(runner)
        spool.store(notification(2))
        second = await anext(runner)
        await runner.aclose()
        return [dict(first.payload), dict(second.payload)]

    first, second = asyncio.run(hand_over_then_ask_again())
    assert first["first_timestamp"] == 1 and second["first_timestamp"] == 2
    assert [item.notification.timestamp for item in spool.pending()] == [2]


def test_a_restart_emits_again_what_was_not_consumed(tmp_path: Path) -> None:
    spool = Spool.at(str(tmp_path))
    spool.store(notification(7))
    before = asyncio.run(first_events(trigger(tmp_path), 1))
    after = asyncio.run(first_events(trigger(tmp_path), 1))
    assert before[0]["ids"] == after[0]["ids"]


def test_queries_select_what_fires_and_the_rest_stays_pending(tmp_path: Path) -> None:
    spool = Spool.at(str(tmp_path))
    spool.store(notification(1, ORDERS))
    spool.store(notification(2, CUSTOMERS))

    async def take_one_and_move_on() -> dict[str, Any]:
        runner = trigger(tmp_path, queries=[CUSTOMERS]).run()
        event = await anext(runner)
        task = asyncio.ensure_future(anext(runner))
        await asyncio.sleep(0.3)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return dict(event.payload)

    event = asyncio.run(take_one_and_move_on())
    assert event["queries"] == {CUSTOMERS: 1}
    assert [item.notification.query for item in spool.pending()] == [ORDERS]


@pytest.mark.skipif(not ACK_MODE, reason="shared streams with ack mode came with Airflow 3.3")
def test_ack_mode_consumes_a_stored_batch_and_hands_a_failed_one_out_again(tmp_path: Path) -> None:
    from airflow.triggers.shared_stream import AdvanceItem, AdvanceOutcome

    spool = Spool.at(str(tmp_path))
    spool.store(notification(1))
    watched = trigger(tmp_path, queries=[CUSTOMERS])
    assert watched.shared_stream_key() == ("acumatica-push-spool", str(tmp_path), None, 0.05, 0.2)
    producer = AcumaticaPushTrigger.create_shared_stream_producer(watched.serialize()[1])

    async def scenario() -> None:
        stream = producer.open_stream()
        batch, names = await anext(stream)
        (event,) = [event async for event in watched.filter_shared_stream(_once(batch))]
        assert event.payload["notifications"] == 1
        await producer.advance([AdvanceItem(names, AdvanceOutcome(acked=0, failed=1))])
        assert len(spool.pending()) == 1
        _, names_again = await anext(stream)
        assert names_again == names
        await producer.advance([AdvanceItem(names_again, AdvanceOutcome(acked=1, failed=0))])
        assert spool.pending() == []
        await stream.aclose()

    asyncio.run(scenario())


def test_a_shared_batch_without_wanted_queries_fires_nothing(tmp_path: Path) -> None:
    watcher = SpoolWatcher(str(tmp_path), None, 0.05, 0.0)
    Spool.at(str(tmp_path)).store(notification(1, ORDERS))

    async def scenario() -> list[Any]:
        batch = await anext(watcher.batches(10))
        return [event async for event in trigger(tmp_path, queries=[CUSTOMERS]).filter_shared_stream(_once(batch))]

    assert asyncio.run(scenario()) == []


async def _once(item: Any) -> AsyncIterator[Any]:
    yield item
