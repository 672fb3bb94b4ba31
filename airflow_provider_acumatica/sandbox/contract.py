"""Contract-based REST routes (`/entity/...`) of the sandbox, shaped like the real server's answers.

Status codes and bodies:

* `GET /entity`: 200, the newer-build shape `{"version": {...}, "endpoints": [...]}`, without authentication like the
  real server (the app routes it before the authenticated routes).
* Unknown endpoint, version or entity, or an unsupported path: 404 with the ASP.NET Web API body
  `{"message": "No HTTP resource was found that matches the request URI '<uri>'."}`; a known path with an unsupported
  method (POST actions, PATCH): 405 `{"message": "The requested resource does not support http method '<m>'."}`.
* Bad `$filter`: 500 `px_error` with the parser's message (position and token) and exceptionType
  `Microsoft.Data.OData.ODataException` (CV4) or `Microsoft.OData.ODataException` (CV5).
* Unknown `$select`/`$expand` name, or a `$custom` field the entity does not have: 500 `px_error`, exceptionType
  `PX.Data.PXException`.
* `GET …/<Entity>/$adHocSchema`: the entity's custom fields and attributes with their types (see `custom_fields`).
* Bad `$top`/`$skip`, empty or non-object PUT body: 400 `{"message": "The request is invalid.", "modelState": ...}`.
* Record not found (GET/DELETE by id or keys, PUT by unknown id): 500 with exceptionType
  `PX.Api.ContractBased.NoEntitySatisfiesTheConditionException`, as build 26.101 does.
* Inquiry forms (`catalog.INQUIRIES`): a list GET answers 500 `CannotOptimizeException`, a PUT computes the form
  (see `inquiry_forms`).
* PUT: 200 with the record; 412 when `If-None-Match: *` finds or `If-Match: *` misses the record; 422 with the
  entity body carrying a top-level `error` and per-field `error`s. DELETE: 204.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import islice

from . import catalog, custom_fields, inquiry_forms, shape, swagger
from .custom_fields import CustomFields
from .data import DataStore, Snapshot, WriteError
from .filters import CompiledFilter, Dialect, FilterError, compile_filter
from .protocol import Request, Response, px_error
from .shape import CustomSection
from .writes import apply_put, not_found

PAGE_CHUNK = 1000
_FILTER_EXCEPTION = {Dialect.CV4: "Microsoft.Data.OData.ODataException", Dialect.CV5: "Microsoft.OData.ODataException"}
_SCREENS = {entity.screen: entity.name for entity in catalog.ENTITIES.values()}


class _Refusal(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def _invalid(parameter: str, detail: str) -> _Refusal:
    return _Refusal(Response.json({"message": "The request is invalid.", "modelState": {parameter: [detail]}}, 400))


def _server_error(message: str, exception_type: str) -> _Refusal:
    return _Refusal(Response.json(px_error("An error has occurred.", message, exception_type), 500))


def _int_param(request: Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    if not raw.strip().isdigit():
        raise _invalid(name, f"The value '{raw}' is not valid for {name}: expected a non-negative integer.")
    return int(raw)


def _json_array(records: Iterator[str]) -> Iterator[bytes]:
    """Encode a list in pieces of PAGE_CHUNK records, so an unpaged million-record list is never whole in memory."""
    yield b"["
    separator = b""
    while chunk := list(islice(records, PAGE_CHUNK)):
        yield separator + ",".join(chunk).encode("ascii")
        separator = b","
    yield b"]"


class ContractApi:
    """Serves `/entity`, swagger.json and entity CRUD for the `Default` endpoint versions."""

    def __init__(self, store: DataStore, site_path: str = "", custom_fields: CustomFields | None = None) -> None:
        self.store = store
        self.site_path = site_path.rstrip("/")
        self.custom_fields = custom_fields or CustomFields(store.seed)

    def handle(self, request: Request) -> Response:
        """Route an authenticated request whose path (site prefix removed) starts with `/entity`."""
        try:
            return self._route(request)
        except _Refusal as refusal:
            return refusal.response
        except WriteError as error:
            return Response.json(error.payload, error.status)

    def list_screen(self, request: Request, screen_id: str) -> Response:
        """The simplified published `GET /api/data/<ScreenID>` route: a screen's list on 24.200.001."""
        entity = _SCREENS.get(screen_id.upper())
        if entity is None:
            return self._no_resource(request)
        try:
            return self._list(request, catalog.DEFAULT_VERSION, entity)
        except _Refusal as refusal:
            return refusal.response

    def _no_resource(self, request: Request) -> Response:
        uri = f"{self.site_path}{request.path}"
        return Response.json({"message": f"No HTTP resource was found that matches the request URI '{uri}'."}, 404)

    def _route(self, request: Request) -> Response:
        parts = [part for part in request.path.split("/") if part]
        if parts == ["entity"]:
            return self.endpoints(request)
        if len(parts) < 4 or parts[1] != catalog.ENDPOINT_NAME or parts[2] not in catalog.VERSIONS:
            return self._no_resource(request)
        version, name, ids = parts[2], parts[3], parts[4:]
        if name == "swagger.json" and not ids:
            return self._only_get(request) or Response.json(swagger.document(version, self.site_path))
        inquiry = catalog.INQUIRIES.get(name)
        if inquiry is not None:
            return self._inquiry(request, version, inquiry, ids)
        if name not in catalog.ENTITIES:
            return self._no_resource(request)
        if ids == ["$adHocSchema"]:
            fields = self.custom_fields.of(name)
            return self._only_get(request) or Response.json(custom_fields.ad_hoc_schema(name, version, fields))
        if len(ids) == 1 and "|" in ids[0]:
            ids = ids[0].split("|")
        if request.method == "GET":
            return self._get(request, version, name, ids) if ids else self._list(request, version, name)
        if request.method == "PUT" and not ids:
            return self._put(request, version, name)
        if request.method == "DELETE" and ids:
            return self._delete(name, ids)
        if request.method in ("GET", "PUT", "DELETE"):
            return self._no_resource(request)
        return self._method_not_allowed(request)

    def _inquiry(self, request: Request, version: str, inquiry: catalog.Inquiry, ids: list[str]) -> Response:
        if ids:
            return self._no_resource(request)
        if request.method == "GET":
            return inquiry_forms.cannot_optimize(inquiry)
        if request.method != "PUT":
            return self._method_not_allowed(request)
        try:
            body = request.json()
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise _invalid("entity", "The request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise _invalid("entity", "The request body must be a JSON object of parameters, e.g. {}.")
        return inquiry_forms.run(self.store, inquiry, version, body, request.query.get("$expand", ""))

    def _only_get(self, request: Request) -> Response | None:
        return None if request.method == "GET" else self._method_not_allowed(request)

    def _method_not_allowed(self, request: Request) -> Response:
        message = f"The requested resource does not support http method '{request.method}'."
        return Response.json({"message": message}, 405)

    def endpoints(self, request: Request) -> Response:
        """The endpoint list; the real server answers it to anyone, before sign-in."""
        if request.method != "GET":
            return self._method_not_allowed(request)
        endpoints = [
            {
                "name": catalog.ENDPOINT_NAME,
                "version": version,
                "href": f"{self.site_path}/entity/{catalog.ENDPOINT_NAME}/{version}/",
            }
            for version in catalog.VERSIONS
        ]
        payload = {
            "version": {"acumaticaBuildVersion": catalog.BUILD_VERSION, "databaseVersion": catalog.DATABASE_VERSION},
            "endpoints": endpoints,
        }
        return Response.json(payload)

    def _projection(self, request: Request, version: str, entity: str) -> shape.Projection:
        try:
            return shape.parse_projection(entity, version, request.query.get("$select"), request.query.get("$expand"))
        except shape.ProjectionError as error:
            raise _server_error(str(error), "PX.Data.PXException") from error

    def _custom(self, request: Request, entity: str) -> CustomSection | None:
        """The `custom` section renderer for the fields `$custom` names, or None (an empty section) without it."""
        try:
            fields = self.custom_fields.parse(entity, request.query.get("$custom"))
        except ValueError as error:
            raise _server_error(str(error), "PX.Data.PXException") from error
        if not fields:
            return None
        seed = self.store.seed
        return lambda index: custom_fields.custom_json(seed, fields, index)

    def _filter(self, request: Request, version: str, entity: str) -> CompiledFilter | None:
        text = request.query.get("$filter", "").strip()
        if not text:
            return None
        dialect = shape.dialect_for(version)
        try:
            return compile_filter(text, dialect, shape.filter_resolver(entity, version), entity)
        except FilterError as error:
            raise _server_error(str(error), _FILTER_EXCEPTION[dialect]) from error

    def _list(self, request: Request, version: str, entity: str) -> Response:
        projection = self._projection(request, version, entity)
        custom = self._custom(request, entity)
        flt = self._filter(request, version, entity)
        skip = _int_param(request, "$skip") or 0
        top = _int_param(request, "$top")
        snap = self.store.snapshot(entity)
        selection = self.store.select(snap, ("contract", version, flt.text if flt else ""), flt)
        indexes = selection.slice(skip, None if top is None else skip + top)
        records = (
            shape.record_json(snap.view(index), version, projection, number, self.site_path, custom)
            for number, index in enumerate(indexes, start=1)
        )
        headers = [("Content-Type", "application/json; charset=utf-8")]
        if top is None:
            return Response(200, headers=headers, chunks=_json_array(records))
        return Response(200, b"".join(_json_array(records)), headers)

    def _find(self, snap: Snapshot, ids: list[str]) -> int:
        index = snap.find(ids[0] if len(ids) == 1 else tuple(ids))
        if index is None:
            raise not_found(snap.entity.name)
        return index

    def _get(self, request: Request, version: str, entity: str, ids: list[str]) -> Response:
        projection = self._projection(request, version, entity)
        custom = self._custom(request, entity)
        snap = self.store.snapshot(entity)
        index = self._find(snap, ids)
        return Response.json(shape.shape_record(snap.view(index), version, projection, 1, self.site_path, custom))

    def _put(self, request: Request, version: str, entity: str) -> Response:
        projection = self._projection(request, version, entity)
        flt = self._filter(request, version, entity)
        try:
            body = request.json()
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise _invalid("entity", "The request body is not valid JSON.") from None
        target = None
        if flt is not None:
            snap = self.store.snapshot(entity)
            target = next(iter(self.store.select(snap, ("contract", version, flt.text), flt).slice(0, 1)), None)
        result = apply_put(
            self.store,
            entity,
            version,
            body,
            target=target,
            if_match=(request.header("If-Match") or "").strip() == "*",
            if_none_match=(request.header("If-None-Match") or "").strip() == "*",
            projection=projection,
            site_path=self.site_path,
        )
        return Response.json(result.record)

    def _delete(self, entity: str, ids: list[str]) -> Response:
        with self.store.lock:
            snap = self.store.snapshot(entity)
            index = self._find(snap, ids)
            self.store.delete(entity, snap.state.guid(index))
        return Response.empty(204)
