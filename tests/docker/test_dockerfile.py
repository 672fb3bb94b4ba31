"""The image recipe (Docker cannot run on these machines, so its wiring is checked as text, and the
package is built from exactly the files the recipe copies)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _instructions() -> list[str]:
    lines = [line.strip() for line in (ROOT / "docker" / "Dockerfile").read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def _copied() -> set[str]:
    return {part for line in _instructions() if line.startswith("COPY") for part in line.split()[2:-1]}


def test_dockerfile_extends_the_official_image_with_this_provider() -> None:
    instructions = _instructions()
    assert instructions[0].startswith("ARG AIRFLOW_VERSION=3.")
    assert instructions[1] == "FROM apache/airflow:${AIRFLOW_VERSION}"
    run = next(line for line in instructions if line.startswith("RUN pip install"))
    assert '"apache-airflow==${AIRFLOW_VERSION}"' in run
    assert "/opt/airflow-provider-acumatica[parquet]" in run
    needed = {"pyproject.toml", PROJECT["readme"], *PROJECT["license-files"], "airflow_provider_acumatica"}
    assert _copied() == needed


def test_the_copied_files_alone_build_the_wheel(tmp_path: Path) -> None:
    """What `pip install /opt/airflow-provider-acumatica` sees in the image.

    Hatchling leaves a missing licence file out without an error, so the wheel is opened and checked.
    """
    context = tmp_path / "context"
    context.mkdir()
    for name in _copied():
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, context / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, context / name)
    uv = str(Path(sys.executable).parent / "uv")
    built = subprocess.run(
        [uv, "build", "--wheel", "--quiet", "--out-dir", str(tmp_path / "dist"), str(context)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        licences = {name.rsplit("/", 1)[-1] for name in archive.namelist() if "/licenses/" in name}
    assert licences == set(PROJECT["license-files"])
