"""Peak memory of an extraction does not grow with the record count: pages stream straight to the file."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from airflow_provider_acumatica.sandbox import SandboxConfig, SandboxServer
from tests.connections import connection

EXTRACT = textwrap.dedent(
    """
    import json, resource, sys
    from airflow_provider_acumatica.operators.extract import AcumaticaExtractOperator

    operator = AcumaticaExtractOperator(
        task_id="memory", entity="Customer", output_path=sys.argv[1], output_format=sys.argv[2], page_size=1000
    )
    manifest = operator.execute({})
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"records": manifest["records"], "peak_kb": peak_kb}))
    """
)


def peak_memory(records: int, output: Path, output_format: str) -> dict[str, int]:
    config = SandboxConfig(records=10, entity_records={"Customer": records}, changes_per_hour=0, max_seats=1)
    with SandboxServer(config) as server:
        env = {"AIRFLOW_CONN_ACUMATICA_DEFAULT": connection(server.base_url, "session")}
        completed = subprocess.run(
            [sys.executable, "-c", EXTRACT, str(output), output_format],
            env={**_inherited(), **env},
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr[-3000:]
        assert server.stats()["seats_in_use"] == 0
    result: dict[str, int] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def _inherited() -> dict[str, str]:
    import os

    return {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW_CONN_")}


def test_peak_memory_is_flat_from_50k_to_200k_records(tmp_path: Path) -> None:
    small = peak_memory(50_000, tmp_path / "small.jsonl", "jsonl")
    large = peak_memory(200_000, tmp_path / "large.jsonl", "jsonl")
    assert small["records"] == 50_000
    assert large["records"] == 200_000
    assert sum(1 for _ in (tmp_path / "large.jsonl").open()) == 200_000
    assert large["peak_kb"] <= small["peak_kb"] * 1.10, (small, large)
