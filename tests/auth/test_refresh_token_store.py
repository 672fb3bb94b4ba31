"""The refresh-token chain of an authorization-code connection: races, dead chains, new consents."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
import requests

from airflow_provider_acumatica.auth import OAuth2AuthorizationCodeAuth
from airflow_provider_acumatica.auth.token_store import ProcessBackend, RefreshTokenStore, variable_key
from airflow_provider_acumatica.exceptions import AcumaticaConfigError, AcumaticaCredentialsError
from airflow_provider_acumatica.sandbox import SandboxServer
from airflow_provider_acumatica.settings import AcumaticaSettings
from tests.connections import EXTRAS, consent_refresh_token

CUSTOMERS = "/entity/Default/24.200.001/Customer"


class StaleFirstRead(ProcessBackend):
    """A worker that read the store just before another worker's rotation landed."""

    def __init__(self, stale: str) -> None:
        self.stale: str | None = stale

    def get(self, key: str) -> str | None:
        stale, self.stale = self.stale, None
        return stale or super().get(key)


def settings_for(base_url: str, **extra: Any) -> AcumaticaSettings:
    return AcumaticaSettings.from_values(
        host=base_url, extra={"auth_type": "oauth2_authorization_code", **EXTRAS["oauth2_authorization_code"], **extra}
    )


def new_store(backend: ProcessBackend | None = None, grace: float = 0.3) -> RefreshTokenStore:
    return RefreshTokenStore(f"test-{uuid.uuid4()}", backend or ProcessBackend(), grace=grace)


def fetch(auth: OAuth2AuthorizationCodeAuth, base_url: str) -> int:
    session = requests.Session()
    session.auth = auth
    auth.ensure(session)
    status = session.get(base_url + CUSTOMERS, params={"$top": "1"}, timeout=10).status_code
    auth.logout(session)
    return status


def refresh_works(base_url: str, refresh_token: str) -> bool:
    body = {"grant_type": "refresh_token", "refresh_token": refresh_token, **EXTRAS["oauth2_authorization_code"]}
    return requests.post(base_url + "/identity/connect/token", data=body, timeout=10).status_code == 200


def test_the_variable_is_named_from_the_connection_id() -> None:
    assert variable_key("acumatica_erp") == "acumatica_refresh_token__acumatica_erp"
    auth = OAuth2AuthorizationCodeAuth(settings_for("https://erp.example.com"), conn_id="acumatica_erp")
    assert auth.store.key == "acumatica_refresh_token__acumatica_erp"


def test_the_rotated_token_is_stored_before_the_access_token_is_used(sandbox: SandboxServer) -> None:
    first = consent_refresh_token(sandbox.base_url)
    store = new_store()
    auth = OAuth2AuthorizationCodeAuth(settings_for(sandbox.base_url, refresh_token=first), store=store)
    auth.ensure(requests.Session())
    stored = store.read()
    assert stored is not None and stored != first
    assert auth.token is not None and auth.token.refresh_token == stored
    assert fetch(auth, sandbox.base_url) == 200
    assert sandbox.stats()["seats_in_use"] == 0


def test_a_race_loser_rereads_the_store_and_continues_the_chain(sandbox: SandboxServer) -> None:
    first = consent_refresh_token(sandbox.base_url)
    settings = settings_for(sandbox.base_url, refresh_token=first)
    winner_store = new_store()
    assert fetch(OAuth2AuthorizationCodeAuth(settings, store=winner_store), sandbox.base_url) == 200
    loser_store = RefreshTokenStore(winner_store.key, StaleFirstRead(stale=first))
    assert fetch(OAuth2AuthorizationCodeAuth(settings, store=loser_store), sandbox.base_url) == 200
    assert sandbox.stats()["routes"]["token"] == {"200": 3, "400": 1}  # consent, winner, loser's retry / its miss
    newest = winner_store.read()
    assert newest is not None and refresh_works(sandbox.base_url, newest)


def test_a_loser_waits_for_a_rotation_that_is_still_being_written(sandbox: SandboxServer) -> None:
    first = consent_refresh_token(sandbox.base_url)
    store = new_store(grace=3.0)
    store.write(first)
    rotated = requests.post(
        sandbox.base_url + "/identity/connect/token",
        data={"grant_type": "refresh_token", "refresh_token": first, **EXTRAS["oauth2_authorization_code"]},
        timeout=10,
    ).json()["refresh_token"]
    late_writer = threading.Timer(0.3, store.write, args=(rotated,))
    late_writer.start()
    auth = OAuth2AuthorizationCodeAuth(settings_for(sandbox.base_url, refresh_token=first), store=store)
    assert fetch(auth, sandbox.base_url) == 200
    late_writer.join()
    assert store.read() not in {first, rotated}


def test_a_dead_chain_says_the_consent_must_be_redone(sandbox: SandboxServer) -> None:
    first = consent_refresh_token(sandbox.base_url)
    store = new_store(grace=0.2)
    assert refresh_works(sandbox.base_url, first)  # someone used it: the stored and configured tokens are dead
    store.write(first)
    auth = OAuth2AuthorizationCodeAuth(settings_for(sandbox.base_url, refresh_token=first), store=store, conn_id="erp")
    with pytest.raises(AcumaticaCredentialsError, match="consent must be redone") as caught:
        auth.ensure(requests.Session())
    assert "acumatica-oauth authorize --conn-id erp" in str(caught.value)
    assert first not in str(caught.value)
    assert sandbox.stats()["routes"]["token"]["400"] == 1


def test_a_new_consent_in_the_connection_replaces_a_dead_stored_chain(sandbox: SandboxServer) -> None:
    dead = consent_refresh_token(sandbox.base_url)
    assert refresh_works(sandbox.base_url, dead)
    fresh = consent_refresh_token(sandbox.base_url)
    store = new_store()
    store.write(dead)
    auth = OAuth2AuthorizationCodeAuth(settings_for(sandbox.base_url, refresh_token=fresh), store=store)
    assert fetch(auth, sandbox.base_url) == 200
    assert store.read() not in {dead, fresh, None}


def test_no_token_anywhere_asks_for_the_consent_command(sandbox: SandboxServer) -> None:
    auth = OAuth2AuthorizationCodeAuth(settings_for(sandbox.base_url), store=new_store(), conn_id="erp")
    with pytest.raises(AcumaticaConfigError, match="acumatica-oauth authorize --conn-id erp"):
        auth.ensure(requests.Session())
    assert sandbox.stats()["routes"].get("token") is None
