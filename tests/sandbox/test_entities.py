"""The whole endpoint over real HTTP: the endpoint list, every record entity, inquiry forms, custom fields and the
admin state of an entity."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests

from airflow_provider_acumatica.sandbox import SandboxServer, catalog
from tests.sandbox.support import TIMEOUT

BASE = "/entity/Default/24.200.001"


def test_the_endpoint_list_needs_no_sign_in(sandbox: SandboxServer) -> None:
    answer = requests.get(sandbox.base_url + "/entity", timeout=TIMEOUT)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"version", "endpoints"}
    assert {"name": "Default", "version": "24.200.001"}.items() <= body["endpoints"][2].items()
    assert requests.get(sandbox.base_url + BASE + "/Customer", timeout=TIMEOUT).status_code == 401


@pytest.mark.parametrize("name", sorted(catalog.ENTITIES))
def test_every_entity_lists_with_its_details(
    name: str, sandbox: SandboxServer, sandbox_login: Callable[..., requests.Session]
) -> None:
    session = sandbox_login()
    collections = [child.name for child in catalog.SCHEMAS[name].children if child.collection]
    params = {"$top": "3", **({"$expand": ",".join(collections)} if collections else {})}
    answer = session.get(sandbox.base_url + f"{BASE}/{name}", params=params, timeout=TIMEOUT)
    assert answer.status_code == 200, answer.text
    records = answer.json()
    truth = list(sandbox.store.iter_records(name, expand=collections))[:3]
    assert records == truth and len(records) == 3
    for child in collections:
        assert all(isinstance(record[child], list) for record in records)
    expected_fields = {vf.api_name for vf in catalog.version_fields(name, "24.200.001")}
    assert expected_fields <= set(records[0])
