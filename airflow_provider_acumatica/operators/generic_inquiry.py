"""`AcumaticaGenericInquiryOperator`: one generic inquiry over OData v4, streamed into one file."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_acumatica.hooks.acumatica import AcumaticaHook
from airflow_provider_acumatica.operators.to_file import AcumaticaToFileOperator, check_name
from airflow_provider_acumatica.output import EntitySchema
from airflow_provider_acumatica.output.inquiry_schema import inquiry_schema


class AcumaticaGenericInquiryOperator(AcumaticaToFileOperator):
    """Extract a generic inquiry (`$filter`, `$select`, `$orderby`) to JSON Lines, CSV or Parquet.

    The inquiry is named by its title as published with "Expose via OData"; rows are paged with
    `$top`/`$skip`, ordered by `orderby` (default: the inquiry's key fields). Parquet and CSV take
    their columns from the inquiry's `$metadata`. Templating `filter` with the data interval gives
    incremental pulls, e.g. `LastModifiedDateTime gt {{ data_interval_start.isoformat() }}`.
    """

    template_fields: Sequence[str] = (
        "inquiry",
        "acumatica_conn_id",
        "filter",
        "select",
        "orderby",
        "output_path",
        "output_conn_id",
    )

    def __init__(
        self,
        *,
        inquiry: str,
        filter: str | None = None,
        select: str | None = None,
        orderby: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_name("inquiry", inquiry)
        self.inquiry = inquiry
        self.filter = filter
        self.select = select
        self.orderby = orderby

    def execute(self, context: Any) -> dict[str, Any]:
        with self.new_hook() as hook:
            schema = self._schema(hook)
            self._lineage.update(namespace=hook.settings.base_url, source=f"odata/gi/{self.inquiry}")
            pages = hook.iter_inquiry_pages(
                self.inquiry, filter=self.filter, select=self.select, orderby=self.orderby, page_size=self.page_size
            )
            return self.land(pages, schema, context, inquiry=self.inquiry)

    def _schema(self, hook: AcumaticaHook) -> EntitySchema:
        """Columns from `$metadata`; this also checks the inquiry is published before paging starts."""
        metadata = hook.request("GET", hook.inquiry_url("$metadata"), headers={"Accept": "application/xml"})
        schema = inquiry_schema(metadata.text, self.inquiry)
        if not self.select:
            return schema
        wanted = [name.strip() for name in self.select.split(",")]
        return EntitySchema(
            name=schema.name, fields=tuple(f for name in wanted for f in schema.fields if f.name == name)
        )
