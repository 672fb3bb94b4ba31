"""Routing, faults, authentication and per-session serialization: the sandbox minus the sockets.

`SandboxApp.dispatch` turns a `Request` into a `Response`, or None when the connection is to be
dropped. Keeping it free of socket code lets the HTTP layer stay a thin adapter.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from airflow_provider_acumatica.sandbox.actions import ActionRoutes
from airflow_provider_acumatica.sandbox.admin import AdminRoutes, PushAdminRoutes
from airflow_provider_acumatica.sandbox.auth_routes import SessionRoutes
from airflow_provider_acumatica.sandbox.change_stream import ChangeStreams
from airflow_provider_acumatica.sandbox.config import SandboxConfig
from airflow_provider_acumatica.sandbox.contract import ContractApi
from airflow_provider_acumatica.sandbox.custom_fields import CustomFields
from airflow_provider_acumatica.sandbox.dac_odata import build_api
from airflow_provider_acumatica.sandbox.data import DataStore
from airflow_provider_acumatica.sandbox.data_auth import DataAuthenticator
from airflow_provider_acumatica.sandbox.faults import (
    Fault,
    FaultInjector,
    FaultSettings,
    html_instead_of_json,
    internal_error,
    too_many_requests,
    truncated,
)
from airflow_provider_acumatica.sandbox.identity import IdentityStore
from airflow_provider_acumatica.sandbox.iis import iis_page
from airflow_provider_acumatica.sandbox.licence import Licence, LicenceSettings
from airflow_provider_acumatica.sandbox.oauth_routes import OAuthRoutes
from airflow_provider_acumatica.sandbox.odata import ODataApi
from airflow_provider_acumatica.sandbox.protocol import Request, Response, px_error
from airflow_provider_acumatica.sandbox.push import PushNotifications
from airflow_provider_acumatica.sandbox.push_delivery import PushDelivery
from airflow_provider_acumatica.sandbox.stats import SandboxStats

logger = logging.getLogger(__name__)

Handler = Callable[[Request, Mapping[str, str]], Response]
BODY_METHODS = ("POST", "PUT", "PATCH")
DATA_METHODS = ("GET", "DELETE", *BODY_METHODS)
UNQUEUED_ROUTES = ("logout",)


class Kind(Enum):
    """What a route gets: ADMIN is never faulted or counted, LOGIN is faulted only with `faults_on_auth`,
    DATA is authenticated, serialized per session and faulted; AUTH is just counted."""

    ADMIN = "admin"
    AUTH = "auth"
    LOGIN = "login"
    DATA = "data"


@dataclass(frozen=True)
class Route:
    name: str
    kind: Kind
    pattern: re.Pattern[str]
    methods: Mapping[str, Handler]


_WRITE_METHODS = frozenset({"PUT", "POST", "PATCH", "DELETE"})


def not_found(path: str) -> Response:
    return Response.json({"message": f"No HTTP resource was found that matches the request URI '{path}'."}, 404)


def unhandled_error() -> Response:
    return Response.json(px_error("An error has occurred.", "The sandbox failed on this request."), 500)


def method_not_allowed(method: str) -> Response:
    return Response.json({"message": f"The requested resource does not support http method '{method}'."}, 405)


class SandboxApp:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.stats = SandboxStats()
        self.injector = FaultInjector(config.faults)
        self.licence = Licence(config.licence)
        self.identity = IdentityStore(
            self.stats, self.max_seats, config.session_timeout, config.token_ttl, lambda: config.max_users
        )
        self.store = DataStore(
            seed=config.seed,
            record_counts=config.entity_records,
            default_count=config.records,
            changes_per_hour=config.changes_per_hour,
        )
        self.change_streams = ChangeStreams(self.store)
        self.dac_odata = build_api(self.store, config, self.change_streams.observe)
        self.deleted_records = self.dac_odata.tracker
        self.custom_fields = CustomFields(config.seed)
        self.push = PushNotifications(config.default_tenant)
        self.push_delivery = PushDelivery(self.store, self.push)
        self._authenticator = DataAuthenticator(config, self.identity)
        self._routes = self._build_routes()

    def max_seats(self) -> int:
        """The runtime fault setting wins over the configured license size."""
        override = self.injector.settings.max_seats
        return self.config.max_seats if override is None else override

    def snapshot(self) -> dict[str, Any]:
        self.identity.seats_in_use()
        snapshot = self.stats.snapshot()
        snapshot["max_seats"] = self.max_seats()
        snapshot["max_users"] = self.config.max_users
        snapshot["faults"] = self.injector.settings.as_dict()
        snapshot["licence"] = self.licence.snapshot()
        return snapshot

    def set_faults(self, changes: Mapping[str, Any]) -> FaultSettings:
        return self.injector.update(changes)

    def set_licence(self, changes: Mapping[str, Any]) -> LicenceSettings:
        return self.licence.update(changes)

    def reset(self, faults: bool = False) -> None:
        """Forget every session, token, counter, change stream and push destination with its queue and lists; with
        `faults`, also restore the configured faults and licence limits."""
        self.identity.reset()
        self.stats.reset()
        self.licence.reset()
        self.change_streams.clear()
        self.push.reset()
        self.push_delivery.reset()
        if faults:
            self.injector.replace(self.config.faults)
            self.licence.replace(self.config.licence)

    def close(self) -> None:
        """Stop the background work (push delivery); the state stays for a later start."""
        self.push_delivery.close()

    def dispatch(self, request: Request) -> Response | None:
        path = self._local_path(request.path)
        route, params = self._match(path) if path is not None else (None, {})
        if route is None or path is None:
            return self._count("unknown", not_found(request.path))
        request.path = path
        handler = route.methods.get(request.method)
        if handler is None:
            return self._count(route.name, method_not_allowed(request.method))
        # IIS refuses a body-carrying request that has neither Content-Length nor chunked encoding.
        if request.method in BODY_METHODS and not _has_length(request):
            return self._count(route.name, iis_page(411))

        def call() -> Response | None:
            return self._run(route, lambda: _guarded(handler, request, params), request, params.get("tenant"))

        if route.kind is Kind.ADMIN:
            return call()
        return self._count(route.name, call() if route.name in UNQUEUED_ROUTES else self._licensed(call))

    def _licensed(self, call: Callable[[], Response | None]) -> Response | None:
        """Through the licence's queue and per-minute pacing; a declined request is not run."""
        if not self.licence.enter():
            return too_many_requests(None)
        try:
            return call()
        finally:
            self.licence.leave()

    def _run(self, route: Route, call: Callable[[], Response], request: Request, tenant: str | None) -> Response | None:
        faults = self.injector.settings
        if route.kind is Kind.DATA:
            return self._data(call, request, tenant, faults)
        if route.kind is Kind.LOGIN and faults.faults_on_auth:
            return self._faulted(faults, call)
        return call()

    def _data(
        self, call: Callable[[], Response], request: Request, tenant: str | None, faults: FaultSettings
    ) -> Response | None:
        """One request at a time per session, the injected latency included, as the real server queues them."""
        auth = self._authenticator.authenticate(request, faults, tenant)
        if isinstance(auth, Response):
            return auth
        request.principal = auth.session.principal()
        with auth.session.lock:
            response = self._faulted(faults, call, writes=request.method in _WRITE_METHODS)
        if response is not None:
            response.headers.extend(auth.set_cookies)
        return response

    def _faulted(self, faults: FaultSettings, call: Callable[[], Response], writes: bool = False) -> Response | None:
        """A dropped write is dropped after the server applied it: only the answer is lost, as when a
        connection breaks mid-response, so a client that retries must not insert or append twice."""
        if faults.latency_ms:
            time.sleep(faults.latency_ms / 1000)
        fault = self.injector.draw()
        if fault is None:
            return call()
        self.stats.fault(fault.value)
        if fault is Fault.DROP:
            if writes:
                call()
            return None
        if fault is Fault.TOO_MANY_REQUESTS:
            with_header = self.injector.chance(faults.retry_after_share)
            return too_many_requests(faults.retry_after_seconds if with_header else None)
        if fault is Fault.INTERNAL_ERROR:
            return internal_error()
        if fault is Fault.MALFORMED:
            return self._malformed(call())
        return iis_page(int(fault.value))

    def _malformed(self, response: Response) -> Response:
        is_json = any(name.lower() == "content-type" and "json" in value.lower() for name, value in response.headers)
        if response.status == 200 and is_json and len(response.body) > 1 and self.injector.chance(0.5):
            return truncated(response)
        return html_instead_of_json()

    def _count(self, route: str, response: Response | None) -> Response | None:
        if response is not None:
            self.stats.request(route, response.status)
        return response

    def _local_path(self, path: str) -> str | None:
        site = self.config.site_path
        if not site:
            return path
        if path == site or path.startswith(f"{site}/"):
            return path[len(site) :] or "/"
        return None

    def _match(self, path: str) -> tuple[Route | None, Mapping[str, str]]:
        for route in self._routes:
            found = route.pattern.fullmatch(path)
            if found is not None:
                return route, found.groupdict()
        return None, {}

    def _build_routes(self) -> list[Route]:
        sessions = SessionRoutes(self.config, self.identity, self.stats)
        oauth = OAuthRoutes(self.config, self.identity, self.stats, lambda: self.injector.settings)
        admin = AdminRoutes(self)
        push = PushAdminRoutes(self.push, self.push_delivery)
        contract = ContractApi(self.store, self.config.site_path, self.custom_fields)
        odata = ODataApi(self.store, self.config.site_path)
        actions = ActionRoutes(self.store, lambda: self.injector.settings, self.config.site_path)

        def plain(call: Callable[[Request], Response]) -> Handler:
            return lambda request, _params: call(request)

        def route(name: str, kind: Kind, pattern: str, **methods: Handler) -> Route:
            return Route(name, kind, re.compile(pattern), methods)

        return [
            route(
                "push",
                Kind.ADMIN,
                r"/_sandbox/push/(?P<resource>[^/]+)(?:/(?P<name>[^/]+))?",
                GET=push.get,
                POST=push.post,
                DELETE=push.delete,
            ),
            route(
                "admin", Kind.ADMIN, r"/_sandbox/(?P<action>[^/]+)(?:/(?P<name>[^/]+))?", GET=admin.get, POST=admin.post
            ),
            route("login", Kind.LOGIN, r"/entity/auth/login", POST=plain(sessions.login)),
            route("logout", Kind.AUTH, r"/entity/auth/logout", POST=plain(sessions.logout)),
            route("simplified_login", Kind.LOGIN, r"/api/auth/login", POST=plain(sessions.simplified_login)),
            route("discovery", Kind.AUTH, r"/identity/\.well-known/openid-configuration", GET=plain(oauth.discovery)),
            route("authorize", Kind.AUTH, r"/(?:identity/connect|oauth)/authorize", GET=plain(oauth.authorize)),
            route("token", Kind.LOGIN, r"/(?:identity/connect|oauth)/token", POST=plain(oauth.token)),
            route("userinfo", Kind.AUTH, r"/identity/connect/userinfo", GET=plain(oauth.userinfo)),
            route("revocation", Kind.AUTH, r"/identity/connect/revocation", POST=plain(oauth.revocation)),
            route(
                "screen",
                Kind.DATA,
                r"/api/data/(?P<screen>[^/]+)",
                GET=lambda request, params: contract.list_screen(request, params["screen"]),
            ),
            route(
                "odata_dac",
                Kind.DATA,
                r"/t/(?P<tenant>[^/]+)/api/odata/dac(?:/(?P<resource>.*))?",
                GET=lambda request, params: self.dac_odata.handle(
                    request, params["tenant"], params.get("resource") or ""
                ),
            ),
            route(
                "odata",
                Kind.DATA,
                r"/t/(?P<tenant>[^/]+)/api/odata/gi/(?P<resource>.+)",
                GET=lambda request, params: odata.handle(request, params["tenant"], params["resource"]),
            ),
            route("endpoints", Kind.AUTH, r"/entity/?", GET=plain(contract.endpoints)),
            route(
                "contract",
                Kind.DATA,
                r"/entity(?!/auth(?:/|$))(?:/.*)?",
                **dict.fromkeys(DATA_METHODS, plain(self.change_streams.before(actions.around(contract.handle)))),
            ),
        ]


def _guarded(handler: Handler, request: Request, params: Mapping[str, str]) -> Response:
    """A bug in a route answers 500 like the real server's unhandled exceptions, and never kills the thread."""
    try:
        return handler(request, params)
    except Exception:
        logger.exception("sandbox handler failed for %s %s", request.method, request.path)
        return unhandled_error()


def _has_length(request: Request) -> bool:
    return request.header("Content-Length") is not None or request.header("Transfer-Encoding") is not None
