"""`AcumaticaExtractOperator` on inquiry forms: parameters in the PUT body, the result array as the records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from airflow_provider_acumatica.exceptions import AcumaticaApiError, AcumaticaConfigError
from airflow_provider_acumatica.operators.extract import AcumaticaExtractOperator
from airflow_provider_acumatica.records import unwrap_record
from airflow_provider_acumatica.sandbox import SandboxServer
from tests.connections import use_connection


def extract(tmp_path: Path, name: str = "o.jsonl", **kwargs: Any) -> AcumaticaExtractOperator:
    return AcumaticaExtractOperator(task_id="inquiry", output_path=str(tmp_path / name), **kwargs)


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_an_inquiry_extract_equals_the_ground_truth(
    monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer, tmp_path: Path
) -> None:
    use_connection(monkeypatch, sandbox.base_url, "session")
    item = next(
        r
        for r in sandbox.store.iter_records("StockItem", expand=["WarehouseDetails"])
        if len(r["WarehouseDetails"]) > 1
    )
    item_id = item["InventoryID"]["value"]
    parameters = {"InventoryID": item_id}
    manifest = extract(tmp_path, entity="InventorySummaryInquiry", parameters=parameters).execute({})
    rows = lines(tmp_path / "o.jsonl")
    expected = {line["WarehouseID"]["value"]: line["QtyOnHand"]["value"] for line in item["WarehouseDetails"]}
    assert {row["WarehouseID"]: row["QtyOnHand"] for row in rows} == expected
    assert manifest["parameters"] == parameters and manifest["entity"] == "InventorySummaryInquiry"
    assert manifest["records"] == len(expected)
    assert sandbox.stats()["seats_in_use"] == 0


def test_sales_prices_to_parquet_are_typed_from_the_result_array(
    monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer, tmp_path: Path
) -> None:
    use_connection(monkeypatch, sandbox.base_url, "oauth2_password")
    manifest = extract(
        tmp_path, "p.parquet", entity="SalesPricesInquiry", parameters={}, output_format="parquet", page_size=50
    ).execute({})
    table = pq.read_table(tmp_path / "p.parquet")
    items = [unwrap_record(item) for item in sandbox.store.iter_records("StockItem")]
    assert table.column("InventoryID").to_pylist() == [item["InventoryID"] for item in items]
    assert manifest["records"] == len(items) and manifest["pages"] == -(-len(items) // 50)
    assert str(table.schema.field("Price").type).startswith("decimal")


def test_a_missing_required_parameter_passes_the_server_message_on(
    monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer, tmp_path: Path
) -> None:
    use_connection(monkeypatch, sandbox.base_url, "session")
    operator = extract(tmp_path, entity="InventorySummaryInquiry", parameters={"WarehouseID": "MAIN"})
    with pytest.raises(AcumaticaApiError, match=r"HTTP 422.*InventoryID: 'Inventory ID' cannot be empty"):
        operator.execute({})
    assert not list(tmp_path.iterdir())
    assert sandbox.stats()["seats_in_use"] == 0


@pytest.mark.parametrize(
    ("options", "named"),
    [({"incremental_field": "auto"}, "incremental_field"), ({"parallelism": 2}, "parallelism > 1")],
)
def test_list_options_on_an_inquiry_are_refused(options: dict[str, Any], named: str, tmp_path: Path) -> None:
    with pytest.raises(AcumaticaConfigError, match=rf"inquiry form: .*{named} cannot apply"):
        extract(tmp_path, entity="InventorySummaryInquiry", **options)


def test_a_list_of_an_inquiry_explains_how_to_read_it(
    monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer, tmp_path: Path
) -> None:
    use_connection(monkeypatch, sandbox.base_url, "session")
    monkeypatch.setattr("airflow_provider_acumatica.operators.extract.known_entity", lambda endpoint, entity: None)
    with pytest.raises(AcumaticaApiError, match=r"CannotOptimize|cannot be listed.*parameters="):
        extract(tmp_path, entity="SalesPricesInquiry").execute({})
    rows = extract(tmp_path, "p.jsonl", entity="SalesPricesInquiry", parameters={}).execute({})
    assert rows["records"] == sandbox.store.count("StockItem")
