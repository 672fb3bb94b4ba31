"""`iter_pages` on a window that ended in the past while the sandbox edits it between the pages, and a plain
`$top`/`$skip` client on the same seeded edits, which skips records (docs/exactness.md)."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_acumatica.hooks.acumatica import AcumaticaHook
from airflow_provider_acumatica.records import unwrap_record
from tests.changing_data import ENTITY, PAGE_SIZE, Scenario, changing_sandbox
from tests.connections import use_connection


def plain_offsets(hook: AcumaticaHook, scenario: Scenario) -> list[dict[str, Any]]:
    """What a hand-written client does: `$skip` grows by the page size until a short page."""
    records: list[dict[str, Any]] = []
    url = hook.entity_url(ENTITY)
    while True:
        params = {"$filter": scenario.filter, "$top": PAGE_SIZE, "$skip": len(records)}
        page = hook.request_json("GET", url, params=params)
        records.extend(page)
        if len(page) < PAGE_SIZE:
            return records


def test_iter_pages_hands_over_every_steady_record_once(monkeypatch: pytest.MonkeyPatch) -> None:
    with changing_sandbox() as scenario:
        use_connection(monkeypatch, scenario.server.base_url, "session")
        with AcumaticaHook() as hook:
            pages = list(hook.iter_pages(ENTITY, filter=scenario.filter, page_size=PAGE_SIZE))
        verdict = scenario.judge([unwrap_record(record) for page in pages for record in page])
        stream = scenario.stream_status()
    assert verdict.exact, verdict
    assert stream["deleted"] >= 30
    assert stream["list_requests"] > len(pages) + 1, "no page was fetched again: the stream did not bite"


def test_a_plain_offset_client_skips_records_on_the_same_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    with changing_sandbox() as scenario:
        use_connection(monkeypatch, scenario.server.base_url, "session")
        with AcumaticaHook() as hook:
            records = plain_offsets(hook, scenario)
        verdict = scenario.judge([unwrap_record(record) for record in records])
    assert len(verdict.missing) > 10
    assert not verdict.repeated
