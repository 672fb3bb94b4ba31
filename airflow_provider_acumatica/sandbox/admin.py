"""`/_sandbox/...`: what a test or demo needs to observe and steer the sandbox over HTTP.

No authentication, never faulted, never counted in the stats.

* `GET /_sandbox/stats`: counters, seats, sessions and the current fault settings.
* `GET /_sandbox/config`: the settings a client needs, including the sandbox's public credentials.
* `POST /_sandbox/faults`: change fault settings, e.g. `{"rate_429": 0.2}`; 400 on unknown keys or bad values.
* `POST /_sandbox/reset`: drop every session, token, counter and change stream; `{"faults": true}` also restores
  the faults and the licence limits.
* `GET /_sandbox/licence`: the licence's request limits with their counters (also under `licence` in the stats).
* `POST /_sandbox/licence`: change them, e.g. `{"max_requests_per_minute": 120, "max_concurrent_requests": 2}`;
  null lifts a limit; 400 on unknown keys or bad values (see `licence`).
* `POST /_sandbox/changes`: `{entity, inserts, updates, deletes, seed}`, edits the data as a user would.
* `POST /_sandbox/change_stream`: `{entity, every, inserts, updates, deletes, seed}`, the same edits before every
  `every`-th list request to the entity, to disturb a pull in flight reproducibly; `every: 0` stops it.
  `GET /_sandbox/change_stream` reports what each stream did (see `change_stream`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any, Protocol

from airflow_provider_acumatica.sandbox.change_stream import ChangeStreams, parse_settings
from airflow_provider_acumatica.sandbox.config import SandboxConfig
from airflow_provider_acumatica.sandbox.data import DataStore
from airflow_provider_acumatica.sandbox.faults import FaultSettings
from airflow_provider_acumatica.sandbox.licence import Licence, LicenceSettings
from airflow_provider_acumatica.sandbox.protocol import Request, Response

CHANGE_COUNTS = ("inserts", "updates", "deletes")


class SandboxControl(Protocol):
    config: SandboxConfig
    store: DataStore
    change_streams: ChangeStreams
    licence: Licence

    def snapshot(self) -> dict[str, Any]: ...

    def set_faults(self, changes: Mapping[str, Any]) -> FaultSettings: ...

    def set_licence(self, changes: Mapping[str, Any]) -> LicenceSettings: ...

    def reset(self, faults: bool = False) -> None: ...


def bad_request(message: str) -> Response:
    return Response.json({"message": message}, status=400)


def read_object(request: Request) -> dict[str, Any] | Response:
    """An empty body is an empty object, so `POST /_sandbox/reset` needs none."""
    try:
        payload = request.json() if request.body.strip() else {}
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return bad_request(f"The body is not valid JSON: {exc}")
    return payload if isinstance(payload, dict) else bad_request("The body must be a JSON object.")


def config_view(config: SandboxConfig) -> dict[str, Any]:
    return {
        "site_path": config.site_path,
        "tls": config.tls,
        "seed": config.seed,
        "records": config.records,
        "entity_records": dict(config.entity_records),
        "token_ttl": config.token_ttl,
        "session_timeout": config.session_timeout,
        "max_seats": config.max_seats,
        "licence": config.licence.as_dict(),
        "allow_client_credentials": config.allow_client_credentials,
        "tenants": list(config.tenants),
        "users": [asdict(user) for user in config.users],
        "clients": [asdict(client) for client in config.clients],
        "redirect_uris": list(config.redirect_uris),
    }


class AdminRoutes:
    def __init__(self, sandbox: SandboxControl) -> None:
        self._sandbox = sandbox

    def get(self, request: Request, params: Mapping[str, str]) -> Response:
        action = params["action"]
        if action == "stats":
            return Response.json(self._sandbox.snapshot())
        if action == "config":
            return Response.json(config_view(self._sandbox.config))
        if action == "change_stream":
            return Response.json(self._sandbox.change_streams.status())
        if action == "licence":
            return Response.json(self._sandbox.licence.snapshot())
        return Response.json({"message": f"No admin route GET /_sandbox/{action}."}, status=404)

    def post(self, request: Request, params: Mapping[str, str]) -> Response:
        body = read_object(request)
        if isinstance(body, Response):
            return body
        action = params["action"]
        if action == "faults":
            return self._faults(body)
        if action == "reset":
            return self._reset(body)
        if action == "changes":
            return self._changes(body)
        if action == "change_stream":
            return self._change_stream(body)
        if action == "licence":
            return self._licence(body)
        return Response.json({"message": f"No admin route POST /_sandbox/{action}."}, status=404)

    def _faults(self, body: dict[str, Any]) -> Response:
        try:
            settings = self._sandbox.set_faults(body)
        except (TypeError, ValueError) as exc:
            return bad_request(str(exc))
        return Response.json(settings.as_dict())

    def _licence(self, body: dict[str, Any]) -> Response:
        try:
            self._sandbox.set_licence(body)
        except (TypeError, ValueError) as exc:
            return bad_request(str(exc))
        return Response.json(self._sandbox.licence.snapshot())

    def _reset(self, body: dict[str, Any]) -> Response:
        faults = body.get("faults", False)
        if not isinstance(faults, bool) or set(body) - {"faults"}:
            return bad_request('The body may only be {"faults": true|false}.')
        self._sandbox.reset(faults=faults)
        return Response.json(self._sandbox.snapshot())

    def _changes(self, body: dict[str, Any]) -> Response:
        entity = body.get("entity")
        counts = {name: body.get(name, 0) for name in (*CHANGE_COUNTS, "seed")}
        if not isinstance(entity, str) or not entity:
            return bad_request("entity must be the name of an entity, e.g. Customer.")
        unknown = set(body) - {"entity", *counts}
        if unknown:
            return bad_request(f"Unknown field(s): {', '.join(sorted(unknown))}.")
        if any(isinstance(value, bool) or not isinstance(value, int) or value < 0 for value in counts.values()):
            return bad_request("inserts, updates, deletes and seed must be integers >= 0.")
        try:
            result = self._sandbox.store.apply_changes(entity, **counts)
        except (KeyError, ValueError) as exc:
            return bad_request(f"Cannot apply the changes: {exc}")
        return Response.json(result)

    def _change_stream(self, body: dict[str, Any]) -> Response:
        try:
            entity, settings = parse_settings(body)
        except (TypeError, ValueError) as exc:
            return bad_request(str(exc))
        return Response.json(self._sandbox.change_streams.set(entity, settings))
