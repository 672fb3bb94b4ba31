"""The benchmark at a small scale, for correctness only: the same records from every client, k=1 and
k=2 byte-identical, one sign-in per session, no session left open by the provider. No timing is checked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
RECORDS, PAGE_SIZE = 2500, 500


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench")
    command = [sys.executable, str(ROOT / "bench" / "run.py"), "--sizes", str(RECORDS), "--page-size", str(PAGE_SIZE)]
    command += ["--parallel-records", "3000", "--parallel-latency-ms", "10", "--parallelism", "2"]
    command += ["--parallel-page-sizes", "400", "--reconcile-records", "1000", "--out", str(out), "--no-plot"]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-3000:]
    result: dict[str, Any] = json.loads((out / "benchmark.json").read_text())
    assert (out / "benchmark.md").read_text().startswith("| Records | Client |")
    assert sorted(p.name for p in out.iterdir()) == ["benchmark.json", "benchmark.md"]
    return result


def runs_by_client(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {run["client"]: run for run in report["runs"]}


def test_every_client_lands_the_same_records(report: dict[str, Any]) -> None:
    runs = runs_by_client(report)
    assert set(runs) == {"baseline", "provider-jsonl", "provider-parquet", "http-operator"}
    assert {run["records"] for run in runs.values()} == {RECORDS}
    assert runs["provider-jsonl"]["output"] == runs["baseline"]["output"] == runs["http-operator"]["output"]
    assert runs["provider-parquet"]["output"] == runs["baseline"]["ids"]
    assert runs["provider-parquet"]["output"].startswith(f"parquet:{RECORDS}:")
    assert report["failures"] == []


def test_the_provider_signs_in_once_and_closes_its_session(report: dict[str, Any]) -> None:
    runs = runs_by_client(report)
    for client in ("provider-jsonl", "provider-parquet", "baseline"):
        assert runs[client]["sign_ins"] == 1, client
        assert runs[client]["sessions_opened"] == 1, client
        assert runs[client]["sessions_left_open"] == 0, client


def test_the_http_operator_opens_a_session_per_page_and_leaves_them(report: dict[str, Any]) -> None:
    run = runs_by_client(report)["http-operator"]
    pages = RECORDS // PAGE_SIZE + 1
    assert run["sessions_opened"] == pages
    assert run["sessions_left_open"] == pages


def test_parallel_output_is_the_serial_output_on_k_seats(report: dict[str, Any]) -> None:
    (result,) = report["parallel"]
    serial, parallel = result["serial"], result["parallel"]
    assert result["identical_output"] is True
    assert serial["output"] == parallel["output"]
    assert serial["records"] == parallel["records"] == 3000
    assert (serial["sign_ins"], serial["peak_seats"], serial["sessions_left_open"]) == (1, 1, 0)
    assert (parallel["sign_ins"], parallel["peak_seats"], parallel["sessions_left_open"]) == (2, 2, 0)


def test_ratios_are_against_the_baseline_of_the_same_run(report: dict[str, Any]) -> None:
    runs = runs_by_client(report)
    base = runs["baseline"]
    assert base["throughput_vs_baseline"] == 1.0
    for run in runs.values():
        expected = run["records_per_second"] / base["records_per_second"]
        assert run["throughput_vs_baseline"] == pytest.approx(expected, abs=0.001)
        assert run["cpu_seconds"] > 0
        assert run["peak_rss_kb"] >= run["rss_start_kb"] > 0
    assert report["machine"]["cpus"] >= 1


def test_the_reconcile_listing_reads_every_record_for_a_fraction_of_the_bytes(report: dict[str, Any]) -> None:
    reconcile = report["reconcile"]
    listings = ("ids", "ids_dac", "full", "full_expanded")
    assert [reconcile[name]["records"] for name in listings] == [1000] * 4
    assert reconcile["ids_vs_full"] == report["targets"]["iter_ids_bytes_vs_full"]
    assert reconcile["ids_dac_vs_full"] == report["targets"]["dac_iter_ids_bytes_vs_full"]
    assert 0 < reconcile["ids_dac_vs_full"] < reconcile["ids_vs_full"] < 0.5
