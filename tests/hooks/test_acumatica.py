"""`AcumaticaHook` against the running sandbox: every strategy, both path families, faults and seats."""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from airflow_provider_acumatica.exceptions import (
    AcumaticaApiError,
    AcumaticaAuthError,
    AcumaticaConfigError,
    AcumaticaCredentialsError,
    AcumaticaDeletionsNotTrackedError,
    AcumaticaError,
    AcumaticaLoginLimitError,
)
from airflow_provider_acumatica.hooks.acumatica import AcumaticaHook
from airflow_provider_acumatica.retry_policy import RetryPolicy
from airflow_provider_acumatica.sandbox import SandboxConfig, SandboxServer
from tests.connections import consent_refresh_token, use_connection

FAST = RetryPolicy(max_retries=8, max_seconds=60, backoff_base=0.01, backoff_cap=0.05, retry_after_cap=0.05)
REAL_PATHS: dict[str, dict[str, Any]] = {
    "oauth2_password": {},
    "oauth2_authorization_code": {},
    "api_key": {},
    "basic": {},
    "session": {},
}
SIMPLIFIED_PATHS: dict[str, dict[str, Any]] = {
    "oauth2_password": {"token_path": "/oauth/token", "authorize_path": "/oauth/authorize"},
    "oauth2_authorization_code": {"token_path": "/oauth/token", "authorize_path": "/oauth/authorize"},
    "api_key": {},
    "session": {"login_path": "/api/auth/login", "login_field_names": {"name": "username", "tenant": "company"}},
}


def connect(monkeypatch: pytest.MonkeyPatch, server: SandboxServer, auth_type: str, **extra: Any) -> AcumaticaHook:
    if auth_type == "oauth2_authorization_code" and "refresh_token" not in extra:
        extra["refresh_token"] = consent_refresh_token(
            server.base_url, extra.get("authorize_path", "/identity/connect/authorize")
        )
    conn_id = use_connection(monkeypatch, server.base_url, auth_type, **extra)
    return AcumaticaHook(conn_id, retry_policy=FAST, login_limit_wait=0.05)


