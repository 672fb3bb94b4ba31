"""The downstream check refuses a file that does not match its manifest."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / "acumatica_data_ready.py"


@pytest.fixture(scope="module")
def module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("acumatica_data_ready", DAG_FILE)
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def manifest_for(path: Path, records: int) -> dict[str, Any]:
    data = path.read_bytes()
    return {
        "path": f"file://{path}",
        "format": "jsonl",
        "records": records,
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def test_a_matching_file_passes(module: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "customer.jsonl"
    path.write_text('{"id": 1}\n{"id": 2}\n')
    module.verify_file(manifest_for(path, 2))


def test_a_changed_file_fails(module: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "customer.jsonl"
    path.write_text('{"id": 1}\n{"id": 2}\n')
    manifest = manifest_for(path, 2)
    path.write_text('{"id": 1}\n{"id": 3}\n')
    with pytest.raises(ValueError, match="does not match its manifest"):
        module.verify_file(manifest)


def test_a_wrong_record_count_fails(module: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "customer.jsonl"
    path.write_text('{"id": 1}\n')
    with pytest.raises(ValueError, match="1 lines"):
        module.verify_file(manifest_for(path, 2))
