"""Helpers shared by the sandbox data-side tests: a controllable clock and direct calls into the routes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.message import Message
from typing import Any

from airflow_provider_acumatica.sandbox.contract import ContractApi
from airflow_provider_acumatica.sandbox.data import DataStore
from airflow_provider_acumatica.sandbox.protocol import Request, Response

START = datetime(2024, 7, 15, 12, 0, 0, tzinfo=UTC)
BASE = "/entity/Default/24.200.001"


class Clock:
    """A clock tests move by hand, so the modification schedule is reproducible."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def make_request(
    method: str,
    path: str,
    query: dict[str, str] | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> Request:
    message = Message()
    for name, value in (headers or {}).items():
        message[name] = value
    raw = body if isinstance(body, bytes) else (b"" if body is None else json.dumps(body).encode("utf-8"))
    return Request(method=method, path=path, query=dict(query or {}), headers=message, body=raw)


def payload(response: Response) -> Any:
    body = b"".join(response.chunks) if response.chunks is not None else response.body
    return json.loads(body) if body else None


def call(
    api: ContractApi, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None, **query: str
) -> tuple[int, Any]:
    response = api.handle(make_request(method, path, query, body, headers))
    return response.status, payload(response)


def store(**kwargs: Any) -> DataStore:
    """A small store on a fixed clock unless told otherwise."""
    kwargs.setdefault("clock", Clock())
    kwargs.setdefault("default_count", 200)
    return DataStore(**kwargs)
