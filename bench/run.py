"""Benchmark: the provider against the simplest client and against Airflow's HttpOperator, in one run.

    python3 dev.py bench                  # installs the `bench` extra, then runs this file
    python bench/run.py --sizes 100000 400000

For every record count a sandbox is started in its own process (so its CPU is not the client's)
with that many static SalesOrder records, and every client extracts all of them in a process of
its own (`bench/clients.py`), one after the other. The sandbox's counters are reset before each
client, and read after it: sign-ins (logins plus token grants), sessions opened, sessions left open.
Ratios are against the baseline of the same run. Then the parallel section: the sandbox with
`--latency-ms` per request (served one at a time per session), the provider with parallelism 1
and k on the same records, whose outputs must be byte-identical. Then the reconcile section: the
bytes per record of `AcumaticaHook.iter_ids` (what a reconcile of deletions reads) against a full
pull of the same Customer records; `--reconcile-only` runs just that section and writes
`reconcile.json`. `--licence-only` runs the licence benchmark instead (`bench/licence.py` at its
full size, `licence.json`; run that file directly for other sizes); `--upsert-only` the write-back
benchmark (`bench/upsert.py` at its full size, `upsert.json`).

Writes `benchmark.json`, `benchmark.md` (the table) and `benchmark.png` (the plot) under `--out`.
Exits non-zero if any output differs between clients, or a provider extraction signs in more
than once per session or leaves a session open; the performance targets are reported, not enforced.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

BENCH = Path(__file__).resolve().parent
CLIENTS = ("baseline", "provider-jsonl", "provider-parquet", "http-operator")
PROVIDER_CLIENTS = ("provider-jsonl", "provider-parquet")
SUFFIX = {"provider-parquet": ".parquet"}
LABELS = {
    "baseline": "Baseline (requests)",
    "provider-jsonl": "Provider, JSON Lines",
    "provider-parquet": "Provider, Parquet",
    "http-operator": "HttpOperator + pagination",
}
# The http provider's operator opens a new session per page (HTTP Basic without cookies), so the
# sandbox needs more seats than a real license has, or it would stop that client with 429s.
MAX_SEATS = 5000
# The sandbox is one Python process: with the default 5 ms GIL switch interval, a session whose
# simulated latency has passed waits behind another session's page encoding, which a real server
# (sessions on many cores) does not do. A 0.5 ms interval keeps concurrent sessions from delaying
# each other by more than the sandbox's own CPU time; a single session is not affected.
SANDBOX = (
    "import sys; sys.setswitchinterval(0.0005); "
    "from airflow_provider_acumatica.sandbox.__main__ import main; sys.exit(main(sys.argv[1:]))"
)
THROUGHPUT_TARGET, MEMORY_GROWTH_LIMIT, SPEEDUP_TARGET = 1.0, 1.10, 3.2
RECONCILE_ENTITY, RECONCILE_KEY, RECONCILE_EXPAND, ID_BYTES_TARGET = "Customer", "CustomerID", "MainContact", 0.10


class Sandbox:
    """The sandbox CLI in a subprocess, with its counters and its CPU time."""

    def __init__(
        self, records: int, *, latency_ms: int = 0, entity: str = "SalesOrder", flags: Sequence[str] = ()
    ) -> None:
        command = [
            sys.executable,
            "-c",
            SANDBOX,
            "--port",
            "0",
            "--records",
            "10",
            "--entity-records",
            f"{entity}={records}",
            "--changes-per-hour",
            "0",
            "--max-seats",
            str(MAX_SEATS),
            "--latency-ms",
            str(latency_ms),
            *flags,
        ]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=checkout_environment())
        assert self.process.stdout is not None
        ready = self.process.stdout.readline()
        if "listening on" not in ready:
            self.stop()
            raise SystemExit(f"The sandbox did not start: {ready!r}")
        self.url = ready.split()[-1]

    def reset(self) -> None:
        requests.post(f"{self.url}/_sandbox/reset", data=b"", timeout=30).raise_for_status()

    def stats(self) -> dict[str, Any]:
        answer = requests.get(f"{self.url}/_sandbox/stats", timeout=30)
        answer.raise_for_status()
        stats: dict[str, Any] = answer.json()
        return stats

    def cpu_seconds(self) -> float:
        """User plus system CPU of the sandbox process, from /proc (Linux)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def warm_up(self) -> None:
        """One page, so no client pays for the server's first-request set-up."""
        with requests.Session() as session:
            login = {"name": "admin", "password": "123", "tenant": "Company"}
            session.post(f"{self.url}/entity/auth/login", json=login, timeout=30).raise_for_status()
            session.get(f"{self.url}/entity/Default/24.200.001/SalesOrder", params={"$top": 1}, timeout=30)
            session.post(f"{self.url}/entity/auth/logout", timeout=30)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


