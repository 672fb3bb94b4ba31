"""The push receiver over real HTTP on loopback: every bad input with its status and log line, and durability."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from airflow_provider_acumatica.push.receiver import ReceiverConfig, ReceiverServer, build_server

SECRET = "a-long-shared-secret-of-the-receiver-test"
HEADER = "X-Acumatica-Push-Secret"
TIMEOUT = 10


def body(**changes: Any) -> dict[str, Any]:
    return {
        "Inserted": [{"CustomerID": "C000001", "Status": "Active"}],
        "Deleted": [{"CustomerID": "C000001", "Status": "Hold"}],
        "Query": "Customer: Last Modified",
        "CompanyId": "Company",
        "Id": str(uuid.uuid4()),
        "TimeStamp": 639000000000000000,
        "AdditionalInfo": {},
        **changes,
    }


@pytest.fixture
def spool(tmp_path: Path) -> Path:
    return tmp_path / "spool"


@pytest.fixture
def receiver(spool: Path) -> Iterator[ReceiverServer]:
    server = build_server(ReceiverConfig(spool=str(spool), secret=SECRET, port=0, max_body_bytes=10_000))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def post(receiver: ReceiverServer, payload: Any, headers: dict[str, str] | None = None) -> requests.Response:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    sent = {HEADER: SECRET} if headers is None else headers
    return requests.post(receiver.url, data=data, headers=sent, timeout=TIMEOUT)


def pending(spool: Path) -> list[Path]:
    folder = spool / "pending"
    return sorted(folder.iterdir()) if folder.exists() else []


def test_a_notification_is_stored_then_answered_200(
    receiver: ReceiverServer, spool: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sent = body()
    with caplog.at_level(logging.INFO):
        answer = post(receiver, sent)
    assert answer.status_code == 200 and answer.json() == {"stored": True}
    (stored,) = pending(spool)
    assert json.loads(stored.read_text())["notification"] == sent
    assert f"POST /acumatica/push -> 200: query 'Customer: Last Modified' id {sent['Id']} stored" in caplog.text
    assert SECRET not in caplog.text


def test_a_resent_notification_answers_200_and_stores_nothing_new(receiver: ReceiverServer, spool: Path) -> None:
    sent = body()
    post(receiver, sent)
    again = post(receiver, {**sent, "TimeStamp": 1})
    assert again.status_code == 200 and again.json() == {"stored": False, "duplicate": True}
    assert len(pending(spool)) == 1


@pytest.mark.parametrize(
    ("headers", "status", "line"),
    [({}, 401, "no secret header"), ({HEADER: "guess-guess-guess-guess"}, 403, "wrong secret header")],
)
def test_without_the_right_secret_nothing_is_stored(
    receiver: ReceiverServer,
    spool: Path,
    caplog: pytest.LogCaptureFixture,
    headers: dict[str, str],
    status: int,
    line: str,
) -> None:
    with caplog.at_level(logging.INFO):
        answer = post(receiver, body(), headers)
    assert answer.status_code == status
    assert f"-> {status}: {line}" in caplog.text
    assert pending(spool) == []


@pytest.mark.parametrize(
    ("payload", "status", "line"),
    [
        (b"x" * 10_001, 413, "body of 10001 bytes over the limit"),
        (b"<html>not json</html>", 400, "bad body: The body is not JSON"),
        (json.dumps(body(Id="not-a-guid")).encode(), 400, "bad body: Id must be a GUID"),
        (json.dumps([body()]).encode(), 400, "bad body: The body is JSON but not an object"),
    ],
)
def test_bad_bodies_are_refused_with_the_reason(
    receiver: ReceiverServer, spool: Path, caplog: pytest.LogCaptureFixture, payload: bytes, status: int, line: str
) -> None:
    with caplog.at_level(logging.INFO):
        answer = post(receiver, payload)
    assert answer.status_code == status
    assert f"-> {status}: {line}" in caplog.text
    assert pending(spool) == []


def test_an_unwritable_spool_answers_503_and_the_resend_is_stored_once_fixed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "spool"
    blocker.write_text("a file where the spool folder should be")
    server = build_server(ReceiverConfig(spool=str(blocker), secret=SECRET, port=0))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        sent = body()
        with caplog.at_level(logging.INFO):
            assert post(server, sent).status_code == 503
        assert "-> 503: query 'Customer: Last Modified'" in caplog.text and "not stored" in caplog.text
        blocker.unlink()
        assert post(server, sent).json() == {"stored": True}
        assert len(pending(blocker)) == 1
    finally:
        server.shutdown()
        server.server_close()


def test_health_reports_the_counters(receiver: ReceiverServer) -> None:
    sent = body()
    post(receiver, sent)
    post(receiver, sent)
    post(receiver, sent, {})
    post(receiver, b"{}")
    health = requests.get(receiver.url.replace("/acumatica/push", "/health"), timeout=TIMEOUT).json()
    assert {key: health[key] for key in ("received", "stored", "duplicates", "rejected_auth", "rejected_body")} == {
        "received": 4,
        "stored": 1,
        "duplicates": 1,
        "rejected_auth": 1,
        "rejected_body": 1,
    }
    assert health["pending"] == 1


def test_other_paths_and_methods_are_refused(receiver: ReceiverServer) -> None:
    assert requests.get(receiver.url, timeout=TIMEOUT).status_code == 405
    assert requests.put(receiver.url, data=b"{}", timeout=TIMEOUT).status_code == 405
    other = receiver.url.replace("/acumatica/push", "/other")
    assert requests.post(other, data=b"{}", headers={HEADER: SECRET}, timeout=TIMEOUT).status_code == 404


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (ReceiverConfig(spool="s", secret="short"), "at least 16 characters"),
        (ReceiverConfig(spool="s", secret=SECRET, host="0.0.0.0"), "without TLS would carry the secret"),
    ],
)
def test_unsafe_set_ups_refuse_to_start(config: ReceiverConfig, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_server(config)


def test_the_console_script_refuses_a_missing_secret(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "airflow_provider_acumatica.push", "--spool", str(tmp_path), "--port", "0"]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin"})
    assert completed.returncode == 2
    assert "The shared secret must be at least 16 characters" in completed.stderr
    helped = subprocess.run([*command[:3], "--help"], capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0 and "--secret-file" in helped.stdout
