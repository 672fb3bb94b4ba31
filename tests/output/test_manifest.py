"""The manifest an extract returns: JSON-ready, verifiable against the file, and free of data and secrets."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from airflow_provider_acumatica.output import AtomicOutput, ExtractManifest, build_output_path, open_writer
from tests.output.support import order

STARTED = datetime(2024, 3, 20, 17, 0, tzinfo=UTC)


def test_manifest_of_a_published_file(tmp_path: Path) -> None:
    path = build_output_path(f"file://user:hunter2secret@{tmp_path}/orders.jsonl")
    with AtomicOutput(path) as out, open_writer("jsonl", out) as writer:
        writer.write_page([order(1), order(2)])
        writer.write_page([order(3)])
    manifest = ExtractManifest.from_output(
        out,
        writer,
        started=STARTED,
        finished=STARTED + timedelta(seconds=2.5),
        endpoint_version="24.200.001",
        entity="SalesOrder",
        window_start=datetime(2024, 3, 19, 20, 0, tzinfo=timezone(timedelta(hours=-4))),
        window_end="2024-03-20T00:00:00+00:00",
    )
    data = (tmp_path / "orders.jsonl").read_bytes()
    payload = json.loads(json.dumps(manifest.to_dict()))
    assert payload == {
        "path": f"file://{tmp_path}/orders.jsonl",
        "format": "jsonl",
        "records": 3,
        "pages": 2,
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "window": {"start": "2024-03-20T00:00:00+00:00", "end": "2024-03-20T00:00:00+00:00"},
        "endpoint_version": "24.200.001",
        "entity": "SalesOrder",
        "inquiry": None,
        "dac": None,
        "parameters": None,
        "content": "records",
        "started": "2024-03-20T17:00:00+00:00",
        "finished": "2024-03-20T17:00:02.500000+00:00",
        "duration_seconds": 2.5,
    }
    assert "hunter2secret" not in json.dumps(payload)
    assert "SO000001" not in json.dumps(payload)


def test_a_full_extract_has_no_window_and_finishes_now(tmp_path: Path) -> None:
    with AtomicOutput(build_output_path(str(tmp_path / "bi.csv"))) as out, open_writer("csv", out) as writer:
        writer.write_page([{"Customer": "C1", "Balance": 10.5}])
    manifest = ExtractManifest.from_output(out, writer, started=datetime.now(UTC), inquiry="BI-Customers")
    payload = manifest.to_dict()
    assert payload["window"] is None
    assert payload["inquiry"] == "BI-Customers"
    assert payload["entity"] is None
    assert 0 <= payload["duration_seconds"] < 5


def test_the_path_is_redacted_however_the_manifest_is_built() -> None:
    manifest = ExtractManifest(
        path="s3://key:secret@bucket/orders.parquet",
        format="parquet",
        records=0,
        pages=0,
        bytes=0,
        sha256=hashlib.sha256(b"").hexdigest(),
        started=STARTED,
        finished=STARTED,
        entity="SalesOrder",
    )
    assert manifest.to_dict()["path"] == "s3://bucket/orders.parquet"


@pytest.mark.parametrize(
    ("entity", "inquiry", "error"),
    [(None, None, "names its source"), ("SalesOrder", "BI-Orders", "an entity or a generic inquiry, not both")],
)
def test_one_source_is_named(entity: str | None, inquiry: str | None, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        ExtractManifest("p", "jsonl", 0, 0, 0, "", STARTED, STARTED, entity=entity, inquiry=inquiry)


def test_a_dac_extract_names_its_dac_and_a_deletions_file_says_so() -> None:
    manifest = ExtractManifest(
        "p", "jsonl", 0, 0, 0, "", STARTED, STARTED, entity="SalesOrder", dac="SOOrder", content="deletions"
    )
    assert (manifest.to_dict()["dac"], manifest.to_dict()["content"]) == ("SOOrder", "deletions")
