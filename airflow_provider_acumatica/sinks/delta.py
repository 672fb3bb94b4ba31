"""Delta Lake tables that equal the ERP: one MERGE commit per interval, applied exactly once.

Each commit carries a Delta application transaction (app id per DAG and table, version = interval end in epoch
microseconds). Before merging, the table's recorded version for that app id is read; if it is already at or past
this interval, nothing is written. A concurrent writer that commits the same app id first makes delta-rs's
conflict check fail this commit (ConcurrentTransaction) rather than apply the interval twice. Upserts and deletes
travel in the same MERGE source (deleted ids are rows flagged `_acumatica_delete`), so one interval is one Delta
version and a failure leaves the previous version in place.

Types must match the table exactly (after Delta's own normalisation, e.g. any timestamp with a zone is Delta
`timestamp`); new columns are added as nullable in the same commit (`merge_schema=True`); a column missing from
the change set stays: updated rows keep their value, new rows get null. Null-typed columns (all values missing,
type unknown) carry nothing and are left out. Widening (int16 to int32, decimal precision) is refused on purpose:
readers of the lake would see a column change type under them; rebuild the table instead.

The metadata of the table's `id` column records the entity that wrote it (`acumatica.entity`); merging another
entity into it is refused. Not the Delta table `name`: delta-rs 1.6.6 drops name and description from the table
metadata when a MERGE evolves the schema, while column metadata survives.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from airflow_provider_acumatica.exceptions import AcumaticaConfigError, AcumaticaError
from airflow_provider_acumatica.masking import mask, scrub
from airflow_provider_acumatica.sinks.base import KEY_COLUMN, NOTE_PREFIX, ChangeSet, CommitId, MergeResult

INSTALL_HINT = "pip install 'airflow-provider-acumatica[lake]'"
try:
    import pyarrow as pa
    import pyarrow.compute as pc
except ImportError as missing:
    raise AcumaticaConfigError(f"Delta tables need pyarrow; install it with {INSTALL_HINT}.") from missing

if TYPE_CHECKING:
    from deltalake import CommitProperties, DeltaTable
    from deltalake.table import TableMerger

DELETE_FLAG = "_acumatica_delete"
REMOTE_SCHEMES = ("s3", "s3a", "gs", "az", "abfs", "abfss")
ENTITY_KEY = "acumatica.entity"
HISTORY_LIMIT = 2000
_SECRET_MARKERS = ("SECRET", "KEY", "TOKEN", "SAS", "PASSWORD")
JEMALLOC_CONF_VARIABLE = "_RJEM_MALLOC_CONF"
JEMALLOC_RETURN_FREED_PAGES = "dirty_decay_ms:0,muzzy_decay_ms:0"


def load_deltalake() -> ModuleType:
    """deltalake is an optional extra; without it, say how to install it instead of an ImportError.

    delta-rs allocates through its own jemalloc, which by default keeps freed pages for seconds: a merge's peak
    RSS then grows with every file it rewrites. Returning them at once (unless `_RJEM_MALLOC_CONF` says
    otherwise) keeps a worker's memory following the change set; it costs about 1 s per million rows rewritten.
    """
    os.environ.setdefault(JEMALLOC_CONF_VARIABLE, JEMALLOC_RETURN_FREED_PAGES)
    try:
        import deltalake
    except ImportError as error:
        raise AcumaticaConfigError(
            f"Delta tables need the deltalake package; install it with {INSTALL_HINT}."
        ) from error
    return deltalake


class DeltaSink:
    """Tables `{table_base}/{table}` on a local path or on s3://, gs://, az:// with delta-rs storage options."""

    def __init__(self, table_base: str, storage_options: dict[str, str] | None = None) -> None:
        self._deltalake = load_deltalake()
        self.table_base = table_base.rstrip("/")
        self._storage_options = dict(storage_options or {})
        self._secrets = tuple(
            value
            for key, value in self._storage_options.items()
            if any(part in key.upper() for part in _SECRET_MARKERS)
        )
        for secret in self._secrets:
            mask(secret)

    def table_uri(self, table: str) -> str:
        if not table or "/" in table or table in {".", ".."}:
            raise AcumaticaConfigError(
                f"Table name {table!r} is not a plain name; use the entity name, e.g. SalesOrder."
            )
        return f"{self.table_base}/{table}"

    def merge(self, table: str, changes: ChangeSet, commit: CommitId) -> MergeResult:
        """Upsert, delete and (in snapshot mode) drop unseen rows of `table` in one commit."""
        source = _flagged_source(changes)
        existing = self._open(table)
        if existing is None:
            return self._create(table, source.filter(pc.invert(source[DELETE_FLAG])), commit)
        done = self._already_committed(existing, table, commit)
        if done is not None:
            return done
        _check_types(existing, source, table)
        merger = self._merger(existing, source, table, commit)
        merger = merger.when_matched_delete(f"source.{DELETE_FLAG}")
        merger = merger.when_matched_update_all(_update_predicate(existing, changes.stamp_column), [DELETE_FLAG])
        merger = merger.when_not_matched_insert_all(f"NOT source.{DELETE_FLAG}", [DELETE_FLAG])
        if changes.mode == "snapshot":
            merger = merger.when_not_matched_by_source_delete()
        return self._execute(existing, merger, table, len(changes.records))

    def replace_children(
        self,
        child_table: str,
        lines: pa.Table,
        parent_ids: Sequence[str] | None,
        commit: CommitId,
        *,
        parent_column: str,
    ) -> MergeResult:
        """Lines of the given parents (None: of every parent) become exactly `lines`; other parents' lines stay."""
        if parent_column not in lines.column_names or KEY_COLUMN not in lines.column_names:
            raise AcumaticaConfigError(
                f"Child lines need an {KEY_COLUMN!r} and a {parent_column!r} column; select both for {child_table}."
            )
        source = _without_null_columns(lines)
        existing = self._open(child_table)
        if existing is None:
            return self._create(child_table, source, commit)
        done = self._already_committed(existing, child_table, commit)
        if done is not None:
            return done
        _check_types(existing, source, child_table)
        merger = self._merger(existing, source, child_table, commit)
        merger = merger.when_matched_update_all().when_not_matched_insert_all()
        if parent_ids is None:
            merger = merger.when_not_matched_by_source_delete()
        elif parent_ids:
            merger = merger.when_not_matched_by_source_delete(_in_list(f"target.{_quote(parent_column)}", parent_ids))
        return self._execute(existing, merger, child_table, len(lines))

    def _open(self, table: str) -> DeltaTable | None:
        uri = self.table_uri(table)
        _check_local_base(self.table_base)
        deltalake = self._deltalake
        try:
            if not deltalake.DeltaTable.is_deltatable(uri, storage_options=self._storage_options):
                return None
            delta_table: DeltaTable = deltalake.DeltaTable(uri, storage_options=self._storage_options)
        except (OSError, deltalake.exceptions.DeltaError) as error:
            raise AcumaticaError(f"Cannot read the Delta table at {uri}: {self._reason(error)}") from error
        owner = _owner(delta_table)
        if owner != table:
            raise AcumaticaConfigError(
                f"The Delta table at {uri} holds {owner or 'a table not written by this provider'}, not {table}; "
                f"point {table} at its own table path."
            )
        return delta_table

    def _create(self, table: str, source: pa.Table, commit: CommitId) -> MergeResult:
        uri = self.table_uri(table)
        rows = source.drop_columns([DELETE_FLAG]) if DELETE_FLAG in source.column_names else source
        _check_delta_types(rows.schema, table)
        rows = _stamped(rows, table)
        deltalake = self._deltalake
        try:
            deltalake.write_deltalake(
                uri,
                rows,
                mode="error",
                storage_options=self._storage_options,
                commit_properties=self._commit_properties(table, commit),
            )
        except (OSError, deltalake.exceptions.DeltaError) as error:
            raise AcumaticaError(
                f"Creating the Delta table at {uri} failed; nothing was committed: {self._reason(error)}"
            ) from error
        return MergeResult(version=0, inserted=len(rows))

    def _reason(self, error: Exception) -> str:
        """delta-rs errors may echo a URL or option; strip the secrets before the text reaches a log."""
        return scrub(str(error), self._secrets)

    def exists(self, table: str) -> bool:
        return self._open(table) is not None

    def read(self, table: str, columns: Sequence[str] | None = None) -> pa.Table | None:
        """Read through delta-rs's own engine: a pyarrow dataset scan can abort the process at exit (delta-rs#2184)."""
        existing = self._open(table)
        if existing is None:
            return None
        selected = ", ".join('"' + column.replace('"', '""') + '"' for column in columns) if columns else "*"
        query = self._deltalake.QueryBuilder().register("replica", existing)
        try:
            statement = f"SELECT {selected} FROM replica"  # noqa: S608 - identifiers quoted, no values
            return pa.table(query.execute(statement).read_all())
        except (OSError, self._deltalake.exceptions.DeltaError) as error:
            raise AcumaticaError(
                f"Cannot read the Delta table at {self.table_uri(table)}: {self._reason(error)}"
            ) from error

    def last_note(self, table: str, key: str) -> str | None:
        existing = self._open(table)
        if existing is None:
            return None
        for entry in existing.history(HISTORY_LIMIT):
            value = entry.get(f"{NOTE_PREFIX}{key}")
            if value is not None:
                return str(value)
        return None

    def _already_committed(self, existing: DeltaTable, table: str, commit: CommitId) -> MergeResult | None:
        """The app transaction holds the newest interval committed; an older one is looked up in the history.

        A late interval (a cleared old run, a backfill) that never committed is applied: its records carry older
        stamps, so they never overwrite newer rows, and the recorded version stays at the newest interval.
        """
        recorded = existing.transaction_version(commit.app_id(table))
        if recorded is None or recorded < commit.version:
            return None
        if recorded > commit.version and not self._in_history(existing, commit):
            return None
        return MergeResult(version=existing.version(), already_committed=True)

    def _in_history(self, existing: DeltaTable, commit: CommitId) -> bool:
        interval_end = commit.interval_end.isoformat()
        return any(
            entry.get("acumatica.dag_id") == commit.dag_id and entry.get("acumatica.interval_end") == interval_end
            for entry in existing.history(HISTORY_LIMIT)
        )

    def _merger(self, existing: DeltaTable, source: pa.Table, table: str, commit: CommitId) -> TableMerger:
        recorded = existing.transaction_version(commit.app_id(table)) or 0
        return existing.merge(
            source,
            f"target.{KEY_COLUMN} = source.{KEY_COLUMN}",
            source_alias="source",
            target_alias="target",
            merge_schema=True,
            commit_properties=self._commit_properties(table, commit, max(recorded, commit.version)),
        )

    def _commit_properties(self, table: str, commit: CommitId, version: int | None = None) -> CommitProperties:
        """Delta lets an app transaction's version go down; a late interval keeps the newest one recorded."""
        deltalake = self._deltalake
        properties: CommitProperties = deltalake.CommitProperties(
            app_transactions=[deltalake.Transaction(commit.app_id(table), version or commit.version)],
            custom_metadata=commit.metadata(),
        )
        return properties

    def _execute(self, existing: DeltaTable, merger: TableMerger, table: str, records: int) -> MergeResult:
        """The merged table object moves to the version it committed; reopening could see a later writer's."""
        uri = self.table_uri(table)
        try:
            metrics = merger.execute()
        except (OSError, self._deltalake.exceptions.DeltaError) as error:
            raise AcumaticaError(
                f"Merging into the Delta table at {uri} failed; nothing was committed: {self._reason(error)}"
            ) from error
        inserted = int(metrics["num_target_rows_inserted"])
        updated = int(metrics["num_target_rows_updated"])
        return MergeResult(
            version=existing.version(),
            inserted=inserted,
            updated=updated,
            deleted=int(metrics["num_target_rows_deleted"]),
            skipped_stale=max(records - inserted - updated, 0),
        )


