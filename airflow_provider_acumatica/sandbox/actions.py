"""Actions of the contract API: `POST /{Entity}/{Action}`, 202 with a `Location` to poll, 204 when done.

The body is `{"entity": {keys or "id"}, "parameters": {...}}`. With `action_seconds` (a fault setting) of 0 the
action completes in the request and answers 204; otherwise it answers 202 with
`Location: <site>/entity/<endpoint>/<version>/<Entity>/<Action>/status/<GUID>`, whose GET answers 202 while it
runs and 204 once done, when the record's status transition is applied. While an action runs, the same
session's other requests to that entity fail with a 500, as the real server refuses them. An action the entity
lacks is 404; one the record's status does not allow is 422 with the entity echoed and a top-level `error`.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import catalog
from .data import DataStore
from .faults import FaultSettings
from .protocol import Request, Response, px_error
from .writes import not_found


@dataclass(frozen=True)
class Action:
    """What an action does to a record's `Status`: allowed from these codes, to this code (None: unchanged)."""

    allowed: frozenset[str]
    to: str | None


ACTIONS: dict[tuple[str, str], Action] = {
    ("SalesOrder", "ReleaseFromHold"): Action(frozenset({"H"}), "N"),
    ("SalesOrder", "PutOnHold"): Action(frozenset({"N"}), "H"),
    ("SalesOrder", "CancelSalesOrder"): Action(frozenset({"N", "H"}), "L"),
    ("SalesOrder", "ReopenSalesOrder"): Action(frozenset({"L"}), "N"),
    ("SalesInvoice", "ReleaseInvoice"): Action(frozenset({"B"}), "N"),
    ("SalesInvoice", "ReleaseSalesInvoice"): Action(frozenset({"B"}), "N"),
    ("Customer", "CreateContactFromCustomer"): Action(frozenset({"A", "H", "C", "T"}), None),
}
BUSY_MESSAGE = "The previous operation has not been completed yet. Wait until it is completed and try again."


@dataclass
class _Operation:
    session: str
    entity: str
    index: int
    action: Action
    version: str
    done_at: float
    finished: bool = False


class ActionRoutes:
    """Wraps the contract handler: action calls and status polls are served here, the rest passes through."""

    def __init__(self, store: DataStore, faults: Callable[[], FaultSettings], site_path: str = "") -> None:
        self.store = store
        self.faults = faults
        self.site_path = site_path.rstrip("/")
        self._lock = threading.Lock()
        self._operations: dict[str, _Operation] = {}

    def around(self, handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        def serve(request: Request) -> Response:
            parts = [part for part in request.path.split("/") if part]
            if len(parts) == 7 and parts[5] == "status" and request.method == "GET":
                return self._status(parts[6])
            if len(parts) == 5 and request.method == "POST" and parts[3] in catalog.ENTITIES:
                return self._invoke(request, parts[2], parts[3], parts[4])
            busy = self._busy(request, parts)
            return busy if busy is not None else handler(request)

        return serve

    def _invoke(self, request: Request, version: str, entity: str, name: str) -> Response:
        action = ACTIONS.get((entity, name))
        if action is None:
            uri = f"{self.site_path}{request.path}"
            return Response.json({"message": f"No HTTP resource was found that matches the request URI '{uri}'."}, 404)
        body = request.json() if request.body else None
        target = body.get("entity") if isinstance(body, Mapping) else None
        if not isinstance(target, Mapping):
            invalid = {"message": "The request is invalid.", "modelState": {"entity": ["The entity is required."]}}
            return Response.json(invalid, 400)
        session = request.principal.session_id if request.principal else ""
        busy = self._busy_for(session, entity)
        if busy is not None:
            return busy
        index = self._locate(entity, target)
        if index is None:
            return Response.json(not_found(entity).payload, 500)
        view = self.store.snapshot(entity).view(index)
        if view.values.get("Status") not in action.allowed:
            return Response.json(_not_allowed(entity, name, view.id, target, view.values.get("Status")), 422)
        operation = _Operation(session, entity, index, action, version, time.monotonic() + self.faults().action_seconds)
        if self.faults().action_seconds <= 0:
            self._finish(operation)
            return Response.empty(204)
        guid = str(uuid.uuid4())
        with self._lock:
            self._operations[guid] = operation
        location = f"{self.site_path}/entity/{catalog.ENDPOINT_NAME}/{version}/{entity}/{name}/status/{guid}"
        return Response.empty(202, [("Location", location)])

    def _status(self, guid: str) -> Response:
        with self._lock:
            operation = self._operations.get(guid)
        if operation is None:
            return Response.json({"message": f"No operation with the id '{guid}' exists."}, 404)
        if not operation.finished and time.monotonic() < operation.done_at:
            return Response.empty(202)
        self._finish(operation)
        return Response.empty(204)

    def _finish(self, operation: _Operation) -> None:
        with self._lock:
            if operation.finished:
                return
            operation.finished = True
        if operation.action.to is not None:
            record_id = self.store.snapshot(operation.entity).view(operation.index).id
            self.store.upsert(
                operation.entity, operation.version, {"id": record_id, "Status": {"value": operation.action.to}}
            )

    def _busy(self, request: Request, parts: list[str]) -> Response | None:
        if len(parts) < 4 or request.principal is None:
            return None
        return self._busy_for(request.principal.session_id, parts[3])

    def _busy_for(self, session: str, entity: str) -> Response | None:
        """The same session's requests to an entity with an action still running fail, as on the real server."""
        now = time.monotonic()
        with self._lock:
            running = any(
                op.session == session and op.entity == entity and not op.finished and now < op.done_at
                for op in self._operations.values()
            )
        if not running:
            return None
        return Response.json(px_error("An error has occurred.", BUSY_MESSAGE, "PX.Data.PXException"), 500)

    def _locate(self, entity: str, target: Mapping[str, Any]) -> int | None:
        snap = self.store.snapshot(entity)
        if isinstance(target.get("id"), str):
            return snap.find(target["id"])
        keys = [_unwrapped(target.get(name)) for name in catalog.ENTITIES[entity].keys]
        if any(key in (None, "") for key in keys):
            return None
        return snap.find(tuple(str(key) for key in keys) if len(keys) > 1 else str(keys[0]))


def _unwrapped(value: Any) -> Any:
    return value.get("value") if isinstance(value, Mapping) else value


def _not_allowed(entity: str, name: str, record_id: str, target: Mapping[str, Any], status: Any) -> dict[str, Any]:
    label = dict(next(f.options for f in catalog.ENTITIES[entity].schema.fields if f.name == "Status")).get(status)
    message = f"The '{name}' action cannot be performed on a record with the '{label or status}' status."
    return {"id": record_id, **{k: v for k, v in target.items() if k != "id"}, "error": message, "custom": {}}
