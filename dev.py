#!/usr/bin/env python3
"""Project tasks that work on a fresh machine with only Python 3.11+.

    python3 dev.py demo    # start the sandbox and land a small extraction under ./output
    python3 dev.py test    # the whole test suite, on the newest and the oldest supported Airflow
                           # (and the change trigger's deployment test on 3.0.3, where it starts to work)
    python3 dev.py lint    # ruff check, ruff format --check, mypy
    python3 dev.py bench   # the benchmark (bench/run.py), results under bench/results

Each task creates what it needs (virtual environments under .venv*, an Airflow home under .airflow)
and can be run again; environments are reinstalled only when pyproject.toml or the pins change.
Standard library only: this file runs before anything is installed.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
NEWEST_AIRFLOW = "3.3.2"
OLDEST_AIRFLOW = "3.0.0"
# The change trigger needs 3.0.3 (apache/airflow#50185 stalls its triggerer before): its real deployment test
# also runs on the oldest release where it works.
CHANGE_TRIGGER_AIRFLOW = "3.0.3"
ENVIRONMENTS = {
    NEWEST_AIRFLOW: ROOT / ".venv",
    OLDEST_AIRFLOW: ROOT / ".venv-airflow-3.0",
    CHANGE_TRIGGER_AIRFLOW: ROOT / ".venv-airflow-3.0.3",
}
ONLY_TESTS = {CHANGE_TRIGGER_AIRFLOW: ["tests/deployment/test_event_driven_deployment.py"]}
# What no Airflow version changes runs once, on the newest: the sandbox never imports Airflow, and the
# benchmark harness measures on the newest only (`dev.py bench`).
NEWEST_ONLY_TESTS = ["tests/sandbox", "tests/bench"]
# Within what Airflow's own constraints pinned for that release: universal-pathlib 0.3 breaks ObjectStoragePath
# on 3.0, FastAPI 0.116+ (with the Cadwyn it pulls) stops 3.0.0's api-server from starting, and the Celery
# provider from 3.11 on sends 3.0.0's scheduler workloads it cannot handle ("cannot handle <class 'tuple'>"), and
# cryptography 51 makes MultiFernet a Rust object whose attributes 3.0.0's get_fernet can no longer set.
AIRFLOW_3_0_PINS = [
    "universal-pathlib<0.3",
    "fastapi<0.116",
    "apache-airflow-providers-celery<3.11",
    "cryptography<51",
]
PINS = {OLDEST_AIRFLOW: AIRFLOW_3_0_PINS, CHANGE_TRIGGER_AIRFLOW: AIRFLOW_3_0_PINS}
AIRFLOW_HOME = ROOT / ".airflow"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="run the main job against the sandbox")
    test = commands.add_parser("test", help="run the whole test suite")
    test.add_argument("--airflow", choices=sorted(ENVIRONMENTS), help="only this Airflow version")
    test.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    commands.add_parser("lint", help="ruff check, ruff format --check, mypy")
    bench = commands.add_parser("bench", help="run the benchmark (about 7 minutes on 2 cores)")
    bench.add_argument("bench_args", nargs="*", help="arguments for bench/run.py (after --)")
    commands.add_parser("env", help="create or update the development environment only")
    args = parser.parse_args()
    if args.command == "demo":
        return demo()
    if args.command == "test":
        return test_suite([args.airflow] if args.airflow else list(ENVIRONMENTS), args.pytest_args)
    if args.command == "lint":
        return lint()
    if args.command == "bench":
        return benchmark(args.bench_args)
    ensure_environment(NEWEST_AIRFLOW)
    return 0


def ensure_environment(airflow_version: str) -> Path:
    """A virtual environment with this package (editable), its dev extras and a pinned Airflow."""
    target = ENVIRONMENTS[airflow_version]
    python = target / "bin" / "python"
    stamp = target / ".installed"
    wanted = _fingerprint(airflow_version)
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    print(f"Setting up {target.name} with Apache Airflow {airflow_version} (first run takes a minute)...", flush=True)
    if target.exists() and not python.exists():
        shutil.rmtree(target)
    if not python.exists():
        venv.EnvBuilder(with_pip=True, clear=False).create(target)
    _run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "uv"])
    requirements = [f"apache-airflow=={airflow_version}", *PINS.get(airflow_version, []), "-e", f"{ROOT}[dev]"]
    _run([str(target / "bin" / "uv"), "pip", "install", "--quiet", "--python", str(python), *requirements])
    stamp.write_text(wanted)
    return python


def _fingerprint(airflow_version: str) -> str:
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes())
    digest.update(" ".join([airflow_version, *PINS.get(airflow_version, [])]).encode())
    return digest.hexdigest()


def airflow_environment(python: Path, purpose: str = "dev") -> dict[str, str]:
    """Environment for anything that imports Airflow: our own home per purpose, no examples, our DAGs."""
    home = AIRFLOW_HOME / f"{purpose}-{python.parent.parent.name.lstrip('.')}"
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "PATH": f"{python.parent}{os.pathsep}{env.get('PATH', '')}",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    return env


def demo() -> int:
    python = ensure_environment(NEWEST_AIRFLOW)
    return _run([str(python), str(ROOT / "scripts" / "demo.py")], env=airflow_environment(python), check=False)


def _skipped_on(airflow_version: str) -> list[str]:
    if airflow_version == NEWEST_AIRFLOW:
        return []
    return [f"--ignore={path}" for path in NEWEST_ONLY_TESTS]


def test_suite(versions: list[str], pytest_args: list[str]) -> int:
    failures = []
    for version in versions:
        selected = pytest_args or ONLY_TESTS.get(version) or _skipped_on(version)
        python = ensure_environment(version)
        print(f"\n=== {' '.join(selected) or 'Test suite'} on Apache Airflow {version} ===", flush=True)
        # A fresh home per run: Variables or connections left by the demo or an earlier run must not leak in.
        shutil.rmtree(AIRFLOW_HOME / f"tests-{python.parent.parent.name.lstrip('.')}", ignore_errors=True)
        code = _run(
            [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", *selected],
            env=airflow_environment(python, "tests"),
            check=False,
        )
        if code != 0:
            failures.append(f"Airflow {version} (pytest exit {code})")
    if failures:
        print("\nFAILED: " + "; ".join(failures), flush=True)
        return 1
    print(f"\nAll test suites passed on Apache Airflow {', '.join(versions)}.", flush=True)
    return 0


def lint() -> int:
    python = ensure_environment(NEWEST_AIRFLOW)
    tools = python.parent
    checks = [
        [str(tools / "ruff"), "check", "."],
        [str(tools / "ruff"), "format", "--check", "."],
        [str(tools / "mypy"), "airflow_provider_acumatica"],
    ]
    codes = [_run(command, env=airflow_environment(python), check=False) for command in checks]
    return 1 if any(codes) else 0


def benchmark(bench_args: list[str]) -> int:
    """The benchmark needs the `bench` extra (the http provider, matplotlib) on top of the dev environment."""
    python = ensure_environment(NEWEST_AIRFLOW)
    stamp = python.parent.parent / ".installed-bench"
    wanted = _fingerprint(NEWEST_AIRFLOW)
    if not stamp.exists() or stamp.read_text() != wanted:
        requirements = [f"apache-airflow=={NEWEST_AIRFLOW}", "-e", f"{ROOT}[dev,bench]"]
        _run([str(python.parent / "uv"), "pip", "install", "--quiet", "--python", str(python), *requirements])
        stamp.write_text(wanted)
    command = [str(python), str(ROOT / "bench" / "run.py"), *bench_args]
    return _run(command, env=airflow_environment(python), check=False)


def _run(command: list[str], *, env: dict[str, str] | None = None, check: bool = True) -> int:
    completed = subprocess.run(command, cwd=ROOT, env=env, check=False)
    if check and completed.returncode != 0:
        sys.exit(f"Command failed with exit code {completed.returncode}: {' '.join(command)}")
    return completed.returncode


if __name__ == "__main__":
    sys.exit(main())
