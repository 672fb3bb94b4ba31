"""Turning an error response into a typed exception with a message that says what to do."""

from __future__ import annotations

from typing import Any

import requests

from airflow_provider_acumatica.exceptions import AcumaticaApiError, AcumaticaRateLimitError
from airflow_provider_acumatica.retry_after import parse_retry_after

_TEXT_LIMIT = 300
_GATEWAY_STATUS = frozenset({502, 503, 504})


def error_from_response(response: requests.Response, what: str) -> AcumaticaApiError | AcumaticaRateLimitError:
    status = response.status_code
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if status == 429:
        return AcumaticaRateLimitError(
            f"Acumatica answered 429 Too Many Requests for {what}: the license's request limit or queue is "
            "full. Lower concurrency or spread the schedule.",
            retry_after=retry_after,
        )
    payload = _json_or_none(response)
    if payload is None:
        return AcumaticaApiError(
            f"{what} failed with HTTP {status} and a non-JSON body{_html_hint(response)}.",
            http_status=status,
            retry_after=retry_after,
        )
    error = payload.get("error")
    odata: dict[str, Any] = error if isinstance(error, dict) else {}
    message = _short(payload.get("message") or odata.get("message")) or f"HTTP {status}"
    exception_message = _short(payload.get("exceptionMessage") or payload.get("messageDetail"))
    exception_type = _short(payload.get("exceptionType"))
    field_errors = collect_field_errors(payload)
    detail = exception_message or _model_state(payload) or (None if odata else payload.get("error")) or message
    text = f"{what} failed with HTTP {status}: {_short(detail)}"
    if field_errors:
        text += " Field errors: " + "; ".join(f"{k}: {v}" for k, v in field_errors.items())
    return AcumaticaApiError(
        text + _hint(status, exception_type or ""),
        http_status=status,
        exception_message=exception_message,
        exception_type=exception_type,
        field_errors=field_errors,
        retry_after=retry_after,
        summary=_short(payload.get("error") or payload.get("message")),
    )


def collect_field_errors(payload: Any, prefix: str = "") -> dict[str, str]:
    """Per-field `error` entries of a 422 body, keyed by dotted path (e.g. `Details[0].Project`)."""
    errors: dict[str, str] = {}
    if isinstance(payload, dict):
        for key, value in payload.items():
            path = f"{prefix}.{key}" if prefix else key
            if isinstance(value, dict) and isinstance(value.get("error"), str):
                errors[path] = _short(value["error"]) or ""
            errors.update(collect_field_errors(value, path))
    elif isinstance(payload, list):
        for index, item in enumerate(payload):
            errors.update(collect_field_errors(item, f"{prefix}[{index}]"))
    return errors


def _json_or_none(response: requests.Response) -> dict[str, Any] | None:
    try:
        payload = response.json()
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def _short(value: Any) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text if len(text) <= _TEXT_LIMIT else text[:_TEXT_LIMIT] + "..."


def _model_state(payload: dict[str, Any]) -> str | None:
    state = payload.get("modelState")
    if not isinstance(state, dict):
        return None
    return "; ".join(str(m) for messages in state.values() for m in (messages or []))


def _html_hint(response: requests.Response) -> str:
    if "html" not in response.headers.get("Content-Type", "").lower():
        return ""
    if response.status_code in _GATEWAY_STATUS:
        return " (a gateway or proxy error page)"
    return " (an HTML page: check that the host is the instance URL with its site path)"


def _hint(status: int, exception_type: str) -> str:
    if status == 404:
        return " Check the entity name and the endpoint name/version in the connection."
    if status == 403:
        return " The user lacks rights to this form, or the feature is disabled on the tenant."
    if "NoEntitySatisfiesTheCondition" in exception_type:
        return " The record does not exist."
    if "CannotOptimizeException" in exception_type:
        return (
            " This entity is an inquiry form, which cannot be listed: read it with one PUT and $expand of its "
            "result array (AcumaticaExtractOperator with parameters={...})."
        )
    return ""
