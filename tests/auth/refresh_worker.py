"""One worker process of the multi-process refresh test: keeps calling while its access token keeps expiring.

Usage: `python refresh_worker.py CONN_ID SECONDS`. Prints `ready` once the connection and the token store
are loaded, waits for a line on stdin so that every worker starts at once, then prints a JSON summary.
"""

from __future__ import annotations

import json
import sys
import time

from airflow_provider_acumatica.auth import OAuth2AuthorizationCodeAuth
from airflow_provider_acumatica.hooks.acumatica import AcumaticaHook


def main(conn_id: str, seconds: float) -> None:
    hook = AcumaticaHook(conn_id)
    assert isinstance(hook.auth, OAuth2AuthorizationCodeAuth)
    hook.auth.store.read()
    print("ready", flush=True)
    sys.stdin.readline()
    calls = 0
    deadline = time.monotonic() + seconds
    with hook:
        while time.monotonic() < deadline:
            calls += len(hook.request_json("GET", hook.entity_url("Customer"), params={"$top": 1}))
            time.sleep(0.05)
    summary = {
        "calls": calls,
        "token_requests": hook.auth.stats.auth_requests,
        "store": type(hook.auth.store.backend).__name__,
    }
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
