"""Building the output path: local by default, remote schemes checked early, credentials never shown."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from airflow.providers.common.compat.sdk import ObjectStoragePath

from airflow_provider_acumatica.exceptions import AcumaticaConfigError
from airflow_provider_acumatica.output import build_output_path, redact_uri
from airflow_provider_acumatica.output.paths import connection_id


def test_a_plain_path_is_a_local_file(tmp_path: Path) -> None:
    path = build_output_path(str(tmp_path / "out" / "orders.jsonl"))
    assert path.protocol == "file"
    assert path.path == str(tmp_path / "out" / "orders.jsonl")
    assert str(path) == f"file://{tmp_path}/out/orders.jsonl"


def test_a_relative_path_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert build_output_path("exports/orders.csv").path == os.path.join(str(tmp_path), "exports", "orders.csv")


def test_file_uris_and_escapes(tmp_path: Path) -> None:
    path = build_output_path(f"file://{tmp_path}/my%20dir/orders.jsonl", "fs_default")
    assert path.path == f"{tmp_path}/my dir/orders.jsonl"
    assert connection_id(path) == "fs_default"
    assert build_output_path(f"local://{tmp_path}/x.jsonl").protocol == "file"


def test_a_file_uri_with_a_host_is_rejected() -> None:
    with pytest.raises(AcumaticaConfigError, match=r"file:///data/x\.jsonl"):
        build_output_path("file://data/x.jsonl")


def test_object_storage_paths_without_protocol_become_local(tmp_path: Path) -> None:
    path = build_output_path(ObjectStoragePath(str(tmp_path / "x.parquet")), "fs_default")
    assert path.protocol == "file"
    assert connection_id(path) == "fs_default"
    assert path.path == str(tmp_path / "x.parquet")


def test_conflicting_connections_are_rejected(tmp_path: Path) -> None:
    given = ObjectStoragePath(str(tmp_path / "x.jsonl"), protocol="file", conn_id="one")
    with pytest.raises(AcumaticaConfigError, match="output_conn_id='two'"):
        build_output_path(given, "two")


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_path_is_rejected(value: str) -> None:
    with pytest.raises(AcumaticaConfigError, match="output_path is empty"):
        build_output_path(value)


@pytest.mark.parametrize("value", ["file:///srv/exports/", "/srv/exports/", "/"])
def test_a_directory_is_not_a_file_name(value: str) -> None:
    with pytest.raises(AcumaticaConfigError, match="names a directory"):
        build_output_path(value)


def test_a_scheme_without_filesystem_names_the_provider_and_hides_credentials() -> None:
    with pytest.raises(AcumaticaConfigError) as raised:
        build_output_path("s3://AKIAEXAMPLE:wJalrXUtnFEMIsecret@bucket/exports/orders.jsonl")
    message = str(raised.value)
    assert "s3://bucket/exports/orders.jsonl" in message
    assert "apache-airflow-providers-amazon[s3fs]" in message
    assert "wJalrXUtnFEMIsecret" not in message
    assert "AKIAEXAMPLE" not in message
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__


def test_an_unknown_scheme_says_what_works() -> None:
    with pytest.raises(AcumaticaConfigError, match=r"no filesystem for 'nosuch' URIs .* use a local path, file://"):
        build_output_path("nosuch://bucket/orders.jsonl")


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        ("s3://key:secret@bucket/x.jsonl", "s3://bucket/x.jsonl"),
        ("s3://aws_default@bucket/x.jsonl", "s3://bucket/x.jsonl"),
        ("file://conn@/tmp/x.jsonl", "file:///tmp/x.jsonl"),
        ("gs://bucket/a#b.jsonl", "gs://bucket/a#b.jsonl"),
        ("/tmp/x.jsonl", "/tmp/x.jsonl"),
    ],
)
def test_redact_uri(uri: str, shown: str) -> None:
    assert redact_uri(uri) == shown


def test_redact_uri_of_a_path_with_a_connection(tmp_path: Path) -> None:
    path = ObjectStoragePath(str(tmp_path / "x.jsonl"), protocol="file", conn_id="user:pass")
    assert redact_uri(path) == f"file://{tmp_path}/x.jsonl"
