"""Where the change trigger keeps its watermark: the asset state store, else a Variable where one can be written."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from airflow import __version__ as airflow_version

from airflow_provider_acumatica.triggers.watermark import (
    AssetStateWatermark,
    VariableWatermark,
    parse_moment,
    triggerer_accepts,
    watermark_store,
)

AIRFLOW_3_3 = tuple(int(part) for part in airflow_version.split(".")[:2]) >= (3, 3)


class Accessors:
    def __init__(self, assets: int) -> None:
        self.assets = assets

    def _single_accessor(self) -> object:
        if self.assets != 1:
            raise ValueError("Task has 2 concrete inlets and outlets")
        return object()


class Trigger:
    asset_state_store: Any = None


def test_one_watched_asset_uses_its_state_store() -> None:
    trigger = Trigger()
    trigger.asset_state_store = Accessors(1)
    assert isinstance(watermark_store(trigger, "key"), AssetStateWatermark)


@pytest.mark.parametrize("accessors", [None, Accessors(2)], ids=["before 3.3", "several assets"])
def test_otherwise_a_variable_writable_only_where_the_triggerer_accepts_it(accessors: Accessors | None) -> None:
    trigger = Trigger()
    trigger.asset_state_store = accessors
    store = watermark_store(trigger, "key")
    assert isinstance(store, VariableWatermark)
    assert store._writable is triggerer_accepts("PutVariable")


def test_the_triggerer_of_3_3_accepts_variable_writes_and_3_0_does_not() -> None:
    assert triggerer_accepts("GetVariable")
    assert triggerer_accepts("PutVariable") is AIRFLOW_3_3
    assert not triggerer_accepts("NoSuchMessage")


@pytest.mark.skipif(not AIRFLOW_3_3, reason="3.0's Task SDK reads Variables only through a supervisor")
def test_a_variable_set_by_a_task_or_by_hand_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_VAR_ACUMATICA_WM", "2026-12-01T10:00:00+01:00")
    moment = asyncio.run(VariableWatermark("acumatica_wm", writable=False).load())
    assert moment == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert asyncio.run(VariableWatermark("acumatica_missing_wm", writable=False).load()) is None


def test_stored_moments_are_read_as_utc_and_garbage_counts_as_none() -> None:
    assert parse_moment("2026-12-01T10:00:00") == datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    assert parse_moment("yesterday") is None
    assert parse_moment(None) is None
    assert parse_moment(12) is None
