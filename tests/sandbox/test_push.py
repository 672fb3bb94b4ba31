"""Push notifications: webhook destinations, the Acumatica payload, retries, the failed list and delivery knobs."""

from __future__ import annotations

import json
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from airflow_provider_acumatica.sandbox import SandboxServer
from tests.sandbox.support import CUSTOMERS, TIMEOUT

KEYS = {"Inserted", "Deleted", "Query", "CompanyId", "Id", "TimeStamp", "AdditionalInfo"}
SECRET = "a-long-random-secret"
TICKS_AT_EPOCH = 621_355_968_000_000_000
HOOK = {"name": "x", "address": "http://h/", "entities": ["Customer"]}


class Receiver:
    """A webhook on loopback that records every POST and answers `status`."""

    def __init__(self) -> None:
        self.status = 200
        self.received: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.received.append((dict(self.headers.items()), json.loads(body)))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def payloads(self) -> list[dict[str, Any]]:
        with self.lock:
            return [payload for _, payload in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()
    server.thread.join()


def push(sandbox: SandboxServer, resource: str, body: Any = None) -> requests.Response:
    url = f"{sandbox.base_url}/_sandbox/push/{resource}"
    if body is None:
        return requests.get(url, timeout=TIMEOUT)
    return requests.post(url, json=body, timeout=TIMEOUT)


def watch(sandbox: SandboxServer, receiver: Receiver, **extra: Any) -> None:
    body = {"name": "hook", "address": receiver.url, "header_name": "X-Secret", "header_value": SECRET, **extra}
    answer = push(sandbox, "destinations", {"entities": ["Customer"], **body})
    assert answer.status_code == 200, answer.text


def knobs(sandbox: SandboxServer, **settings: Any) -> None:
    answer = push(sandbox, "knobs", {"retry_delay_seconds": 0.02, **settings})
    assert answer.status_code == 200, answer.text


def idle(sandbox: SandboxServer) -> dict[str, Any]:
    answer = requests.get(f"{sandbox.base_url}/_sandbox/push/idle", params={"timeout": "10"}, timeout=15)
    assert answer.json() == {"idle": True, "queued_now": 0}
    sent: dict[str, Any] = push(sandbox, "sent").json()
    return sent


def changes(sandbox: SandboxServer, entity: str = "Customer", **counts: int) -> dict[str, Any]:
    answer = requests.post(
        f"{sandbox.base_url}/_sandbox/changes", json={"entity": entity, "seed": 1, **counts}, timeout=TIMEOUT
    )
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def test_rest_writes_notify_in_acumaticas_format(
    sandbox: SandboxServer, receiver: Receiver, sandbox_login: Callable[..., requests.Session]
) -> None:
    watch(sandbox, receiver)
    session = sandbox_login()
    url = sandbox.base_url + CUSTOMERS
    created = session.put(url, json={"CustomerID": {"value": "PUSH1"}, "CustomerName": {"value": "Push Ltd"}})
    assert created.status_code == 200, created.text
    session.put(url, json={"CustomerID": {"value": "PUSH1"}, "CustomerName": {"value": "Push Inc"}}).raise_for_status()
    assert session.delete(f"{url}/PUSH1", timeout=TIMEOUT).status_code == 204
    sent = idle(sandbox)
    inserted, updated, deleted = receiver.payloads()
    for headers, payload in receiver.received:
        assert set(payload) == KEYS
        assert headers["X-Secret"] == SECRET
        assert headers["Content-Type"] == "application/json"
        assert "Accept" not in headers
        assert payload["Query"] == "Customer: Last Modified"
        assert payload["CompanyId"] == "Company"
        assert str(uuid.UUID(payload["Id"], version=4)) == payload["Id"]
        assert set(payload["AdditionalInfo"]) == {"PXPerformanceInfoStartTime"}
    assert inserted["Deleted"] == [] and deleted["Inserted"] == []
    assert inserted["Inserted"][0]["CustomerID"] == "PUSH1"
    assert inserted["Inserted"][0]["CustomerName"] == "Push Ltd"
    assert "Customer_lastModifiedDateTime" in inserted["Inserted"][0]
    assert updated["Inserted"][0]["CustomerName"] == "Push Inc"
    assert updated["Deleted"][0]["CustomerName"] == "Push Ltd"
    assert deleted["Deleted"][0]["CustomerName"] == "Push Inc"
    stamps = [payload["TimeStamp"] for payload in (inserted, updated, deleted)]
    assert stamps == sorted(set(stamps)) and stamps[0] > TICKS_AT_EPOCH + 1_700_000_000 * 10**7
    assert [entry["id"] for entry in sent["sent"]] == [payload["Id"] for payload in (inserted, updated, deleted)]
    assert sent["counters"] == {"queued": 3, "delivered": 3, "failed": 0, "duplicated": 0, "dropped": 0}


def test_admin_changes_notify_with_keys_and_named_queries(sandbox: SandboxServer, receiver: Receiver) -> None:
    watch(sandbox, receiver, entities=[], queries={"Orders Changed": "SalesOrder"})
    result = changes(sandbox, "SalesOrder", inserts=2, updates=3, deletes=1)
    idle(sandbox)
    payloads = receiver.payloads()
    assert len(payloads) == 6
    assert {payload["Query"] for payload in payloads} == {"Orders Changed"}
    shapes = sorted((len(payload["Inserted"]), len(payload["Deleted"])) for payload in payloads)
    assert shapes == [(0, 1), (1, 0), (1, 0), (1, 1), (1, 1), (1, 1)]
    rows = [row for payload in payloads for row in payload["Inserted"] + payload["Deleted"]]
    assert all({"OrderType", "OrderNbr", "SOOrder_lastModifiedDateTime"} <= set(row) for row in rows)
    assert len(result["inserted"]) == 2


def test_change_stream_edits_notify(
    sandbox: SandboxServer, receiver: Receiver, sandbox_login: Callable[..., requests.Session]
) -> None:
    watch(sandbox, receiver)
    stream = {"entity": "Customer", "every": 1, "updates": 2, "deletes": 1, "seed": 5}
    assert requests.post(f"{sandbox.base_url}/_sandbox/change_stream", json=stream, timeout=TIMEOUT).ok
    sandbox_login().get(sandbox.base_url + CUSTOMERS, params={"$top": "1"}, timeout=TIMEOUT).raise_for_status()
    assert idle(sandbox)["counters"]["delivered"] == 3
    assert sorted(len(payload["Inserted"]) for payload in receiver.payloads()) == [0, 1, 1]


def test_a_burst_of_writes_is_delivered_in_timestamp_order(sandbox: SandboxServer, receiver: Receiver) -> None:
    watch(sandbox, receiver)
    changes(sandbox, updates=200)
    assert idle(sandbox)["counters"]["delivered"] == 200
    stamps = [payload["TimeStamp"] for payload in receiver.payloads()]
    assert stamps == sorted(set(stamps))


def test_unwatched_entities_send_nothing(sandbox: SandboxServer, receiver: Receiver) -> None:
    watch(sandbox, receiver)
    changes(sandbox, "Vendor", updates=3)
    assert idle(sandbox)["counters"]["queued"] == 0
    assert receiver.payloads() == []


def test_an_error_answer_is_tried_five_times_then_failed_then_resent(
    sandbox: SandboxServer, receiver: Receiver
) -> None:
    watch(sandbox, receiver)
    knobs(sandbox)
    receiver.status = 500
    changes(sandbox, updates=1)
    sent = idle(sandbox)
    assert len(receiver.payloads()) == 5
    assert len({payload["Id"] for payload in receiver.payloads()}) == 1
    assert sent["counters"]["failed"] == 1 and sent["sent"] == []
    (failed,) = push(sandbox, "failed").json()
    assert failed["attempts"] == 5 and failed["last_error"] == "HTTP 500"
    assert failed["notification"]["Id"] == failed["id"] == receiver.payloads()[0]["Id"]
    receiver.status = 204
    assert push(sandbox, "failed/resend", {}).json() == {"resent": 1}
    sent = idle(sandbox)
    assert push(sandbox, "failed").json() == []
    assert [entry["id"] for entry in sent["sent"]] == [failed["id"]]
    assert len(receiver.payloads()) == 6


def test_an_unreachable_address_fails_after_five_attempts(sandbox: SandboxServer) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    body = {"name": "gone", "address": f"http://127.0.0.1:{port}/hook", "entities": ["Customer"]}
    assert push(sandbox, "destinations", body).status_code == 200
    knobs(sandbox)
    changes(sandbox, inserts=1)
    idle(sandbox)
    (failed,) = push(sandbox, "failed").json()
    assert failed["attempts"] == 5 and "Error" in failed["last_error"]


def test_duplicates_share_their_id(sandbox: SandboxServer, receiver: Receiver) -> None:
    watch(sandbox, receiver)
    knobs(sandbox, duplicate_rate=1.0)
    changes(sandbox, updates=2)
    counters = idle(sandbox)["counters"]
    ids = [payload["Id"] for payload in receiver.payloads()]
    assert len(ids) == 4 and len(set(ids)) == 2 and all(ids.count(one) == 2 for one in ids)
    assert counters["duplicated"] == 2 and counters["delivered"] == 4


def test_split_updates_send_two_halves(sandbox: SandboxServer, receiver: Receiver) -> None:
    watch(sandbox, receiver)
    knobs(sandbox, split_updates=True)
    changes(sandbox, updates=1)
    idle(sandbox)
    new, old = receiver.payloads()
    assert new["Deleted"] == [] and old["Inserted"] == []
    assert new["Inserted"][0]["CustomerID"] == old["Deleted"][0]["CustomerID"]
    assert new["Id"] != old["Id"] and new["TimeStamp"] < old["TimeStamp"]


def test_dropped_notifications_are_counted_never_listed(sandbox: SandboxServer, receiver: Receiver) -> None:
    watch(sandbox, receiver)
    knobs(sandbox, drop_rate=1.0)
    changes(sandbox, updates=3)
    counters = idle(sandbox)["counters"]
    assert receiver.payloads() == [] and push(sandbox, "failed").json() == []
    assert counters["dropped"] == 3 and counters["failed"] == 0


def test_reorder_delivers_every_notification_out_of_order(sandbox: SandboxServer, receiver: Receiver) -> None:
    watch(sandbox, receiver)
    knobs(sandbox, reorder=True, delay_seconds=0.05)
    changes(sandbox, updates=4)
    assert idle(sandbox)["counters"]["delivered"] == 4
    stamps = [payload["TimeStamp"] for payload in receiver.payloads()]
    assert len(set(stamps)) == 4 and stamps != sorted(stamps)


def test_reset_clears_destinations_lists_and_knobs(sandbox: SandboxServer, receiver: Receiver) -> None:
    watch(sandbox, receiver)
    knobs(sandbox, duplicate_rate=0.5)
    changes(sandbox, updates=1)
    idle(sandbox)
    assert requests.post(f"{sandbox.base_url}/_sandbox/reset", timeout=TIMEOUT).status_code == 200
    assert push(sandbox, "destinations").json() == []
    assert push(sandbox, "knobs").json()["duplicate_rate"] == 0.0
    assert push(sandbox, "knobs").json()["retry_delay_seconds"] == 1.0
    sent = push(sandbox, "sent").json()
    assert sent["sent"] == [] and set(sent["counters"].values()) == {0} and sent["queued_now"] == 0


def test_destinations_are_listed_masked_and_deleted(sandbox: SandboxServer, receiver: Receiver) -> None:
    watch(sandbox, receiver)
    (listed,) = push(sandbox, "destinations").json()
    assert listed["header_value"] == "***" and listed["queries"] == {"Customer: Last Modified": "Customer"}
    url = f"{sandbox.base_url}/_sandbox/push/destinations/hook"
    assert requests.delete(url, timeout=TIMEOUT).status_code == 204
    assert requests.delete(url, timeout=TIMEOUT).status_code == 404
    changes(sandbox, updates=1)
    assert idle(sandbox)["counters"]["queued"] == 0


@pytest.mark.parametrize(
    ("resource", "body", "message"),
    [
        ("destinations", {"name": "x", "address": "http://h/", "entities": ["Customer"], "colour": 1}, "colour"),
        ("destinations", {"name": "x", "address": "ftp://h/", "entities": ["Customer"]}, "http(s) URL"),
        ("destinations", {"name": "x", "address": "http://h/", "entities": ["Nope"]}, "Unknown entity 'Nope'"),
        ("destinations", {"name": "x", "address": "http://h/", "queries": {"Q": "Nope"}}, "Unknown entity"),
        ("destinations", {"name": "x", "address": "http://h/"}, "Watch something"),
        ("destinations", {"address": "http://h/", "entities": ["Customer"]}, "name must be"),
        ("destinations", {"name": "x", "address": "http://h/", "entities": ["Customer"], "header_name": "A"}, "go"),
        ("destinations", {**HOOK, "header_name": "X Secret", "header_value": "v"}, "not an HTTP header name"),
        ("destinations", {**HOOK, "header_name": "X-Secret", "header_value": "v\r\nX: y"}, "one line"),
        ("knobs", {"duplicate_rate": 2}, "duplicate_rate must be a number from 0 to 1"),
        ("knobs", {"reorder": "yes"}, "reorder must be true or false"),
        ("knobs", {"retry_delay_seconds": -1}, "retry_delay_seconds must be"),
        ("knobs", {"loud": True}, "Unknown knob(s): loud"),
    ],
)
def test_bad_admin_input_is_refused_with_a_message(
    sandbox: SandboxServer, resource: str, body: dict[str, Any], message: str
) -> None:
    answer = push(sandbox, resource, body)
    assert answer.status_code == 400
    assert message in answer.json()["message"]


def delivery_threads() -> set[threading.Thread]:
    return {thread for thread in threading.enumerate() if thread.name == "acumatica-sandbox-push"}


def test_a_stopped_sandbox_leaves_no_delivery_thread(make_sandbox: Callable[..., SandboxServer]) -> None:
    server = make_sandbox()
    receiver = Receiver()
    receiver.thread.start()
    try:
        watch(server, receiver)
        changes(server, updates=1)
        idle(server)
        before = delivery_threads()
        server.stop()
        after = delivery_threads()
        assert after < before and len(before - after) == 1
        server.start()
        changes(server, updates=1)
        assert idle(server)["counters"]["delivered"] == 2
    finally:
        receiver.httpd.shutdown()
        receiver.httpd.server_close()
