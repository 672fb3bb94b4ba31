"""The write-back example DAG through Airflow against the sandbox, and its reject threshold."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from airflow_provider_acumatica.sandbox import SandboxServer
from tests.airflow_runs import AirflowHome
from tests.connections import connection

DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / "acumatica_write_back.py"


@pytest.fixture(scope="module")
def module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("acumatica_write_back", DAG_FILE)
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def test_upserts_and_summarises(
    airflow_home: AirflowHome, make_sandbox: Callable[..., SandboxServer], tmp_path: Path
) -> None:
    server = make_sandbox(records=30, changes_per_hour=0)
    source = tmp_path / "customer_updates.jsonl"
    updates = [
        {"CustomerID": "C0000001", "CreditLimit": 2500},
        {"CustomerID": "WEBSHOP1", "CustomerName": "Web Shop Buyer"},
        {"CustomerID": "C0000002", "CustomerClass": "MARTIAN"},
    ]
    source.write_text("".join(json.dumps(u) + "\n" for u in updates))
    airflow_home.write_dag("acumatica_write_back", DAG_FILE.read_text())
    env = {"AIRFLOW_CONN_ACUMATICA_DEFAULT": connection(server.base_url, "session")}
    conf = json.dumps({"input_path": str(source), "max_reject_share": 0.5})
    result = airflow_home.test_dag("acumatica_write_back", env, extra_args=["--conf", conf])
    assert result.succeeded, result.output[-3000:]
    assert result.xcoms["summary"] == {
        "records": 3,
        "inserted": 1,
        "updated": 1,
        "unchanged": 0,
        "rejected": 1,
        "mismatched": 0,
    }
    outcomes = [json.loads(line) for line in (tmp_path / "customer_updates.results.jsonl").read_text().splitlines()]
    assert [o["outcome"] for o in outcomes] == ["updated", "inserted", "rejected"]
    assert "CustomerClass" in outcomes[2]["field_errors"]
    assert server.stats()["seats_in_use"] == 0


def test_the_summary_fails_beyond_the_share(module: ModuleType) -> None:
    manifest = {"records": 10, "inserted": 0, "updated": 8, "unchanged": 0, "rejected": 2, "mismatched": 0}
    assert module.check_rejects({**manifest, "results_path": "r"}, 0.2)["rejected"] == 2
    with pytest.raises(ValueError, match=r"2 of 10 records were rejected \(20% > 10%\); see r\."):
        module.check_rejects({**manifest, "results_path": "r"}, 0.1)
