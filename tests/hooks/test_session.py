"""The hook's session reads the proxy environment once per host, and still honours it."""

from __future__ import annotations

import pytest

from airflow_provider_acumatica.hooks.session import EnvironmentOnceSession

URL = "https://erp.example.com/entity/Default/24.200.001/Customer"


def test_proxies_and_ca_bundle_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example.com:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/company.pem")
    settings = EnvironmentOnceSession().merge_environment_settings(URL, {}, None, True, None)
    assert settings["proxies"]["https"] == "http://proxy.example.com:3128"
    assert settings["verify"] == "/etc/ssl/company.pem"


def test_the_environment_is_read_once_per_host(monkeypatch: pytest.MonkeyPatch) -> None:
    session = EnvironmentOnceSession()
    monkeypatch.setenv("HTTPS_PROXY", "http://first.example.com:3128")
    first = session.merge_environment_settings(URL, {}, None, True, None)
    monkeypatch.setenv("HTTPS_PROXY", "http://second.example.com:3128")
    again = session.merge_environment_settings(URL + "?$top=1", {}, None, True, None)
    other_host = session.merge_environment_settings("https://other.example.com/", {}, None, True, None)
    assert again == first
    assert other_host["proxies"]["https"] == "http://second.example.com:3128"


def test_a_returned_proxy_map_is_a_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    session = EnvironmentOnceSession()
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example.com:3128")
    session.merge_environment_settings(URL, {}, None, True, None)["proxies"].clear()
    assert session.merge_environment_settings(URL, {}, None, True, None)["proxies"]


def test_proxies_given_by_the_caller_are_merged_afresh(monkeypatch: pytest.MonkeyPatch) -> None:
    session = EnvironmentOnceSession()
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example.com:3128")
    session.merge_environment_settings(URL, {}, None, True, None)
    own = session.merge_environment_settings(URL, {"https": "http://own.example.com:8080"}, None, True, None)
    assert own["proxies"]["https"] == "http://own.example.com:8080"


def test_no_environment_without_trust_env(monkeypatch: pytest.MonkeyPatch) -> None:
    session = EnvironmentOnceSession()
    session.trust_env = False
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example.com:3128")
    assert session.merge_environment_settings(URL, {}, None, True, None)["proxies"] == {}
