"""`python -m airflow_provider_acumatica.sandbox` as a separate process, the way demos and users start it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from airflow_provider_acumatica.sandbox.__main__ import build_parser, config_from
from tests.sandbox.support import TIMEOUT, access_token, bearer, get_customers

REPO = Path(__file__).resolve().parents[2]
StartCli = Callable[..., tuple["subprocess.Popen[str]", str]]


@pytest.fixture
def start_cli() -> Iterator[StartCli]:
    processes: list[subprocess.Popen[str]] = []

    def start(*args: str) -> tuple[subprocess.Popen[str], str]:
        process = subprocess.Popen(
            [sys.executable, "-m", "airflow_provider_acumatica.sandbox", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        processes.append(process)
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("Acumatica sandbox listening on "), line
        return process, line.split()[-1]

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_cli_serves_and_stops_cleanly(start_cli: StartCli, stop_signal: signal.Signals) -> None:
    process, base_url = start_cli("--records", "30", "--site-path", "/AcumaticaDB", "--max-seats", "3")
    assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/AcumaticaDB")
    value = access_token(base_url)
    assert len(get_customers(base_url, headers=bearer(value)).json()) == 2
    config = requests.get(base_url + "/_sandbox/config", timeout=TIMEOUT).json()
    assert config["records"] == 30 and config["max_seats"] == 3
    process.send_signal(stop_signal)
    _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr


def test_cli_fault_flags_reach_the_server(start_cli: StartCli) -> None:
    process, base_url = start_cli("--rate-503", "1", "--faults", '{"latency_ms": 5}', "--allow-client-credentials")
    faults = requests.get(base_url + "/_sandbox/stats", timeout=TIMEOUT).json()["faults"]
    assert faults["rate_503"] == 1.0 and faults["latency_ms"] == 5
    assert get_customers(base_url, headers=bearer(access_token(base_url))).status_code == 503
    process.terminate()
    assert process.wait(timeout=10) == 0


def test_cli_flags_map_to_the_config() -> None:
    args = build_parser().parse_args(
        [
            "--entity-records",
            "Customer=10",
            "--entity-records",
            "SalesOrder=5",
            "--token-ttl",
            "60",
            "--session-timeout",
            "30",
            "--faults-on-auth",
            "--consent",
            "deny",
            "--token-expire-after-requests",
            "3",
            "--max-users",
            "4",
        ]
    )
    config = config_from(args)
    assert config.port == 8085
    assert config.entity_records == {"Customer": 10, "SalesOrder": 5}
    assert config.token_ttl == 60 and config.session_timeout == 30
    assert config.faults.faults_on_auth is True
    assert config.faults.consent == "deny"
    assert config.faults.token_expire_after_requests == 3
    assert (config.max_users, config.max_seats) == (4, 2)


def test_cli_refuses_bad_values() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--entity-records", "Customer"])
    refused = subprocess.run(
        [sys.executable, "-m", "airflow_provider_acumatica.sandbox", "--rate-500", "2"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=30,
        check=False,
    )
    assert refused.returncode == 2
    assert "rate_500" in refused.stderr
    assert refused.stdout == ""
