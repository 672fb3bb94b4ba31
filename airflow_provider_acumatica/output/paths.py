"""Where an extract lands: `output_path` + `output_conn_id` as an `ObjectStoragePath`, local by default.

Plain paths and `file://` URIs are built with an explicit `protocol="file"`, which every supported
Airflow/universal-pathlib pairing accepts. URIs are shown without their userinfo, because Airflow
reads `scheme://<userinfo>@bucket/...` as a connection id and people put credentials there.
"""

from __future__ import annotations

import os
from urllib.parse import unquote, urlsplit, urlunsplit

from airflow.providers.common.compat.sdk import ObjectStoragePath

from airflow_provider_acumatica.exceptions import AcumaticaConfigError, AcumaticaError

LOCAL_PROTOCOLS = frozenset({"", "file", "local"})

_PROVIDER_FOR_SCHEME = {
    "s3": "apache-airflow-providers-amazon[s3fs]",
    "s3a": "apache-airflow-providers-amazon[s3fs]",
    "gs": "apache-airflow-providers-google",
    "gcs": "apache-airflow-providers-google",
    "abfs": "apache-airflow-providers-microsoft-azure",
    "abfss": "apache-airflow-providers-microsoft-azure",
    "az": "apache-airflow-providers-microsoft-azure",
    "wasb": "apache-airflow-providers-microsoft-azure",
}


def build_output_path(
    output_path: str | os.PathLike[str] | ObjectStoragePath, output_conn_id: str | None = None
) -> ObjectStoragePath:
    """The file an extract writes, with its filesystem resolved now so a bad scheme fails before any API call."""
    if isinstance(output_path, ObjectStoragePath):
        path = _from_object_path(output_path, output_conn_id)
    else:
        path = _from_text(os.fspath(output_path).strip(), output_conn_id)
    if not path.name:
        raise _directory_error(redact_uri(path))
    try:
        path.fs  # noqa: B018 - resolving the filesystem is the check
    except (ImportError, ValueError, TypeError) as err:
        raise _scheme_error(path.protocol, redact_uri(path), err, connection_id(path) or "") from None
    return path


def redact_uri(path: str | ObjectStoragePath) -> str:
    """The URI without userinfo (`s3://key:secret@bucket/x` -> `s3://bucket/x`), safe for logs and XCom."""
    text = str(path)
    parts = urlsplit(text)
    if "@" not in parts.netloc:
        return text
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def storage_error(err: OSError, uri: str) -> AcumaticaError:
    """A message naming the output path and the fix; only transient failures stay retryable."""
    if isinstance(err, PermissionError):
        return AcumaticaConfigError(
            f"Cannot write {uri}: permission denied. Give the Airflow worker (or the output connection's "
            "credentials) write access there, or choose another output_path."
        )
    if isinstance(err, IsADirectoryError):
        return AcumaticaConfigError(f"Cannot write {uri}: it is a directory. output_path must name a file.")
    if isinstance(err, NotADirectoryError | FileExistsError):
        return AcumaticaConfigError(
            f"Cannot write {uri}: a parent of this path is a file, not a directory. Choose another output_path."
        )
    if isinstance(err, FileNotFoundError):
        return AcumaticaConfigError(
            f"Cannot write {uri}: its bucket or directory does not exist. Create it or fix output_path."
        )
    return AcumaticaError(f"Cannot write {uri}: {type(err).__name__}: {err}")


def _from_text(text: str, conn_id: str | None) -> ObjectStoragePath:
    if not text:
        raise AcumaticaConfigError("output_path is empty: give a local path or a URI such as s3://bucket/key.jsonl.")
    if text.endswith("/"):
        raise _directory_error(redact_uri(text))
    if "://" not in text:
        return ObjectStoragePath(os.path.abspath(text), protocol="file", conn_id=conn_id)
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme in LOCAL_PROTOCOLS:
        userinfo, _, host = parts.netloc.rpartition("@")
        if host not in ("", "localhost"):
            raise AcumaticaConfigError(
                f"output_path {redact_uri(text)} has a host; local URIs take an absolute path: file:///data/x.jsonl."
            )
        return ObjectStoragePath(unquote(parts.path), protocol="file", conn_id=conn_id or userinfo or None)
    try:
        return ObjectStoragePath(text, conn_id=conn_id)
    except (ImportError, ValueError, TypeError) as err:
        raise _scheme_error(scheme, redact_uri(text), err, _userinfo(text)) from None


def connection_id(path: ObjectStoragePath) -> str | None:
    """The path's connection id: an attribute since Airflow 3.1, a storage option before."""
    found = getattr(path, "conn_id", None) or path.storage_options.get("conn_id")
    return str(found) if found else None


def _from_object_path(path: ObjectStoragePath, conn_id: str | None) -> ObjectStoragePath:
    current = connection_id(path)
    if conn_id and current and current != conn_id:
        raise AcumaticaConfigError(
            f"output_path {redact_uri(path)} carries another connection than output_conn_id={conn_id!r}; set one."
        )
    if path.protocol in LOCAL_PROTOCOLS:
        return ObjectStoragePath(os.path.abspath(path.path), protocol="file", conn_id=conn_id or current)
    if conn_id and not current:
        return ObjectStoragePath(str(path), conn_id=conn_id)
    return path


def _directory_error(uri: str) -> AcumaticaConfigError:
    return AcumaticaConfigError(f"output_path {uri} names a directory; give a file name, e.g. .../SalesOrder.jsonl.")


def _scheme_error(scheme: str, uri: str, err: BaseException, secret: str = "") -> AcumaticaConfigError:
    reason = f"{type(err).__name__}: {err}"
    if secret:
        reason = reason.replace(secret, "***")
    provider = _PROVIDER_FOR_SCHEME.get(scheme)
    fix = (
        f"install {provider} (with its fsspec filesystem) on the workers"
        if provider
        else "use a local path, file://, or a scheme an installed provider registers (s3://, gs://, abfs://)"
    )
    return AcumaticaConfigError(f"Cannot write {uri}: no filesystem for {scheme!r} URIs ({reason}); {fix}.")


def _userinfo(text: str) -> str:
    return urlsplit(text).netloc.rpartition("@")[0]
