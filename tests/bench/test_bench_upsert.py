"""The write-back benchmark at a small scale, for correctness only: every client leaves the sandbox in the
expected state with the expected outcomes, every session is signed out, and the operator's results file is
the same with 1, 2 and 4 sessions. No timing is checked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
RECORDS, PARALLEL_RECORDS = 200, 40


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("upsert")
    command = [sys.executable, str(ROOT / "bench" / "upsert.py"), "--records", str(RECORDS), "--repeats", "1"]
    command += ["--parallel-records", str(PARALLEL_RECORDS), "--latency-ms", "10", "--out", str(out)]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-3000:]
    assert "| Provider, parallelism 1 |" in completed.stdout
    assert sorted(p.name for p in out.iterdir()) == ["upsert.json"]
    result: dict[str, Any] = json.loads((out / "upsert.json").read_text())
    return result


def test_every_client_leaves_the_expected_state_with_the_expected_outcomes(report: dict[str, Any]) -> None:
    assert report["failures"] == []
    # Every 10th record repeats its stored values, every 50th is refused (a negative credit limit).
    assert report["expected_outcomes"] == {"rejected": 4, "unchanged": 16, "updated": 180}
    runs = {run["client"]: run for run in report["runs"]}
    assert set(runs) == {"baseline", "baseline-echo", "provider"}
    assert runs["provider"]["outcomes"] == {"inserted": 0, "rejected": 4, "unchanged": 16, "updated": 180}
    assert runs["baseline"]["outcomes"] == runs["baseline-echo"]["outcomes"] == {"200": 196, "422": 4}
    for run in runs.values():
        assert run["records"] == RECORDS
        assert run["state_differences"] == []
        assert (run["sign_ins"], run["peak_seats"], run["sessions_left_open"]) == (1, 1, 0)
    # One PUT per record, one sign-in and one sign-out; the operator also reads swagger.json once.
    assert runs["baseline"]["requests"] == RECORDS + 2
    assert runs["provider"]["requests"] == RECORDS + 3


def test_the_results_file_is_the_same_on_one_two_and_four_sessions(report: dict[str, Any]) -> None:
    parallel = report["parallel"]
    assert [run["parallelism"] for run in parallel] == [1, 2, 4]
    assert len({run["results_file"] for run in parallel}) == 1
    for run in parallel:
        assert run["records"] == PARALLEL_RECORDS
        assert run["outcomes"] == {"inserted": 0, "rejected": 0, "unchanged": 4, "updated": 36}
        assert run["state_differences"] == []
        k = run["parallelism"]
        assert (run["sign_ins"], run["sessions_left_open"]) == (k, 0)
        assert run["peak_seats"] <= k