def ground_truth(server: SandboxServer, entity: str, expand: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """What the sandbox holds, without `rowNumber`, which numbers the rows of each response."""
    return [without_row_number(record) for record in server.store.iter_records(entity, expand=expand)]


def without_row_number(record: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in record.items() if key != "rowNumber"}


def ids(records: list[dict[str, Any]]) -> list[str]:
    return [record["id"] for record in records]


@pytest.mark.parametrize("auth_type", sorted(REAL_PATHS))
def test_every_strategy_reads_all_records_and_frees_its_seat(
    monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer, auth_type: str
) -> None:
    with connect(monkeypatch, sandbox, auth_type, **REAL_PATHS[auth_type]) as hook:
        records = list(hook.iter_records("Customer", page_size=40))
    assert ids(records) == ids(ground_truth(sandbox, "Customer"))
    assert sandbox.stats()["seats_in_use"] == 0


@pytest.mark.parametrize("auth_type", sorted(SIMPLIFIED_PATHS))
def test_every_strategy_on_the_simplified_paths(
    monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer, auth_type: str
) -> None:
    with connect(monkeypatch, sandbox, auth_type, **SIMPLIFIED_PATHS[auth_type]) as hook:
        page = hook.request_json("GET", "/api/data/AR303000", params={"$top": 5})
    assert ids(page) == ids(ground_truth(sandbox, "Customer"))[:5]
    assert sandbox.stats()["seats_in_use"] == 0


def test_client_credentials_on_the_simplified_token_path(monkeypatch: pytest.MonkeyPatch) -> None:
    with SandboxServer(SandboxConfig(records=30, allow_client_credentials=True)) as server:
        with connect(monkeypatch, server, "oauth2_client_credentials", token_path="/oauth/token") as hook:
            assert len(list(hook.iter_records("Vendor", page_size=7))) == 30
        assert server.stats()["token_grants"] == {"client_credentials": 1}
        assert server.stats()["seats_in_use"] == 0


def test_generic_inquiry_over_odata(monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer) -> None:
    with connect(monkeypatch, sandbox, "basic") as hook:
        rows = list(hook.iter_inquiry("BI-Customers", page_size=33))
    assert len(rows) == sandbox.store.count("Customer")
    assert all("value" not in row for row in rows)
    assert sandbox.stats()["seats_in_use"] == 0


def test_401_in_the_middle_of_paging_loses_and_repeats_nothing(
    monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer
) -> None:
    sandbox.set_faults(session_expire_after_requests=3)
    with connect(monkeypatch, sandbox, "session") as hook:
        records = list(hook.iter_records("SalesOrder", page_size=25))
        assert hook.call_stats.reauthentications >= 2
    assert ids(records) == ids(ground_truth(sandbox, "SalesOrder"))
    assert sandbox.stats()["seats_in_use"] == 0


def test_expiring_tokens_are_renewed_in_the_same_extraction(
    monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer
) -> None:
    sandbox.set_faults(token_expire_after_requests=4)
    with connect(monkeypatch, sandbox, "oauth2_password") as hook:
        records = list(hook.iter_records("Customer", page_size=20))
        assert hook.call_stats.reauthentications >= 2
    assert ids(records) == ids(ground_truth(sandbox, "Customer"))
    assert sandbox.stats()["token_grants"]["password"] == 1
    assert sandbox.stats()["seats_in_use"] == 0


def test_429s_and_gateway_errors_mid_extraction_give_exact_records(
    monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer
) -> None:
    sandbox.set_faults(
        rate_429=0.2, retry_after_share=0.5, retry_after_seconds=0.01, rate_502=0.1, rate_503=0.1, fault_seed=7
    )
    with connect(monkeypatch, sandbox, "oauth2_password") as hook:
        records = list(hook.iter_records("SalesOrder", page_size=10, expand="Details"))
        assert hook.call_stats.retries > 0
    assert [without_row_number(r) for r in records] == ground_truth(sandbox, "SalesOrder", ("Details",))
    assert sandbox.stats()["seats_in_use"] == 0


def test_dropped_connections_and_garbled_bodies_are_retried(
    monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer
) -> None:
    sandbox.set_faults(rate_drop=0.1, rate_malformed=0.1, fault_seed=3)
    with connect(monkeypatch, sandbox, "session") as hook:
        records = list(hook.iter_records("Customer", page_size=10))
    assert ids(records) == ids(ground_truth(sandbox, "Customer"))
    assert sandbox.stats()["seats_in_use"] == 0


def test_a_fault_that_outlasts_the_retries_fails_clearly(
    monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer
) -> None:
    sandbox.set_faults(rate_503=1.0)
    with connect(monkeypatch, sandbox, "session") as hook, pytest.raises(AcumaticaApiError) as caught:
        list(hook.iter_records("Customer"))
    assert caught.value.http_status == 503
    assert sandbox.stats()["seats_in_use"] == 0


def test_twenty_extractions_on_two_seats_all_succeed(monkeypatch: pytest.MonkeyPatch) -> None:
    with SandboxServer(SandboxConfig(records=60, max_seats=2)) as server:
        for run, auth_type in enumerate(["session", "oauth2_password", "api_key", "basic"] * 5):
            with connect(monkeypatch, server, auth_type) as hook:
                assert len(list(hook.iter_records("Customer", page_size=25))) == 60, run
        stats = server.stats()
        assert stats["seats_in_use"] == 0
        assert stats["peak_seats"] == 1


def test_seats_are_released_when_the_task_fails(monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer) -> None:
    with pytest.raises(AcumaticaApiError), connect(monkeypatch, sandbox, "session") as hook:
        list(hook.iter_records("NoSuchEntity"))
    assert sandbox.stats()["seats_in_use"] == 0


def test_full_license_raises_login_limit(monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer) -> None:
    holders = [connect(monkeypatch, sandbox, "session") for _ in range(2)]
    for holder in holders:
        holder.get_conn()
    with connect(monkeypatch, sandbox, "oauth2_password") as hook, pytest.raises(AcumaticaLoginLimitError) as caught:
        hook.get_conn()
    assert "logging out" in str(caught.value) or "signs out" in str(caught.value)
    for holder in holders:
        holder.close()
    assert sandbox.stats()["seats_in_use"] == 0


def test_wrong_password_is_tried_exactly_once(monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer) -> None:
    with (
        connect(monkeypatch, sandbox, "session", password="wrong-password") as hook,
        pytest.raises(AcumaticaCredentialsError),
    ):
        list(hook.iter_records("Customer"))
    assert sum(sandbox.stats()["routes"]["login"].values()) == 1


def test_unknown_entity_and_bad_filter_are_explained(monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer) -> None:
    with connect(monkeypatch, sandbox, "oauth2_password") as hook:
        with pytest.raises(AcumaticaApiError) as unknown:
            list(hook.iter_records("Custommer"))
        with pytest.raises(AcumaticaApiError) as bad_filter:
            list(hook.iter_records("Customer", filter="CustomerID eq"))
    assert unknown.value.http_status in {404, 500}
    assert "entity" in str(unknown.value).lower()
    assert bad_filter.value.http_status == 500 and bad_filter.value.exception_message


def test_get_put_delete_by_key(monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer) -> None:
    first = ground_truth(sandbox, "Customer")[0]
    key = first["CustomerID"]["value"]
    with connect(monkeypatch, sandbox, "session") as hook:
        assert hook.request_json("GET", hook.entity_url("Customer", key))["id"] == first["id"]
        created = hook.request_json(
            "PUT",
            hook.entity_url("Customer"),
            json={"CustomerID": {"value": "ZZNEW"}, "CustomerName": {"value": "New"}},
        )
        assert created["CustomerID"]["value"] == "ZZNEW"
        assert hook.request("DELETE", hook.entity_url("Customer", "ZZNEW")).status_code == 204


def test_validation_errors_carry_field_errors(monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer) -> None:
    with connect(monkeypatch, sandbox, "session") as hook, pytest.raises(AcumaticaApiError) as caught:
        hook.request_json(
            "PUT",
            hook.entity_url("Customer"),
            json={"CustomerID": {"value": "ZZBAD"}, "CreditLimit": {"value": "lots"}},
        )
    assert caught.value.http_status == 422
    assert "CreditLimit" in caught.value.field_errors


def test_instance_url_with_a_site_path(monkeypatch: pytest.MonkeyPatch) -> None:
    with SandboxServer(SandboxConfig(records=15, site_path="/AcumaticaDB")) as server:
        assert server.base_url.endswith("/AcumaticaDB")
        for auth_type in ("session", "oauth2_password"):
            with connect(monkeypatch, server, auth_type) as hook:
                assert len(list(hook.iter_records("Customer", page_size=4))) == 15
        assert server.stats()["seats_in_use"] == 0


@pytest.mark.parametrize("auth_type", ["session", "oauth2_password", "api_key", "basic"])
def test_test_connection(monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer, auth_type: str) -> None:
    ok, message = connect(monkeypatch, sandbox, auth_type).test_connection()
    assert ok, message
    assert "Default/24.200.001" in message
    bad_ok, bad_message = connect(
        monkeypatch, sandbox, auth_type, password="wrong-password", client_secret="wrong-secret"
    ).test_connection()
    assert not bad_ok
    assert "wrong-password" not in bad_message and "wrong-secret" not in bad_message
    assert sandbox.stats()["seats_in_use"] == 0


def test_test_connection_names_an_unpublished_endpoint(monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer) -> None:
    ok, message = connect(monkeypatch, sandbox, "session", endpoint_version="19.200.001").test_connection()
    assert not ok
    assert "24.200.001" in message and "endpoint_version" in message


def test_test_connection_never_raises_on_a_broken_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    use_connection(monkeypatch, "http://10.255.255.1", "session")
    ok, message = AcumaticaHook().test_connection()
    assert not ok and "http://" in message


def test_audit_lines_and_close_summary(
    monkeypatch: pytest.MonkeyPatch,
    sandbox: SandboxServer,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG, logger="airflow_provider_acumatica.audit")
    with connect(monkeypatch, sandbox, "oauth2_password") as hook:
        list(hook.iter_records("Customer", page_size=100, filter="Status eq 'Active'"))
    audit = [r.getMessage() for r in caplog.records if r.name == "airflow_provider_acumatica.audit"]
    assert len(audit) == hook.call_stats.calls
    assert "GET /entity/Default/24.200.001/Customer [$filter,$skip,$top] -> 200" in audit[0]
    assert "(attempt 1)" in audit[0]
    assert "Active" not in " ".join(audit)
    output = capfd.readouterr().out + caplog.text
    assert "acumatica_default closed:" in output
    assert "sessions opened 1 / closed 1" in output


def test_concurrent_401s_reauthenticate_once(monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with connect(monkeypatch, sandbox, "oauth2_password") as hook:
        hook.get_conn()
        sandbox.reset()
        with ThreadPoolExecutor(4) as pool:
            pages = list(
                pool.map(
                    lambda skip: hook.request_json(
                        "GET", hook.entity_url("Customer"), params={"$top": 5, "$skip": skip}
                    ),
                    [0, 5, 10, 15],
                )
            )
        assert [len(page) for page in pages] == [5, 5, 5, 5]
        assert hook.call_stats.reauthentications == 1
    assert sandbox.stats()["token_grants"] == {"password": 1}


def test_http_is_refused_for_remote_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    use_connection(monkeypatch, "http://erp.example.com/Inst", "session")
    with pytest.raises(AcumaticaConfigError, match="Refusing plain http://"):
        AcumaticaHook().get_conn()


def test_missing_ca_bundle_is_named(monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer) -> None:
    use_connection(monkeypatch, sandbox.base_url, "session", verify="/nonexistent/ca.pem")
    with pytest.raises(AcumaticaConfigError, match="does not exist"):
        AcumaticaHook().get_conn()


def test_auth_error_when_the_server_keeps_rejecting(monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer) -> None:
    sandbox.set_faults(token_expire_after_requests=0)
    with connect(monkeypatch, sandbox, "oauth2_password") as hook, pytest.raises(AcumaticaAuthError):
        hook.request_json("GET", hook.entity_url("Customer"))


@pytest.mark.parametrize("auth_type", ["session", "oauth2_password", "basic", "api_key"])
def test_a_call_in_flight_when_terminated_opens_no_seat(
    monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer, auth_type: str
) -> None:
    """`on_kill` signs out while a page is on the wire: the answer (401, or a new Basic session) must not
    leave a seat behind, and the hook must not sign in again."""
    hook = connect(monkeypatch, sandbox, auth_type)
    hook.request_json("GET", hook.entity_url("Customer"), params={"$top": 1})
    send = hook._send

    def terminated_mid_call(*args: Any) -> Any:
        hook.terminate()
        return send(*args)

    monkeypatch.setattr(hook, "_send", terminated_mid_call)
    with pytest.raises(AcumaticaError, match="was terminated"):
        hook.request_json("GET", hook.entity_url("Customer"), params={"$top": 1})
    assert sandbox.stats()["seats_in_use"] == 0
    assert hook.auth.stats.auth_requests <= 1


@pytest.mark.parametrize("dac", ["SOOrder", "ARInvoice"])
def test_basic_contract_then_dac_odata_on_one_hook_leaves_no_seat(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch, dac: str
) -> None:
    """An OData answer that replaces the contract session's cookies must not orphan that session's seat."""
    use_connection(monkeypatch, sandbox.base_url, "basic")
    now = datetime.now(UTC)
    hook = AcumaticaHook()
    try:
        list(hook.iter_pages("SalesOrder", page_size=5))
        with contextlib.suppress(AcumaticaDeletionsNotTrackedError):
            list(hook.iter_deleted(dac, now - timedelta(hours=1), now))
        assert sandbox.stats()["seats_in_use"] <= 1
    finally:
        hook.close()
    stats = sandbox.stats()
    assert stats["seats_in_use"] == 0 and stats["sessions"]["opened"] == stats["sessions"]["closed"]
