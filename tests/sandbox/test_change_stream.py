"""The change stream: seeded edits before every n-th list request of an entity, steered over HTTP or in Python."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from airflow_provider_acumatica.sandbox import SandboxServer
from airflow_provider_acumatica.sandbox.change_stream import ChangeStreamSettings
from tests.sandbox.support import TIMEOUT

ORDERS = "/entity/Default/24.200.001/SalesOrder"
STREAM = {"entity": "SalesOrder", "every": 2, "inserts": 1, "updates": 1, "deletes": 2, "seed": 5}
COUNTERS = ("list_requests", "applied", "inserted", "updated", "deleted")


def change_stream(server: SandboxServer, body: dict[str, Any] | None = None) -> requests.Response:
    url = f"{server.base_url}/_sandbox/change_stream"
    if body is None:
        return requests.get(url, timeout=TIMEOUT)
    return requests.post(url, json=body, timeout=TIMEOUT)


def signed_in(server: SandboxServer) -> requests.Session:
    session = requests.Session()
    body = {"name": "admin", "password": "123", "tenant": "Company"}
    session.post(f"{server.base_url}/entity/auth/login", json=body, timeout=TIMEOUT).raise_for_status()
    return session


def listed(server: SandboxServer, session: requests.Session, path: str = ORDERS) -> list[str]:
    answer = session.get(server.base_url + path, timeout=TIMEOUT)
    answer.raise_for_status()
    return [record["id"] for record in answer.json()]


def test_every_nth_list_request_edits_the_entity_before_it_is_served(make_sandbox: Callable[..., Any]) -> None:
    server: SandboxServer = make_sandbox(records=40, changes_per_hour=0)
    started = change_stream(server, STREAM)
    assert started.status_code == 200
    assert started.json() == {**{k: v for k, v in STREAM.items() if k != "entity"}, **dict.fromkeys(COUNTERS, 0)}
    session = signed_in(server)
    first = listed(server, session)
    one = session.get(f"{server.base_url}{ORDERS}/{first[0]}", timeout=TIMEOUT)
    swagger = session.get(f"{server.base_url}/entity/Default/24.200.001/swagger.json", timeout=TIMEOUT)
    customers = listed(server, session, "/entity/Default/24.200.001/Customer")
    second = listed(server, session)
    assert (one.status_code, swagger.status_code, len(customers)) == (200, 200, 40)
    assert len(first) == 40
    assert len(second) == 40 + 1 - 2
    assert len(set(first) - set(second)) == 2
    status = change_stream(server).json()
    assert status["SalesOrder"] == {
        **started.json(),
        "list_requests": 2,
        "applied": 1,
        "inserted": 1,
        "updated": 1,
        "deleted": 2,
    }


def test_the_same_seed_and_requests_give_the_same_edits(make_sandbox: Callable[..., Any]) -> None:
    def run(seed: int) -> list[list[str]]:
        server: SandboxServer = make_sandbox(records=60, changes_per_hour=0)
        server.app.change_streams.set("SalesOrder", ChangeStreamSettings(every=1, updates=3, deletes=3, seed=seed))
        session = signed_in(server)
        return [listed(server, session) for _ in range(4)]

    assert run(seed=5) == run(seed=5)
    assert run(seed=5) != run(seed=6)


def test_every_zero_stops_a_stream_and_reset_stops_them_all(make_sandbox: Callable[..., Any]) -> None:
    server: SandboxServer = make_sandbox(records=20, changes_per_hour=0)
    change_stream(server, STREAM)
    change_stream(server, {**STREAM, "entity": "Customer"})
    stopped = change_stream(server, {"entity": "SalesOrder", "every": 0})
    assert stopped.status_code == 200
    assert stopped.json() == {}
    assert list(change_stream(server).json()) == ["Customer"]
    server.reset()
    assert change_stream(server).json() == {}
    session = signed_in(server)
    assert [len(listed(server, session)) for _ in range(3)] == [20, 20, 20]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({**STREAM, "entity": "SalesOrders"}, "entity must be one of"),
        ({**STREAM, "often": 3}, "Unknown field(s): often"),
        ({"entity": "SalesOrder", "deletes": 1}, "every (list requests between two edits, 0 to stop) is required"),
        ({**STREAM, "deletes": -1}, "deletes must be an integer >= 0"),
        ({**STREAM, "every": True}, "every must be an integer >= 0"),
        ({**STREAM, "seed": "7"}, "seed must be an integer >= 0"),
    ],
)
def test_bad_settings_are_refused(sandbox: SandboxServer, body: dict[str, Any], fragment: str) -> None:
    answer = change_stream(sandbox, body)
    assert answer.status_code == 400
    assert fragment in answer.json()["message"]
    assert change_stream(sandbox).json() == {}


def test_settings_are_checked_in_python_too() -> None:
    with pytest.raises(ValueError, match="every must be at least 1"):
        ChangeStreamSettings(every=0)
    with pytest.raises(ValueError, match="updates must be an integer >= 0"):
        ChangeStreamSettings(every=1, updates=-2)
