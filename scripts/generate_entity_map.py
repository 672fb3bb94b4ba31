"""Generate `airflow_provider_acumatica/catalog/default_entities.json` from the official endpoint data.

The input is `shared/data/default-24.200.001-entity-map.csv` (derived from Acumatica's endpoint
definition of Default/24.200.001), cross-checked against the official swagger.json of the same
endpoint: every entity must be a top-level path there, and its detail collections must be the
swagger's array properties. Nothing is typed by hand, so regenerating is the only way to change it.

    python scripts/generate_entity_map.py [--csv PATH] [--openapi PATH] [--output PATH]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
DEFAULT_CSV = SHARED_DATA / "default-24.200.001-entity-map.csv"
DEFAULT_OPENAPI = SHARED_DATA / "openapi" / "Default_24.200.001.json"
DEFAULT_OUTPUT = ROOT / "airflow_provider_acumatica" / "catalog" / "default_entities.json"
_REF_PREFIX = "#/components/schemas/"


def build(csv_path: Path, openapi_path: Path) -> dict[str, Any]:
    """The map as JSON-ready data: the endpoint it was generated from and one entry per entity."""
    document = json.loads(openapi_path.read_text(encoding="utf-8"))
    with csv_path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    listed = {path.strip("/") for path in document["paths"] if path.count("/") == 1}
    entities = {row["entity"]: _entry(row, document) for row in rows}
    missing, extra = sorted(listed - entities.keys()), sorted(entities.keys() - listed)
    if missing or extra:
        raise SystemExit(f"The CSV and swagger.json disagree: not in the CSV {missing}, not in swagger {extra}.")
    return {"endpoint": document["info"]["title"], "source": csv_path.name, "entities": dict(sorted(entities.items()))}


def _entry(row: dict[str, str], document: dict[str, Any]) -> dict[str, Any]:
    name, kind = row["entity"], row["kind"]
    if kind not in {"record", "inquiry"}:
        raise SystemExit(f"{name}: unknown kind {kind!r}.")
    details = _split(row["detail_fields"])
    arrays = _array_properties(document, name)
    if sorted(details) != sorted(arrays):
        raise SystemExit(f"{name}: the CSV lists details {details}, swagger.json has arrays {arrays}.")
    results = _split(row["result_field"])
    dac = row["primary_dac"].rpartition(".")[2] if kind == "record" and row["primary_dac"] else None
    return {
        "kind": kind,
        "last_modified_field": row["last_modified_field"] or None,
        "details": details,
        "result_field": results[0] if results else None,
        "dac": dac,
    }


def _array_properties(document: dict[str, Any], entity: str) -> list[str]:
    """The entity's detail collections in swagger.json: array properties other than the base `files`."""
    schema = document["components"]["schemas"][entity]
    names: list[str] = []
    for part in schema.get("allOf", [schema]):
        for prop, spec in part.get("properties", {}).items():
            if spec.get("type") == "array" and prop != "files":
                names.append(prop)
    return names


def _split(cell: str) -> list[str]:
    return [item for item in cell.split(";") if item]


def render(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=1, sort_keys=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    parser.add_argument("--openapi", type=Path, default=DEFAULT_OPENAPI)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    args.output.write_text(render(build(args.csv, args.openapi)), encoding="utf-8")
    print(f"Wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
