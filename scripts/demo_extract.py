"""The main job until the example DAGs exist: start the sandbox and land a small extraction.

Run it with `python3 dev.py demo`. It signs in with the OAuth password grant, pulls a few entities
page by page through `AcumaticaHook`, writes JSON Lines under ./output/demo (each file appears only
when complete), signs out, and prints where the files landed with their record counts.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from airflow_provider_acumatica.hooks.acumatica import AcumaticaHook
from airflow_provider_acumatica.sandbox import SandboxConfig, SandboxServer

OUTPUT = Path(__file__).resolve().parent.parent / "output" / "demo"
PULLS = {
    "Customer": {"select": "CustomerID,CustomerName,Status,LastModifiedDateTime"},
    "SalesOrder": {"expand": "Details"},
    "StockItem": {},
}


def connection_json(base_url: str) -> str:
    return json.dumps(
        {
            "conn_type": "acumatica",
            "host": base_url,
            "login": "admin",
            "password": "123",
            "extra": {
                "auth_type": "oauth2_password",
                "client_id": "0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0@Company",
                "client_secret": "sandbox-secret",
            },
        }
    )


def land(hook: AcumaticaHook, entity: str, options: dict[str, str]) -> tuple[Path, int]:
    target = OUTPUT / f"{entity}.jsonl"
    partial = target.with_suffix(".jsonl.partial")
    count = 0
    with partial.open("w", encoding="utf-8") as out:
        for page in hook.iter_pages(entity, page_size=200, **options):
            for record in page:
                out.write(json.dumps(hook.unwrap(record), separators=(",", ":")) + "\n")
            count += len(page)
    partial.replace(target)
    return target, count


def main() -> int:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    with SandboxServer(SandboxConfig(records=1000)) as sandbox:
        print(f"Sandbox running at {sandbox.base_url}", flush=True)
        os.environ["AIRFLOW_CONN_ACUMATICA_DEFAULT"] = connection_json(sandbox.base_url)
        with AcumaticaHook("acumatica_default") as hook:
            landed = [land(hook, entity, options) for entity, options in PULLS.items()]
        seats = sandbox.stats()["seats_in_use"]
    for path, count in landed:
        print(f"{count:>7,} records  {path}")
    print(f"API seats still in use after the run: {seats}")
    return 0 if seats == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
