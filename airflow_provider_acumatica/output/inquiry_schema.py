"""Column types of a generic inquiry, from the OData v4 `$metadata` document (EDMX/CSDL)."""

from __future__ import annotations

from xml.etree import ElementTree

from airflow_provider_acumatica.exceptions import AcumaticaConfigError
from airflow_provider_acumatica.output.schema import EntitySchema, FieldType, SchemaField

_EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
EDM_TYPES = {
    "Edm.String": FieldType.STRING,
    "Edm.Guid": FieldType.GUID,
    "Edm.Decimal": FieldType.DECIMAL,
    "Edm.Double": FieldType.DOUBLE,
    "Edm.Single": FieldType.DOUBLE,
    "Edm.Byte": FieldType.INT16,
    "Edm.Int16": FieldType.INT16,
    "Edm.Int32": FieldType.INT32,
    "Edm.Int64": FieldType.INT64,
    "Edm.Boolean": FieldType.BOOLEAN,
    "Edm.DateTimeOffset": FieldType.DATETIME,
    "Edm.DateTime": FieldType.DATETIME,
    "Edm.Date": FieldType.DATE,
}


def inquiry_schema(metadata_xml: str, inquiry: str) -> EntitySchema:
    """The schema of the entity set named `inquiry` (the inquiry's title, as in its OData URL).

    The document comes from the connection's own Acumatica instance; Python's expat refuses
    entity-expansion attacks, so the standard parser is safe here.
    """
    root = ElementTree.fromstring(metadata_xml)  # noqa: S314 - see docstring
    entity_sets = {e.get("Name"): e.get("EntityType", "") for e in root.iter(f"{_EDM}EntitySet")}
    if inquiry not in entity_sets:
        published = ", ".join(sorted(name for name in entity_sets if name)) or "none"
        raise AcumaticaConfigError(
            f"Generic inquiry {inquiry!r} is not published over OData on this tenant (published: {published}). "
            "Check its title and that 'Expose via OData' is ticked on Generic Inquiry (SM208000)."
        )
    type_name = entity_sets[inquiry].rpartition(".")[2]
    entity_type = next(e for e in root.iter(f"{_EDM}EntityType") if e.get("Name") == type_name)
    fields = tuple(
        SchemaField(
            name=p.get("Name", ""), type=EDM_TYPES.get(p.get("Type", ""), FieldType.STRING), source=p.get("Type", "")
        )
        for p in entity_type.iter(f"{_EDM}Property")
    )
    return EntitySchema(name=inquiry, fields=fields)
