"""Storage options from Airflow connections, and a Delta round trip against a real S3 API (moto) on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import pyarrow as pa
import pytest
from airflow.models import Connection
from deltalake import DeltaTable

from airflow_provider_acumatica.exceptions import AcumaticaConfigError
from airflow_provider_acumatica.sinks import ChangeSet, CommitId, DeltaSink, storage_options_from_connection
from airflow_provider_acumatica.sinks import storage as storage_module
from tests.s3 import BUCKET

SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"


def connection(conn_type: str, **fields: Any) -> Connection:
    extra = fields.pop("extra", {})
    return Connection(conn_id=f"{conn_type}_lake", conn_type=conn_type, extra=json.dumps(extra), **fields)


@pytest.fixture
def masked() -> Iterator[list[str]]:
    secrets: list[str] = []
    with mock.patch.object(storage_module, "mask", side_effect=lambda value: secrets.append(value or "")):
        yield secrets


def test_aws_connection(masked: list[str]) -> None:
    conn = connection(
        "aws",
        login="AKIAEXAMPLE",
        password=SECRET,
        extra={"region_name": "eu-west-1", "aws_session_token": "session-token-value"},
    )
    assert storage_options_from_connection(conn) == {
        "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_SESSION_TOKEN": "session-token-value",
        "AWS_REGION": "eu-west-1",
    }
    assert SECRET in masked
    assert "session-token-value" in masked


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]"])
def test_aws_http_endpoint_on_loopback_is_allowed(host: str) -> None:
    options = storage_options_from_connection(connection("aws", extra={"endpoint_url": f"http://{host}:9000"}))
    assert options == {"AWS_ENDPOINT_URL": f"http://{host}:9000", "AWS_ALLOW_HTTP": "true"}


def test_aws_https_endpoint_does_not_allow_http() -> None:
    options = storage_options_from_connection(connection("aws", extra={"endpoint_url": "https://minio.example.com"}))
    assert options == {"AWS_ENDPOINT_URL": "https://minio.example.com"}


def test_aws_http_endpoint_elsewhere_is_refused() -> None:
    conn = connection("aws", password=SECRET, extra={"endpoint_url": "http://minio.example.com:9000"})
    with pytest.raises(AcumaticaConfigError, match="use an https endpoint") as raised:
        storage_options_from_connection(conn)
    assert SECRET not in str(raised.value)


def test_google_connection_with_a_key_path() -> None:
    conn = connection("google_cloud_platform", extra={"key_path": "/keys/lake.json"})
    assert storage_options_from_connection(conn) == {"GOOGLE_SERVICE_ACCOUNT": "/keys/lake.json"}


def test_google_connection_with_a_key_in_the_old_prefixed_form(masked: list[str]) -> None:
    key = {"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----abc"}
    conn = connection("google_cloud_platform", extra={"extra__google_cloud_platform__keyfile_dict": key})
    options = storage_options_from_connection(conn)
    assert json.loads(options["GOOGLE_SERVICE_ACCOUNT_KEY"]) == key
    assert key["private_key"] in masked
    assert options["GOOGLE_SERVICE_ACCOUNT_KEY"] in masked


def test_google_connection_without_a_key_is_refused() -> None:
    with pytest.raises(AcumaticaConfigError, match="key_path nor keyfile_dict"):
        storage_options_from_connection(connection("google_cloud_platform"))


def test_azure_connection_with_an_account_key(masked: list[str]) -> None:
    conn = connection("wasb", login="lakeaccount", password=SECRET)
    assert storage_options_from_connection(conn) == {
        "AZURE_STORAGE_ACCOUNT_NAME": "lakeaccount",
        "AZURE_STORAGE_ACCOUNT_KEY": SECRET,
    }
    assert SECRET in masked


def test_azure_connection_with_a_sas_token(masked: list[str]) -> None:
    conn = connection("wasb", login="lakeaccount", extra={"sas_token": "sv=2024&sig=abc%3D"})
    assert storage_options_from_connection(conn) == {
        "AZURE_STORAGE_ACCOUNT_NAME": "lakeaccount",
        "AZURE_STORAGE_SAS_TOKEN": "sv=2024&sig=abc%3D",
    }
    assert "sv=2024&sig=abc%3D" in masked


def test_azure_connection_string(masked: list[str]) -> None:
    text = (
        f"DefaultEndpointsProtocol=https;AccountName=lakeaccount;AccountKey={SECRET}==;EndpointSuffix=core.windows.net"
    )
    options = storage_options_from_connection(connection("wasb", extra={"connection_string": text}))
    assert options == {"AZURE_STORAGE_ACCOUNT_NAME": "lakeaccount", "AZURE_STORAGE_ACCOUNT_KEY": f"{SECRET}=="}
    assert f"{SECRET}==" in masked


def test_azure_connection_without_an_account_is_refused() -> None:
    with pytest.raises(AcumaticaConfigError, match="names no storage account") as raised:
        storage_options_from_connection(connection("wasb", password=SECRET))
    assert SECRET not in str(raised.value)


def test_another_connection_type_is_refused() -> None:
    with pytest.raises(AcumaticaConfigError, match=r"type 'http'.*use an adls, aws, azure_data_lake"):
        storage_options_from_connection(connection("http", password=SECRET))


def test_merge_remerge_and_delete_on_s3(s3_endpoint: str) -> None:
    conn = connection(
        "aws",
        login="testing-key",
        password="testing-secret",
        extra={"endpoint_url": s3_endpoint, "region_name": "us-east-1"},
    )
    options = storage_options_from_connection(conn)
    sink = DeltaSink(f"s3://{BUCKET}/erp", options)
    start = datetime(2026, 1, 1, tzinfo=UTC)

    def commit(hour: int) -> CommitId:
        return CommitId("erp_copy", f"run-{hour}", start + timedelta(hours=hour - 1), start + timedelta(hours=hour))

    def records(rows: dict[str, int]) -> pa.Table:
        return pa.table({"id": list(rows), "Qty": pa.array(list(rows.values()), pa.int32())})

    created = sink.merge("Customer", ChangeSet(records({"a": 1, "b": 2})), commit(1))
    assert (created.version, created.inserted) == (0, 2)
    changed = sink.merge("Customer", ChangeSet(records({"b": 3, "c": 4}), deleted_ids=["a"]), commit(2))
    assert (changed.version, changed.inserted, changed.updated, changed.deleted) == (1, 1, 1, 1)
    assert sink.merge("Customer", ChangeSet(records({"z": 9})), commit(2)).already_committed
    table = DeltaTable(f"s3://{BUCKET}/erp/Customer", storage_options=options)
    assert table.version() == 1
    stored = sink.read("Customer")
    assert stored is not None
    assert sorted(stored.to_pylist(), key=lambda row: row["id"]) == [
        {"id": "b", "Qty": 3},
        {"id": "c", "Qty": 4},
    ]
