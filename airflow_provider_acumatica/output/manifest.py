"""What an extract task returns through XCom: where the file is and how to check it, never the data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from airflow_provider_acumatica.output.atomic import AtomicOutput
from airflow_provider_acumatica.output.formats import RecordWriter
from airflow_provider_acumatica.output.paths import redact_uri


@dataclass(frozen=True)
class ExtractManifest:
    """One published file: counts, size and sha256 let a downstream task verify it before loading."""

    path: str
    format: str
    records: int
    pages: int
    bytes: int
    sha256: str
    started: datetime
    finished: datetime
    endpoint_version: str | None = None
    entity: str | None = None
    inquiry: str | None = None
    window_start: datetime | str | None = None
    window_end: datetime | str | None = None
    dac: str | None = None
    parameters: Mapping[str, Any] | None = None
    content: str = "records"
    """`records`, or `deletions` for a file of `{id, deleted_at}` rows."""

    def __post_init__(self) -> None:
        if self.entity is not None and self.inquiry is not None:
            raise ValueError("An ExtractManifest names an entity or a generic inquiry, not both.")
        if self.entity is None and self.inquiry is None and self.dac is None:
            raise ValueError("An ExtractManifest names its source: an entity, a generic inquiry or a DAC.")

    @classmethod
    def from_output(
        cls,
        output: AtomicOutput,
        writer: RecordWriter,
        *,
        started: datetime,
        finished: datetime | None = None,
        endpoint_version: str | None = None,
        entity: str | None = None,
        inquiry: str | None = None,
        window_start: datetime | str | None = None,
        window_end: datetime | str | None = None,
        dac: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        content: str = "records",
    ) -> ExtractManifest:
        """The manifest of a committed output, with `finished` defaulting to now."""
        return cls(
            path=output.uri,
            format=writer.format,
            records=writer.records,
            pages=writer.pages,
            bytes=output.bytes_written,
            sha256=output.sha256,
            started=started,
            finished=datetime.now(UTC) if finished is None else finished,
            endpoint_version=endpoint_version,
            entity=entity,
            inquiry=inquiry,
            window_start=window_start,
            window_end=window_end,
            dac=dac,
            parameters=parameters,
            content=content,
        )

    @property
    def duration_seconds(self) -> float:
        return round((self.finished - self.started).total_seconds(), 3)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only, as XCom and `json.dumps` take them."""
        window = None
        if self.window_start is not None or self.window_end is not None:
            window = {"start": _iso(self.window_start), "end": _iso(self.window_end)}
        return {
            "path": redact_uri(self.path),
            "format": self.format,
            "records": self.records,
            "pages": self.pages,
            "bytes": self.bytes,
            "sha256": self.sha256,
            "window": window,
            "endpoint_version": self.endpoint_version,
            "entity": self.entity,
            "inquiry": self.inquiry,
            "dac": self.dac,
            "parameters": dict(self.parameters) if self.parameters is not None else None,
            "content": self.content,
            "started": _iso(self.started),
            "finished": _iso(self.finished),
            "duration_seconds": self.duration_seconds,
        }


def _iso(value: datetime | str | None) -> str | None:
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo else value).isoformat()
    return value
