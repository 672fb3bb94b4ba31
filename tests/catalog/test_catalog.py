"""The shipped entity map: generated from the official endpoint data, and what it says."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_acumatica.catalog import EntityInfo, dac_of, default_entities, known_entity
from airflow_provider_acumatica.exceptions import AcumaticaConfigError
from tests.reference import ENTITY_MAP, OFFICIAL_OPENAPI

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "airflow_provider_acumatica" / "catalog" / "default_entities.json"


def test_the_committed_map_is_what_the_script_generates(tmp_path: Path) -> None:
    output = tmp_path / "map.json"
    command = [sys.executable, "scripts/generate_entity_map.py", "--csv", str(ENTITY_MAP), "--openapi"]
    subprocess.run([*command, str(OFFICIAL_OPENAPI), "--output", str(output)], cwd=ROOT, check=True)
    assert output.read_text(encoding="utf-8") == COMMITTED.read_text(encoding="utf-8")


def test_the_map_has_every_entity_of_the_reference_with_its_kind() -> None:
    with ENTITY_MAP.open(encoding="utf-8", newline="") as handle:
        rows = {row["entity"]: row for row in csv.DictReader(handle)}
    entities = default_entities()
    assert set(entities) == set(rows)
    assert {name for name, info in entities.items() if info.is_inquiry} == {
        name for name, row in rows.items() if row["kind"] == "inquiry"
    }
    for name, info in entities.items():
        assert info.last_modified_field == (rows[name]["last_modified_field"] or None)
        assert ";".join(info.details) == rows[name]["detail_fields"]


def test_entries_carry_the_short_dac_name_and_the_result_array() -> None:
    assert known_entity("Default", "SalesOrder") == EntityInfo(
        "SalesOrder",
        "record",
        "LastModified",
        default_entities()["SalesOrder"].details,
        None,
        "SOOrder",
    )
    assert known_entity("Default", "InventorySummaryInquiry") == EntityInfo(
        "InventorySummaryInquiry", "inquiry", None, ("Results",), "Results", None
    )
    assert known_entity("Default", "ShipVia") is not None
    assert known_entity("Default", "ShipVia").last_modified_field is None  # type: ignore[union-attr]
    assert known_entity("MyEndpoint", "SalesOrder") is None


def test_dac_of_resolves_records_and_explains_the_rest() -> None:
    assert dac_of("SalesOrder") == "SOOrder"
    assert dac_of("Customer") == "Customer"
    with pytest.raises(AcumaticaConfigError, match=r"Close matches: SalesOrder"):
        dac_of("SalesOrders")
    with pytest.raises(AcumaticaConfigError, match=r"inquiry form with no primary DAC.*dac="):
        dac_of("InventorySummaryInquiry")
