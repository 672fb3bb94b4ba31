"""Narrow checks of the hook's retry and re-authentication rules with a mocked transport.

Everything here also runs against the real sandbox in test_acumatica.py; the mock only makes
exact sequences of failures (three 502s in a row, a 401 on page two) easy to script.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests
import requests_mock as rm

from airflow_provider_acumatica.exceptions import (
    AcumaticaApiError,
    AcumaticaAuthError,
    AcumaticaConfigError,
    AcumaticaCredentialsError,
    AcumaticaRateLimitError,
)
from airflow_provider_acumatica.hooks.acumatica import AcumaticaHook, encode_query
from airflow_provider_acumatica.retry_policy import MalformedResponseError, RetryPolicy

BASE = "https://erp.example.com/Inst"
TOKEN_URL = f"{BASE}/identity/connect/token"
LOGOUT_URL = f"{BASE}/entity/auth/logout"
ORDERS = f"{BASE}/entity/Default/24.200.001/SalesOrder"
FAST = RetryPolicy(max_retries=3, max_seconds=30, backoff_base=0.001, backoff_cap=0.01)


@pytest.fixture
def connection(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = {
        "conn_type": "acumatica",
        "host": BASE,
        "login": "admin",
        "password": "pw-123456",
        "extra": {
            "auth_type": "oauth2_password",
            "client_id": "0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0@Company",
            "client_secret": "client-secret-value",
        },
    }
    monkeypatch.setenv("AIRFLOW_CONN_ACUMATICA_DEFAULT", json.dumps(conn))


@pytest.fixture
def hook(connection: None, requests_mock: rm.Mocker) -> Iterator[AcumaticaHook]:
    requests_mock.post(LOGOUT_URL, status_code=204)
    with AcumaticaHook(retry_policy=FAST) as instance:
        yield instance


def token_responses(*tokens: str) -> list[dict[str, object]]:
    return [
        {"json": {"access_token": t, "expires_in": 3600, "token_type": "Bearer", "refresh_token": f"r-{t}"}}
        for t in tokens
    ]


def test_429_with_retry_after_is_retried(hook: AcumaticaHook, requests_mock: rm.Mocker) -> None:
    requests_mock.post(TOKEN_URL, token_responses("tok-one"))
    requests_mock.get(
        ORDERS,
        [{"status_code": 429, "headers": {"Retry-After": "0.01"}, "json": {"message": "busy"}}, {"json": []}],
    )
    assert hook.request_json("GET", ORDERS) == []
    assert hook.call_stats.retries == 1
    assert hook.call_stats.rate_limited == 1


def test_gateway_errors_are_retried_then_succeed(hook: AcumaticaHook, requests_mock: rm.Mocker) -> None:
    requests_mock.post(TOKEN_URL, token_responses("tok-one"))
    requests_mock.get(ORDERS, [{"status_code": 502, "text": "<html/>"}] * 3 + [{"json": [{"id": "a"}]}])
    assert hook.request_json("GET", ORDERS) == [{"id": "a"}]
    assert hook.call_stats.retries == 3


def test_retries_are_bounded(hook: AcumaticaHook, requests_mock: rm.Mocker) -> None:
    requests_mock.post(TOKEN_URL, token_responses("tok-one"))
    route = requests_mock.get(ORDERS, status_code=429, json={"message": "queue full"})
    with pytest.raises(AcumaticaRateLimitError, match="429"):
        hook.request_json("GET", ORDERS)
    assert route.call_count == FAST.max_retries + 1


def test_total_retry_time_is_bounded(connection: None, requests_mock: rm.Mocker) -> None:
    policy = RetryPolicy(max_retries=20, max_seconds=0.3, backoff_base=0.001, retry_after_cap=0.2)
    requests_mock.post(TOKEN_URL, token_responses("tok-one"))
    requests_mock.post(LOGOUT_URL, status_code=204)
    route = requests_mock.get(ORDERS, status_code=503, headers={"Retry-After": "0.2"}, text="busy")
    with AcumaticaHook(retry_policy=policy) as hook, pytest.raises(AcumaticaApiError):
        hook.request_json("GET", ORDERS)
    assert route.call_count <= 3


def test_server_errors_are_not_retried_blindly(hook: AcumaticaHook, requests_mock: rm.Mocker) -> None:
    requests_mock.post(TOKEN_URL, token_responses("tok-one"))
    route = requests_mock.get(ORDERS, status_code=500, json={"message": "An error has occurred."})
    with pytest.raises(AcumaticaApiError) as caught:
        hook.request_json("GET", ORDERS)
    assert caught.value.http_status == 500
    assert route.call_count == 1


def test_non_idempotent_post_is_not_retried_on_502(hook: AcumaticaHook, requests_mock: rm.Mocker) -> None:
    requests_mock.post(TOKEN_URL, token_responses("tok-one"))
    action = requests_mock.post(f"{ORDERS}/ReleaseFromHold", status_code=502, text="<html/>")
    with pytest.raises(AcumaticaApiError):
        hook.request("POST", f"{ORDERS}/ReleaseFromHold", json={"entity": {}})
    assert action.call_count == 1


def test_dropped_connection_is_retried_for_get_only(hook: AcumaticaHook, requests_mock: rm.Mocker) -> None:
    requests_mock.post(TOKEN_URL, token_responses("tok-one"))
    requests_mock.get(ORDERS, [{"exc": requests.ConnectionError("reset")}, {"json": []}])
    assert hook.request_json("GET", ORDERS) == []
    action = requests_mock.post(f"{ORDERS}/Action", exc=requests.ConnectionError("reset"))
    with pytest.raises(requests.ConnectionError):
        hook.request("POST", f"{ORDERS}/Action")
    assert action.call_count == 1


def test_garbled_body_is_retried_then_named(hook: AcumaticaHook, requests_mock: rm.Mocker) -> None:
    requests_mock.post(TOKEN_URL, token_responses("tok-one"))
    requests_mock.get(ORDERS, text="<html><body>Server Error</body></html>", headers={"Content-Type": "text/html"})
    with pytest.raises(MalformedResponseError, match="HTML page instead of JSON"):
        hook.request_json("GET", ORDERS)
    assert hook.call_stats.retries == FAST.max_retries


def test_401_reauthenticates_once_and_replays(hook: AcumaticaHook, requests_mock: rm.Mocker) -> None:
    token = requests_mock.post(TOKEN_URL, token_responses("tok-one", "tok-two"))
    requests_mock.get(ORDERS, [{"status_code": 401, "json": {"message": "You are not logged in."}}, {"json": []}])
    assert hook.request_json("GET", ORDERS) == []
    assert token.call_count == 2
    assert token.last_request.text and "grant_type=refresh_token" in token.last_request.text
    assert requests_mock.request_history[-1].headers["Authorization"] == "Bearer tok-two"
    assert hook.call_stats.reauthentications == 1


def test_second_401_raises(hook: AcumaticaHook, requests_mock: rm.Mocker) -> None:
    token = requests_mock.post(TOKEN_URL, token_responses("tok-one", "tok-two", "tok-three"))
    requests_mock.get(ORDERS, status_code=401, json={"message": "You are not logged in."})
    with pytest.raises(AcumaticaAuthError, match="401 again"):
        hook.request_json("GET", ORDERS)
    assert token.call_count == 2


def test_bad_password_is_never_retried(hook: AcumaticaHook, requests_mock: rm.Mocker) -> None:
    token = requests_mock.post(
        TOKEN_URL, status_code=400, json={"error": "invalid_grant", "error_description": "invalid_username_or_password"}
    )
    with pytest.raises(AcumaticaCredentialsError, match="Not retrying"):
        hook.request_json("GET", ORDERS)
    assert token.call_count == 1


def test_login_limit_waits_once_then_explains(connection: None, requests_mock: rm.Mocker) -> None:
    token = requests_mock.post(
        TOKEN_URL, status_code=429, json={"error": "invalid_request", "error_description": "API Login Limit"}
    )
    with (
        AcumaticaHook(retry_policy=FAST, login_limit_wait=0.01) as hook,
        pytest.raises(AcumaticaAuthError, match="API seat"),
    ):
        hook.get_conn()
    assert token.call_count == 2


def test_close_logs_out_the_bearer_session(connection: None, requests_mock: rm.Mocker) -> None:
    requests_mock.post(TOKEN_URL, token_responses("tok-one"))
    logout = requests_mock.post(LOGOUT_URL, status_code=204)
    with AcumaticaHook(retry_policy=FAST) as hook:
        hook.get_conn()
    assert logout.call_count == 1
    assert logout.last_request.headers["Authorization"] == "Bearer tok-one"
    assert logout.last_request.headers["Content-Length"] == "0"
    assert hook.stats()["sessions_closed"] == 1


def test_other_hosts_are_refused(hook: AcumaticaHook) -> None:
    with pytest.raises(AcumaticaConfigError, match="Refusing to send Acumatica credentials"):
        hook.url_for("https://attacker.example.net/entity")
    assert hook.url_for(f"{ORDERS}?$top=1") == f"{ORDERS}?$top=1"
    assert hook.url_for("entity/x") == f"{BASE}/entity/x"


def test_paging_stops_on_a_short_page(hook: AcumaticaHook, requests_mock: rm.Mocker) -> None:
    """Page 1 starts one record early (the overlap it is joined at), and its response is short."""
    requests_mock.post(TOKEN_URL, token_responses("tok-one"))
    orders = [{"id": f"id-{n}", "n": n} for n in (1, 2, 3)]
    pages = requests_mock.get(ORDERS, [{"json": orders[:2]}, {"json": orders[1:]}])
    records = list(hook.iter_records("SalesOrder", page_size=2, filter="Status eq 'Open'", select="OrderNbr"))
    assert records == orders
    queries = [request.url.split("?", 1)[1] for request in pages.request_history]
    assert queries == [
        "$filter=Status%20eq%20'Open'&$select=OrderNbr&$top=2&$skip=0",
        "$filter=Status%20eq%20'Open'&$select=OrderNbr&$top=3&$skip=1",
    ]


def test_generic_inquiries_page_by_plain_offsets(hook: AcumaticaHook, requests_mock: rm.Mocker) -> None:
    """OData rows have no id to join pages at, so an inquiry keeps plain `$top`/`$skip`."""
    requests_mock.post(TOKEN_URL, token_responses("tok-one"))
    answers = [{"json": {"value": [{"n": 1}, {"n": 2}]}}, {"json": {"value": [{"n": 3}]}}]
    pages = requests_mock.get(f"{BASE}/t/Company/api/odata/gi/Orders", answers)
    assert list(hook.iter_inquiry("Orders", page_size=2)) == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert [request.url.split("?", 1)[1] for request in pages.request_history] == ["$top=2&$skip=0", "$top=2&$skip=2"]


def test_query_encoding_keeps_plus_signs_distinct_from_spaces() -> None:
    encoded = encode_query({"$filter": "LastModified gt datetimeoffset'2024-07-15T10:31:28.402+03:00'"})
    assert encoded == "$filter=LastModified%20gt%20datetimeoffset'2024-07-15T10:31:28.402%2B03:00'"
