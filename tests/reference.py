"""Where the reference data lives: `shared/` beside the repository, on developer machines and in CI."""

from __future__ import annotations

from pathlib import Path

OFFICIAL_OPENAPI = Path(__file__).resolve().parents[2] / "shared" / "data" / "openapi" / "Default_24.200.001.json"
ENTITY_MAP = OFFICIAL_OPENAPI.parents[1] / "default-24.200.001-entity-map.csv"
