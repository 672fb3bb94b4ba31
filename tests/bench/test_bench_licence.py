"""The licence benchmark at a small scale and on a 3 s window, for correctness only: the paced extract is
never declined and lands the unpaced file, the storm overflows the queue, every declined request is
retried and every storm file is exact. No timing or rate is checked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
RECORDS, STORM_RECORDS, STORM_TASKS, STORM_PARALLELISM = 1500, 1200, 4, 6


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("licence")
    command = [sys.executable, str(ROOT / "bench" / "licence.py"), "--records", str(RECORDS)]
    command += ["--storm-records", str(STORM_RECORDS), "--storm-tasks", str(STORM_TASKS)]
    command += ["--storm-parallelism", str(STORM_PARALLELISM), "--requests-per-minute", "20", "--window-seconds", "3"]
    command += ["--out", str(out)]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-3000:]
    assert "| Paced, parallelism 4 |" in completed.stdout
    assert sorted(p.name for p in out.iterdir()) == ["licence.json"]
    result: dict[str, Any] = json.loads((out / "licence.json").read_text())
    return result


def test_the_paced_extract_is_never_declined_and_lands_the_unpaced_file(report: dict[str, Any]) -> None:
    paced = report["paced"]
    assert report["failures"] == []
    assert paced["records"] == RECORDS
    assert paced["output"] == paced["reference"]
    assert (paced["declined"], paced["answered_429"], paced["hook_rate_limited"]) == (0, 0, 0)
    assert paced["peak_concurrency"] <= 2
    assert paced["sessions_left_open"] == 0
    assert paced["licensed_requests"] > RECORDS // 100


def test_the_storm_overflows_the_queue_and_every_declined_request_is_retried(report: dict[str, Any]) -> None:
    storm = report["storm"]
    assert storm["sessions"] == STORM_TASKS * STORM_PARALLELISM == 24
    assert storm["peak_queue"] == 20
    assert storm["declined"] > 0
    assert storm["answered_429"] == storm["declined"] == storm["declined_data_requests"] + storm["declined_sign_ins"]
    assert storm["clients_rate_limited"] == storm["declined_data_requests"]
    assert storm["clients_retries"] >= storm["clients_rate_limited"]
    assert storm["delayed"] > 0


def test_every_storm_file_is_exact(report: dict[str, Any]) -> None:
    tasks = report["storm"]["tasks"]
    assert len(tasks) == STORM_TASKS
    assert all("failed" not in task for task in tasks)
    assert {task["records"] for task in tasks} == {STORM_RECORDS}
    assert {task["output"] for task in tasks} == {report["storm"]["reference"]}
