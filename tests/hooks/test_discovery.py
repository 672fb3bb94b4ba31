"""`discover_entities` and `custom_fields` against the running sandbox."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from airflow_provider_acumatica.catalog import default_entities, discovery
from airflow_provider_acumatica.hooks.acumatica import AcumaticaHook
from airflow_provider_acumatica.output.schema import EntitySchema, FieldType
from airflow_provider_acumatica.retry_policy import RetryPolicy
from airflow_provider_acumatica.sandbox import SandboxServer
from tests.connections import use_connection

FAST = RetryPolicy(max_retries=2, max_seconds=10, backoff_base=0.01, backoff_cap=0.05, retry_after_cap=0.05)


def hook_for(monkeypatch: pytest.MonkeyPatch, server: SandboxServer, **extra: Any) -> AcumaticaHook:
    return AcumaticaHook(use_connection(monkeypatch, server.base_url, "session", **extra), retry_policy=FAST)


def served_details(hook: AcumaticaHook, entity: str, version: str | None = None) -> tuple[str, ...]:
    schema: EntitySchema = hook.entity_schema(entity, version)
    return tuple(f.name for f in schema.fields if f.type is FieldType.DETAIL and f.name != "files")


def test_every_served_entity_is_classified_from_the_map(
    monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer
) -> None:
    with hook_for(monkeypatch, sandbox) as hook:
        entities = hook.discover_entities()
        served = discovery.top_level_entities(hook.swagger())
        details = {info.name: served_details(hook, info.name) for info in entities}
        calls = hook.call_stats.calls
    assert [info.name for info in entities] == served
    for info in entities:
        known = default_entities()[info.name]
        assert (info.kind, info.dac, info.result_field) == (known.kind, known.dac, known.result_field)
        assert info.last_modified_field == known.last_modified_field
        assert info.details == details[info.name]
    assert calls == 1, "one swagger.json and no probe for entities the map knows"
    assert sandbox.stats()["seats_in_use"] == 0


def test_a_version_that_renames_the_cursor_gets_the_served_one(
    monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer
) -> None:
    with hook_for(monkeypatch, sandbox) as hook:
        by_name = {info.name: info for info in hook.discover_entities("26.200.001")}
    assert default_entities()["SalesOrder"].last_modified_field == "LastModified"
    assert by_name["SalesOrder"].last_modified_field == "LastModifiedDateTime"


def test_entities_the_map_does_not_know_are_probed(monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer) -> None:
    monkeypatch.setattr(discovery, "known_entity", lambda endpoint, entity: None)
    with hook_for(monkeypatch, sandbox) as hook:
        entities = hook.discover_entities()
        calls = hook.call_stats.calls
    assert calls == 1 + len(entities)
    for info in entities:
        known = default_entities()[info.name]
        assert (info.kind, info.result_field, info.last_modified_field) == (
            known.kind,
            known.result_field,
            known.last_modified_field,
        ), info.name
        assert info.dac is None
    assert {info.name for info in entities if info.is_inquiry} == {"InventorySummaryInquiry", "SalesPricesInquiry"}


def test_custom_fields_and_attributes_come_from_the_ad_hoc_schema(
    monkeypatch: pytest.MonkeyPatch, make_sandbox: Callable[..., SandboxServer]
) -> None:
    sandbox = make_sandbox()
    publish = {"entity": "Customer", "view": "BAccount", "field": "UsrNewField", "type": "CustomStringField"}
    with hook_for(monkeypatch, sandbox) as hook:
        before = hook.custom_fields("Customer")
        requests.post(f"{sandbox.base_url}/_sandbox/custom_fields", json=publish, timeout=10).raise_for_status()
        after = hook.custom_fields("Customer")
        records = list(hook.iter_records("Customer", custom=after.custom_param, page_size=5))[:5]
    assert "BAccount.UsrNewField" not in before.fields
    assert after.fields["BAccount.UsrNewField"] == "CustomStringField"
    assert all(name.split(".", 1)[1].startswith("Attribute") for name in after.attributes)
    assert after.attributes and set(after.fields).isdisjoint(after.attributes)
    assert all("UsrNewField" in record["custom"]["BAccount"] for record in records)
