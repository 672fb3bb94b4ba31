"""The provider as users get it: the built sdist and wheel, installed into a fresh environment.

Every other test runs against an editable install of the working tree, which hides what a wheel can
miss (a data file, a console script, the entry point). Here the wheel is built, inspected, installed
with the Airflow version under test into a new virtual environment outside the source tree, and run
there: the provider registers, both console scripts start, and an example DAG runs end to end against
a sandbox started from that install.
"""

from __future__ import annotations

import email
import json
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.airflow_runs import AirflowHome
from tests.connections import PASSWORD, USER, connection

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "airflow_provider_acumatica"
DISTRIBUTION = "airflow-provider-acumatica"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
VERSION = PROJECT["version"]
INSTALL_TIMEOUT = 900
READY_PREFIX = "Acumatica sandbox listening on "
PULLED = {"Customer": "LastModifiedDateTime", "SalesOrder": "LastModified", "Payment": "LastModifiedDateTime"}


@dataclass(frozen=True)
class Built:
    wheel: Path
    sdist: Path


@dataclass(frozen=True)
class Installed:
    python: Path
    home: AirflowHome

    def script(self, name: str) -> Path:
        return self.python.parent / name


def _uv() -> str:
    """dev.py installs uv into every test environment."""
    return str(Path(sys.executable).parent / "uv")


def _run(command: list[str], cwd: Path, timeout: float = INSTALL_TIMEOUT) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    output = completed.stdout[-3000:] + completed.stderr[-3000:]
    assert completed.returncode == 0, f"{' '.join(command)} failed:\n{output}"
    return completed


def _tracked_package_files() -> set[str]:
    listed = _run(["git", "ls-files", "-z", PACKAGE], cwd=ROOT).stdout
    return {name for name in listed.split("\0") if name}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """`uv build` makes the sdist and then the wheel from the sdist, as a package index user gets them."""
    out = tmp_path_factory.mktemp("dist")
    _run([_uv(), "build", "--quiet", "--out-dir", str(out), str(ROOT)], cwd=ROOT)
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return Built(wheel, sdist)


def _constraints(target: Path) -> Path:
    """Everything in the test environment at its exact version, so the fresh install resolves the same
    Airflow and the same pins (dev.py's PINS for old Airflow) from the cache, without this project."""
    frozen = _run([_uv(), "pip", "freeze", "--python", sys.executable], cwd=ROOT).stdout.splitlines()
    kept = [line for line in frozen if line and not line.startswith("-e") and DISTRIBUTION not in line]
    path = target / "constraints.txt"
    path.write_text("\n".join(kept) + "\n")
    return path


