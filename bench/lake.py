"""Lake benchmark: merging one interval into Delta tables of growing size, and replicating the sandbox's endpoint.

    .venv/bin/python bench/lake.py                       # 250,000 and 1,000,000 rows, pools of 2 and 4
    .venv/bin/python bench/lake.py --sizes 50000 --pools 2

Merge: a SalesOrder-like table of N rows (files of 50,000 rows, as a year of hourly merges leaves them) gets a
change set of 10,000 records (half updates of existing rows, half new) and 1,000 deletions, once through
`DeltaSink.merge` (one MERGE commit), once more by the merge under jemalloc's own decay (freed pages kept 10 s,
as delta-rs does unless the sink's setting applies), and once by rewriting the whole table (read it, apply the
changes in memory, overwrite), each in a fresh process so its peak RSS is its own. The target: peak RSS of the
merge grows less than 25% from the smallest to the largest table (memory follows the change set, not the table).

Replication: every entity of the sandbox's endpoint replicated by `AcumaticaReplicateOperator` tasks run `k`
at a time (the `acumatica_api` pool at k seats), against a sandbox that answers each request after a delay:
wall time and requests per record. Writes `lake.json` under `--out`.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
FILE_ROWS = 50_000
CHANGES = 10_000
DELETIONS = 1_000
START = datetime(2025, 1, 1, tzinfo=UTC)


def order_id(number: int) -> str:
    return f"{number:08x}-0000-4000-8000-{number:012x}"


def orders(numbers: Sequence[int], stamp: datetime) -> Any:
    import pyarrow as pa

    return pa.table(
        {
            "id": pa.array([order_id(n) for n in numbers]),
            "OrderNbr": pa.array([f"SO{n:07d}" for n in numbers]),
            "Status": pa.array(["Open" if n % 3 else "Completed" for n in numbers]),
            "CustomerID": pa.array([f"C{n % 5000:07d}" for n in numbers]),
            "OrderTotal": pa.array([Decimal(n % 100_000) / 100 for n in numbers], pa.decimal128(38, 9)),
            "OrderedQty": pa.array([Decimal(n % 50) for n in numbers], pa.decimal128(38, 9)),
            "Hold": pa.array([n % 7 == 0 for n in numbers]),
            "Description": pa.array([f"Order {n} for the usual customer" for n in numbers]),
            "LastModified": pa.array([stamp] * len(numbers), pa.timestamp("us", tz="UTC")),
        }
    )


def build_table(path: Path, rows: int) -> None:
    from deltalake import write_deltalake

    from airflow_provider_acumatica.sinks import ChangeSet, CommitId, DeltaSink

    sink = DeltaSink(str(path))
    first = orders(range(min(rows, FILE_ROWS)), START)
    sink.merge("SalesOrder", ChangeSet(first), CommitId("bench", "load", START - timedelta(hours=1), START))
    for offset in range(FILE_ROWS, rows, FILE_ROWS):
        stamped = sink_schema_cast(orders(range(offset, min(offset + FILE_ROWS, rows)), START), path)
        write_deltalake(str(path / "SalesOrder"), stamped, mode="append")


def sink_schema_cast(table: Any, path: Path) -> Any:
    """Appended batches carry the table's own schema (with the entity recorded on `id`)."""
    import pyarrow as pa
    from deltalake import DeltaTable

    return table.cast(pa.schema(DeltaTable(str(path / "SalesOrder")).schema().to_arrow()))


