"""PUT as the real API beyond the basics: unchanged records are not stamped, ranges, 412 bodies, line edits."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests

from airflow_provider_acumatica.sandbox import SandboxServer
from airflow_provider_acumatica.sandbox.contract import ContractApi
from airflow_provider_acumatica.sandbox.data import DataStore
from tests.sandbox.data_support import BASE, Clock, call, store


@pytest.fixture
def data() -> DataStore:
    return store(default_count=50)


@pytest.fixture
def api(data: DataStore) -> ContractApi:
    return ContractApi(data, "/AcumaticaERP/")


def _clock(data: DataStore) -> Clock:
    clock = data.clock
    assert isinstance(clock, Clock)
    return clock


def test_an_unchanged_put_does_not_move_last_modified(data: DataStore, api: ContractApi) -> None:
    _, before = call(api, "GET", f"{BASE}/Customer/C0000004")
    _clock(data).advance(minutes=10)
    same = {"CustomerID": {"value": "C0000004"}, "CustomerName": before["CustomerName"]}
    status, echoed = call(api, "PUT", f"{BASE}/Customer", same)
    assert status == 200
    assert echoed["LastModifiedDateTime"] == before["LastModifiedDateTime"]
    changed = {"CustomerID": {"value": "C0000004"}, "CustomerName": {"value": "Renamed Ltd"}}
    _, after = call(api, "PUT", f"{BASE}/Customer", changed)
    assert after["LastModifiedDateTime"] == {"value": "2024-07-15T12:10:00+00:00"}


def test_an_unchanged_line_does_not_stamp_the_order(data: DataStore, api: ContractApi) -> None:
    _, order = call(api, "GET", f"{BASE}/SalesOrder/SO/SO0000002", **{"$expand": "Details"})
    line = order["Details"][0]
    _clock(data).advance(minutes=3)
    resend = {"id": order["id"], "Details": [{"id": line["id"], "OrderQty": line["OrderQty"]}]}
    _, echoed = call(api, "PUT", f"{BASE}/SalesOrder", resend)
    assert echoed["LastModified"] == order["LastModified"]
    assert len(echoed["Details"]) == len(order["Details"])


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("CreditLimit", -5, "'Credit Limit' cannot be less than 0."),
        ("WriteOffLimit", "-0.5", "'Write Off Limit' cannot be less than 0."),
    ],
)
def test_values_out_of_range_are_422(api: ContractApi, field: str, value: object, message: str) -> None:
    status, body = call(api, "PUT", f"{BASE}/Customer", {"CustomerID": {"value": "C0000001"}, field: {"value": value}})
    assert status == 422
    assert body[field] == {"value": value, "error": message}
    assert body["error"].startswith("Updating  'Customer' record raised at least one error")


def test_line_errors_are_reported_on_the_line(api: ContractApi) -> None:
    order = {
        "OrderType": {"value": "SO"},
        "OrderNbr": {"value": "SO0000001"},
        "Details": [{"InventoryID": {"value": "ITEM0000001"}, "DiscountPercent": {"value": 150}}],
    }
    status, body = call(api, "PUT", f"{BASE}/SalesOrder", order)
    assert status == 422
    assert body["Details"][0]["DiscountPercent"]["error"] == "'Discount Percent' cannot be greater than 100."


def test_412_bodies_say_which_condition_failed(api: ContractApi) -> None:
    existing = {"CustomerID": {"value": "C0000001"}, "CustomerName": {"value": "X"}}
    assert call(api, "PUT", f"{BASE}/Customer", existing, {"If-None-Match": "*"}) == (
        412,
        {"message": "An entity with these keys already exists and cannot be inserted."},
    )
    missing = {"CustomerID": {"value": "GHOST"}, "CustomerName": {"value": "Ghost"}}
    assert call(api, "PUT", f"{BASE}/Customer", missing, {"If-Match": "*"}) == (
        412,
        {"message": "There is no entity with these keys in the database."},
    )
    status, _ = call(api, "GET", f"{BASE}/Customer/GHOST")
    assert status == 500


def test_a_dropped_put_was_applied_before_the_answer_was_lost(
    make_sandbox: Callable[..., SandboxServer], sandbox_login: Callable[..., requests.Session]
) -> None:
    sandbox = make_sandbox(changes_per_hour=0)
    session = sandbox_login(sandbox.base_url)
    sandbox.set_faults(rate_drop=1.0)
    body = {"CustomerID": {"value": "DROPPED"}, "CustomerName": {"value": "Lost Answer Ltd"}}
    with pytest.raises(requests.ConnectionError):
        session.put(f"{sandbox.base_url}{BASE}/Customer", json=body, timeout=10)
    sandbox.set_faults(rate_drop=0.0)
    fetched = session.get(f"{sandbox.base_url}{BASE}/Customer/DROPPED", timeout=10)
    assert fetched.status_code == 200
    assert fetched.json()["CustomerName"] == {"value": "Lost Answer Ltd"}
