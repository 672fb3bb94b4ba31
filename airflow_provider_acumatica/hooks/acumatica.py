"""`AcumaticaHook`: one Airflow connection, any auth strategy, bounded retries, no leaked seats."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import SplitResult, quote, urlencode, urlsplit

import requests
from airflow.providers.common.compat.sdk import BaseHook, Connection
from requests.adapters import HTTPAdapter
from tenacity import RetryCallState, Retrying

from airflow_provider_acumatica import __version__
from airflow_provider_acumatica.auth import AcumaticaAuth, build_auth
from airflow_provider_acumatica.auth.base import tls_error
from airflow_provider_acumatica.catalog import EntityInfo, dac_of
from airflow_provider_acumatica.catalog.discovery import CANNOT_OPTIMIZE, CustomFields, classify
from airflow_provider_acumatica.connection_fields import UI_FIELD_BEHAVIOUR, form_widgets
from airflow_provider_acumatica.errors import error_from_response
from airflow_provider_acumatica.exceptions import (
    AcumaticaApiError,
    AcumaticaAuthError,
    AcumaticaConfigError,
    AcumaticaCredentialsError,
    AcumaticaError,
)
from airflow_provider_acumatica.hooks.session import EnvironmentOnceSession
from airflow_provider_acumatica.incremental import combine_filters
from airflow_provider_acumatica.masking import mask, scrub
from airflow_provider_acumatica.odata_dac import (
    DELETED_FUNCTION,
    DELETED_KEYS,
    DacType,
    after_key,
    deleted_rows,
    metadata_stream,
    not_tracked,
    parse_metadata,
    rows_of,
    window_filter,
)
from airflow_provider_acumatica.output.schema import EntitySchema, FieldType
from airflow_provider_acumatica.pacing import Pacer, pacer_for
from airflow_provider_acumatica.paging import OffsetPlan, PageRequest, Stitcher, check_page_length, serial_pages
from airflow_provider_acumatica.records import unwrap_record
from airflow_provider_acumatica.retry_policy import MalformedResponseError, RetryPolicy
from airflow_provider_acumatica.settings import AcumaticaSettings

_QUERY_SAFE = "$,'()/:*"
NOTE_ID = "NoteID"
ODATA_AUTH_TYPES = ("basic", "oauth2_password", "oauth2_client_credentials", "oauth2_authorization_code")
audit_log = logging.getLogger("airflow_provider_acumatica.audit")


@dataclass
class CallStats:
    """What the close-out summary line reports."""

    calls: int = 0
    retries: int = 0
    reauthentications: int = 0
    rate_limited: int = 0
    bytes_received: int = 0
    licence_wait_seconds: float = 0.0


class AcumaticaHook(BaseHook):
    """Talks to one Acumatica instance through an `acumatica` connection.

    Sign-in happens on first use, a 401 triggers one single-flight re-authentication and a replay,
    transient failures are retried within bounds, and `close()` signs out every session opened.
    """

    conn_name_attr = "acumatica_conn_id"
    default_conn_name = "acumatica_default"
    conn_type = "acumatica"
    hook_name = "Acumatica"

    def __init__(
        self,
        acumatica_conn_id: str = default_conn_name,
        *,
        retry_policy: RetryPolicy | None = None,
        login_limit_wait: float = 5.0,
        connection: Connection | None = None,
        **kwargs: Any,
    ) -> None:
        """`connection`, when given, is used instead of looking `acumatica_conn_id` up: a trigger fetches it
        with the triggerer's async API, where the synchronous lookup must not run."""
        super().__init__(**kwargs)
        self.acumatica_conn_id = acumatica_conn_id
        self._connection = connection
        self._retry_policy = retry_policy
        self._retrying_by_method: dict[str, Retrying] = {}
        self._login_limit_wait = login_limit_wait
        self._session: requests.Session | None = None
        self._terminated = False
        self._auth_lock = threading.RLock()
        self._auth_generation = 0
        self._swagger: dict[str, dict[str, Any]] = {}
        self._dac_types: dict[str, DacType] = {}
        self.call_stats = CallStats()

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        return form_widgets()

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return dict(UI_FIELD_BEHAVIOUR)

    @cached_property
    def settings(self) -> AcumaticaSettings:
        connection = self._connection or self.get_connection(self.acumatica_conn_id)
        settings = AcumaticaSettings.from_connection(connection)
        if isinstance(settings.verify, str) and not Path(settings.verify).exists():
            raise AcumaticaConfigError(
                f"verify points at {settings.verify!r}, which does not exist. Give the path of a CA bundle "
                "readable on the worker, or true to use the system's trusted certificates."
            )
        return settings

    @cached_property
    def auth(self) -> AcumaticaAuth:
        return build_auth(self.settings, conn_id=self.acumatica_conn_id, login_limit_wait=self._login_limit_wait)

    @cached_property
    def retry_policy(self) -> RetryPolicy:
        return self._retry_policy or RetryPolicy(max_retries=self.settings.max_retries)

    @cached_property
    def pacer(self) -> Pacer | None:
        """Shared by every hook of this process for the same host and user, so they split one licence."""
        settings = self.settings
        return pacer_for(
            settings.base_url,
            settings.effective_tenant,
            settings.login or settings.client_id,
            settings.max_requests_per_minute,
            settings.max_concurrent_requests,
        )

    def get_conn(self) -> requests.Session:
        """The authenticated session, created on first use and reused for the life of the hook."""
        if self._terminated:
            raise self._terminated_error()
        if self._session is None:
            self._session = self._new_session()
        session = self._session
        self._ensure_signed_in(session)
        return session

    def _new_session(self) -> requests.Session:
        session = EnvironmentOnceSession()
        session.auth = self.auth
        session.verify = self.settings.verify
        session.headers.update(
            {"Accept": "application/json", "User-Agent": f"airflow-provider-acumatica/{__version__}"}
        )
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=4, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        if self.settings.verify is False:
            self.log.warning("TLS certificate verification is off for %s.", self.acumatica_conn_id)
        return session

    def __enter__(self) -> AcumaticaHook:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Sign out every session this hook opened, then drop the connection pool."""
        session, self._session = self._session, None
        if session is None:
            return
        with self._auth_lock:
            self.auth.logout(session)
        session.close()
        stats = self.auth.stats
        self.log.info(
            "Acumatica %s closed: %d calls, %d retries, %d re-authentications, %d rate-limited, %d bytes, "
            "%.1f s waiting for the licence, %d auth requests, sessions opened %d / closed %d.",
            self.acumatica_conn_id,
            self.call_stats.calls,
            self.call_stats.retries,
            self.call_stats.reauthentications,
            self.call_stats.rate_limited,
            self.call_stats.bytes_received,
            self.call_stats.licence_wait_seconds,
            stats.auth_requests,
            stats.sessions_opened,
            stats.sessions_closed,
        )

    def hand_over_session(self) -> dict[str, str]:
        """The headers that carry this session (its cookies, an OAuth bearer token), for a trigger that keeps
        using it in another process; the hook then lets go of the session WITHOUT signing it out, so the
        receiver owns the seat and must sign it out. The next call through this hook signs in anew."""
        session = self._session
        if session is None:
            raise AcumaticaError("The Acumatica hook has no session to hand over: make a call first.")
        headers = dict(self.auth.session_headers())
        cookies = "; ".join(f"{cookie.name}={cookie.value}" for cookie in session.cookies if cookie.value)
        if cookies:
            headers["Cookie"] = cookies
        if not headers:
            raise AcumaticaError("The Acumatica session holds no cookie or token to hand over.")
        for value in headers.values():
            mask(value)
        self._session = None
        session.close()
        self.__dict__.pop("auth", None)
        return headers

    def _terminated_error(self) -> AcumaticaError:
        return AcumaticaError(
            f"The Acumatica hook for {self.acumatica_conn_id} was terminated (the task is being killed); "
            "it opens no new session."
        )

    def terminate(self) -> None:
        """Sign out now and refuse further calls: for `on_kill`, while another thread may still be paging."""
        self._terminated = True
        self.close()

    def url_for(self, path: str) -> str:
        """A full URL for a path under the instance URL; absolute URLs must point at the same host."""
        if "://" not in path:
            return self.settings.url(path)
        target, base = urlsplit(path), self._base_url_parts
        if (target.scheme, target.netloc) != (base.scheme, base.netloc):
            raise AcumaticaConfigError(
                f"Refusing to send Acumatica credentials to {target.scheme}://{target.hostname}: "
                f"only {base.scheme}://{base.hostname} from the connection is allowed."
            )
        return path

    @cached_property
    def _base_url_parts(self) -> SplitResult:
        return urlsplit(self.settings.base_url)

    def entity_url(self, entity: str, *keys: str, endpoint_version: str | None = None) -> str:
        version = endpoint_version or self.settings.endpoint_version
        parts = [quote(self.settings.endpoint_name, safe=""), quote(version, safe=""), quote(entity, safe="")]
        parts.extend(quote(str(key), safe="") for key in keys)
        return self.settings.url("entity/" + "/".join(parts))

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send a request with auth, timeouts, a 401 re-authentication and bounded retries."""
        return self._with_retries(method, path, kwargs, parse_json=False)  # type: ignore[no-any-return]

    def request_json(self, method: str, path: str, **kwargs: Any) -> Any:
        """Like `request`, returning the parsed JSON body; a garbled body is retried like a dropped call."""
        return self._with_retries(method, path, kwargs, parse_json=True)

    def _with_retries(self, method: str, path: str, kwargs: dict[str, Any], *, parse_json: bool) -> Any:
        url = self.url_for(path)
        params = kwargs.pop("params", None)
        if params:
            url = f"{url}{'&' if '?' in url else '?'}{encode_query(params)}"
        session = self.get_conn()
        kwargs.setdefault("timeout", (self.settings.connect_timeout, self.settings.timeout))
        kwargs.setdefault("verify", self.settings.verify)
        attempt = 0

        def one_attempt() -> Any:
            nonlocal attempt
            attempt += 1
            return self._attempt(session, method, url, kwargs, attempt, parse_json)

        try:
            return self._retrying(method)(one_attempt)
        except Exception as err:
            if self._terminated:
                raise self._terminated_error() from err
            raise

    def _retrying(self, method: str) -> Retrying:
        """One retry controller per method, reused across calls (its state is per thread); the policy decides
        what each method may retry."""
        found = self._retrying_by_method.get(method)
        if found is None:
            found = self._retrying_by_method[method] = self.retry_policy.retrying(method, self._before_sleep)
        return found

    def _attempt(
        self,
        session: requests.Session,
        method: str,
        url: str,
        kwargs: dict[str, Any],
        attempt: int,
        parse_json: bool,
    ) -> Any:
        generation = self._ensure_signed_in(session)
        try:
            response = self._send(session, method, url, kwargs, attempt)
        finally:
            self._sign_out_if_terminated(session)
        if response.status_code == 401:
            self._reauthenticate(session, generation)
            response = self._send(session, method, url, kwargs, attempt)
            self._sign_out_if_terminated(session)
            if response.status_code == 401:
                raise AcumaticaAuthError(
                    "Acumatica answered 401 again right after signing in anew. The user may lack API "
                    "rights, the session may be killed by another sign-in of the same user, or the "
                    "token may be for another tenant."
                )
        if response.status_code >= 400:
            if response.status_code == 429:
                self.call_stats.rate_limited += 1
            raise error_from_response(response, f"{method} {_path_only(url)}")
        if not parse_json:
            return response
        return _parse_json(response, method, url)

    def _ensure_signed_in(self, session: requests.Session) -> int:
        with self._auth_lock:
            self._refuse_if_terminated()
            self.auth.ensure(session)
            return self._auth_generation

    def _refuse_if_terminated(self) -> None:
        """Called under `_auth_lock`: once `terminate()` has signed out, no thread may sign in again."""
        if self._terminated:
            raise self._terminated_error()

    def _sign_out_if_terminated(self, session: requests.Session) -> None:
        """A call in flight while `terminate()` signed out may have opened a server session (a 401
        re-login, or Basic credentials, which open one per call): sign it out too, then refuse."""
        if not self._terminated:
            return
        with self._auth_lock:
            self.auth.logout_after_kill(session)
        raise self._terminated_error()

    def _reauthenticate(self, session: requests.Session, seen_generation: int) -> None:
        """Sign in again once for all threads that saw the same 401; the others reuse the result."""
        if not self.auth.can_reauthenticate:
            raise AcumaticaCredentialsError(
                f"Acumatica rejected the {self.settings.auth_type} credentials (HTTP 401). Not retrying: "
                "repeated failures lock the account. Check the connection's credentials."
            )
        with self._auth_lock:
            self._refuse_if_terminated()
            if self._auth_generation != seen_generation:
                return
            self.log.info("Acumatica answered 401; signing in again once and replaying the request.")
            self.auth.reauthenticate(session)
            self._auth_generation += 1
            self.call_stats.reauthentications += 1

    def _send(
        self, session: requests.Session, method: str, url: str, kwargs: dict[str, Any], attempt: int
    ) -> requests.Response:
        started = time.perf_counter()
        try:
            response = self._paced(session, method, url, kwargs)
        except requests.exceptions.SSLError:
            raise tls_error(self.settings.base_url) from None
        self.auth.after_response(session)
        self.call_stats.calls += 1
        self.call_stats.bytes_received += len(response.content)
        if audit_log.isEnabledFor(logging.DEBUG):
            audit_log.debug(
                "Acumatica %s %s -> %s in %.0f ms (attempt %d)",
                method,
                _path_only(url),
                response.status_code,
                (time.perf_counter() - started) * 1000,
                attempt,
            )
        return response

    def _paced(self, session: requests.Session, method: str, url: str, kwargs: dict[str, Any]) -> requests.Response:
        pacer = self.pacer
        if pacer is None:
            return session.request(method, url, **kwargs)
        with pacer.slot() as waited:
            self.call_stats.licence_wait_seconds += waited
            return session.request(method, url, **kwargs)

    def _before_sleep(self, state: RetryCallState) -> None:
        self.call_stats.retries += 1
        error = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        self.log.warning(
            "Acumatica call failed (%s); retry %d/%d in %.1f s.",
            _describe(error),
            state.attempt_number,
            self.retry_policy.max_retries,
            wait,
        )

    def iter_pages(
        self,
        entity: str,
        *,
        filter: str | None = None,
        select: str | None = None,
        expand: str | None = None,
        custom: str | None = None,
        page_size: int = 1000,
        endpoint_version: str | None = None,
    ) -> Iterator[list[dict[str, Any]]]:
        """Pages of an entity list, each record once even while the data changes; one page in memory at a time.

        Pages overlap by a few records and are joined at a record id (`paging`, docs/exactness.md).
        """
        url = self.entity_url(entity, endpoint_version=endpoint_version)
        query = _drop_empty({"$filter": filter, "$select": select, "$expand": expand, "$custom": custom})
        missing = f"GET {entity} did not return a JSON array. Check the entity name and endpoint version."
        return self._paged(url, query, page_size, OffsetPlan.anchored, entity, _bare_array, missing)

    def _paged(
        self,
        url: str,
        query: dict[str, str],
        page_size: int,
        plan_for: Callable[[int], OffsetPlan],
        what: str,
        rows_of: Callable[[Any], list[dict[str, Any]] | None],
        missing: str,
    ) -> Iterator[list[dict[str, Any]]]:
        """`$top`/`$skip` until a short page: Acumatica has no next link and no total count."""
        _check_page_size(page_size)

        def fetch(request: PageRequest) -> list[dict[str, Any]]:
            rows = rows_of(self.request_json("GET", url, params={**query, **request.params}))
            if rows is None:
                raise MalformedResponseError(missing, http_status=200)
            return rows

        yield from serial_pages(fetch, Stitcher(plan_for(page_size), what, self.log))

    def iter_records(
        self,
        entity: str,
        *,
        filter: str | None = None,
        select: str | None = None,
        expand: str | None = None,
        custom: str | None = None,
        page_size: int = 1000,
        endpoint_version: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Records of an entity, as the API shapes them (wrapped values); see `unwrap`."""
        pages = self.iter_pages(
            entity,
            filter=filter,
            select=select,
            expand=expand,
            custom=custom,
            page_size=page_size,
            endpoint_version=endpoint_version,
        )
        for page in pages:
            yield from page

    def swagger(self, endpoint_version: str | None = None) -> dict[str, Any]:
        """The endpoint's swagger.json, fetched once per version for the life of the hook."""
        version = endpoint_version or self.settings.endpoint_version
        if version not in self._swagger:
            document = self.request_json("GET", self.entity_url("swagger.json", endpoint_version=version))
            if not isinstance(document, dict) or not ({"paths", "components"} & document.keys()):
                raise MalformedResponseError(
                    f"swagger.json of {self.settings.endpoint_name}/{version} is not an OpenAPI document.",
                    http_status=200,
                )
            self._swagger[version] = document
        return self._swagger[version]

    def entity_schema(self, entity: str, endpoint_version: str | None = None) -> EntitySchema:
        """The entity's fields as the endpoint's swagger.json types them; unknown names get close matches."""
        return EntitySchema.from_openapi(self.swagger(endpoint_version), entity)

    def discover_entities(self, endpoint_version: str | None = None) -> list[EntityInfo]:
        """Every top-level entity of the endpoint, classified as a record list or an inquiry form.

        Entities of `Default` come from the shipped map (generated from Acumatica's endpoint
        definition); any other entity costs one `GET {entity}?$top=1`, which an inquiry form answers
        with 500 `CannotOptimizeException`.
        """
        version = endpoint_version or self.settings.endpoint_version
        return classify(
            self.swagger(version), self.settings.endpoint_name, lambda entity: self._is_inquiry(entity, version)
        )

    def _is_inquiry(self, entity: str, version: str) -> bool:
        try:
            self.request_json("GET", self.entity_url(entity, endpoint_version=version), params={"$top": 1})
        except AcumaticaApiError as err:
            if err.http_status == 500 and CANNOT_OPTIMIZE in (err.exception_type or ""):
                return True
            if err.http_status not in {403, 500}:
                raise
            self.log.warning("%s could not be listed (%s); classified as a record entity.", entity, err)
        return False

    def custom_fields(self, entity: str, endpoint_version: str | None = None) -> CustomFields:
        """The entity's custom fields and user-defined attributes, from `GET {entity}/$adHocSchema`."""
        payload = self.request_json("GET", self.entity_url(entity, "$adHocSchema", endpoint_version=endpoint_version))
        return CustomFields.from_ad_hoc_schema(entity, payload)

    def read_inquiry(
        self,
        entity: str,
        result_field: str,
        parameters: dict[str, Any] | None = None,
        *,
        endpoint_version: str | None = None,
    ) -> list[dict[str, Any]]:
        """The result rows of an inquiry form: one `PUT {entity}?$expand={result_field}` with the parameters.

        Plain parameter values are wrapped as the API expects (`{"InventoryID": {"value": "X"}}`). The
        result array comes back whole: inquiries are not paged. A missing required parameter is the
        server's 422, its field errors passed on.
        """
        body = {name: _wrapped(value) for name, value in (parameters or {}).items()}
        url = self.entity_url(entity, endpoint_version=endpoint_version)
        payload = self.request_json("PUT", url, params={"$expand": result_field}, json=body)
        rows = payload.get(result_field) if isinstance(payload, dict) else None
        if not isinstance(rows, list):
            raise MalformedResponseError(
                f"PUT {entity}?$expand={result_field} returned no {result_field!r} array. Check that {entity} is an "
                "inquiry form and that this is its result array.",
                http_status=200,
            )
        return rows

    def iter_id_pages(
        self,
        entity: str,
        *,
        key_field: str | None = None,
        filter: str | None = None,
        page_size: int = 1000,
        endpoint_version: str | None = None,
        via: str = "contract",
    ) -> Iterator[list[str]]:
        """Pages of the ids of every live record: the records with only one short field, for a reconcile.

        `via="contract"` pages like `iter_pages` (overlapping pages joined at an id), so each record that
        exists for the whole listing is in it exactly once however records come and go meanwhile; `key_field`
        defaults to a short string field named like a key (`id_field`). `via="dac"` reads the `NoteID` of the
        entity's primary DAC over DAC-based OData, paged by key (`iter_dac_pages`): a fraction of the bytes,
        since the contract API adds `_links` to every record, but it needs a bearer token or HTTP Basic and
        lists every row of the DAC (the same as the entity's unless its screen shows a subset). `filter` is
        in the dialect of the interface used.
        """
        if via == "dac":
            yield from self._dac_id_pages(dac_of(entity, self.settings.endpoint_name), filter, page_size)
            return
        if via != "contract":
            raise AcumaticaConfigError(f"via must be 'contract' or 'dac', not {via!r}.")
        field = key_field or id_field(self.entity_schema(entity, endpoint_version))
        for page in self.iter_pages(
            entity, filter=filter, select=field, page_size=page_size, endpoint_version=endpoint_version
        ):
            yield [record["id"] for record in page]

    def _dac_id_pages(self, dac: str, filter: str | None, page_size: int) -> Iterator[list[str]]:
        if NOTE_ID not in self.dac_type(dac).edm_types:
            raise AcumaticaConfigError(
                f"The DAC {dac} has no {NOTE_ID} property, so its rows do not carry the contract records' ids. "
                "List the ids over the contract API (via='contract')."
            )
        for rows in self.iter_dac_pages(dac, filter=filter, select=NOTE_ID, page_size=page_size):
            yield [row[NOTE_ID] for row in rows]

    def iter_ids(
        self,
        entity: str,
        *,
        key_field: str | None = None,
        filter: str | None = None,
        page_size: int = 1000,
        endpoint_version: str | None = None,
        via: str = "contract",
    ) -> Iterator[str]:
        """The id (NoteID) of every live record of an entity; see `iter_id_pages`."""
        for page in self.iter_id_pages(
            entity,
            key_field=key_field,
            filter=filter,
            page_size=page_size,
            endpoint_version=endpoint_version,
            via=via,
        ):
            yield from page

    def inquiry_url(self, inquiry: str) -> str:
        tenant = self.settings.effective_tenant
        if not tenant:
            raise AcumaticaConfigError(
                "Generic inquiries need the tenant in the URL: set extra.tenant in the Acumatica connection."
            )
        return self.settings.url(f"t/{quote(tenant, safe='')}/api/odata/gi/{quote(inquiry, safe='')}")

    def iter_inquiry_pages(
        self,
        inquiry: str,
        *,
        filter: str | None = None,
        select: str | None = None,
        orderby: str | None = None,
        page_size: int = 1000,
    ) -> Iterator[list[dict[str, Any]]]:
        """Pages of a generic inquiry over OData v4, by plain `$top`/`$skip`: its rows have no id to join pages at."""
        url = self.inquiry_url(inquiry)
        query = _drop_empty({"$filter": filter, "$select": select, "$orderby": orderby})
        missing = (
            f"Generic inquiry {inquiry!r} returned no OData 'value' array. Check that it is published with "
            "'Expose via OData'."
        )
        return self._paged(url, query, page_size, OffsetPlan.plain, inquiry, _odata_rows, missing)

    def iter_inquiry(
        self,
        inquiry: str,
        *,
        filter: str | None = None,
        select: str | None = None,
        orderby: str | None = None,
        page_size: int = 1000,
    ) -> Iterator[dict[str, Any]]:
        """Rows of a generic inquiry, as plain OData values."""
        pages = self.iter_inquiry_pages(inquiry, filter=filter, select=select, orderby=orderby, page_size=page_size)
        for page in pages:
            yield from page

    def dac_url(self, dac: str, *path: str) -> str:
        """`t/{tenant}/api/odata/dac/{DAC}[/...]`, after checking the auth strategy can use DAC OData."""
        self._check_odata_auth()
        tenant = self.settings.effective_tenant
        if not tenant:
            raise AcumaticaConfigError(
                "DAC-based OData needs the tenant in the URL: set extra.tenant in the Acumatica connection."
            )
        parts = "/".join([quote(dac, safe="$"), *path]) if dac else ""
        return self.settings.url(f"t/{quote(tenant, safe='')}/api/odata/dac/{parts}")

    def _check_odata_auth(self) -> None:
        if self.settings.auth_type not in ODATA_AUTH_TYPES:
            raise AcumaticaConfigError(
                f"The DAC-based OData interface takes a bearer token or HTTP Basic, not the {self.settings.auth_type} "
                "strategy. Use an OAuth 2.0 strategy (oauth2_password, oauth2_client_credentials, "
                "oauth2_authorization_code; an API user) or basic (a conventional user, which takes no API seat)."
            )

    def dac_type(self, dac: str) -> DacType:
        """The DAC's keys and typed properties from `$metadata`, fetched and parsed once per hook."""
        if dac not in self._dac_types:
            response = self._dac_request(dac, self.dac_url("$metadata"), headers={"Accept": "application/xml"})
            stream = metadata_stream(response.content, response.headers.get("Content-Type", ""))
            self._dac_types[dac] = parse_metadata(stream, dac)
        return self._dac_types[dac]

    def iter_dac_pages(
        self,
        dac: str,
        *,
        filter: str | None = None,
        select: str | None = None,
        page_size: int = 1000,
    ) -> Iterator[list[dict[str, Any]]]:
        """Pages of a DAC's rows in key order, each row that stays in the table exactly once (`odata_dac`).

        `select` always gets the DAC's keys added: they page the pull.
        """
        _check_page_size(page_size)
        table = self.dac_type(dac)
        if not table.keys:
            raise AcumaticaConfigError(f"$metadata declares no key for the DAC {dac}, so it cannot be paged by key.")
        url = self.dac_url(dac)
        params = {"$orderby": ",".join(table.keys), "$top": page_size}
        if select:
            params["$select"] = ",".join(table.selected(select))
        types = table.edm_types
        last: dict[str, Any] | None = None
        while True:
            keyset = after_key(table.keys, types, last) if last else None
            query = _drop_empty({"$filter": combine_filters(filter, keyset)})
            rows = rows_of(self._dac_json(dac, url, params={**params, **query}), f"GET odata/dac/{dac}")
            check_page_length(rows, page_size, dac)
            if rows:
                yield rows
                last = rows[-1]
            if len(rows) < page_size:
                return

    def iter_deleted_pages(
        self, dac: str, since: datetime, until: datetime, *, page_size: int = 1000
    ) -> Iterator[list[dict[str, Any]]]:
        """Pages of `{"id": RefNoteID, "deleted_at": DeleteDate}` for deletions in (since, until], oldest first.

        Read from `{DAC}/px.GetDeletedRecords()` ordered by `(DeleteDate, RefNoteID)`. Each page after the
        first starts at the last deletion time seen (`DeleteDate ge`), skipping the rows of that instant
        already handed over, so entries purged by the retention meanwhile shift nothing. A DAC that is not
        on Tables to Track Deleted Records (SM207010) raises `AcumaticaDeletionsNotTrackedError`.
        """
        _check_page_size(page_size)
        url = self.dac_url(dac, DELETED_FUNCTION)
        window = window_filter("DeleteDate", since, until)
        params = {"$orderby": ",".join(DELETED_KEYS), "$top": page_size}
        last: str | None = None
        at_last = 0
        while True:
            resume = f"DeleteDate ge {last}" if last else None
            query = {**params, "$filter": combine_filters(window, resume), "$skip": at_last}
            rows = rows_of(self._deleted_json(dac, url, query), f"GET odata/dac/{dac}/{DELETED_FUNCTION}")
            check_page_length(rows, page_size, dac)
            if rows:
                yield list(deleted_rows(rows))
                newest = rows[-1]["DeleteDate"]
                ties = sum(1 for row in rows if row["DeleteDate"] == newest)
                at_last = at_last + ties if newest == last else ties
                last = newest
            if len(rows) < page_size:
                return

    def _deleted_json(self, dac: str, url: str, query: dict[str, Any]) -> Any:
        try:
            return self._dac_json(dac, url, params=query)
        except AcumaticaApiError as err:
            if err.http_status == 400 and "not tracked" in str(err).lower():
                known = self._dac_types.get(dac)
                raise not_tracked(dac, known.type_name if known else None, _server_said(err)) from None
            raise

    def iter_deleted(
        self, dac: str, since: datetime, until: datetime, *, page_size: int = 1000
    ) -> Iterator[dict[str, Any]]:
        """Deletions of a tracked DAC in (since, until]; see `iter_deleted_pages`."""
        for page in self.iter_deleted_pages(dac, since, until, page_size=page_size):
            yield from page

    def _dac_json(self, dac: str, url: str, **kwargs: Any) -> Any:
        response = self._dac_request(dac, url, **kwargs)
        return _parse_json(response, "GET", url)

    def _dac_request(self, dac: str, url: str, **kwargs: Any) -> requests.Response:
        """A DAC OData GET; a 403 says which rights the user lacks."""
        try:
            return self.request("GET", url, **kwargs)
        except AcumaticaApiError as err:
            if err.http_status != 403:
                raise
            raise AcumaticaConfigError(
                f"The user of connection {self.acumatica_conn_id} may not read {dac or 'the DAC interface'} over "
                "DAC-based OData (HTTP 403). Give the user the OData4 User role on Users (SM201010) and access "
                f"rights to the forms that show this DAC. The server said: {_server_said(err)}"
            ) from None

    unwrap = staticmethod(unwrap_record)

    def list_endpoints(self) -> list[dict[str, Any]]:
        """The web service endpoints the instance publishes (both old and new response shapes)."""
        payload = self.request_json("GET", "entity")
        endpoints = payload.get("endpoints", []) if isinstance(payload, dict) else payload
        return [item for item in endpoints if isinstance(item, dict)]

    def test_connection(self) -> tuple[bool, str]:
        """Sign in, make one cheap call, sign out. Never raises; the message carries no secret."""
        try:
            with self:
                endpoints = self.list_endpoints()
                ok, message = self._describe_endpoint(endpoints)
                if ok:
                    self._prove_credentials()
                return ok, message
        except AcumaticaError as err:
            return False, self._scrub(str(err))
        except Exception as err:
            return False, self._scrub(f"{type(err).__name__}: {err}")

    def _prove_credentials(self) -> None:
        """`GET /entity` answers without authentication, so API keys and Basic credentials are proven only
        by a call that needs them; a 403 or 404 there still means the credentials were accepted."""
        try:
            self.request("GET", self.entity_url(CREDENTIALS_PROBE_ENTITY), params={"$top": "1"})
        except AcumaticaApiError as err:
            if err.http_status not in {403, 404}:
                raise

    def _describe_endpoint(self, endpoints: list[dict[str, Any]]) -> tuple[bool, str]:
        wanted = (self.settings.endpoint_name, self.settings.endpoint_version)
        published = {(str(e.get("name")), str(e.get("version"))) for e in endpoints}
        if wanted in published:
            return (
                True,
                f"Signed in with {self.settings.auth_type}; endpoint {wanted[0]}/{wanted[1]} is available.",
            )
        available = ", ".join(sorted(f"{n}/{v}" for n, v in published)) or "none"
        return False, (
            f"Signed in with {self.settings.auth_type}, but endpoint {wanted[0]}/{wanted[1]} is not published "
            f"on this instance. Available: {available}. Set endpoint_name/endpoint_version in the connection."
        )

    def _scrub(self, text: str) -> str:
        try:
            settings = self.settings
        except AcumaticaError:
            return text
        return scrub(text, (settings.password, settings.client_secret, settings.refresh_token))

    def stats(self) -> dict[str, Any]:
        """Counters of this hook's calls and sessions (no secrets), e.g. for a task's manifest."""
        return {**asdict(self.call_stats), **asdict(self.auth.stats)}


CREDENTIALS_PROBE_ENTITY = "Currency"


def id_field(schema: EntitySchema) -> str:
    """A short field to `$select` beside `id`: `{Entity}ID`, a document number (`OrderNbr`), another `...ID`."""
    values = [f for f in schema.fields if f.name not in {"id", "rowNumber", "note"} and f.schema is None]
    strings = [f for f in values if f.type is FieldType.STRING]
    for candidates in (
        [f for f in strings if f.name == f"{schema.name}ID"],
        [f for f in strings if f.name.endswith("Nbr")],
        [f for f in strings if f.name.endswith("ID")],
        values,
    ):
        if candidates:
            return candidates[0].name
    raise AcumaticaConfigError(f"{schema.name} has no value field to select beside its id.")


def _server_said(err: AcumaticaApiError) -> str:
    """The server's own words in an API error, without the request line and the generic hint."""
    text = err.message.split(f"HTTP {err.http_status}: ", 1)[-1]
    return text.split(" The user lacks rights to this form", 1)[0]


def _wrapped(value: Any) -> Any:
    """A parameter as the contract API takes it: `{"value": x}`, unless it already is one."""
    if isinstance(value, dict) and "value" in value:
        return value
    return {"value": value}


def encode_query(params: dict[str, Any]) -> str:
    """Percent-encode query values with %20 for spaces and %2B for '+', which IIS reads unambiguously."""
    return urlencode({k: str(v) for k, v in params.items()}, quote_via=quote, safe=_QUERY_SAFE)


def _drop_empty(query: dict[str, str | None]) -> dict[str, str]:
    return {key: value for key, value in query.items() if value}


def _bare_array(payload: Any) -> list[dict[str, Any]] | None:
    return payload if isinstance(payload, list) else None


def _odata_rows(payload: Any) -> list[dict[str, Any]] | None:
    rows = payload.get("value") if isinstance(payload, dict) else None
    return rows if isinstance(rows, list) else None


def _check_page_size(page_size: int) -> None:
    if not isinstance(page_size, int) or page_size < 1:
        raise AcumaticaConfigError(f"page_size must be a positive whole number, not {page_size!r}.")


def _path_only(url: str) -> str:
    """The path plus the names (not values) of the query parameters, for logs and errors."""
    parts = urlsplit(url)
    names = sorted({pair.split("=", 1)[0] for pair in parts.query.split("&") if pair})
    return parts.path + (f" [{','.join(names)}]" if names else "")


def _parse_json(response: requests.Response, method: str, url: str) -> Any:
    try:
        return response.json()
    except ValueError:
        kind = _body_kind(response)
        raise MalformedResponseError(
            f"{method} {_path_only(url)} answered HTTP {response.status_code} with {kind} instead of JSON. "
            "If this persists, check that the host is the instance URL with its site path.",
            http_status=response.status_code,
        ) from None


def _body_kind(response: requests.Response) -> str:
    if "html" in response.headers.get("Content-Type", "").lower():
        return "an HTML page"
    if not response.content.strip():
        return "an empty body"
    return "a truncated or invalid JSON body"


def _describe(error: BaseException | None) -> str:
    if isinstance(error, AcumaticaError):
        return str(error).split(". ")[0]
    return type(error).__name__ if error else "unknown"
