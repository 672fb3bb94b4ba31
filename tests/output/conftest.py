"""Fixtures for the output tests: the official OpenAPI document and a SalesOrder schema."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_acumatica.output import EntitySchema
from tests.output.support import EXPAND, OFFICIAL, SELECT


@pytest.fixture(scope="session")
def official() -> dict[str, Any]:
    if not OFFICIAL.exists():
        pytest.skip(f"official OpenAPI reference document not found at {OFFICIAL}")
    document: dict[str, Any] = json.loads(OFFICIAL.read_text(encoding="utf-8"))
    return document


@pytest.fixture(scope="session")
def sales_order(official: dict[str, Any]) -> EntitySchema:
    """SalesOrder as `$select=SELECT&$expand=EXPAND` returns it."""
    return EntitySchema.from_openapi(official, "SalesOrder").restrict(SELECT, EXPAND)
