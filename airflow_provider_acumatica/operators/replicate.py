"""`AcumaticaReplicateOperator`: one entity's changes and deletions merged into Delta tables that equal the ERP."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowSkipException, Asset, AssetAlias, BaseHook, BaseOperator

from airflow_provider_acumatica.catalog import EntityInfo, known_entity
from airflow_provider_acumatica.exceptions import AcumaticaApiError, AcumaticaConfigError
from airflow_provider_acumatica.hooks.acumatica import AcumaticaHook
from airflow_provider_acumatica.incremental import Window, explicit_window, window_from_context
from airflow_provider_acumatica.operators.deleted_records import DEFAULT_RETENTION_DAYS
from airflow_provider_acumatica.operators.replica_deletions import DeletionPolicy, check_deletion_mode
from airflow_provider_acumatica.operators.to_file import check_name, check_page_size, close_all, sigterm_signs_out
from airflow_provider_acumatica.records import unwrap_record

if TYPE_CHECKING:
    from airflow_provider_acumatica.output import EntitySchema
    from airflow_provider_acumatica.sinks import CommitId, DeltaSink, MergeResult

DEFAULT_RECONCILE_EVERY = timedelta(days=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class AcumaticaReplicateOperator(BaseOperator):
    """Keep `{table_base}/{entity}` a current copy of one entity: every live record once, deletions gone.

    A run pulls the records changed in its data interval (the entity's last-modified field, the same windows as
    `AcumaticaExtractOperator`) and merges them by `id` in one Delta commit, together with the interval's
    deletions (`deletes`: "tracked", "reconcile", "auto" or "none"; see `operators.replica_deletions`). A record
    older than the table's row never overwrites it. Each detail collection (`details`, default: all but attached
    files) goes to `{table_base}/{entity}__{detail}` with `parent_id`; a changed or deleted parent's lines are
    replaced as a set, committed just before the parent's table, so a retry after a failure between the two
    commits skips the lines (already committed) and commits the parent. An entity without a last-modified
    field, and a run without a data interval, takes a full snapshot: rows not seen are deleted. An inquiry form
    is read once per parameter set (`parameters`: a dict, or a list of them) and the table replaced by the rows
    of every set in one commit, so a set no longer listed loses its rows; with `skip_if_parameters_required`, a
    form read without parameters that the server says needs some (422) skips the task instead of failing it (a
    DAG that replicates every form of an endpoint).

    Every commit carries the run as a Delta application transaction: a retried or re-run interval that
    committed changes nothing, and a killed task leaves the table at its last version. One task per table at a
    time: map one task per entity and keep `max_active_runs=1`.
    """

    template_fields: Sequence[str] = (
        "entity",
        "table_base",
        "table_conn_id",
        "acumatica_conn_id",
        "endpoint_version",
        "window_start",
        "window_end",
        "parameters",
        "details",
    )
    ui_color = "#e8f4fd"

    def __init__(
        self,
        *,
        entity: str,
        table_base: str,
        table_conn_id: str | None = None,
        acumatica_conn_id: str = AcumaticaHook.default_conn_name,
        endpoint_version: str | None = None,
        deletes: str = "auto",
        reconcile_every: timedelta = DEFAULT_RECONCILE_EVERY,
        retention_days: float = DEFAULT_RETENTION_DAYS,
        details: Sequence[str] | None = None,
        parameters: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        window_start: str | None = None,
        window_end: str | None = None,
        page_size: int = 1000,
        skip_if_parameters_required: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_name("entity", entity)
        check_name("table_base", table_base)
        if not isinstance(reconcile_every, timedelta) or reconcile_every <= timedelta(0):
            raise AcumaticaConfigError(f"reconcile_every must be a positive timedelta, not {reconcile_every!r}.")
        if isinstance(retention_days, bool) or not isinstance(retention_days, int | float) or retention_days <= 0:
            raise AcumaticaConfigError(
                f"retention_days must be a positive number of days (SM207010's Days to Keep Records), "
                f"not {retention_days!r}."
            )
        if "{{" not in f"{window_start}{window_end}":
            explicit_window(window_start, window_end)
        self.entity = entity
        self.table_base = table_base
        self.table_conn_id = table_conn_id
        self.acumatica_conn_id = acumatica_conn_id
        self.endpoint_version = endpoint_version
        self.deletes = check_deletion_mode(deletes)
        self.reconcile_every = reconcile_every
        self.retention_days = retention_days
        self.details = details
        self.parameters = parameters
        self.window_start = window_start
        self.window_end = window_end
        self.page_size = check_page_size(page_size)
        self.skip_if_parameters_required = skip_if_parameters_required
        if not self.outlets:
            self.outlets = [AssetAlias(name=f"acumatica:{self.dag_id or 'no-dag'}.{self.task_id}")]
        self._hooks: list[AcumaticaHook] = []
        self._lineage: dict[str, Any] = {}

    def execute(self, context: Any) -> dict[str, Any]:
        hook = AcumaticaHook(self.acumatica_conn_id)
        self._hooks.append(hook)
        try:
            with sigterm_signs_out(self.on_kill):
                summary = self._replicate(hook, context)
        finally:
            close_all([hook])
        self._emit_asset_events(context, summary)
        return summary

    def on_kill(self) -> None:
        """Sign out, so a killed task holds no API seat; an unfinished Delta commit is simply never written."""
        close_all(self._hooks, terminate=True)

    def _replicate(self, hook: AcumaticaHook, context: Any) -> dict[str, Any]:
        version = self.endpoint_version or hook.settings.endpoint_version
        schema = hook.entity_schema(self.entity, version)
        self._lineage["source"] = (hook.settings.base_url, f"{hook.settings.endpoint_name}/{version}/{self.entity}")
        sink = self._sink()
        inquiry = self._inquiry(hook, schema)
        window = explicit_window(self.window_start, self.window_end) or window_from_context(context)
        started = datetime.now(UTC)
        if inquiry is not None:
            commit = _commit(context, self.dag_id, window, started)
            tables = self._replace_inquiry(hook, sink, schema, inquiry, commit, version)
            return self._summary(sink, window, "snapshot", tables)
        stamp = schema.last_modified_field()
        if window is not None and stamp is None:
            self.log.info("%s has no last-modified field: every run takes a full snapshot.", self.entity)
        incremental = window if stamp is not None else None
        commit = _commit(context, self.dag_id, window, started)
        from airflow_provider_acumatica.operators.replica_records import Pull, RecordReplication, chosen_details

        custom = hook.custom_fields(self.entity, version)
        pull = Pull(
            schema,
            version,
            chosen_details(schema, self.details),
            self.page_size,
            {**custom.fields, **custom.attributes},
        )
        policy = DeletionPolicy(self.deletes, timedelta(days=self.retention_days), self.reconcile_every)
        mode, tables = RecordReplication(hook, sink, pull, self.log).run(incremental, stamp, commit, policy)
        return self._summary(sink, incremental, mode, tables)

    def _sink(self) -> DeltaSink:
        from airflow_provider_acumatica.sinks import DeltaSink, storage_options_from_connection

        options = None
        if self.table_conn_id:
            options = storage_options_from_connection(BaseHook.get_connection(self.table_conn_id))
        sink = DeltaSink(self.table_base, options)
        sink.table_uri(self.entity)
        return sink

    def _inquiry(self, hook: AcumaticaHook, schema: EntitySchema) -> EntityInfo | None:
        known = known_entity(hook.settings.endpoint_name, self.entity)
        if known is not None and known.is_inquiry:
            return known
        if self.parameters is None:
            return None
        if known is not None:
            raise AcumaticaConfigError(
                f"{self.entity} is a record entity: parameters apply only to inquiry forms; leave them out."
            )
        results = [f.name for f in schema.details if f.name != "files"]
        if len(results) != 1:
            raise AcumaticaConfigError(
                f"{self.entity} is not in the map of the Default endpoint and has {len(results)} result arrays "
                f"({', '.join(results) or 'none'}), so it cannot be read as an inquiry form with one."
            )
        return EntityInfo(self.entity, "inquiry", details=tuple(results), result_field=results[0])

    def _replace_inquiry(
        self,
        hook: AcumaticaHook,
        sink: DeltaSink,
        schema: EntitySchema,
        inquiry: EntityInfo,
        commit: CommitId,
        version: str,
    ) -> dict[str, MergeResult]:
        import pyarrow as pa

        from airflow_provider_acumatica.sinks.records import PARAMETERS_COLUMN, inquiry_rows, parameter_key

        result_field = str(inquiry.result_field)
        member = schema.get(result_field)
        if member is None or member.schema is None:
            raise AcumaticaConfigError(f"{self.entity} has no result array {result_field!r} in swagger.json.")
        snapshots = []
        distinct_sets = {parameter_key(parameters): parameters for parameters in _parameter_sets(self.parameters)}
        for parameters in distinct_sets.values():
            rows = self._read_inquiry(hook, result_field, parameters, version)
            table = inquiry_rows(map(unwrap_record, rows), member.schema, parameters, commit.interval_end)
            self.log.info("Inquiry %s, parameter set %s: %s rows.", self.entity, sorted(parameters), len(table))
            snapshots.append(table)
        every_set = pa.concat_tables(snapshots)
        result = sink.replace_children(self.entity, every_set, None, commit, parent_column=PARAMETERS_COLUMN)
        return {self.entity: result}

    def _read_inquiry(
        self, hook: AcumaticaHook, result_field: str, parameters: Mapping[str, Any], version: str
    ) -> list[dict[str, Any]]:
        """The form's rows; a form that needs parameters nobody gave is skipped when the DAG says so (422)."""
        try:
            return hook.read_inquiry(self.entity, result_field, dict(parameters), endpoint_version=version)
        except AcumaticaApiError as error:
            if error.http_status != 422 or self.parameters is not None or not self.skip_if_parameters_required:
                raise
            raise AirflowSkipException(
                f"{self.entity} needs parameters to be read ({error}); give it parameter sets "
                "(parameters=[{field: value}, ...]) to replicate it."
            ) from None

    def _summary(
        self, sink: DeltaSink, window: Window | None, mode: str, tables: Mapping[str, MergeResult]
    ) -> dict[str, Any]:
        table_summaries = {name: _table_summary(sink.table_uri(name), result) for name, result in tables.items()}
        summary = {
            "entity": self.entity,
            "window": window.to_dict() if window else None,
            "deletes": mode,
            "tables": table_summaries,
        }
        self._lineage["outputs"] = [sink.table_uri(name) for name in tables]
        for name, table in table_summaries.items():
            self.log.info(
                "%s: version %s, %s inserted, %s updated, %s deleted%s.",
                name,
                table["version"],
                table["inserted"],
                table["updated"],
                table["deleted"],
                " (this interval was committed before: nothing changed)" if table["already_committed"] else "",
            )
        return summary

    def _emit_asset_events(self, context: Any, summary: dict[str, Any]) -> None:
        events = context.get("outlet_events") if hasattr(context, "get") else None
        if events is None:
            return
        for name, table in summary["tables"].items():
            extra = _flat_extra(summary, name, table)
            for outlet in self.outlets:
                if isinstance(outlet, AssetAlias):
                    events[outlet].add(Asset(uri=asset_uri(table["uri"])), extra=extra)
                elif isinstance(outlet, Asset) and outlet.uri == asset_uri(table["uri"]):
                    events[outlet].extra.update(extra)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Input: the Acumatica entity; outputs: the Delta tables (OpenLineage installed only)."""
        from urllib.parse import urlparse

        from airflow.providers.common.compat.openlineage.facet import Dataset
        from airflow.providers.openlineage.extractors import OperatorLineage

        namespace, name = self._lineage["source"]
        outputs = []
        for uri in self._lineage.get("outputs", []):
            parsed = urlparse(uri)
            if "://" in uri:
                outputs.append(Dataset(namespace=f"{parsed.scheme}://{parsed.netloc}", name=parsed.path.lstrip("/")))
            else:
                outputs.append(Dataset(namespace="file", name=str(Path(uri).resolve())))
        return OperatorLineage(inputs=[Dataset(namespace=namespace, name=name)], outputs=outputs)


def asset_uri(table_uri: str) -> str:
    """A table's asset: its object-store URI, or a `file://` URI for a local path."""
    if "://" in table_uri:
        return table_uri
    return Path(table_uri).resolve().as_uri()


