"""Error responses become typed exceptions whose messages carry the server's explanation."""

from __future__ import annotations

import json

import requests

from airflow_provider_acumatica.errors import collect_field_errors, error_from_response
from airflow_provider_acumatica.exceptions import AcumaticaApiError, AcumaticaRateLimitError


def response(status: int, body: object, content_type: str = "application/json", **headers: str) -> requests.Response:
    result = requests.Response()
    result.status_code = status
    result._content = (json.dumps(body) if not isinstance(body, str) else body).encode()
    result.headers["Content-Type"] = content_type
    result.headers.update(headers)
    return result


def test_px_exception_body() -> None:
    body = {
        "message": "An error has occurred.",
        "exceptionMessage": "Optimization cannot be performed.",
        "exceptionType": "PX.Api.ContractBased.OptimizedExport.CannotOptimizeException",
        "stackTrace": "   at PX.Api...",
    }
    error = error_from_response(response(500, body), "GET /entity/Default/24.200.001/SalesOrder")
    assert isinstance(error, AcumaticaApiError)
    assert error.http_status == 500
    assert error.exception_message == "Optimization cannot be performed."
    assert error.exception_type.endswith("CannotOptimizeException")
    assert "Optimization cannot be performed." in str(error)
    assert "stackTrace" not in str(error) and "PX.Api..." not in str(error)
    assert not error.transient


def test_422_collects_per_field_errors() -> None:
    body = {
        "id": "1",
        "error": "Inserting 'AP Transactions' record raised at least one error.",
        "Details": [{"Project": {"value": "TES2323T", "error": "Project 'TES2323T' cannot be found."}}],
        "VendorRef": {"value": "x"},
    }
    error = error_from_response(response(422, body), "PUT /Bill")
    assert isinstance(error, AcumaticaApiError)
    assert error.field_errors == {"Details[0].Project": "Project 'TES2323T' cannot be found."}
    assert "Details[0].Project" in str(error)
    assert collect_field_errors({"A": {"value": 1}}) == {}


def test_400_model_state() -> None:
    body = {"message": "The request is invalid.", "modelState": {"": ["The request body should not be empty."]}}
    assert "should not be empty" in str(error_from_response(response(400, body), "PUT /Customer"))


def test_429_is_a_rate_limit_with_retry_after() -> None:
    error = error_from_response(response(429, {"message": "x"}, **{"Retry-After": "3"}), "GET /x")
    assert isinstance(error, AcumaticaRateLimitError)
    assert error.retry_after == 3.0


def test_html_error_page_is_named() -> None:
    error = error_from_response(response(502, "<html>Bad Gateway</html>", "text/html"), "GET /x")
    assert isinstance(error, AcumaticaApiError)
    assert error.transient
    assert "gateway or proxy error page" in str(error)
    login_page = error_from_response(response(404, "<html>Sign in</html>", "text/html"), "GET /x")
    assert "instance URL with its site path" in str(login_page)
