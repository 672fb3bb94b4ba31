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
* `POST /_sandbox/deleted_records`: `{tracked, days_to_keep, age_days}`, as on Tables to Track Deleted Records
  (SM207010): `tracked` replaces the DACs whose deletions are recorded (class or full names, e.g.
  `["SOOrder", "SOLine"]`; default `SOOrder`, `SOLine`, `Customer`), `days_to_keep` the retention (default 10),
  and `age_days` moves every recorded deletion that many days back so a test can see the retention purge it.
  `GET /_sandbox/deleted_records` shows `{tracked, days_to_keep, recorded: {DAC: count}}`. Deletions are read with
  `GET /t/<tenant>/api/odata/dac/<DAC>/px.GetDeletedRecords()` (see `dac_odata`).
* `POST /_sandbox/custom_fields`: `{entity, view, field, type}` publishes a custom field (`type` one of
  `custom_fields.TYPES`, e.g. `CustomStringField`) while the server runs; existing records have values for it at
  once. `GET /_sandbox/custom_fields` lists every entity's custom fields.
* Push notifications (SM302000 webhooks, see `push` and `push_delivery`):
  * `POST /_sandbox/push/destinations`: `{name, address, header_name, header_value, entities, queries}` registers
    (or replaces) a webhook: `address` an http(s) URL, the optional header sent with every POST, `entities` a list
    of entity names each watched as query `"<Entity>: Last Modified"`, `queries` an object mapping more query
    names to entities, e.g. `{"Open Orders": "SalesOrder"}`; 400 on unknown keys, a bad URL or an unknown entity.
    `GET /_sandbox/push/destinations` lists them as `{name, address, header_name, header_value: "***", queries:
    {query: entity}}`;
    `DELETE /_sandbox/push/destinations/<name>` removes one (404 if there is none).
  * `GET /_sandbox/push/sent`: `{sent: [{id, query, destination, timestamp, attempts, delivered_at}], counters:
    {queued, delivered, failed, duplicated, dropped}, queued_now}`; `queued_now` is 0 when delivery is idle.
  * `GET /_sandbox/push/idle?timeout=<seconds>`: waits (at most 60 s) until delivery is idle, answers
    `{idle, queued_now}`.
  * `GET /_sandbox/push/failed`: notifications that failed all 5 attempts, `[{id, query, destination, timestamp,
    attempts, last_error, failed_at, notification}]`; `POST /_sandbox/push/failed/resend` queues them all again
    with 5 fresh attempts, answers `{resent: n}` (SM502000's Resend).
  * `POST /_sandbox/push/knobs`: `{duplicate_rate, reorder, delay_seconds, drop_rate, split_updates, seed,
    retry_delay_seconds}` changes the delivery faults (default none, `retry_delay_seconds` 1.0); 400 on unknown
    keys or bad values; `GET /_sandbox/push/knobs` shows them.
  * `POST /_sandbox/reset` also drops every destination, queued notification, list, counter and knob.
* `GET /_sandbox/state/<Entity>`: every live record of the entity right now, as the REST API (24.200.001) returns
  it with every detail and linked entity expanded and every custom field in `custom`: what a replica must hold.

`GET /_sandbox/stats` counts the two kinds of licensed users apart: `seats_in_use`/`peak_seats`/`max_seats` for
API users (contract sessions, OAuth grants, bearer tokens on OData) and `users_in_use`/`peak_users`/`max_users`
for conventional users (HTTP Basic with a user name on OData), with `sessions` and `user_sessions` events.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any, Protocol

from airflow_provider_acumatica.sandbox import catalog
from airflow_provider_acumatica.sandbox.change_stream import ChangeStreams, parse_settings
from airflow_provider_acumatica.sandbox.config import SandboxConfig
from airflow_provider_acumatica.sandbox.custom_fields import CustomFields, custom_json
from airflow_provider_acumatica.sandbox.dac_tables import DAC_TABLES
from airflow_provider_acumatica.sandbox.data import DataStore
from airflow_provider_acumatica.sandbox.deleted_records import DeletedRecordTracker
from airflow_provider_acumatica.sandbox.deleted_records import parse_settings as parse_tracking
from airflow_provider_acumatica.sandbox.faults import FaultSettings
from airflow_provider_acumatica.sandbox.licence import Licence, LicenceSettings
from airflow_provider_acumatica.sandbox.protocol import Request, Response
from airflow_provider_acumatica.sandbox.push import PushNotifications, parse_destination
from airflow_provider_acumatica.sandbox.push_delivery import PushDelivery

CHANGE_COUNTS = ("inserts", "updates", "deletes")
MAX_IDLE_WAIT_SECONDS = 60


class SandboxControl(Protocol):
    config: SandboxConfig
    store: DataStore
    push: PushNotifications
    push_delivery: PushDelivery
    change_streams: ChangeStreams
    deleted_records: DeletedRecordTracker
    custom_fields: CustomFields
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


def _no_route(request: Request) -> Response:
    return Response.json({"message": f"No admin route {request.method} {request.path}."}, status=404)


def expand_paths(schema: str, prefix: str = "") -> list[str]:
    """Every detail and linked entity of a schema, nested ones as `Parent/Child`, for a fully expanded read."""
    paths: list[str] = []
    for child in catalog.SCHEMAS[schema].children:
        path = f"{prefix}{child.name}"
        paths.extend((path, *expand_paths(child.schema, f"{path}/")))
    return paths


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
        "max_users": config.max_users,
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
        action, name = params["action"], params.get("name")
        if name:
            return self._state(name) if action == "state" else _no_route(request)
        if action == "stats":
            return Response.json(self._sandbox.snapshot())
        if action == "config":
            return Response.json(config_view(self._sandbox.config))
        if action == "change_stream":
            return Response.json(self._sandbox.change_streams.status())
        if action == "deleted_records":
            return Response.json(self._sandbox.deleted_records.settings())
        if action == "custom_fields":
            return Response.json(self._sandbox.custom_fields.all())
        if action == "licence":
            return Response.json(self._sandbox.licence.snapshot())
        return _no_route(request)

    def _state(self, entity: str) -> Response:
        if entity not in catalog.ENTITIES:
            known = ", ".join(sorted(catalog.ENTITIES))
            return Response.json({"message": f"No entity named {entity!r}; the entities are {known}."}, status=404)
        fields = self._sandbox.custom_fields.of(entity)
        seed = self._sandbox.store.seed
        records = self._sandbox.store.iter_records(
            entity,
            expand=expand_paths(entity),
            custom=lambda index: custom_json(seed, fields, index) if fields else {},
        )
        return Response.json(list(records))

    def post(self, request: Request, params: Mapping[str, str]) -> Response:
        if params.get("name"):
            return _no_route(request)
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
        if action == "deleted_records":
            return self._deleted_records(body)
        if action == "custom_fields":
            return self._custom_field(body)
        if action == "licence":
            return self._licence(body)
        return _no_route(request)

    def _custom_field(self, body: dict[str, Any]) -> Response:
        unknown = set(body) - {"entity", "view", "field", "type"}
        if unknown:
            return bad_request(f"Unknown field(s): {', '.join(sorted(unknown))}; send {{entity, view, field, type}}.")
        try:
            self._sandbox.custom_fields.publish(
                body.get("entity"), body.get("view"), body.get("field"), body.get("type")
            )
        except ValueError as exc:
            return bad_request(str(exc))
        return Response.json(self._sandbox.custom_fields.all())

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

    def _deleted_records(self, body: dict[str, Any]) -> Response:
        try:
            tracked, days, age = parse_tracking(body, DAC_TABLES)
        except ValueError as exc:
            return bad_request(str(exc))
        tracker = self._sandbox.deleted_records
        tracker.configure(tracked, days, age)
        return Response.json(tracker.settings())


class PushAdminRoutes:
    """`/_sandbox/push/<resource>[/<name>]`: destinations, knobs and the delivery lists (see `push`)."""

    def __init__(self, push: PushNotifications, delivery: PushDelivery) -> None:
        self._push = push
        self._delivery = delivery

    def get(self, request: Request, params: Mapping[str, str]) -> Response:
        resource = params["resource"]
        if params.get("name"):
            return _no_route(request)
        if resource == "destinations":
            return Response.json(self._push.destinations())
        if resource == "knobs":
            return Response.json(self._push.knobs.as_dict())
        if resource == "sent":
            return Response.json(self._delivery.sent())
        if resource == "failed":
            return Response.json(self._delivery.failed())
        if resource == "idle":
            return self._idle(request)
        return _no_route(request)

    def _idle(self, request: Request) -> Response:
        try:
            timeout = float(request.query.get("timeout", "10"))
        except ValueError:
            return bad_request("timeout must be a number of seconds.")
        if not 0 <= timeout <= MAX_IDLE_WAIT_SECONDS:
            return bad_request(f"timeout must be from 0 to {MAX_IDLE_WAIT_SECONDS} seconds.")
        idle = self._delivery.wait_idle(timeout)
        return Response.json({"idle": idle, "queued_now": self._delivery.queued_now()})

    def post(self, request: Request, params: Mapping[str, str]) -> Response:
        body = read_object(request)
        if isinstance(body, Response):
            return body
        resource, name = params["resource"], params.get("name")
        if resource == "failed" and name == "resend":
            return Response.json({"resent": self._delivery.resend_failed()})
        if name:
            return _no_route(request)
        try:
            if resource == "destinations":
                destination = parse_destination(body)
                self._push.register(destination)
                return Response.json(destination.view())
            if resource == "knobs":
                return Response.json(self._push.set_knobs(body).as_dict())
        except ValueError as exc:
            return bad_request(str(exc))
        return _no_route(request)

    def delete(self, request: Request, params: Mapping[str, str]) -> Response:
        name = params.get("name")
        if params["resource"] != "destinations" or not name:
            return _no_route(request)
        if not self._push.remove(name):
            return Response.json({"message": f"No push destination named {name!r}."}, status=404)
        return Response.empty()