def _stamped(rows: pa.Table, table: str) -> pa.Table:
    """Mark the key column with the entity, so a table can tell which entity it belongs to."""
    index = rows.schema.get_field_index(KEY_COLUMN)
    key = rows.schema.field(index).with_metadata({ENTITY_KEY: table})
    return rows.cast(rows.schema.set(index, key))


def _owner(existing: DeltaTable) -> str | None:
    for item in existing.schema().fields:
        if item.name == KEY_COLUMN:
            owner = item.metadata.get(ENTITY_KEY)
            return str(owner) if owner is not None else None
    return None


def _flagged_source(changes: ChangeSet) -> pa.Table:
    """Records and deleted ids in one table, so one MERGE applies both."""
    records = _without_null_columns(changes.records)
    records = records.append_column(DELETE_FLAG, pa.repeat(pa.scalar(False), len(records)))
    if not changes.deleted_ids:
        return records
    deletes = pa.table(
        {
            KEY_COLUMN: pa.array(list(changes.deleted_ids), records.schema.field(KEY_COLUMN).type),
            DELETE_FLAG: pa.repeat(pa.scalar(True), len(changes.deleted_ids)),
        }
    )
    return pa.concat_tables([records, deletes], promote_options="default")


def _without_null_columns(records: pa.Table) -> pa.Table:
    return records.drop_columns(
        [name for name in records.column_names if pa.types.is_null(records.schema.field(name).type)]
    )


