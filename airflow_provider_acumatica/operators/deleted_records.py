"""`AcumaticaDeletedRecordsOperator`: the records deleted in a run's interval, as `{id, deleted_at}` rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow_provider_acumatica.catalog import dac_of
from airflow_provider_acumatica.exceptions import AcumaticaConfigError
from airflow_provider_acumatica.incremental import Window, window_from_context
from airflow_provider_acumatica.operators.to_file import AcumaticaToFileOperator, check_name
from airflow_provider_acumatica.output import EntitySchema, FieldType, SchemaField

DEFAULT_RETENTION_DAYS = 10
DELETIONS_SCHEMA = EntitySchema(
    "DeletedRecord",
    (
        SchemaField("id", FieldType.GUID, "RefNoteID"),
        SchemaField("deleted_at", FieldType.DATETIME, "DeleteDate"),
    ),
)


class AcumaticaDeletedRecordsOperator(AcumaticaToFileOperator):
    """Write the deletions of a DAC in the run's data interval (start, end] to one file.

    Name an `entity` (its primary DAC comes from the shipped map, e.g. SalesOrder -> SOOrder) or a
    `dac`. Each row is `{"id": RefNoteID, "deleted_at": DeleteDate}`; `id` is the contract record's
    `id`, so it joins the entity's extracts. The DAC must be on Tables to Track Deleted Records
    (SM207010), which keeps deletions for its Days to Keep Records (`retention_days`, default 10): a
    window that starts earlier may miss purged deletions, and a reconcile (`AcumaticaHook.iter_ids`)
    is then needed. A run without a data interval reads the last `retention_days` days.
    """

    template_fields: Sequence[str] = ("entity", "dac", "acumatica_conn_id", "output_path", "output_conn_id")

    def __init__(
        self,
        *,
        entity: str | None = None,
        dac: str | None = None,
        retention_days: float = DEFAULT_RETENTION_DAYS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if (entity is None) == (dac is None):
            raise AcumaticaConfigError("Name either entity (e.g. 'SalesOrder') or dac (e.g. 'SOOrder'), not both.")
        check_name("entity" if entity is not None else "dac", entity if entity is not None else dac)
        if isinstance(retention_days, bool) or not isinstance(retention_days, int | float) or retention_days <= 0:
            raise AcumaticaConfigError(
                f"retention_days must be a positive number of days (SM207010's Days to Keep Records), "
                f"not {retention_days!r}."
            )
        self.entity = entity
        self.dac = dac
        self.retention_days = retention_days

    def execute(self, context: Any) -> dict[str, Any]:
        with self.new_hook() as hook:
            dac = self.dac or dac_of(str(self.entity), hook.settings.endpoint_name)
            window = self._window(context)
            self._warn_if_purged(dac, window)
            self._lineage.update(namespace=hook.settings.base_url, source=f"odata/dac/{dac}/px.GetDeletedRecords()")
            pages = hook.iter_deleted_pages(dac, window.start, window.end, page_size=self.page_size)
            return self.land(
                pages, DELETIONS_SCHEMA, context, entity=self.entity, dac=dac, window=window, content="deletions"
            )

    def _window(self, context: Any) -> Window:
        window = window_from_context(context)
        if window is not None:
            return window
        now = datetime.now(UTC)
        self.log.info("No data interval: reading the deletions of the last %s days.", self.retention_days)
        return Window(now - timedelta(days=self.retention_days), now)

    def _warn_if_purged(self, dac: str, window: Window) -> None:
        horizon = datetime.now(UTC) - timedelta(days=self.retention_days)
        if window.start < horizon:
            self.log.warning(
                "The window of %s starts at %s, before the %s-day retention of deleted records (%s): deletions "
                "older than that may already be purged, so this file can miss some. Reconcile the table with a "
                "full id listing (AcumaticaHook.iter_ids) to find them.",
                dac,
                window.start.isoformat(),
                self.retention_days,
                horizon.isoformat(timespec="seconds"),
            )
