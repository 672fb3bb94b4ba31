"""Every example DAG imports without errors and follows the house rules."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def dag_bag():  # type: ignore[no-untyped-def]
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:
        from airflow.models.dagbag import DagBag
    if "include_examples" in inspect.signature(DagBag).parameters:
        return DagBag(dag_folder=str(DAGS), include_examples=False)
    return DagBag(dag_folder=str(DAGS))


def test_no_import_errors(dag_bag) -> None:  # type: ignore[no-untyped-def]
    assert dag_bag.import_errors == {}
    assert {path.stem for path in DAGS.glob("*.py")} <= set(dag_bag.dag_ids)


def test_every_dag_is_documented_tagged_and_retries(dag_bag) -> None:  # type: ignore[no-untyped-def]
    for dag_id, dag in dag_bag.dags.items():
        assert dag.doc_md, dag_id
        assert "acumatica" in dag.tags, dag_id
        assert dag.default_args.get("retries", 0) >= 1, dag_id
        assert not dag.catchup, dag_id
