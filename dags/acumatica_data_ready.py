"""
### Acumatica data ready

Runs whenever `acumatica_data_pull` publishes the asset `x-acumatica://data-pull/daily`: it reads
the manifests carried by the asset event and verifies each file before anything loads it: the file
exists, its size and sha256 match the manifest, and the record count matches the lines of a
JSON Lines file. This is where a warehouse load would follow.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from airflow.providers.common.compat.sdk import Asset, ObjectStoragePath, dag, get_current_context, task

DAILY_PULL = Asset("x-acumatica://data-pull/daily")


@dag(
    dag_id="acumatica_data_ready",
    schedule=[DAILY_PULL],
    start_date=datetime(2026, 1, 1),
    catchup=False,
    doc_md=__doc__,
    tags=["acumatica", "assets"],
    default_args={"owner": "data-engineering", "retries": 1, "retry_delay": timedelta(minutes=1)},
)
def acumatica_data_ready() -> None:
    @task
    def verify() -> dict[str, int]:
        """Check every file named in the triggering asset events against its manifest."""
        events = get_current_context()["triggering_asset_events"].get(DAILY_PULL, [])
        checked: dict[str, int] = {}
        for event in events:
            for entity, manifest in event.extra["entities"].items():
                verify_file(manifest)
                checked[entity] = manifest["records"]
        return checked

    verify()


def verify_file(manifest: dict[str, Any]) -> None:
    path = ObjectStoragePath(manifest["path"])
    digest = hashlib.sha256()
    size = 0
    lines = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
            lines += chunk.count(b"\n")
    if size != manifest["bytes"] or digest.hexdigest() != manifest["sha256"]:
        raise ValueError(f"{manifest['path']} does not match its manifest (size or sha256 differ).")
    if manifest["format"] == "jsonl" and lines != manifest["records"]:
        raise ValueError(f"{manifest['path']} has {lines} lines, the manifest says {manifest['records']} records.")


acumatica_data_ready()
