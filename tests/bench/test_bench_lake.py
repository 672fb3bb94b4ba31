"""The lake benchmark at a small scale, for correctness only: every way of applying the interval ends with the
same rows, and the replication lands every entity of the endpoint with no seat left. No timing is checked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SIZES = (10_000, 20_000)
CHANGES, DELETIONS = 10_000, 1_000


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("lake")
    command = [sys.executable, str(ROOT / "bench" / "lake.py"), "--sizes", *map(str, SIZES), "--pools", "2"]
    command += ["--records", "20", "--latency-ms", "5", "--out", str(out)]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir()) == ["lake.json"]
    result: dict[str, Any] = json.loads((out / "lake.json").read_text())
    return result


def test_every_way_of_applying_the_interval_gives_the_same_table(report: dict[str, Any]) -> None:
    assert report["change_set"] == {"records": CHANGES, "deletions": DELETIONS}
    for rows in SIZES:
        ways = {m["how"]: m for m in report["merge"] if m["rows"] == rows}
        assert set(ways) == {"merge", "merge_keeping_freed_pages", "rewrite"}
        for how in ("merge", "merge_keeping_freed_pages"):
            assert (ways[how]["inserted"], ways[how]["updated"]) == (CHANGES // 2, CHANGES // 2)
            assert ways[how]["deleted"] == DELETIONS
        assert ways["rewrite"]["rows_written"] == rows + CHANGES // 2 - DELETIONS
    assert set(report["peak_rss_growth"]) == {"merge", "merge_keeping_freed_pages", "rewrite"}


def test_the_replication_lands_every_entity_and_signs_every_session_out(report: dict[str, Any]) -> None:
    (run,) = report["replication"]
    assert run["seats"] == 2 and run["seats_in_use_after"] == 0
    assert run["entities"] >= 20 and run["rows"] >= run["entities"] * 20
    assert 0 < run["requests"] <= run["rows"]
