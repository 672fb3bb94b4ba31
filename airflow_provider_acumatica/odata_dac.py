"""The DAC-based OData v4 interface: `$metadata` read as a stream, key-ordered paging, deleted records.

DAC OData has no server-driven paging (no `@odata.nextLink`), and `$skip` offsets shift when rows
are inserted or deleted between two requests. Pages here are cut by key instead: `$orderby` of the
DAC's key properties and, after the first page, `$filter` on "key greater than the last row's key"
(for composite keys, the lexicographic `(k1 gt a) or (k1 eq a and k2 gt b)`). A row that stays in
the table is then read exactly once however others come and go; rows inserted behind the frontier
are left to the next run, rows deleted ahead of it are simply not read.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any
from xml.etree import ElementTree

from airflow_provider_acumatica.catalog import close_matches
from airflow_provider_acumatica.exceptions import AcumaticaConfigError, AcumaticaDeletionsNotTrackedError
from airflow_provider_acumatica.output.inquiry_schema import EDM_TYPES
from airflow_provider_acumatica.output.schema import EntitySchema, FieldType, SchemaField
from airflow_provider_acumatica.retry_policy import MalformedResponseError

_EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
DELETED_FUNCTION = "px.GetDeletedRecords()"
DELETED_KEYS = ("DeleteDate", "RefNoteID")
LAST_MODIFIED = "LastModifiedDateTime"
_BARE_TYPES = frozenset({"Edm.Guid", "Edm.DateTimeOffset", "Edm.Date", "Edm.Boolean"})
_NUMERIC_TYPES = frozenset(
    {"Edm.Decimal", "Edm.Double", "Edm.Single", "Edm.Byte", "Edm.Int16", "Edm.Int32", "Edm.Int64"}
)
SM207010_STEPS = (
    "1. Open Tables to Track Deleted Records (SM207010) as an administrator. "
    "2. Add the table {full} and save. "
    "3. Set Days to Keep Records (default 10) longer than the longest gap between two runs of this task. "
    "Deletions are recorded from then on; earlier ones are lost, so reconcile once with "
    "AcumaticaHook.iter_ids (a full id listing) to catch up."
)


@dataclass(frozen=True)
class DacType:
    """One DAC as `$metadata` declares it: the entity set, its qualified type, keys and typed properties."""

    entity_set: str
    type_name: str
    keys: tuple[str, ...]
    properties: tuple[tuple[str, str], ...]

    @property
    def edm_types(self) -> dict[str, str]:
        return dict(self.properties)

    def schema(self, select: str | None = None) -> EntitySchema:
        """Columns for the writers: every property, or the selected ones (keys always, they page the pull)."""
        wanted = self.selected(select)
        types = self.edm_types
        fields = tuple(SchemaField(name, EDM_TYPES.get(types[name], FieldType.STRING), types[name]) for name in wanted)
        return EntitySchema(self.entity_set, fields)

    def selected(self, select: str | None) -> list[str]:
        """The properties a `$select` names, in its order, plus any key it left out; unknown names are refused."""
        if not select or not select.strip() or select.strip() == "*":
            return [name for name, _ in self.properties]
        names = [part.strip() for part in select.split(",") if part.strip()]
        types = self.edm_types
        for name in names:
            if name not in types:
                hint = close_matches(name, types)
                raise AcumaticaConfigError(f"$select names {name!r}, which DAC {self.entity_set} does not have.{hint}")
        return names + [key for key in self.keys if key not in names]

    def has(self, name: str) -> bool:
        return name in self.edm_types


def parse_metadata(source: IO[bytes], dac: str) -> DacType:
    """The DAC's entity type from a `$metadata` document, read as a stream (real ones are about 20 MB).

    Only entity types whose name could be the DAC's are kept while reading; every other element is
    dropped as soon as it ends. The document comes from the connection's own instance; Python's expat
    refuses entity-expansion attacks.
    """
    short = dac.replace("_", ".").rsplit(".", 1)[-1]
    candidates: dict[str, DacType] = {}
    entity_sets: dict[str, str] = {}
    namespace = ""
    try:
        for event, element in ElementTree.iterparse(source, events=("start", "end")):  # noqa: S314 - see docstring
            if event == "start":
                if element.tag == f"{_EDM}Schema":
                    namespace = element.get("Namespace", "")
                continue
            if element.tag == f"{_EDM}EntityType" and element.get("Name") == short:
                qualified = f"{namespace}.{short}" if namespace else short
                candidates[qualified] = _entity_type(element, qualified)
            elif element.tag == f"{_EDM}EntitySet":
                entity_sets[element.get("Name", "")] = element.get("EntityType", "")
            if element.tag in (f"{_EDM}EntityType", f"{_EDM}ComplexType", f"{_EDM}EntityContainer", f"{_EDM}Schema"):
                element.clear()
    except ElementTree.ParseError as err:
        raise MalformedResponseError(
            f"The DAC OData $metadata is not a complete XML document ({err}): the response was cut off or is "
            "not EDMX. Run the task again; if it persists, check the instance URL and the tenant.",
            http_status=200,
        ) from None
    if dac not in entity_sets:
        raise AcumaticaConfigError(
            f"The DAC {dac!r} is not an entity set of the DAC-based OData interface on this tenant."
            f"{close_matches(dac, entity_sets)} DACs are named by class (SOOrder) or in full (PX_Objects_SO_SOOrder)."
        )
    found = candidates.get(entity_sets[dac])
    if found is None:
        raise MalformedResponseError(
            f"$metadata declares the entity set {dac} of type {entity_sets[dac]}, but no such entity type.",
            http_status=200,
        )
    return DacType(dac, found.type_name, found.keys, found.properties)


def _entity_type(element: ElementTree.Element, qualified: str) -> DacType:
    keys = tuple(ref.get("Name", "") for ref in element.iter(f"{_EDM}PropertyRef"))
    properties = tuple((p.get("Name", ""), p.get("Type", "")) for p in element.findall(f"{_EDM}Property"))
    return DacType("", qualified, keys, properties)


def metadata_stream(content: bytes, content_type: str) -> IO[bytes]:
    """The body of a `$metadata` response as a stream, after refusing an HTML page (a login or proxy page)."""
    head = content[:512].lstrip().lower()
    if "html" in content_type.lower() or head.startswith((b"<!doctype html", b"<html")):
        raise MalformedResponseError(
            "The DAC OData $metadata answered an HTML page instead of EDMX XML: the host is not the instance URL "
            "with its site path, or a proxy or sign-in page answered. Check the connection's host and tenant.",
            http_status=200,
        )
    if not head:
        raise MalformedResponseError("The DAC OData $metadata answered an empty body.", http_status=200)
    return io.BytesIO(content)


def literal(value: Any, edm_type: str) -> str:
    """An OData v4 URL literal of a value as the DAC interface returned it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if edm_type in _NUMERIC_TYPES or isinstance(value, int | float):
        return str(value)
    if edm_type in _BARE_TYPES:
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def after_key(keys: tuple[str, ...], types: Mapping[str, str], row: Mapping[str, Any]) -> str:
    """`$filter` for the rows after `row` in key order: `(k1 gt a) or (k1 eq a and k2 gt b)` ..."""
    terms: list[str] = []
    for position, key in enumerate(keys):
        equal = [f"{k} eq {literal(row[k], types[k])}" for k in keys[:position]]
        terms.append("(" + " and ".join([*equal, f"{key} gt {literal(row[key], types[key])}"]) + ")")
    return " or ".join(terms)


def window_filter(field: str, start: datetime, end: datetime) -> str:
    """`field gt start and field le end` with OData v4's bare DateTimeOffset literals."""
    return f"{field} gt {_instant(start)} and {field} le {_instant(end)}"


def _instant(moment: datetime) -> str:
    utc = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def rows_of(payload: Any, what: str) -> list[dict[str, Any]]:
    """The `value` array of an OData answer, without `@odata.*` annotations."""
    rows = payload.get("value") if isinstance(payload, dict) else None
    if not isinstance(rows, list):
        raise MalformedResponseError(f"{what} returned no OData 'value' array.", http_status=200)
    return [{k: v for k, v in row.items() if not k.startswith("@")} for row in rows if isinstance(row, dict)]


def not_tracked(dac: str, full_name: str | None, server_message: str) -> AcumaticaDeletionsNotTrackedError:
    return AcumaticaDeletionsNotTrackedError(
        f"Deletions of {dac} are not tracked on this tenant, so px.GetDeletedRecords() has nothing to give "
        f"(the server said: {server_message}). To track them: " + SM207010_STEPS.format(full=full_name or dac)
    )


def deleted_rows(rows: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for row in rows:
        yield {"id": row["RefNoteID"], "deleted_at": row["DeleteDate"]}
