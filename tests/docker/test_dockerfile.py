"""The image recipe (Docker cannot run on these machines, so its wiring is checked as text)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_dockerfile_extends_the_official_image_with_this_provider() -> None:
    lines = [line.strip() for line in (ROOT / "docker" / "Dockerfile").read_text().splitlines()]
    instructions = [line for line in lines if line and not line.startswith("#")]
    assert instructions[0].startswith("ARG AIRFLOW_VERSION=3.")
    assert instructions[1] == "FROM apache/airflow:${AIRFLOW_VERSION}"
    run = next(line for line in instructions if line.startswith("RUN pip install"))
    assert '"apache-airflow==${AIRFLOW_VERSION}"' in run
    assert "/opt/airflow-provider-acumatica[parquet]" in run
    copied = {part for line in instructions if line.startswith("COPY") for part in line.split()[2:-1]}
    assert copied == {"pyproject.toml", "README.md", "airflow_provider_acumatica"}
    for path in copied:
        assert (ROOT / path).exists(), path
