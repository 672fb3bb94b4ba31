"""The clients the benchmark compares; `bench/run.py` runs each one in a process of its own.

    python bench/clients.py CLIENT BASE_URL OUTPUT [--page-size N] [--parallelism K]

prints one JSON line about the extraction alone: records, wall and CPU seconds, peak resident
memory. Imports and set-up happen before the clock starts, for every client alike; peak memory is
the process's high-water mark, so it includes what the imports took (reported as `rss_start_kb`).
For the provider the line adds what its hooks counted: calls, retries, 429s, seconds waiting for the
licence; a failed extraction still prints those, with `"failed": true`, before its traceback.
`BENCH_CONNECTION_EXTRA` (a JSON object) adds connection extras, such as the pacing fields.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

ENTITY_PATH = "entity/Default/24.200.001/SalesOrder"
USER, PASSWORD, TENANT = "admin", "123", "Company"
CLIENT_ID, CLIENT_SECRET = "0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0@Company", "sandbox-secret"
# Connection extras the benchmark adds for the provider (e.g. the licence pacing fields), as a JSON object.
EXTRA = "BENCH_CONNECTION_EXTRA"
# The pacer's window in seconds instead of the licence's minute, for a benchmark run on a shortened window.
PACING_WINDOW = "BENCH_PACING_WINDOW_SECONDS"

Extraction = Callable[[], int]
# The provider's hooks of this run, for `hook_totals`.
HOOKS: list[Any] = []


def baseline(url: str, output: str, page_size: int, parallelism: int) -> Extraction:
    """The simplest hand-written client: one session, `$top`/`$skip`, `response.json()`, JSON Lines."""
    import requests

    def run() -> int:
        count, skip = 0, 0
        with requests.Session() as session, open(output, "w") as out:
            login = {"name": USER, "password": PASSWORD, "tenant": TENANT}
            session.post(f"{url}/entity/auth/login", json=login).raise_for_status()
            try:
                while True:
                    response = session.get(f"{url}/{ENTITY_PATH}", params={"$top": page_size, "$skip": skip})
                    response.raise_for_status()
                    page = response.json()
                    for record in page:
                        row = {
                            k: v.get("value") if isinstance(v, dict) else v for k, v in record.items() if k != "_links"
                        }
                        out.write(json.dumps(row, separators=(",", ":")) + "\n")
                    count += len(page)
                    if len(page) < page_size:
                        return count
                    skip += page_size
            finally:
                session.post(f"{url}/entity/auth/logout")

    return run


def provider(output_format: str) -> Callable[[str, str, int, int], Extraction]:
    """`AcumaticaExtractOperator` as a DAG would use it, with the default OAuth 2.0 password grant."""

    def build(url: str, output: str, page_size: int, parallelism: int) -> Extraction:
        connection = {
            "conn_type": "acumatica",
            "host": url,
            "login": USER,
            "password": PASSWORD,
            "extra": {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                **json.loads(os.environ.get(EXTRA, "{}")),
            },
        }
        os.environ["AIRFLOW_CONN_ACUMATICA_DEFAULT"] = json.dumps(connection)
        from airflow_provider_acumatica import pacing
        from airflow_provider_acumatica.hooks.acumatica import AcumaticaHook
        from airflow_provider_acumatica.operators.extract import AcumaticaExtractOperator

        if PACING_WINDOW in os.environ:
            pacing.WINDOW_SECONDS = float(os.environ[PACING_WINDOW])

        class CountingExtract(AcumaticaExtractOperator):
            """Keeps its hooks, so the run can report what their call statistics say (429s, licence waits)."""

            def new_hook(self) -> AcumaticaHook:
                hook = super().new_hook()
                HOOKS.append(hook)
                return hook

        operator = CountingExtract(
            task_id="bench",
            entity="SalesOrder",
            output_path=output,
            output_format=output_format,
            page_size=page_size,
            parallelism=parallelism,
        )
        return lambda: int(operator.execute({})["records"])

    return build


def http_operator(url: str, output: str, page_size: int, parallelism: int) -> Extraction:
    """Airflow's `HttpOperator` with a `pagination_function`, as its documentation shows it.

    The connection is an `http` connection with the user and password (HTTP Basic, what the http
    provider does by default); the operator collects every response, then `response_filter` writes
    the file.
    """
    os.environ["AIRFLOW_CONN_ACUMATICA_HTTP"] = json.dumps(
        {"conn_type": "http", "host": url, "login": USER, "password": PASSWORD}
    )
    from airflow.providers.http.operators.http import HttpOperator

    def next_page(response: Any) -> dict[str, Any] | None:
        if len(response.json()) < page_size:
            return None
        skip = int(parse_qs(urlsplit(response.url).query)["$skip"][0])
        return {"data": {"$skip": skip + page_size}}

    def write_jsonl(responses: list[Any]) -> int:
        count = 0
        with open(output, "w") as out:
            for response in responses:
                for record in response.json():
                    row = {k: v.get("value") if isinstance(v, dict) else v for k, v in record.items() if k != "_links"}
                    out.write(json.dumps(row, separators=(",", ":")) + "\n")
                    count += 1
        return count

    operator = HttpOperator(
        task_id="bench",
        http_conn_id="acumatica_http",
        method="GET",
        endpoint=ENTITY_PATH,
        data={"$top": page_size, "$skip": 0},
        pagination_function=next_page,
        response_filter=write_jsonl,
    )
    return lambda: int(operator.execute({}))


CLIENTS: dict[str, Callable[[str, str, int, int], Extraction]] = {
    "baseline": baseline,
    "provider-jsonl": provider("jsonl"),
    "provider-parquet": provider("parquet"),
    "http-operator": http_operator,
}


def measure(extraction: Extraction) -> dict[str, Any]:
    """Wall and CPU time of the extraction alone (all threads), and the process's peak RSS."""
    gc.collect()
    rss_start_kb = _current_rss_kb()
    wall_start, cpu_start = time.perf_counter(), time.process_time()
    records = extraction()
    wall, cpu = time.perf_counter() - wall_start, time.process_time() - cpu_start
    return {
        "records": records,
        "wall_seconds": round(wall, 3),
        "cpu_seconds": round(cpu, 3),
        "records_per_second": round(records / wall, 1),
        "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "rss_start_kb": rss_start_kb,
    }


def hook_totals() -> dict[str, Any]:
    """What the provider's hooks counted: 429s answered (each retried, or the run failed), retries, licence waits."""
    if not HOOKS:
        return {}
    stats = [hook.call_stats for hook in HOOKS]
    return {
        "hook_calls": sum(each.calls for each in stats),
        "hook_retries": sum(each.retries for each in stats),
        "hook_rate_limited": sum(each.rate_limited for each in stats),
        "licence_wait_seconds": round(sum(each.licence_wait_seconds for each in stats), 3),
    }


def _current_rss_kb() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("client", choices=sorted(CLIENTS))
    parser.add_argument("url")
    parser.add_argument("output")
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--parallelism", type=int, default=1)
    args = parser.parse_args()
    extraction = CLIENTS[args.client](args.url, args.output, args.page_size, args.parallelism)
    try:
        result = measure(extraction)
    except Exception:
        print(json.dumps({"failed": True, **hook_totals()}), flush=True)
        raise
    print(json.dumps({**result, **hook_totals()}), flush=True)


if __name__ == "__main__":
    main()