def _update_predicate(existing: DeltaTable, stamp_column: str | None) -> str:
    """Matched rows are overwritten unless the record is older than the row (null stamps on either side overwrite)."""
    not_deleted = f"NOT source.{DELETE_FLAG}"
    if stamp_column is None or stamp_column not in _table_schema(existing).names:
        return not_deleted
    stamp = _quote(stamp_column)
    return f"{not_deleted} AND (target.{stamp} IS NULL OR source.{stamp} IS NULL OR source.{stamp} >= target.{stamp})"


def _table_schema(existing: DeltaTable) -> pa.Schema:
    return pa.schema(existing.schema().to_arrow())


def _delta_normalised(schema: pa.Schema) -> pa.Schema:
    """The Arrow schema as Delta stores it, so both sides compare in Delta's own types."""
    return pa.schema(load_deltalake().Schema.from_arrow(schema).to_arrow())


def _check_delta_types(schema: pa.Schema, table: str) -> None:
    """Delta has no unsigned integers; delta-rs would silently reinterpret them, so refuse before writing."""
    for item in schema:
        if _has_unsigned(item.type):
            raise AcumaticaConfigError(
                f"Column {item.name!r} of {table} has the unsigned type {item.type}, which Delta cannot store; "
                "cast it to a signed integer (e.g. int64) before merging."
            )


