"""`AcumaticaExtractOperator`: one contract-based entity, streamed page by page into one file."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_acumatica.catalog import DEFAULT_ENDPOINT, EntityInfo, known_entity
from airflow_provider_acumatica.catalog.discovery import detail_names
from airflow_provider_acumatica.exceptions import AcumaticaConfigError
from airflow_provider_acumatica.hooks.acumatica import AcumaticaHook
from airflow_provider_acumatica.incremental import (
    AUTO,
    check_field_name,
    combine_filters,
    explicit_window,
    window_from_context,
)
from airflow_provider_acumatica.operators.partitions import PageStream, check_parallelism
from airflow_provider_acumatica.operators.to_file import (
    AcumaticaToFileOperator,
    check_name,
    close_all,
    flattened,
    warn_if_open,
)
from airflow_provider_acumatica.output import EntitySchema
from airflow_provider_acumatica.paging import FetchPage, OffsetPlan, Page, PageRequest, Stitcher
from airflow_provider_acumatica.records import unwrap_record
from airflow_provider_acumatica.retry_policy import MalformedResponseError

_SCHEMA_FORMATS = frozenset({"csv", "parquet"})


class AcumaticaExtractOperator(AcumaticaToFileOperator):
    """Extract an entity (`$filter`, `$select`, `$expand`, `$custom`) to JSON Lines, CSV or Parquet.

    An inquiry form (e.g. InventorySummaryInquiry) is read with one PUT: `parameters` (field -> value,
    templated) go in its body, and the rows of its result array are the records; the manifest records
    the parameters. Its result is not paged, so `incremental_field`, `parallelism`, `filter` and the
    other list options are refused for it.

    With `incremental_field` (a field name, or "auto" for the entity's last-modified field) the run
    pulls `field gt data_interval_start and field le data_interval_end`, so consecutive runs neither
    miss nor repeat a record; a run without a data interval pulls everything. `window_start` and
    `window_end` (ISO 8601 text, templated, both or neither) replace the data interval, for runs that
    pull "since the last pull" (an event-driven DAG). Memory holds a few pages.
    The file appears at `output_path` only when complete, and the task returns a manifest.

    `parallelism` k pulls the pages on k sessions at once (k API seats, each signed out at the end)
    and writes them in the serial order, so the file is the one a serial pull would give; see
    `operators.partitions`. Pages overlap by a few records and are joined at a record id, so a record
    that stays in the window for the whole pull is written exactly once however the data changes
    meanwhile (`paging`, docs/exactness.md).
    """

    template_fields: Sequence[str] = (
        "entity",
        "acumatica_conn_id",
        "endpoint_version",
        "filter",
        "select",
        "expand",
        "custom",
        "incremental_field",
        "window_start",
        "window_end",
        "parameters",
        "output_path",
        "output_conn_id",
    )

    def __init__(
        self,
        *,
        entity: str,
        endpoint_version: str | None = None,
        filter: str | None = None,
        select: str | None = None,
        expand: str | None = None,
        custom: str | None = None,
        incremental_field: str | None = None,
        parallelism: int = 1,
        parameters: dict[str, Any] | None = None,
        window_start: str | None = None,
        window_end: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_name("entity", entity)
        self.window_start = window_start
        self.window_end = window_end
        if "{{" not in f"{window_start}{window_end}":
            explicit_window(window_start, window_end)
        self.parallelism = check_parallelism(parallelism)
        if incremental_field is not None:
            check_field_name(incremental_field)
        self.entity = entity
        self.endpoint_version = endpoint_version
        self.filter = filter
        self.select = select
        self.expand = expand
        self.custom = custom
        self.incremental_field = incremental_field
        self.parameters = parameters
        known = known_entity(DEFAULT_ENDPOINT, entity)
        if known is not None and known.is_inquiry and "{{" not in entity:
            self._refuse_list_options(known)

    def execute(self, context: Any) -> dict[str, Any]:
        hooks = [self.new_hook() for _ in range(self.parallelism)]
        try:
            inquiry = self._inquiry(hooks[0])
            if inquiry is not None:
                return self._read_inquiry(hooks[0], inquiry, context)
            return self._extract(hooks, context)
        finally:
            close_all(hooks)

    def _inquiry(self, hook: AcumaticaHook) -> EntityInfo | None:
        """The entity as an inquiry form, or None for a record entity (whose name swagger.json then checks)."""
        if self.parameters is not None and not isinstance(self.parameters, dict):
            raise AcumaticaConfigError(
                f"parameters must be a dict of inquiry field -> value, e.g. {{'InventoryID': 'AALEGO500'}}, "
                f"not {self.parameters!r}."
            )
        version = self.endpoint_version or hook.settings.endpoint_version
        known = known_entity(hook.settings.endpoint_name, self.entity)
        if known is None:
            schema = hook.entity_schema(self.entity, version)
            if self.parameters is None:
                return None
            details = detail_names(schema)
            if len(details) != 1:
                raise AcumaticaConfigError(
                    f"{self.entity} is not in the map of the Default endpoint and has {len(details)} result arrays "
                    f"({', '.join(details) or 'none'}), so it cannot be read as an inquiry form with one."
                )
            known = EntityInfo(self.entity, "inquiry", details=details, result_field=details[0])
        if not known.is_inquiry:
            if self.parameters is not None:
                raise AcumaticaConfigError(
                    f"{self.entity} is a record entity: parameters apply only to inquiry forms. Use filter instead."
                )
            return None
        self._refuse_list_options(known)
        return known

    def _refuse_list_options(self, inquiry: EntityInfo) -> None:
        """An inquiry's result comes back whole from one PUT: nothing to window, filter or split."""
        given = [
            name
            for name, value in (
                ("incremental_field", self.incremental_field),
                ("parallelism > 1", self.parallelism > 1 or None),
                ("filter", self.filter),
                ("select", self.select),
                ("expand", self.expand),
                ("custom", self.custom),
            )
            if value
        ]
        if given:
            raise AcumaticaConfigError(
                f"{inquiry.name} is an inquiry form: one PUT returns its whole {inquiry.result_field} array, so "
                f"{', '.join(given)} cannot apply. Narrow the result with parameters={{field: value}} instead."
            )

    def _read_inquiry(self, hook: AcumaticaHook, inquiry: EntityInfo, context: Any) -> dict[str, Any]:
        version = self.endpoint_version or hook.settings.endpoint_version
        result = str(inquiry.result_field)
        schema = None
        if self.output_format in _SCHEMA_FORMATS:
            member = hook.entity_schema(self.entity, version).get(result)
            schema = member.schema if member is not None else None
        self._lineage.update(
            namespace=hook.settings.base_url, source=f"{hook.settings.endpoint_name}/{version}/{self.entity}"
        )
        parameters = dict(self.parameters or {})
        self.log.info("Reading inquiry %s (%s) with parameters %s.", self.entity, result, sorted(parameters))
        rows = hook.read_inquiry(self.entity, result, parameters, endpoint_version=version)
        pages = iter([rows[start : start + self.page_size] for start in range(0, len(rows), self.page_size)])
        records = flattened(pages, unwrap_record) if self.flatten else pages
        return self.land(records, schema, context, entity=self.entity, endpoint_version=version, parameters=parameters)

    def _extract(self, hooks: list[AcumaticaHook], context: Any) -> dict[str, Any]:
        hook = hooks[0]
        version = self.endpoint_version or hook.settings.endpoint_version
        full_schema = self._full_schema(hook, version)
        schema = full_schema.restrict(self.select, self.expand) if full_schema else None
        window, query_filter = self._window_filter(context, full_schema, version)
        self._lineage.update(
            namespace=hook.settings.base_url, source=f"{hook.settings.endpoint_name}/{version}/{self.entity}"
        )
        query = {"$filter": query_filter, "$select": self.select, "$expand": self.expand, "$custom": self.custom}
        fetchers = [self._page_fetcher(each, version, query) for each in hooks]
        stitcher = Stitcher(OffsetPlan.anchored(self.page_size), self.entity, self.log)
        with PageStream(fetchers, stitcher) as pages:
            records = flattened(pages, unwrap_record) if self.flatten else pages
            return self.land(records, schema, context, entity=self.entity, endpoint_version=version, window=window)

    def _page_fetcher(self, hook: AcumaticaHook, version: str, query: dict[str, str | None]) -> FetchPage:
        """One `$top`/`$skip` request of the list on this hook's session, exactly as a serial pull asks it."""
        url = hook.entity_url(self.entity, endpoint_version=version)
        params: dict[str, Any] = {name: value for name, value in query.items() if value}

        def fetch(request: PageRequest) -> Page:
            page = hook.request_json("GET", url, params={**params, **request.params})
            if not isinstance(page, list):
                raise MalformedResponseError(
                    f"GET {self.entity} returned {type(page).__name__} instead of a JSON array. Check the entity "
                    "name and endpoint version.",
                    http_status=200,
                )
            return page

        return fetch

    def _full_schema(self, hook: AcumaticaHook, version: str) -> EntitySchema | None:
        """The entity's fields from swagger.json, fetched only when a format or `auto` needs them."""
        if self.output_format not in _SCHEMA_FORMATS and self.incremental_field != AUTO:
            return None
        return hook.entity_schema(self.entity, version)

    def _window_filter(self, context: Any, schema: EntitySchema | None, version: str) -> tuple[Any, str | None]:
        if self.incremental_field is None:
            return None, self.filter
        window = explicit_window(self.window_start, self.window_end) or window_from_context(context)
        if window is None:
            self.log.info("No data interval (a manual or asset-triggered run): pulling all of %s.", self.entity)
            return None, self.filter
        field = self._resolve_field(schema)
        self.log.info("Pulling %s with %s in (%s, %s].", self.entity, field, window.start, window.end)
        warn_if_open(self.log, self.entity, window)
        return window, combine_filters(self.filter, window.filter(field, version))

    def _resolve_field(self, schema: EntitySchema | None) -> str:
        if self.incremental_field != AUTO:
            return str(self.incremental_field)
        field = schema.last_modified_field() if schema else None
        if field is None:
            raise AcumaticaConfigError(
                f"{self.entity} has no LastModifiedDateTime, LastModified or LastModifiedDate field, so "
                "incremental_field='auto' cannot pick one. Name a date field, or pull it in full "
                "(incremental_field=None)."
            )
        return field
