"""Plain request/response values shared by the sandbox's routes, so handlers stay free of socket code."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import Message
from typing import Any


@dataclass
class Principal:
    """Who a data request runs as, resolved by the auth layer before a data route sees it."""

    user: str
    tenant: str
    branch: str
    session_id: str


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: Message
    body: bytes = b""
    cookies: dict[str, str] = field(default_factory=dict)
    principal: Principal | None = None

    def header(self, name: str, default: str | None = None) -> str | None:
        value = self.headers.get(name)
        return default if value is None else str(value)

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body else None


@dataclass
class Response:
    """A complete answer; `chunks`, when set, streams the body instead (sent with chunked encoding)."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    chunks: Iterable[bytes] | None = None

    @classmethod
    def json(cls, payload: Any, status: int = 200, headers: list[tuple[str, str]] | None = None) -> Response:
        data = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        all_headers = [("Content-Type", "application/json; charset=utf-8"), *(headers or [])]
        return cls(status=status, body=data, headers=all_headers)

    @classmethod
    def empty(cls, status: int = 204, headers: list[tuple[str, str]] | None = None) -> Response:
        return cls(status=status, headers=list(headers or []))


def px_error(message: str, exception_message: str | None = None, exception_type: str | None = None) -> dict[str, Any]:
    """An error body shaped like the real server's `HttpError`: message, exceptionMessage, exceptionType, stackTrace."""
    body: dict[str, Any] = {"message": message}
    if exception_message is not None:
        body["exceptionMessage"] = exception_message
    if exception_type is not None:
        body["exceptionType"] = exception_type
        body["stackTrace"] = "   at PX.Api.ContractBased.EntityService.Execute()"
    return body