def _has_unsigned(value_type: pa.DataType) -> bool:
    if pa.types.is_unsigned_integer(value_type):
        return True
    if pa.types.is_struct(value_type):
        return any(_has_unsigned(value_type.field(index).type) for index in range(value_type.num_fields))
    if pa.types.is_list(value_type) or pa.types.is_large_list(value_type):
        return _has_unsigned(value_type.value_type)
    return False


def _check_types(existing: DeltaTable, source: pa.Table, table: str) -> None:
    """Refuse a type change before anything is written; Delta would fail mid-merge or cast silently."""
    _check_delta_types(source.schema, table)
    current = _table_schema(existing)
    incoming = _delta_normalised(source.schema)
    for item in incoming:
        if item.name == DELETE_FLAG or item.name not in current.names:
            continue
        expected = current.field(item.name).type
        if item.type != expected:
            raise AcumaticaConfigError(
                f"Column {item.name!r} of {table} is {expected} in the Delta table but {item.type} in the incoming "
                "records; nothing was written. Restore the column's type if another tool changed it, or rebuild the "
                "table under a new path if the field's type really changed."
            )


def _quote(column: str) -> str:
    return "`" + column.replace("`", "``") + "`"


def _in_list(expression: str, values: Sequence[str]) -> str:
    literals = ", ".join("'" + value.replace("'", "''") + "'" for value in values)
    return f"{expression} IN ({literals})"


def _check_local_base(table_base: str) -> None:
    """A local base must be a folder we can write, or creatable; say so before delta-rs writes half a table."""
    parsed = urlparse(table_base)
    if parsed.scheme in REMOTE_SCHEMES:
        return
    path = Path(parsed.path if parsed.scheme == "file" else table_base)
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise AcumaticaConfigError(
            f"The table base {table_base} cannot be used: {probe} is a file, not a folder; "
            "point table_base at a folder."
        )
    if not os.access(probe, os.W_OK | os.X_OK):
        raise AcumaticaConfigError(
            f"The table base {table_base} is not writable ({probe} denies this user); grant write access or pick "
            "another table_base."
        )