@pytest.fixture(scope="module")
def installed(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The wheel alone (no extras) beside the running Airflow version, in a new venv outside the tree."""
    root = tmp_path_factory.mktemp("wheel-env")
    venv = root / "venv"
    _run([_uv(), "venv", "--quiet", "--python", sys.executable, str(venv)], cwd=root)
    python = venv / "bin" / "python"
    airflow = f"apache-airflow=={metadata.version('apache-airflow')}"
    install = [_uv(), "pip", "install", "--quiet", "--python", str(python), "-c", str(_constraints(root))]
    _run([*install, str(built.wheel), airflow], cwd=root)
    return Installed(python, AirflowHome(root / "airflow", python=str(python), isolated=True))


def test_wheel_holds_the_package_its_data_and_the_licences_only(built: Built) -> None:
    with zipfile.ZipFile(built.wheel) as wheel:
        names = set(wheel.namelist())
        dist_info = f"{DISTRIBUTION.replace('-', '_')}-{VERSION}.dist-info"
        shipped = {name for name in names if not name.startswith(f"{dist_info}/")}
        assert shipped == _tracked_package_files()
        assert f"{PACKAGE}/py.typed" in shipped
        for licence in ("LICENSE", "NOTICE"):
            assert wheel.read(f"{dist_info}/licenses/{licence}") == (ROOT / licence).read_bytes()
        meta = email.message_from_bytes(wheel.read(f"{dist_info}/METADATA"))
        entry_points = wheel.read(f"{dist_info}/entry_points.txt").decode()
    assert meta["Name"] == DISTRIBUTION
    assert meta["Version"] == VERSION
    assert meta["License-Expression"] == "Apache-2.0"
    assert sorted(meta.get_all("License-File") or []) == ["LICENSE", "NOTICE"]
    assert "provider_info = airflow_provider_acumatica.get_provider_info:get_provider_info" in entry_points
    for script, target in PROJECT["scripts"].items():
        assert f"{script} = {target}" in entry_points


def test_every_package_file_the_code_opens_is_tracked_and_so_shipped() -> None:
    """A data file read at run time but left untracked (or ignored) would be missing from the wheel."""
    on_disk = {
        str(path.relative_to(ROOT))
        for path in (ROOT / PACKAGE).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert on_disk <= _tracked_package_files()


def test_sdist_holds_the_sources_docs_and_licences(built: Built) -> None:
    prefix = f"{DISTRIBUTION.replace('-', '_')}-{VERSION}/"
    with tarfile.open(built.sdist) as sdist:
        names = {member.name.removeprefix(prefix) for member in sdist.getmembers() if member.isfile()}
    for required in ("pyproject.toml", "README.md", "CHANGELOG.md", "LICENSE", "NOTICE", "PKG-INFO"):
        assert required in names
    assert _tracked_package_files() <= names
    assert not {name.split("/")[0] for name in names} & {"tests", "bench", "scripts", "dags", "docker", ".ci"}


def test_installed_package_is_imported_from_the_fresh_environment(installed: Installed) -> None:
    shown = subprocess.run(
        [str(installed.python), "-c", f"import {PACKAGE} as p; print(p.__file__); print(p.__version__)"],
        cwd=installed.home.root,
        env=installed.home.environment({}),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.split()
    assert Path(shown[0]).is_relative_to(installed.python.parent.parent)
    assert not Path(shown[0]).is_relative_to(ROOT)
    assert shown[1] == VERSION


def _json_at_end(output: str) -> Any:
    """The JSON array the command printed, after any log lines older Airflow versions write to stdout."""
    starts = [0] + [index + 1 for index, char in enumerate(output) if char == "\n"]
    for start in starts:
        if output.startswith("[{", start):
            return json.loads(output[start:])
    raise AssertionError(f"no JSON array in the output: {output[-800:]}")


def test_airflow_lists_the_provider_and_its_connection_type(installed: Installed) -> None:
    listed = installed.home.airflow("providers", "list", "--output", "json")
    assert listed.returncode == 0, listed.stderr[-2000:]
    ours = [p for p in _json_at_end(listed.stdout) if p["package_name"] == DISTRIBUTION]
    assert [p["version"] for p in ours] == [VERSION]
    hooks = installed.home.airflow("providers", "hooks", "--output", "json")
    assert hooks.returncode == 0, hooks.stderr[-2000:]
    acumatica = [h for h in _json_at_end(hooks.stdout) if h["connection_type"] == "acumatica"]
    assert len(acumatica) == 1
    assert acumatica[0]["class"] == f"{PACKAGE}.hooks.acumatica.AcumaticaHook"


@pytest.mark.parametrize("script", sorted(PROJECT["scripts"]))
def test_console_scripts_start(installed: Installed, script: str) -> None:
    completed = subprocess.run(
        [str(installed.script(script)), "--help"],
        cwd=installed.home.root,
        env=installed.home.environment({}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.startswith(f"usage: {script}")


@pytest.fixture
def installed_sandbox(installed: Installed) -> Iterator[str]:
    """A sandbox from the wheel's console script, with no scheduled changes so the ground truth holds."""
    process = subprocess.Popen(
        [str(installed.script("acumatica-sandbox")), "--port", "0", "--records", "300", "--changes-per-hour", "0"],
        cwd=installed.home.root,
        env=installed.home.environment({}),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith(READY_PREFIX), line
        yield line.removeprefix(READY_PREFIX).strip()
    finally:
        process.terminate()
        process.wait(timeout=30)


def _ids_in_window(base_url: str, entity: str, start: datetime, end: datetime) -> list[str]:
    """The ground truth, asked of the sandbox over REST by a plain cookie session."""
    field = PULLED[entity]
    session = requests.Session()
    login = {"name": USER, "password": PASSWORD, "tenant": "Company"}
    session.post(f"{base_url}/entity/auth/login", json=login, timeout=30).raise_for_status()
    try:
        literal = "datetimeoffset'{}'"
        window = f"{field} gt {literal.format(start.isoformat())} and {field} le {literal.format(end.isoformat())}"
        params = {"$filter": window, "$select": field}
        listed = session.get(f"{base_url}/entity/Default/24.200.001/{entity}", params=params, timeout=60)
        listed.raise_for_status()
        return sorted(record["id"] for record in listed.json())
    finally:
        session.post(f"{base_url}/entity/auth/logout", timeout=30)


def test_example_dag_runs_end_to_end_from_the_installed_wheel(
    installed: Installed, installed_sandbox: str, tmp_path: Path
) -> None:
    installed.home.write_dag("acumatica_data_pull", (ROOT / "dags" / "acumatica_data_pull.py").read_text())
    day = (datetime.now(UTC) - timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)
    env = {"AIRFLOW_CONN_ACUMATICA_DEFAULT": connection(installed_sandbox, "oauth2_password")}
    conf = json.dumps({"output_base": str(tmp_path)})
    result = installed.home.test_dag("acumatica_data_pull", env, day.strftime("%Y-%m-%d"), ["--conf", conf])
    assert result.succeeded, result.output[-4000:]
    start = day - timedelta(days=1)
    landed = 0
    for entity in PULLED:
        path = tmp_path / f"dt={start:%Y-%m-%d}" / f"entity={entity}" / f"{entity.lower()}.jsonl"
        ids = sorted(json.loads(line)["id"] for line in path.read_text().splitlines())
        assert ids == _ids_in_window(installed_sandbox, entity, start, day), entity
        landed += len(ids)
    assert landed > 0
    stats = requests.get(f"{installed_sandbox}/_sandbox/stats", timeout=30).json()
    assert stats["seats_in_use"] == 0