def change_set(rows: int) -> tuple[Any, list[str]]:
    """Updates spread over the whole table (every file is touched), new records, and deletions of others."""
    import pyarrow as pa

    stamp = START + timedelta(hours=2)
    step = max(rows // (CHANGES // 2), 2)
    updated = orders(range(0, rows, step)[: CHANGES // 2], stamp)
    inserted = orders(range(rows, rows + CHANGES - len(updated)), stamp)
    deleted = [order_id(n) for n in range(1, rows, step)][:DELETIONS]
    return pa.concat_tables([updated, inserted]), deleted


def merge_once(path: str, rows: int, how: str) -> dict[str, Any]:
    """Runs in a fresh process: one interval applied by `how`, its wall time and this process's peak RSS."""
    from airflow_provider_acumatica.sinks.delta import load_deltalake

    load_deltalake()  # both ways run under the allocator settings a replicate task has
    import pyarrow as pa
    import pyarrow.compute as pc
    from deltalake import DeltaTable, QueryBuilder, write_deltalake

    from airflow_provider_acumatica.sinks import ChangeSet, CommitId, DeltaSink

    records, deleted = change_set(rows)
    before = peak_rss_kb()
    started = time.perf_counter()
    if how.startswith("merge"):
        commit = CommitId("bench", "interval", START + timedelta(hours=1), START + timedelta(hours=2))
        changes = ChangeSet(records, deleted_ids=deleted, stamp_column="LastModified")
        result = DeltaSink(path).merge("SalesOrder", changes, commit)
        counts = {"inserted": result.inserted, "updated": result.updated, "deleted": result.deleted}
    else:
        table = DeltaTable(f"{path}/SalesOrder")
        current = pa.table(QueryBuilder().register("t", table).execute("SELECT * FROM t").read_all())
        current = current.cast(pa.schema(table.schema().to_arrow()))
        gone = pa.array(list(deleted) + records["id"].to_pylist())
        kept = current.filter(pc.invert(pc.is_in(current["id"], value_set=gone)))
        rewritten = pa.concat_tables([kept, records.cast(kept.schema)])
        write_deltalake(f"{path}/SalesOrder", rewritten, mode="overwrite")
        counts = {"rows_written": len(rewritten)}
    seconds = time.perf_counter() - started
    peak = peak_rss_kb()
    return {
        "how": how,
        "rows": rows,
        "seconds": round(seconds, 3),
        "peak_rss_mb": round(peak / 1024, 1),
        "rss_before_mb": round(before / 1024, 1),
        **counts,
    }


def peak_rss_kb() -> int:
    """This process's high-water mark (VmHWM); `ru_maxrss` would carry the parent's over an exec."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))


# jemalloc's own decay (pages kept 10 s), against which the sink's setting is measured; None: the sink's own.
KEEP_FREED_PAGES = "dirty_decay_ms:10000,muzzy_decay_ms:10000"
WAYS = {"merge": None, "merge_keeping_freed_pages": KEEP_FREED_PAGES, "rewrite": None}


def merge_section(sizes: list[int]) -> list[dict[str, Any]]:
    from airflow_provider_acumatica.sinks.delta import JEMALLOC_CONF_VARIABLE

    results = []
    for rows in sizes:
        for how, allocator in WAYS.items():
            with tempfile.TemporaryDirectory(prefix="lake-bench-") as folder:
                print(f"building a table of {rows:,} rows...", flush=True)
                build_table(Path(folder), rows)
                call = f"lake.merge_once({folder!r}, {rows}, {how!r})"
                code = f"import json, sys; sys.path.insert(0, {str(BENCH)!r}); import lake; print(json.dumps({call}))"
                env = {**os.environ, **({JEMALLOC_CONF_VARIABLE: allocator} if allocator else {})}
                done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
                measured = json.loads(done.stdout.strip().splitlines()[-1])
                print(f"  {how}: {measured}", flush=True)
                results.append(measured)
    return results


def replicate_entity(base_url: str, lake: str, entity: str, window: tuple[str, str]) -> int:
    """One replicate task as the pool would run it; the rows it inserted over all its tables."""
    from tests.connections import connection

    os.environ["AIRFLOW_CONN_ACUMATICA_DEFAULT"] = connection(base_url, "oauth2_password")
    from airflow_provider_acumatica.operators.replicate import AcumaticaReplicateOperator

    operator = AcumaticaReplicateOperator(
        task_id=f"replicate_{entity}", entity=entity, table_base=lake, skip_if_parameters_required=True
    )
    context = {
        "data_interval_start": datetime.fromisoformat(window[0]),
        "data_interval_end": datetime.fromisoformat(window[1]),
        "run_id": "bench",
    }
    try:
        summary = operator.execute(context)
    except Exception as error:
        if "needs parameters" in str(error):
            return 0
        raise
    return sum(table["inserted"] for table in summary["tables"].values())


def replication_section(pools: list[int], latency_ms: int, records: int) -> list[dict[str, Any]]:
    import requests

    from airflow_provider_acumatica.sandbox import SandboxConfig, SandboxServer, catalog

    results = []
    for seats in pools:
        with SandboxServer(SandboxConfig(records=records, changes_per_hour=0, max_seats=seats)) as server:
            requests.post(f"{server.base_url}/_sandbox/faults", json={"latency_ms": latency_ms}, timeout=10)
            entities = [*catalog.ENTITIES, *catalog.INQUIRIES]
            end = datetime.now(UTC)
            window = ((end - timedelta(hours=1)).isoformat(), end.isoformat())
            with tempfile.TemporaryDirectory(prefix="lake-bench-") as lake:
                started = time.perf_counter()
                # Spawned, not forked: a fork of a process whose delta-rs runtime is running panics in the child.
                with ProcessPoolExecutor(max_workers=seats, mp_context=multiprocessing.get_context("spawn")) as pool:
                    count = len(entities)
                    inserted = pool.map(
                        replicate_entity, [server.base_url] * count, [lake] * count, entities, [window] * count
                    )
                    rows = sum(inserted)
                seconds = time.perf_counter() - started
            requests_made = sum(server.stats()["requests"].values())
            measured = {
                "seats": seats,
                "entities": len(entities),
                "rows": rows,
                "seconds": round(seconds, 2),
                "requests": requests_made,
                "requests_per_record": round(requests_made / max(rows, 1), 4),
                "seats_in_use_after": server.stats()["seats_in_use"],
            }
            print(f"  pool of {seats}: {measured}", flush=True)
            results.append(measured)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[250_000, 1_000_000])
    parser.add_argument("--pools", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--records", type=int, default=1000, help="records per entity in the sandbox")
    parser.add_argument("--out", type=Path, default=BENCH / "results")
    args = parser.parse_args()
    merges = merge_section(args.sizes)
    replication = replication_section(args.pools, args.latency_ms, args.records)
    growth = {how: _growth([m["peak_rss_mb"] for m in merges if m["how"] == how]) for how in WAYS}
    report = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "change_set": {"records": CHANGES, "deletions": DELETIONS},
        "merge": merges,
        "peak_rss_growth": growth,
        "replication": replication,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "lake.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({"peak_rss_growth": growth}))
    return 0


def _growth(peaks: list[float]) -> float:
    return round(peaks[-1] / peaks[0] - 1, 3) if len(peaks) > 1 else 0.0


if __name__ == "__main__":
    sys.exit(main())