@contextmanager
def sandbox(
    records: int, *, latency_ms: int = 0, entity: str = "SalesOrder", flags: Sequence[str] = ()
) -> Iterator[Sandbox]:
    server = Sandbox(records, latency_ms=latency_ms, entity=entity, flags=flags)
    try:
        server.warm_up()
        yield server
    finally:
        server.stop()


def run_client(
    server: Sandbox,
    client: str,
    work: Path,
    *,
    page_size: int,
    parallelism: int = 1,
    keep: bool = False,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    output = work / f"{client}-k{parallelism}-p{page_size}{SUFFIX.get(client, '.jsonl')}"
    server.reset()
    server_cpu = server.cpu_seconds()
    command = [sys.executable, str(BENCH / "clients.py"), client, server.url, str(output)]
    command += ["--page-size", str(page_size), "--parallelism", str(parallelism)]
    environment = {**_client_environment(work), **(env or {})}
    completed = subprocess.run(command, capture_output=True, text=True, env=environment, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"{client} failed (exit {completed.returncode}):\n{completed.stderr[-4000:]}")
    result: dict[str, Any] = {"client": client, "page_size": page_size, "parallelism": parallelism}
    result.update(json.loads(completed.stdout.strip().splitlines()[-1]))
    stats = server.stats()
    result.update(
        server_cpu_seconds=round(server.cpu_seconds() - server_cpu, 2),
        sign_ins=stats["logins"] + sum(stats["token_grants"].values()),
        sessions_opened=stats["sessions"]["opened"],
        sessions_left_open=stats["seats_in_use"],
        peak_seats=stats["peak_seats"],
        requests=sum(stats["requests"].values()),
        output_bytes=output.stat().st_size,
        output=_fingerprint(output),
    )
    if not keep:
        output.unlink()
    return result


def checkout_environment() -> dict[str, str]:
    """The environment with this checkout first on PYTHONPATH: a script's own directory is what Python puts on
    sys.path, so without it a client would import whatever install the virtual environment has (another
    worktree's editable one, say), not the code being measured."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(BENCH.parent), env.get("PYTHONPATH"))))
    return env


def _client_environment(work: Path) -> dict[str, str]:
    env = checkout_environment()
    env.setdefault("AIRFLOW_HOME", str(work / "airflow-home"))
    env.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    return env


def _fingerprint(output: Path) -> str:
    """sha256 of a JSON Lines file; for Parquet, its row count and the sha256 of its `id` column."""
    if output.suffix == ".parquet":
        import pyarrow.parquet as pq

        ids = pq.read_table(output, columns=["id"]).column("id").to_pylist()
        return f"parquet:{len(ids)}:{_sha256_lines(str(i) for i in ids)}"
    digest = hashlib.sha256()
    with output.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _sha256_lines(lines: Iterator[str]) -> str:
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode() + b"\n")
    return digest.hexdigest()


def jsonl_ids_fingerprint(output: Path) -> str:
    """The Parquet fingerprint computed from a JSON Lines file, to check both hold the same records."""
    with output.open() as stream:
        ids = [json.loads(line)["id"] for line in stream]
    return f"parquet:{len(ids)}:{_sha256_lines(iter(ids))}"


def compare_clients(sizes: Sequence[int], clients: Sequence[str], page_size: int, work: Path) -> list[dict[str, Any]]:
    runs = []
    for size in sizes:
        with sandbox(size) as server:
            for client in clients:
                print(f"  {size:>9,} records  {client:<17}", end="", flush=True)
                keep = client == "baseline" and "provider-parquet" in clients
                result = run_client(server, client, work, page_size=page_size, keep=keep)
                if keep:
                    baseline_file = work / f"baseline-k1-p{page_size}.jsonl"
                    result["ids"] = jsonl_ids_fingerprint(baseline_file)
                    baseline_file.unlink()
                result["size"] = size
                runs.append(result)
                print(_progress(result), flush=True)
    _add_ratios(runs)
    return runs


def _progress(result: dict[str, Any]) -> str:
    return (
        f"{result['wall_seconds']:8.1f} s {result['records_per_second']:9,.0f} rec/s "
        f"cpu {result['cpu_seconds']:6.1f} s  peak {result['peak_rss_kb'] / 1024:7.0f} MB  "
        f"sign-ins {result['sign_ins']}  sessions {result['sessions_opened']}  left open {result['sessions_left_open']}"
    )


def _add_ratios(runs: list[dict[str, Any]]) -> None:
    baselines = {run["size"]: run for run in runs if run["client"] == "baseline"}
    for run in runs:
        base = baselines.get(run["size"])
        if base is None:
            continue
        run["throughput_vs_baseline"] = round(run["records_per_second"] / base["records_per_second"], 3)
        run["cpu_vs_baseline"] = round(run["cpu_seconds"] / base["cpu_seconds"], 3)
        run["peak_rss_vs_baseline"] = round(run["peak_rss_kb"] / base["peak_rss_kb"], 3)


def compare_parallelism(
    records: int, latency_ms: int, parallelism: int, page_sizes: Sequence[int], work: Path
) -> list[dict[str, Any]]:
    results = []
    with sandbox(records, latency_ms=latency_ms) as server:
        for page_size in page_sizes:
            pair = {}
            for k in (1, parallelism):
                print(f"  {records:>9,} records  k={k:<2} page {page_size:<5}", end="", flush=True)
                pair[k] = run_client(server, "provider-jsonl", work, page_size=page_size, parallelism=k)
                print(_progress(pair[k]), flush=True)
            serial, parallel = pair[1], pair[parallelism]
            results.append(
                {
                    "records": records,
                    "latency_ms": latency_ms,
                    "page_size": page_size,
                    "parallelism": parallelism,
                    "serial": serial,
                    "parallel": parallel,
                    "speedup": round(serial["wall_seconds"] / parallel["wall_seconds"], 2),
                    "identical_output": serial["output"] == parallel["output"],
                }
            )
    return results


def compare_id_listing(records: int, page_size: int) -> dict[str, Any]:
    """Bytes received per record by `iter_ids` and by full pulls of the same records, on one session each.

    The key field is named, so no listing fetches swagger.json; bytes are response bodies as the hook
    counts them (`call_stats.bytes_received`), sign-in excluded.
    """
    from airflow_provider_acumatica.hooks.acumatica import AcumaticaHook

    listings = {
        "ids": lambda hook: hook.iter_id_pages(RECONCILE_ENTITY, key_field=RECONCILE_KEY, page_size=page_size),
        "ids_dac": lambda hook: hook.iter_id_pages(RECONCILE_ENTITY, page_size=page_size, via="dac"),
        "full": lambda hook: hook.iter_pages(RECONCILE_ENTITY, page_size=page_size),
        "full_expanded": lambda hook: hook.iter_pages(RECONCILE_ENTITY, expand=RECONCILE_EXPAND, page_size=page_size),
    }
    result: dict[str, Any] = {"entity": RECONCILE_ENTITY, "records": records, "page_size": page_size}
    with sandbox(records, entity=RECONCILE_ENTITY) as server:
        connection = {"conn_type": "acumatica", "host": server.url, "login": "admin", "password": "123"}
        connection["extra"] = {"auth_type": "basic", "tenant": "Company"}
        os.environ["AIRFLOW_CONN_ACUMATICA_RECONCILE"] = json.dumps(connection)
        for name, listing in listings.items():
            server.reset()
            with AcumaticaHook("acumatica_reconcile") as hook:
                started = time.perf_counter()
                count = sum(len(page) for page in listing(hook))
                wall = time.perf_counter() - started
                result[name] = {
                    "records": count,
                    "bytes": hook.call_stats.bytes_received,
                    "bytes_per_record": round(hook.call_stats.bytes_received / max(count, 1), 1),
                    "wall_seconds": round(wall, 2),
                }
    full, expanded = result["full"]["bytes_per_record"], result["full_expanded"]["bytes_per_record"]
    for name in ("ids", "ids_dac"):
        result[f"{name}_vs_full"] = round(result[name]["bytes_per_record"] / full, 4)
        result[f"{name}_vs_full_expanded"] = round(result[name]["bytes_per_record"] / expanded, 4)
    result["target_met"] = min(result["ids_vs_full"], result["ids_dac_vs_full"]) < ID_BYTES_TARGET
    return result


def reconcile_markdown(reconcile: dict[str, Any]) -> list[str]:
    lines = [
        "",
        f"| {reconcile['entity']} listing ({reconcile['records']:,} records) | Bytes/record | Wall s | x full pull |",
        "|---|---:|---:|---:|",
    ]
    labels = {
        "ids": "`iter_ids` (contract API)",
        "ids_dac": "`iter_ids(via='dac')` (DAC OData)",
        "full": "Full pull",
        "full_expanded": f"Full pull, $expand={RECONCILE_EXPAND}",
    }
    for name, label in labels.items():
        run = reconcile[name]
        ratio = run["bytes_per_record"] / reconcile["full"]["bytes_per_record"]
        lines.append(f"| {label} | {run['bytes_per_record']:,.0f} | {run['wall_seconds']:.1f} | {ratio:.3f} |")
    return lines


def check(runs: list[dict[str, Any]], parallel: list[dict[str, Any]]) -> tuple[list[str], dict[str, Any]]:
    """Correctness failures (the exit status), and the performance targets with their figures."""
    failures: list[str] = []
    for size in sorted({run["size"] for run in runs}):
        at_size = [run for run in runs if run["size"] == size]
        jsonl = {run["output"] for run in at_size if run["client"] != "provider-parquet"}
        if len(jsonl) != 1:
            failures.append(f"{size:,} records: the JSON Lines outputs differ between clients")
        for run in at_size:
            if run["records"] != size:
                failures.append(f"{size:,} records: {run['client']} wrote {run['records']:,}")
            if run["client"] == "provider-parquet":
                expected = next((r.get("ids") for r in at_size if r["client"] == "baseline"), run["output"])
                if run["output"] != expected:
                    failures.append(f"{size:,} records: the Parquet file holds other records than the baseline")
    provider_runs = [run for run in runs if run["client"] in PROVIDER_CLIENTS]
    provider_runs += [p[key] for p in parallel for key in ("serial", "parallel")]
    for run in provider_runs:
        k = run["parallelism"]
        if run["sign_ins"] != k or run["sessions_opened"] != k or run["sessions_left_open"] or run["peak_seats"] > k:
            failures.append(
                f"{run['client']} k={k}: {run['sign_ins']} sign-ins, {run['sessions_opened']} sessions, "
                f"{run['sessions_left_open']} left open, peak {run['peak_seats']} seats"
            )
    for result in parallel:
        if not result["identical_output"]:
            failures.append(f"parallelism {result['parallelism']} wrote another file than parallelism 1")
    return failures, _targets(runs, parallel)


def _targets(runs: list[dict[str, Any]], parallel: list[dict[str, Any]]) -> dict[str, Any]:
    sizes = sorted({run["size"] for run in runs})
    by = {(run["client"], run["size"]): run for run in runs}
    throughput = [by[("provider-jsonl", s)].get("throughput_vs_baseline") for s in sizes if ("provider-jsonl", s) in by]
    growth = {
        client: round(by[(client, sizes[-1])]["peak_rss_kb"] / by[(client, sizes[0])]["peak_rss_kb"], 3)
        for client in {run["client"] for run in runs}
        if len(sizes) > 1
    }
    provider_growth = [growth[c] for c in PROVIDER_CLIENTS if c in growth]
    speedups = [p["speedup"] for p in parallel if p["identical_output"]]
    throughput_met = bool(throughput) and all(r is not None and r >= THROUGHPUT_TARGET for r in throughput)
    return {
        "provider_jsonl_throughput_vs_baseline": throughput,
        "throughput_met": throughput_met,
        "peak_rss_growth_smallest_to_largest": growth,
        "memory_flat_met": bool(provider_growth) and max(provider_growth) < MEMORY_GROWTH_LIMIT,
        "parallel_speedups": {str(p["page_size"]): p["speedup"] for p in parallel},
        "parallel_met": bool(speedups) and max(speedups) >= SPEEDUP_TARGET,
    }


def markdown(
    runs: list[dict[str, Any]],
    parallel: list[dict[str, Any]],
    targets: dict[str, Any],
    reconcile: dict[str, Any] | None = None,
) -> str:
    lines = [
        "| Records | Client | Wall s | Records/s | x baseline | CPU s | x baseline | Peak RSS MB | "
        "Sign-ins | Sessions opened / left open |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        lines.append(
            f"| {run['size']:,} | {LABELS[run['client']]} | {run['wall_seconds']:.1f} | "
            f"{run['records_per_second']:,.0f} | {run.get('throughput_vs_baseline', 0):.2f} | "
            f"{run['cpu_seconds']:.1f} | {run.get('cpu_vs_baseline', 0):.2f} | {run['peak_rss_kb'] / 1024:,.0f} | "
            f"{run['sign_ins']} | {run['sessions_opened']} / {run['sessions_left_open']} |"
        )
    if parallel:
        lines += [
            "",
            "| Records | Latency | Page size | k=1 wall s | k wall s | Speedup | Peak seats | Sign-ins | Identical |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for p in parallel:
            lines.append(
                f"| {p['records']:,} | {p['latency_ms']} ms | {p['page_size']:,} | {p['serial']['wall_seconds']:.1f} | "
                f"{p['parallel']['wall_seconds']:.1f} (k={p['parallelism']}) | {p['speedup']:.2f}x | "
                f"{p['parallel']['peak_seats']} | {p['parallel']['sign_ins']} | "
                f"{'yes' if p['identical_output'] else 'NO'} |"
            )
    growth = ", ".join(
        f"{LABELS[c]} {g:.2f}x" for c, g in sorted(targets["peak_rss_growth_smallest_to_largest"].items())
    )
    if growth:
        lines += ["", f"Peak memory, largest / smallest record count: {growth}."]
    if reconcile:
        lines += reconcile_markdown(reconcile)
    return "\n".join(lines) + "\n"


def plot(runs: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (speed, memory) = plt.subplots(1, 2, figsize=(11, 4.2))
    for client in dict.fromkeys(run["client"] for run in runs):
        mine = sorted((run for run in runs if run["client"] == client), key=lambda run: run["size"])
        sizes = [run["size"] for run in mine]
        speed.plot(sizes, [run["records_per_second"] for run in mine], marker="o", label=LABELS[client])
        memory.plot(sizes, [run["peak_rss_kb"] / 1024 for run in mine], marker="o", label=LABELS[client])
    speed.set(title="Throughput", xlabel="SalesOrder records", ylabel="records / second")
    memory.set(title="Peak resident memory", xlabel="SalesOrder records", ylabel="MB")
    for axes in (speed, memory):
        axes.set_ylim(bottom=0)
        axes.grid(alpha=0.3)
        axes.ticklabel_format(axis="x", style="plain")
    memory.legend(loc="upper left")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def machine() -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    versions: dict[str, str | None] = {}
    for package in ("apache-airflow", "apache-airflow-providers-http", "requests", "pyarrow"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 400_000], help="record counts")
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--clients", nargs="+", choices=CLIENTS, default=list(CLIENTS))
    parser.add_argument("--parallel-records", type=int, default=50_000, help="0 skips the parallel section")
    parser.add_argument("--parallel-latency-ms", type=int, default=100)
    parser.add_argument("--parallelism", type=int, default=4)
    parser.add_argument("--parallel-page-sizes", type=int, nargs="+", default=[1000, 250])
    parser.add_argument("--reconcile-records", type=int, default=20_000, help="0 skips the reconcile section")
    parser.add_argument("--reconcile-only", action="store_true", help="run only the reconcile section")
    parser.add_argument("--licence-only", action="store_true", help="run only bench/licence.py, at its full size")
    parser.add_argument("--upsert-only", action="store_true", help="run only bench/upsert.py, at its full size")
    parser.add_argument("--out", type=Path, default=BENCH / "results")
    parser.add_argument("--no-plot", action="store_true", help="skip the PNG (no matplotlib needed)")
    args = parser.parse_args(argv)
    if "baseline" not in args.clients:
        parser.error("the baseline is what the ratios are computed against; keep it in --clients")
    if args.reconcile_only:
        return reconcile_only(args.reconcile_records or 20_000, args.page_size, args.out)
    if args.licence_only:
        import licence

        return licence.main(["--out", str(args.out)])
    if args.upsert_only:
        import upsert

        return upsert.main(["--out", str(args.out)])
    scratch = args.out / "tmp"  # git-ignored under bench/results
    scratch.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="work-", dir=scratch))
    started = time.monotonic()
    try:
        print(f"Clients, page size {args.page_size} ({os.cpu_count()} CPUs):", flush=True)
        runs = compare_clients(args.sizes, args.clients, args.page_size, work)
        parallel: list[dict[str, Any]] = []
        if args.parallel_records:
            print(f"Parallelism, {args.parallel_latency_ms} ms latency per request:", flush=True)
            parallel = compare_parallelism(
                args.parallel_records, args.parallel_latency_ms, args.parallelism, args.parallel_page_sizes, work
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if not any(scratch.iterdir()):
            scratch.rmdir()
    reconcile = compare_id_listing(args.reconcile_records, args.page_size) if args.reconcile_records else None
    failures, targets = check(runs, parallel)
    if reconcile:
        targets.update(
            iter_ids_bytes_vs_full=reconcile["ids_vs_full"],
            dac_iter_ids_bytes_vs_full=reconcile["ids_dac_vs_full"],
            iter_ids_met=reconcile["target_met"],
        )
    report = {
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "duration_seconds": round(time.monotonic() - started, 1),
        "machine": machine(),
        "settings": {key: str(value) if isinstance(value, Path) else value for key, value in vars(args).items()},
        "runs": runs,
        "parallel": parallel,
        "reconcile": reconcile,
        "targets": targets,
        "failures": failures,
    }
    (args.out / "benchmark.json").write_text(json.dumps(report, indent=2) + "\n")
    table = markdown(runs, parallel, targets, reconcile)
    (args.out / "benchmark.md").write_text(table)
    if not args.no_plot:
        plot(runs, args.out / "benchmark.png")
    print("\n" + table)
    print("Targets: " + json.dumps(targets))
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


def reconcile_only(records: int, page_size: int, out: Path) -> int:
    """Just the reconcile section: `reconcile.json` under `out`, and its table on stdout."""
    print(f"Reconcile listing, {records:,} {RECONCILE_ENTITY} records, page size {page_size}:", flush=True)
    reconcile = compare_id_listing(records, page_size)
    reconcile.update(finished=datetime.now(UTC).isoformat(timespec="seconds"), machine=machine())
    out.mkdir(parents=True, exist_ok=True)
    (out / "reconcile.json").write_text(json.dumps(reconcile, indent=2) + "\n")
    print("\n".join(reconcile_markdown(reconcile)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
