"""The catalogue of bad inputs: each one fails with an error that names the problem and the fix.

Every case here has a row in docs/bad-inputs.md quoting the message the user sees; the test checks
that the quote is really part of the error, so the table cannot drift from the code. No error may
carry a password, client secret or token.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests_mock as rm

from airflow_provider_acumatica.exceptions import AcumaticaError
from airflow_provider_acumatica.hooks.acumatica import AcumaticaHook
from airflow_provider_acumatica.operators.dac import AcumaticaDacExtractOperator
from airflow_provider_acumatica.operators.deleted_records import AcumaticaDeletedRecordsOperator
from airflow_provider_acumatica.operators.extract import AcumaticaExtractOperator
from airflow_provider_acumatica.operators.generic_inquiry import AcumaticaGenericInquiryOperator
from airflow_provider_acumatica.operators.replicate import AcumaticaReplicateOperator
from airflow_provider_acumatica.operators.upsert import AcumaticaUpsertOperator
from airflow_provider_acumatica.retry_policy import RetryPolicy
from airflow_provider_acumatica.sandbox import SandboxConfig, SandboxServer
from airflow_provider_acumatica.settings import AcumaticaSettings
from airflow_provider_acumatica.triggers.change import AcumaticaChangeTrigger
from tests.connections import CLIENT_ID, use_connection

DOC = Path(__file__).resolve().parents[1] / "docs" / "bad-inputs.md"
SECRETS = ("sandbox-secret", "wrong-secret-value", "wrong-password-value", "stale-refresh-token-value")
FAST = RetryPolicy(max_retries=2, backoff_base=0.001, backoff_cap=0.01, retry_after_cap=0.01)
REMOTE = "https://erp.example.com/Inst"


@pytest.fixture(scope="module")
def plain_server() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(records=30, changes_per_hour=0)) as running:
        yield running


@pytest.fixture(scope="module")
def tls_server(tls_certificate: tuple[str, str]) -> Iterator[SandboxServer]:
    cert, key = tls_certificate
    with SandboxServer(SandboxConfig(records=30, changes_per_hour=0, tls_cert=cert, tls_key=key)) as running:
        yield running


class Case:
    """One bad input: how to provoke it, and the words of the message the docs table quotes."""

    def __init__(
        self,
        name: str,
        quote: str,
        run: Callable[[pytest.MonkeyPatch, SandboxServer, Path], Any],
        *,
        tls: bool = False,
    ) -> None:
        self.name = name
        self.quote = quote
        self.run = run
        self.tls = tls


def hook(monkeypatch: pytest.MonkeyPatch, base_url: str, auth_type: str, **kwargs: Any) -> AcumaticaHook:
    use_connection(monkeypatch, base_url, auth_type, **kwargs)
    return AcumaticaHook(retry_policy=FAST, login_limit_wait=0.01)


def raw_connection(monkeypatch: pytest.MonkeyPatch, value: dict[str, Any]) -> AcumaticaHook:
    monkeypatch.setenv("AIRFLOW_CONN_ACUMATICA_DEFAULT", json.dumps(value))
    return AcumaticaHook(retry_policy=FAST)


def pull(monkeypatch: pytest.MonkeyPatch, base_url: str, auth_type: str = "session", **kwargs: Any) -> Any:
    with hook(monkeypatch, base_url, auth_type, **kwargs) as running:
        return list(running.iter_records("Customer", page_size=10))


def upsert(tmp: Path, records: list[dict[str, Any]], **kwargs: Any) -> AcumaticaUpsertOperator:
    source = tmp / "in.jsonl"
    source.write_text("".join(json.dumps(record) + "\n" for record in records))
    return AcumaticaUpsertOperator(
        task_id="up", entity="Customer", key_fields=["CustomerID"], input_path=str(source), **kwargs
    )


def extract(tmp: Path, name: str = "out.jsonl", **kwargs: Any) -> Any:
    return AcumaticaExtractOperator(task_id="bad", output_path=str(tmp / name), **kwargs)


def mocked(requests_mock: rm.Mocker, monkeypatch: pytest.MonkeyPatch, **answer: Any) -> Any:
    requests_mock.post(f"{REMOTE}/entity/auth/login", status_code=204, cookies={".ASPXAUTH": "abcdef123456"})
    requests_mock.post(f"{REMOTE}/entity/auth/logout", status_code=204)
    requests_mock.get(f"{REMOTE}/entity/Default/24.200.001/Customer", **answer)
    with hook(monkeypatch, REMOTE, "basic") as running:
        return list(running.iter_records("Customer", page_size=10))


def _mock_case(name: str, quote: str, **answer: Any) -> Case:
    def run(monkeypatch: pytest.MonkeyPatch, server: SandboxServer, tmp: Path) -> Any:
        with rm.Mocker() as requests_mock:
            return mocked(requests_mock, monkeypatch, **answer)

    return Case(name, quote, run)


INTERVAL = {
    "data_interval_start": datetime.now(UTC) - timedelta(hours=1),
    "data_interval_end": datetime.now(UTC),
    "run_id": "bad-inputs",
}


def replica(tmp: Path, entity: str, **kwargs: Any) -> AcumaticaReplicateOperator:
    return AcumaticaReplicateOperator(task_id="bad", entity=entity, table_base=str(tmp / "lake"), **kwargs)


def _twice(mp: pytest.MonkeyPatch, server: SandboxServer, tmp: Path, entity: str, **kwargs: Any) -> Any:
    """A first run loads the table; the second one reads deletions as `kwargs` say."""
    use_connection(mp, server.base_url, "basic")
    replica(tmp, entity).execute(INTERVAL)
    later = {**INTERVAL, "data_interval_start": INTERVAL["data_interval_end"], "data_interval_end": datetime.now(UTC)}
    return replica(tmp, entity, **kwargs).execute(later)


def _table_of_another_entity(mp: pytest.MonkeyPatch, server: SandboxServer, tmp: Path) -> Any:
    use_connection(mp, server.base_url, "basic")
    replica(tmp, "ShipVia").execute(INTERVAL)
    (tmp / "lake" / "ShipVia").rename(tmp / "lake" / "FOBPoint")
    return replica(tmp, "FOBPoint").execute(INTERVAL)


def _incompatible_table(mp: pytest.MonkeyPatch, server: SandboxServer, tmp: Path) -> Any:
    """Another tool overwrote the table with a text OrderTotal; the next merge must not touch it."""
    import pyarrow as pa
    from deltalake import DeltaTable, write_deltalake

    from tests.replica_checks import stored

    use_connection(mp, server.base_url, "basic")
    replica(tmp, "SalesOrder", details=[]).execute(INTERVAL)
    uri = str(tmp / "lake" / "SalesOrder")
    rows = pa.Table.from_pylist(stored(uri), schema=pa.schema(DeltaTable(uri).schema().to_arrow()))
    index = rows.schema.get_field_index("OrderTotal")
    write_deltalake(
        uri,
        rows.set_column(index, "OrderTotal", rows["OrderTotal"].cast(pa.string())),
        mode="overwrite",
        schema_mode="overwrite",
    )
    try:
        later = {
            **INTERVAL,
            "data_interval_start": INTERVAL["data_interval_end"],
            "data_interval_end": datetime.now(UTC),
        }
        return replica(tmp, "SalesOrder", details=[]).execute(later)
    finally:
        assert DeltaTable(uri).version() == 1


def dac_extract(tmp: Path, **kwargs: Any) -> Any:
    return AcumaticaDacExtractOperator(task_id="bad", output_path=str(tmp / "dac.jsonl"), **kwargs)


def deletions(tmp: Path, **kwargs: Any) -> Any:
    return AcumaticaDeletedRecordsOperator(task_id="bad", output_path=str(tmp / "deleted.jsonl"), **kwargs)


def _metadata_case(name: str, quote: str, **answer: Any) -> Case:
    def run(monkeypatch: pytest.MonkeyPatch, server: SandboxServer, tmp: Path) -> Any:
        with rm.Mocker() as requests_mock:
            requests_mock.get(f"{REMOTE}/t/Company/api/odata/dac/$metadata", **answer)
            use_connection(monkeypatch, REMOTE, "basic")
            return dac_extract(tmp, dac="SOOrder").execute({})

    return Case(name, quote, run)


def _no_last_modified(monkeypatch: pytest.MonkeyPatch, server: SandboxServer, tmp: Path) -> Any:
    swagger = {
        "components": {
            "schemas": {
                "Entity": {"type": "object", "properties": {"id": {"type": "string"}}},
                "StringValue": {"type": "object", "properties": {"value": {"type": "string"}}},
                "ShipVia": {
                    "allOf": [
                        {"$ref": "#/components/schemas/Entity"},
                        {"properties": {"CarrierID": {"$ref": "#/components/schemas/StringValue"}}},
                    ]
                },
            }
        }
    }
    with rm.Mocker() as requests_mock:
        requests_mock.post(
            f"{REMOTE}/entity/auth/login", status_code=204, headers={"Set-Cookie": ".ASPXAUTH=abcdef123456"}
        )
        requests_mock.post(f"{REMOTE}/entity/auth/logout", status_code=204)
        requests_mock.get(f"{REMOTE}/entity/Default/24.200.001/swagger.json", json=swagger)
        use_connection(monkeypatch, REMOTE, "basic")
        operator = extract(tmp, entity="ShipVia", incremental_field="auto")
        return operator.execute({"data_interval_start": _day(1), "data_interval_end": _day(2)})


def _day(day: int) -> Any:
    from datetime import UTC, datetime

    return datetime(2026, 11, day, tzinfo=UTC)


def _full_license(monkeypatch: pytest.MonkeyPatch, server: SandboxServer, tmp: Path) -> Any:
    holders = [hook(monkeypatch, server.base_url, "session") for _ in range(2)]
    try:
        for holder in holders:
            holder.get_conn()
        return pull(monkeypatch, server.base_url, "oauth2_password")
    finally:
        for holder in holders:
            holder.close()


CASES = [
    Case(
        "unknown auth_type",
        "Unknown auth_type 'oauth' in the Acumatica connection. Use one of",
        lambda mp, s, t: raw_connection(
            mp, {"conn_type": "acumatica", "host": s.base_url, "extra": {"auth_type": "oauth"}}
        ).get_conn(),
    ),
    Case(
        "missing host",
        "The Acumatica connection has no host. Set it to the instance URL",
        lambda mp, s, t: raw_connection(mp, {"conn_type": "acumatica", "login": "a", "password": "b"}).get_conn(),
    ),
    Case(
        "http:// to a remote host",
        "Refusing plain http:// to erp.example.com",
        lambda mp, s, t: pull(mp, "http://erp.example.com/Inst"),
    ),
    Case(
        "invalid JSON in the extra",
        "The Acumatica connection's extra is not valid JSON (line 1, column 2)",
        lambda mp, s, t: AcumaticaSettings.from_connection(
            SimpleNamespace(
                host=s.base_url,
                login="admin",
                password="wrong-password-value",
                schema=None,
                extra="{auth_type: session, client_secret: wrong-secret-value}",
                extra_dejson={},
            )
        ),
    ),
    Case(
        "client id without @Tenant",
        "client_id must be of the form GUID@Tenant",
        lambda mp, s, t: pull(mp, s.base_url, "oauth2_password", client_id="0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0"),
    ),
    Case(
        "missing credentials for the auth type",
        "a person must consent once",
        lambda mp, s, t: pull(mp, s.base_url, "oauth2_authorization_code"),
    ),
    Case(
        "wrong password (never retried)",
        "Acumatica rejected the username or password (invalid_grant). Not retrying",
        lambda mp, s, t: pull(mp, s.base_url, "oauth2_password", password="wrong-password-value"),
    ),
    Case(
        "wrong password on a cookie session",
        "Acumatica rejected the username or password. Not retrying",
        lambda mp, s, t: pull(mp, s.base_url, "session", password="wrong-password-value"),
    ),
    Case(
        "expired or wrong client secret",
        "shared secret on Connected Applications (SM303010) has not expired",
        lambda mp, s, t: pull(mp, s.base_url, "oauth2_password", client_secret="wrong-secret-value"),
    ),
    Case(
        "dead refresh token (invalid_grant)",
        "The consent must be redone",
        lambda mp, s, t: pull(mp, s.base_url, "oauth2_authorization_code", refresh_token="stale-refresh-token-value"),
    ),
    Case(
        "client credentials against Acumatica",
        "Acumatica itself supports only authorization code, password (ROPC)",
        lambda mp, s, t: pull(mp, s.base_url, "oauth2_client_credentials"),
    ),
    Case("full license", "refused the token request with 'API Login Limit'", _full_license),
    Case(
        "unknown tenant",
        "Acumatica does not know the tenant 'Nowhere'",
        lambda mp, s, t: pull(mp, s.base_url, "session", tenant="Nowhere"),
    ),
    Case(
        "wrong login path",
        "The sign-in path /entity/auth/signin does not exist on this server (HTTP 404)",
        lambda mp, s, t: pull(mp, s.base_url, "session", login_path="/entity/auth/signin"),
    ),
    Case(
        "endpoint version malformed",
        "endpoint_version '24.2' is not of the form YY.R00.001",
        lambda mp, s, t: pull(mp, s.base_url, "session", endpoint_version="24.2"),
    ),
    Case(
        "timeout that is not a number",
        "timeout must be a number of seconds, not 'slow'",
        lambda mp, s, t: pull(mp, s.base_url, "session", timeout="slow"),
    ),
    Case(
        "missing CA bundle",
        "verify points at '/nonexistent/ca.pem', which does not exist",
        lambda mp, s, t: pull(mp, s.base_url, "session", verify="/nonexistent/ca.pem"),
    ),
    _mock_case(
        "HTML page instead of JSON",
        "answered HTTP 200 with an HTML page instead of JSON",
        text="<html><body>Sign in</body></html>",
        headers={"Content-Type": "text/html"},
    ),
    _mock_case("empty 200", "answered HTTP 200 with an empty body instead of JSON", text=""),
    _mock_case(
        "truncated body",
        "answered HTTP 200 with a truncated or invalid JSON body instead of JSON",
        text='[{"id": "a", "CustomerID": {"val',
    ),
    _mock_case("200 with a non-array body", "did not return a JSON array", json={"value": []}),
    _mock_case(
        "page larger than $top",
        "the server returned 11 rows for $top=10, so $top/$skip paging cannot be trusted",
        json=[{"id": str(n)} for n in range(11)],
    ),
    Case(
        "unknown entity",
        "is not in the swagger.json of Default/24.200.001",
        lambda mp, s, t: [use_connection(mp, s.base_url, "session"), extract(t, entity="Custmer").execute({})],
    ),
    Case(
        "unknown entity with a schema",
        "Close matches: Customer",
        lambda mp, s, t: [
            use_connection(mp, s.base_url, "session"),
            extract(t, "o.parquet", entity="Custmer", output_format="parquet").execute({}),
        ],
    ),
    Case(
        "unknown field in $select",
        "CustomerNme",
        lambda mp, s, t: [
            use_connection(mp, s.base_url, "session"),
            extract(t, entity="Customer", select="CustomerNme").execute({}),
        ],
    ),
    Case(
        "bad $filter",
        "failed with HTTP 500",
        lambda mp, s, t: [
            use_connection(mp, s.base_url, "session"),
            extract(t, entity="Customer", filter="Status eq").execute({}),
        ],
    ),
    Case(
        "unwritable output path",
        "not a directory",
        lambda mp, s, t: [
            use_connection(mp, s.base_url, "session"),
            (t / "file").write_text("x"),
            AcumaticaExtractOperator(task_id="bad", entity="Customer", output_path=str(t / "file" / "o.jsonl")).execute(
                {}
            ),
        ],
    ),
    Case("unknown output format", "'xml'", lambda mp, s, t: extract(t, entity="Customer", output_format="xml")),
    Case(
        "output suffix that names another format",
        "ends in '.parquet', which is parquet, but output_format is 'csv'",
        lambda mp, s, t: extract(t, "o.parquet", entity="Customer", output_format="csv"),
    ),
    Case(
        "raw records to CSV",
        "flatten=False writes Acumatica's raw",
        lambda mp, s, t: extract(t, "o.csv", entity="Customer", output_format="csv", flatten=False),
    ),
    Case(
        "entity without a last-modified field used incrementally",
        "incremental_field='auto' cannot pick one",
        _no_last_modified,
    ),
    Case(
        "unknown generic inquiry",
        "is not published over OData on this tenant (published: BI-Customers",
        lambda mp, s, t: [
            use_connection(mp, s.base_url, "basic"),
            AcumaticaGenericInquiryOperator(task_id="gi", inquiry="Nope", output_path=str(t / "g.jsonl")).execute({}),
        ],
    ),
    Case(
        "unknown DAC",
        "Close matches: SOOrder",
        lambda mp, s, t: [use_connection(mp, s.base_url, "basic"), dac_extract(t, dac="SOOrdr").execute({})],
    ),
    Case(
        "DAC the user may not read",
        "Give the user the OData4 User role on Users (SM201010)",
        lambda mp, s, t: [
            use_connection(mp, s.base_url, "basic", login="reader"),
            dac_extract(t, dac="SOOrder").execute({}),
        ],
    ),
    Case(
        "DAC OData with the session strategy",
        "takes a bearer token or HTTP Basic, not the session strategy",
        lambda mp, s, t: [use_connection(mp, s.base_url, "session"), dac_extract(t, dac="SOOrder").execute({})],
    ),
    _metadata_case(
        "$metadata that is an HTML page",
        "answered an HTML page instead of EDMX XML",
        text="<html><body>Sign in</body></html>",
        headers={"Content-Type": "text/html"},
    ),
    _metadata_case(
        "truncated $metadata",
        "is not a complete XML document",
        text='<?xml version="1.0"?><edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"><edmx:Data',
        headers={"Content-Type": "application/xml"},
    ),
    Case(
        "deletions of an untracked DAC",
        "To track them: 1. Open Tables to Track Deleted Records (SM207010)",
        lambda mp, s, t: [use_connection(mp, s.base_url, "basic"), deletions(t, dac="ARInvoice").execute({})],
    ),
    Case(
        "deletions of an entity the map does not know",
        "Close matches: SalesOrder",
        lambda mp, s, t: [use_connection(mp, s.base_url, "basic"), deletions(t, entity="SalesOrders").execute({})],
    ),
    Case(
        "inquiry without a required parameter",
        "InventoryID: 'Inventory ID' cannot be empty",
        lambda mp, s, t: [
            use_connection(mp, s.base_url, "session"),
            extract(t, entity="InventorySummaryInquiry", parameters={}).execute({}),
        ],
    ),
    Case(
        "inquiry pulled incrementally",
        "so incremental_field cannot apply. Narrow the result with parameters",
        lambda mp, s, t: extract(t, entity="InventorySummaryInquiry", incremental_field="auto"),
    ),
    Case(
        "unknown write mode",
        "mode must be one of upsert, insert, update",
        lambda mp, s, t: upsert(t, [{"CustomerID": "C0000001"}], mode="merge"),
    ),
    Case(
        "a column the entity lacks",
        "Customer has no field 'Colour' in swagger.json",
        lambda mp, s, t: [
            use_connection(mp, s.base_url, "session"),
            upsert(t, [{"CustomerID": "C0000001", "Colour": "red"}]).execute({}),
        ],
    ),
    Case(
        "more rejected records than max_rejects",
        "1 of 1 records were rejected, more than max_rejects=0",
        lambda mp, s, t: [
            use_connection(mp, s.base_url, "session"),
            upsert(t, [{"CustomerID": "C0000001", "CreditLimit": "lots"}]).execute({}),
        ],
    ),
    Case(
        "self-signed certificate without verify",
        "TLS certificate verification failed",
        lambda mp, s, t: [mp.delenv("REQUESTS_CA_BUNDLE", raising=False), pull(mp, s.base_url, "session")],
        tls=True,
    ),
    Case(
        "explicit window that ends before it starts",
        "window_end (2026-12-01T00:00:00+00:00) must be after window_start",
        lambda mp, s, t: extract(
            t,
            entity="Customer",
            incremental_field="auto",
            window_start="2026-12-02T00:00:00+00:00",
            window_end="2026-12-01T00:00:00+00:00",
        ),
    ),
    Case(
        "change trigger backing off less than it polls",
        "poll_interval must be positive and max_backoff at least poll_interval",
        lambda mp, s, t: AcumaticaChangeTrigger(entity="Customer", poll_interval=600, max_backoff=60),
    ),
    Case(
        "unknown deletion mode of a replica",
        "deletes must be one of auto, tracked, reconcile, none",
        lambda mp, s, t: replica(t, "SalesOrder", deletes="sometimes"),
    ),
    Case(
        "replica of an unknown detail collection",
        "SalesOrder has no detail collection 'Lines' in the endpoint's swagger.json",
        lambda mp, s, t: [
            use_connection(mp, s.base_url, "basic"),
            replica(t, "SalesOrder", details=["Lines"]).execute(INTERVAL),
        ],
    ),
    Case(
        "replica with tracked deletions of an untracked DAC",
        "To track them: 1. Open Tables to Track Deleted Records (SM207010)",
        lambda mp, s, t: _twice(mp, s, t, "SalesInvoice", deletes="tracked"),
    ),
    Case("replica table written by another entity", "holds ShipVia, not FOBPoint", _table_of_another_entity),
    Case("replica table whose column type another tool changed", "in the Delta table but", _incompatible_table),
    Case(
        "replica table base under a file",
        "is a file, not a folder; point table_base at a folder",
        lambda mp, s, t: [
            use_connection(mp, s.base_url, "basic"),
            (t / "file").write_text("x"),
            replica(t / "file", "ShipVia").execute(INTERVAL),
        ],
    ),
    Case(
        "replica without the lake extra",
        "install it with pip install 'airflow-provider-acumatica[lake]'",
        lambda mp, s, t: [
            use_connection(mp, s.base_url, "basic"),
            mp.setitem(sys.modules, "deltalake", None),
            replica(t, "ShipVia").execute(INTERVAL),
        ],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_each_bad_input_is_explained_without_secrets(
    case: Case, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    server: SandboxServer = request.getfixturevalue("tls_server" if case.tls else "plain_server")
    server.reset(faults=True)
    with pytest.raises(AcumaticaError) as caught:
        case.run(monkeypatch, server, tmp_path)
    message = str(caught.value)
    assert case.quote in message, message
    assert not any(secret in message for secret in SECRETS)
    assert server.stats()["seats_in_use"] == 0
    assert not list(tmp_path.glob("**/*.partial"))


def test_the_docs_table_quotes_every_case() -> None:
    table = DOC.read_text()
    rows = re.findall(r"^\| \d+ \| (.+?) \| `(.+?)` \|", table, flags=re.MULTILINE)
    assert [(name, quote) for name, quote in rows] == [(case.name, case.quote) for case in CASES]
    assert len(CASES) >= 25


def test_client_id_suffix_check_names_the_tenants(monkeypatch: pytest.MonkeyPatch, plain_server: SandboxServer) -> None:
    from airflow_provider_acumatica.exceptions import AcumaticaConfigError
    from airflow_provider_acumatica.operators.auth_check import check_tenant

    with pytest.raises(AcumaticaConfigError, match="belongs to tenant 'Company'"):
        check_tenant(hook(monkeypatch, plain_server.base_url, "oauth2_password", tenant="Other", client_id=CLIENT_ID))
