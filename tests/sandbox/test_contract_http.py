"""The data routes over real HTTP through the running sandbox: query-string decoding, paging and OData."""

from __future__ import annotations

from collections.abc import Callable

import requests

from airflow_provider_acumatica.sandbox import SandboxServer
from tests.sandbox.support import TIMEOUT

SALES_ORDERS = "/entity/Default/24.200.001/SalesOrder"


def test_paging_over_http_matches_the_store(
    sandbox: SandboxServer, sandbox_login: Callable[..., requests.Session]
) -> None:
    session = sandbox_login()
    pages: list[dict[str, object]] = []
    while True:
        params = {"$top": "100", "$skip": str(len(pages)), "$select": "OrderType,OrderNbr"}
        answer = session.get(sandbox.base_url + SALES_ORDERS, params=params, timeout=TIMEOUT)
        assert answer.status_code == 200, answer.text
        pages.extend(answer.json())
        if len(answer.json()) < 100:
            break
    truth = [record["id"] for record in sandbox.store.iter_records("SalesOrder")]
    assert [record["id"] for record in pages] == truth


def test_encoded_and_unencoded_plus_in_a_filter(
    sandbox: SandboxServer, sandbox_login: Callable[..., requests.Session]
) -> None:
    session = sandbox_login()
    url = sandbox.base_url + SALES_ORDERS
    encoded = session.get(
        url,
        params={"$filter": "LastModified gt datetimeoffset'2000-01-01T03:00:00+03:00'", "$top": "3"},
        timeout=TIMEOUT,
    )
    assert encoded.status_code == 200, encoded.text
    assert len(encoded.json()) == 3
    raw = session.get(f"{url}?$filter=LastModified%20gt%20datetimeoffset'2000-01-01T03:00:00+03:00'", timeout=TIMEOUT)
    assert raw.status_code == 500
    assert "%2B" in raw.json()["exceptionMessage"]


def test_generic_inquiry_over_http(sandbox: SandboxServer) -> None:
    url = sandbox.base_url + "/t/Company/api/odata/gi/BI-Customers"
    answer = requests.get(url, params={"$top": "2", "$select": "CustomerID"}, auth=("admin", "123"), timeout=TIMEOUT)
    assert answer.status_code == 200, answer.text
    assert answer.json()["value"] == [{"CustomerID": "C0000001"}, {"CustomerID": "C0000002"}]


def test_an_unpaged_list_is_streamed_whole(
    sandbox: SandboxServer, sandbox_login: Callable[..., requests.Session]
) -> None:
    session = sandbox_login()
    answer = session.get(sandbox.base_url + "/entity/Default/24.200.001/Customer", timeout=TIMEOUT)
    assert answer.status_code == 200
    assert answer.headers["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in answer.headers
    assert [record["id"] for record in answer.json()] == [
        record["id"] for record in sandbox.store.iter_records("Customer")
    ]
    paged = session.get(sandbox.base_url + "/entity/Default/24.200.001/Customer", params={"$top": "7"}, timeout=TIMEOUT)
    assert paged.headers["Content-Length"] == str(len(paged.content))
    assert len(paged.json()) == 7
