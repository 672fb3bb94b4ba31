"""delta-rs storage options from the Airflow connection a deployment already has for its bucket.

Concurrent writers on S3: delta-rs 1.x dropped the DynamoDB locking provider and commits with S3's conditional
writes (`If-None-Match: *` on the `_delta_log` entry), which AWS S3 supports since late 2024 (and MinIO, R2 and
moto 5 too). So no `AWS_S3_LOCKING_PROVIDER` is set and `AWS_S3_ALLOW_UNSAFE_RENAME` is never turned on: a second
writer of the same version gets a conflict and retries instead of overwriting a commit. A store that ignores
`If-None-Match` is unsafe with more than one writer per table; run one writer per table there.

Every secret is registered with Airflow's log masker and never appears in an error.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Mapping
from typing import Any, Protocol
from urllib.parse import urlparse

from airflow_provider_acumatica.exceptions import AcumaticaConfigError
from airflow_provider_acumatica.masking import mask

_LOOPBACK_NAMES = frozenset({"localhost"})


class StorageConnection(Protocol):
    """The parts of an Airflow connection used here (airflow.models and airflow.sdk connections both fit)."""

    @property
    def conn_id(self) -> str | None: ...

    @property
    def conn_type(self) -> str | None: ...

    @property
    def login(self) -> str | None: ...

    @property
    def password(self) -> str | None: ...

    @property
    def extra_dejson(self) -> dict[str, Any]: ...


def storage_options_from_connection(conn: StorageConnection) -> dict[str, str]:
    """Options for DeltaSink from an aws, google_cloud_platform or wasb/adls connection."""
    build = _BUILDERS.get(conn.conn_type or "")
    if build is None:
        raise AcumaticaConfigError(
            f"Connection {conn.conn_id!r} has type {conn.conn_type!r}, which cannot address a lake; use an "
            f"{', '.join(sorted(_BUILDERS))} connection."
        )
    options = build(conn, _extra(conn))
    return {key: value for key, value in options.items() if value}


def _extra(conn: StorageConnection) -> dict[str, Any]:
    """Plain keys, with the `extra__<type>__` prefixes older connection forms wrote folded in."""
    extra = dict(conn.extra_dejson)
    prefix = f"extra__{conn.conn_type}__"
    for key, value in list(extra.items()):
        if key.startswith(prefix):
            extra.setdefault(key[len(prefix) :], value)
    return extra


def _secret(value: object) -> str:
    text = "" if value is None else str(value)
    mask(text)
    return text


def _aws(conn: StorageConnection, extra: Mapping[str, Any]) -> dict[str, str]:
    options = {
        "AWS_ACCESS_KEY_ID": conn.login or str(extra.get("aws_access_key_id") or ""),
        "AWS_SECRET_ACCESS_KEY": _secret(conn.password or extra.get("aws_secret_access_key")),
        "AWS_SESSION_TOKEN": _secret(extra.get("aws_session_token")),
        "AWS_REGION": str(extra.get("region_name") or ""),
    }
    endpoint = str(extra.get("endpoint_url") or "")
    if endpoint:
        options["AWS_ENDPOINT_URL"] = endpoint
        options["AWS_ALLOW_HTTP"] = _allow_http(conn, endpoint)
    return options


def _allow_http(conn: StorageConnection, endpoint: str) -> str:
    """Plain HTTP only to this machine (a local MinIO or moto): elsewhere it would send keys in the clear."""
    parsed = urlparse(endpoint)
    if parsed.scheme == "https":
        return ""
    if parsed.scheme == "http" and _is_loopback(parsed.hostname or ""):
        return "true"
    raise AcumaticaConfigError(
        f"Connection {conn.conn_id!r} has endpoint_url {parsed.scheme}://{parsed.hostname}, which is neither https "
        "nor a loopback http address; use an https endpoint."
    )


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _google(conn: StorageConnection, extra: Mapping[str, Any]) -> dict[str, str]:
    keyfile = extra.get("keyfile_dict")
    key_path = str(extra.get("key_path") or "")
    if keyfile is None and not key_path:
        raise AcumaticaConfigError(
            f"Connection {conn.conn_id!r} has neither key_path nor keyfile_dict in its extra; set one of them to a "
            "service account key."
        )
    if keyfile is None:
        return {"GOOGLE_SERVICE_ACCOUNT": key_path}
    text = keyfile if isinstance(keyfile, str) else json.dumps(keyfile)
    if isinstance(keyfile, dict) and keyfile.get("private_key"):
        mask(str(keyfile["private_key"]))
    return {"GOOGLE_SERVICE_ACCOUNT_KEY": _secret(text)}


def _azure(conn: StorageConnection, extra: Mapping[str, Any]) -> dict[str, str]:
    parts = _connection_string(str(extra.get("connection_string") or ""))
    options = {
        "AZURE_STORAGE_ACCOUNT_NAME": conn.login or parts.get("AccountName", ""),
        "AZURE_STORAGE_ACCOUNT_KEY": _secret(conn.password or parts.get("AccountKey")),
        "AZURE_STORAGE_SAS_TOKEN": _secret(extra.get("sas_token") or parts.get("SharedAccessSignature")),
    }
    if not options["AZURE_STORAGE_ACCOUNT_NAME"]:
        raise AcumaticaConfigError(
            f"Connection {conn.conn_id!r} names no storage account; set its login (or AccountName in the "
            "connection_string extra) to the account name."
        )
    return options


def _connection_string(text: str) -> dict[str, str]:
    """`Key=Value;...` pairs; values may contain '=' (keys and SAS tokens end in base64 padding)."""
    secrets = {}
    for part in text.split(";"):
        key, separator, value = part.partition("=")
        if separator:
            secrets[key.strip()] = value.strip()
    for key in ("AccountKey", "SharedAccessSignature"):
        mask(secrets.get(key))
    return secrets


_BUILDERS: dict[str, Callable[[StorageConnection, Mapping[str, Any]], dict[str, str]]] = {
    "aws": _aws,
    "google_cloud_platform": _google,
    "wasb": _azure,
    "adls": _azure,
    "azure_data_lake": _azure,
}
