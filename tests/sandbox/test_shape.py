"""`shape.record_json` writes JSON by hand for speed; it must be exactly what `json.dumps` would write."""

from __future__ import annotations

import json

import pytest

from airflow_provider_acumatica.sandbox import catalog, shape
from airflow_provider_acumatica.sandbox.data import DataStore

COMPACT = (",", ":")


def expand_everything(entity: str, version: str) -> str | None:
    """Every child, nested linked entities included, in the version's `$expand` syntax."""
    children = catalog.children(entity)
    if not children:
        return None
    if catalog.VERSIONS[version].contract >= 5:
        return ",".join(children)
    nested = [f"{name}/{sub}" for name, child in children.items() for sub in catalog.children(child.schema)]
    return ",".join([*children, *nested])


@pytest.fixture(scope="module")
def data() -> DataStore:
    store = DataStore(seed=7, default_count=40, changes_per_hour=400)
    store.upsert("Customer", "24.200.001", {"CustomerID": {"value": "ÜMLAUT"}, "CustomerName": {"value": 'Café "Ω"'}})
    return store


@pytest.mark.parametrize("version", list(catalog.VERSIONS))
@pytest.mark.parametrize("entity", list(catalog.ENTITIES))
def test_record_json_is_the_canonical_compact_encoding(data: DataStore, entity: str, version: str) -> None:
    snap = data.snapshot(entity)
    projections = [shape.FULL, shape.parse_projection(entity, version, None, expand_everything(entity, version))]
    for projection in projections:
        for row, index in enumerate(snap.all().slice(0, None), start=1):
            text = shape.record_json(snap.view(index), version, projection, row, "/Site")
            assert text.isascii()
            assert json.dumps(json.loads(text), separators=COMPACT) == text


def test_non_ascii_values_are_escaped_like_json_dumps(data: DataStore) -> None:
    snap = data.snapshot("Customer")
    index = snap.find("ÜMLAUT")
    assert index is not None
    text = shape.record_json(snap.view(index), "24.200.001", shape.FULL, 1, "")
    assert '"CustomerName":{"value":"Caf\\u00e9 \\"\\u03a9\\""}' in text
    assert json.loads(text)["CustomerID"] == {"value": "ÜMLAUT"}