def _commit(context: Any, dag_id: str | None, window: Window | None, started: datetime) -> CommitId:
    """The run and interval a commit records; a full snapshot stands for the state when the pull started."""
    from airflow_provider_acumatica.sinks import CommitId

    run_id = str(context.get("run_id") or f"manual__{started.isoformat()}")
    start, end = (window.start, window.end) if window else (_EPOCH, started)
    return CommitId(dag_id=dag_id or "no-dag", run_id=run_id, interval_start=start, interval_end=end)


def _parameter_sets(parameters: Any) -> list[Mapping[str, Any]]:
    if parameters is None:
        return [{}]
    sets = [parameters] if isinstance(parameters, Mapping) else parameters
    if not isinstance(sets, Sequence) or isinstance(sets, str) or not all(isinstance(s, Mapping) for s in sets):
        raise AcumaticaConfigError(
            "parameters must be a dict of inquiry field -> value, or a list of such dicts (one snapshot each), "
            f"not {parameters!r}."
        )
    if not sets:
        raise AcumaticaConfigError("parameters is an empty list; give at least one parameter set, or leave it out.")
    return list(sets)


def _table_summary(uri: str, result: MergeResult) -> dict[str, Any]:
    return {
        "uri": uri,
        "version": result.version,
        "inserted": result.inserted,
        "updated": result.updated,
        "deleted": result.deleted,
        "skipped_stale": result.skipped_stale,
        "already_committed": result.already_committed,
    }


def _flat_extra(summary: Mapping[str, Any], name: str, table: Mapping[str, Any]) -> dict[str, Any]:
    """Airflow 3.0 hashes alias event extras, so no nested values."""
    window = summary["window"] or {}
    return {
        "entity": summary["entity"],
        "table": name,
        "deletes": summary["deletes"],
        "window_start": window.get("start"),
        "window_end": window.get("end"),
        **{key: value for key, value in table.items() if key != "uri"},
    }
