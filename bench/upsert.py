"""Benchmark: write-back with `AcumaticaUpsertOperator` against a plain `requests` loop, and with `parallelism`.

    python bench/upsert.py                          # 2,000 updates; parallelism 1, 2, 4 on 400 at 100 ms
    python bench/upsert.py --records 300 --parallel-records 60 --latency-ms 20
    python3 dev.py bench -- --upsert-only           # the same as the first line, through bench/run.py

A sandbox (in its own process) holds `--records` Customer records. The input file is built from the
sandbox's own data: one flat record per customer, as our extracts write them, keyed by `CustomerID`
with a few fields changed (`CreditLimit`, `Email`, `PrintStatements`, `Terms`); every tenth record
repeats the stored values (`unchanged`) and every fiftieth sends a negative credit limit (the server
answers 422: `rejected`). Every run gets a fresh sandbox of the same seed, so each does the same work.

The **baseline** is a plain `requests.Session` loop: one OAuth 2.0 password-grant token, then one PUT
per line with the same body (each value wrapped as `{"value": ...}`) and the same query as the
operator (`$select` of the stamps it reads the outcome from), then sign-out. **baseline-echo** is the
same loop without `$select`, so the server echoes the whole record. The **provider** is
`AcumaticaUpsertOperator` with the default OAuth 2.0 password grant, parallelism 1, on the same file.
Each client runs in a process of its own; times, CPU and peak RSS cover the writes only. The clients take
turns, `--repeats` times, and the attempt of median wall time is the one reported (all are kept).

Then the parallel section: `--parallel-records` updates on a sandbox with `--latency-ms` per request
(served one at a time per session), the operator with parallelism 1, 2 and 4. Its results files must
be byte-identical across k (the outcomes in input order).

After every run the sandbox's Customer records must equal the expected state (the initial records
with the input's values applied where the server accepts them, the stamps it sets aside), the
outcome counts must match the input's, and every session must be signed out. Writes `upsert.json`
under `--out`; exits non-zero when any of that fails. The speed targets are reported, not enforced.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from run import BENCH, Sandbox, _client_environment, _fingerprint, machine, sandbox

ENTITY, KEY = "Customer", "CustomerID"
ENTITY_PATH = f"entity/Default/24.200.001/{ENTITY}"
USER, PASSWORD = "admin", "123"
CLIENT_ID, CLIENT_SECRET = "0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0@Company", "sandbox-secret"
# The query the operator sends with each PUT: the stamps its outcome is read from, not the whole record.
STAMP_SELECT = "LastModifiedDateTime,CreatedDateTime"
TERMS = ("30D", "60D", "COD", "NET15", "NET45")
UNCHANGED_EVERY, REJECTED_EVERY = 10, 50
SERVER_SET = frozenset({"LastModifiedDateTime", "CreatedDateTime", "rowNumber"})
CLIENTS = ("baseline", "baseline-echo", "provider")
LABELS = {
    "baseline": "Baseline (requests, same query)",
    "baseline-echo": "Baseline without $select (full echo)",
    "provider": "Provider, parallelism 1",
}
THROUGHPUT_TARGET, SPEEDUP_TARGET, PARALLELISM = 1.0, 3.0, (1, 2, 4)


# --- the clients, each run as `upsert.py client NAME URL INPUT RESULTS` in a process of its own -------------------


def baseline(
    url: str, source: str, results: str, parallelism: int, *, select: bool = True
) -> Callable[[], Counter[str]]:
    """The simplest hand-written write-back: one session, one token, one PUT per line, the status counted."""

    def run() -> Counter[str]:
        statuses: Counter[str] = Counter()
        params = {"$select": STAMP_SELECT} if select else {}
        with requests.Session() as session, open(source) as lines:
            grant = {"grant_type": "password", "username": USER, "password": PASSWORD, "scope": "api offline_access"}
            answer = session.post(
                f"{url}/identity/connect/token", data={**grant, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
            )
            answer.raise_for_status()
            session.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
            try:
                for line in lines:
                    body = {name: {"value": value} for name, value in json.loads(line).items()}
                    response = session.put(f"{url}/{ENTITY_PATH}", json=body, params=params)
                    if response.status_code != 422:
                        response.raise_for_status()
                    statuses[str(response.status_code)] += 1
            finally:
                session.post(f"{url}/entity/auth/logout", data=b"")
        return statuses

    return run


def provider(url: str, source: str, results: str, parallelism: int) -> Callable[[], Counter[str]]:
    """`AcumaticaUpsertOperator` as a DAG would use it, with the default OAuth 2.0 password grant."""
    connection = {"conn_type": "acumatica", "host": url, "login": USER, "password": PASSWORD}
    connection["extra"] = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    os.environ["AIRFLOW_CONN_ACUMATICA_DEFAULT"] = json.dumps(connection)
    from airflow_provider_acumatica.operators.upsert import OUTCOMES, AcumaticaUpsertOperator

    operator = AcumaticaUpsertOperator(
        task_id="bench",
        entity=ENTITY,
        input_path=source,
        key_fields=[KEY],
        results_path=results,
        parallelism=parallelism,
        max_rejects=0.5,
    )

    def run() -> Counter[str]:
        manifest = operator.execute({})
        return Counter({name: manifest[name] for name in OUTCOMES})

    return run


CLIENT_BUILDERS: dict[str, Callable[[str, str, str, int], Callable[[], Counter[str]]]] = {
    "baseline": baseline,
    "baseline-echo": lambda url, source, results, k: baseline(url, source, results, k, select=False),
    "provider": provider,
}


def client_main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="upsert.py client")
    parser.add_argument("client", choices=CLIENTS)
    parser.add_argument("url")
    parser.add_argument("input")
    parser.add_argument("results")
    parser.add_argument("--parallelism", type=int, default=1)
    args = parser.parse_args(argv)
    write = CLIENT_BUILDERS[args.client](args.url, args.input, args.results, args.parallelism)
    gc.collect()
    rss_start_kb = _current_rss_kb()
    wall_start, cpu_start = time.perf_counter(), time.process_time()
    outcomes = write()
    wall, cpu = time.perf_counter() - wall_start, time.process_time() - cpu_start
    records = sum(outcomes.values())
    line = {
        "records": records,
        "outcomes": dict(sorted(outcomes.items())),
        "wall_seconds": round(wall, 3),
        "cpu_seconds": round(cpu, 3),
        "records_per_second": round(records / wall, 1),
        "peak_rss_kb": _peak_rss_kb(),
        "rss_start_kb": rss_start_kb,
    }
    print(json.dumps(line), flush=True)
    return 0


def _current_rss_kb() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def _peak_rss_kb() -> int:
    """This process's high-water mark (VmHWM). Not `ru_maxrss`: Linux carries that over an exec, so a client
    started by a big parent would report the parent's peak."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))


# --- the input and the expected state ------------------------------------------------------------------------------


def customers(server: Sandbox) -> list[dict[str, Any]]:
    """Every Customer record as the sandbox holds it (linked entities expanded)."""
    answer = requests.get(f"{server.url}/_sandbox/state/{ENTITY}", timeout=120)
    answer.raise_for_status()
    records: list[dict[str, Any]] = answer.json()
    return records


def plain(record: dict[str, Any], name: str) -> Any:
    wrapped = record.get(name)
    return wrapped.get("value") if isinstance(wrapped, dict) else None


def updates(records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], Counter[str]]:
    """One flat update per record, and the outcomes the operator should report for them."""
    lines, expected = [], Counter[str]()
    for number, record in enumerate(records, start=1):
        key = plain(record, KEY)
        fields = ("CreditLimit", "Email", "PrintStatements", "Terms")
        current = {name: plain(record, name) for name in fields}
        if number % REJECTED_EVERY == 0:
            lines.append({KEY: key, "CreditLimit": -100.0, "Email": f"rejected{number}@example.com"})
            expected["rejected"] += 1
        elif number % UNCHANGED_EVERY == 0:
            lines.append({KEY: key, **current})
            expected["unchanged"] += 1
        else:
            terms = TERMS[(TERMS.index(current["Terms"]) + 1) % len(TERMS)] if current["Terms"] in TERMS else TERMS[0]
            changed = {
                "CreditLimit": float(round((current["CreditLimit"] or 0) + 1000 + number % 7 * 250.5, 2)),
                "Email": f"ar{number}@billing.example.com",
                "PrintStatements": not current["PrintStatements"],
                "Terms": terms,
            }
            lines.append({KEY: key, **changed})
            expected["updated"] += 1
    return lines, expected


def write_input(lines: list[dict[str, Any]], path: Path) -> Path:
    with path.open("w") as out:
        for line in lines:
            out.write(json.dumps(line, separators=(",", ":")) + "\n")
    return path


def without_stamps(value: Any) -> Any:
    """The record without the stamps the server sets (a save moves the last-modified one; a fresh sandbox dates its
    records from its start) or row numbers."""
    if isinstance(value, dict):
        return {k: without_stamps(v) for k, v in value.items() if k not in SERVER_SET}
    if isinstance(value, list):
        return [without_stamps(v) for v in value]
    return value


def expected_state(initial: list[dict[str, Any]], lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The initial records with every accepted update's values applied."""
    by_key = {plain(record, KEY): without_stamps(record) for record in initial}
    for number, line in enumerate(lines, start=1):
        if number % REJECTED_EVERY == 0:
            continue
        record = by_key[line[KEY]]
        for name, value in line.items():
            record[name] = {"value": value}
    return [by_key[plain(record, KEY)] for record in initial]


def state_differences(server: Sandbox, expected: list[dict[str, Any]]) -> list[str]:
    """The records whose stored state differs from the expected one (at most five shown)."""
    stored = [without_stamps(record) for record in customers(server)]
    if len(stored) != len(expected):
        return [f"{len(stored)} {ENTITY} records stored, {len(expected)} expected"]
    wrong = [plain(want, KEY) for want, got in zip(expected, stored, strict=True) if want != got]
    return [f"{len(wrong)} {ENTITY} records differ from the expected state, e.g. {wrong[:5]}"] if wrong else []


# --- the runs ---------------------------------------------------------------------------------------------------


def run_upsert(
    records: int,
    client: str,
    source: Path,
    expected: list[dict[str, Any]],
    work: Path,
    *,
    latency_ms: int = 0,
    parallelism: int = 1,
) -> dict[str, Any]:
    """One client on a fresh sandbox of the same seed: its figures, the sandbox's counters, the state check."""
    results = work / f"{client}-k{parallelism}.results.jsonl"
    with sandbox(records, latency_ms=latency_ms, entity=ENTITY) as server:
        server.reset()
        server_cpu = server.cpu_seconds()
        command = [sys.executable, str(Path(__file__).resolve()), "client", client, server.url, str(source)]
        command += [str(results), "--parallelism", str(parallelism)]
        completed = subprocess.run(command, capture_output=True, text=True, env=_client_environment(work), check=False)
        if completed.returncode != 0:
            raise SystemExit(f"{client} failed (exit {completed.returncode}):\n{completed.stderr[-4000:]}")
        result: dict[str, Any] = {"client": client, "parallelism": parallelism, "latency_ms": latency_ms}
        result.update(json.loads(completed.stdout.strip().splitlines()[-1]))
        server_cpu = server.cpu_seconds() - server_cpu
        stats = server.stats()
        result.update(
            server_cpu_seconds=round(server_cpu, 2),
            requests=sum(stats["requests"].values()),
            sign_ins=stats["logins"] + sum(stats["token_grants"].values()),
            peak_seats=stats["peak_seats"],
            sessions_left_open=stats["seats_in_use"],
            state_differences=state_differences(server, expected),
        )
    if results.exists():
        result["results_file"] = _fingerprint(results)
        results.unlink()
    return result


def _progress(run: dict[str, Any]) -> str:
    state = "state exact" if not run["state_differences"] else "STATE DIFFERS"
    return (
        f"{run['wall_seconds']:7.2f} s {run['records_per_second']:7,.0f} rec/s cpu {run['cpu_seconds']:5.2f} s "
        f"peak {run['peak_rss_kb'] / 1024:5.0f} MB  {run['requests']} requests  {run['outcomes']}  {state}"
    )


def check(runs: list[dict[str, Any]], parallel: list[dict[str, Any]], expected: Counter[str]) -> list[str]:
    """Correctness failures: the state, the outcome counts, the sessions, the results files across k."""
    found: list[str] = []
    statuses = {"200": expected["updated"] + expected["unchanged"], "422": expected["rejected"]}
    for run in [*runs, *parallel]:
        name = f"{run['client']} k={run['parallelism']}"
        found += [f"{name}: {difference}" for difference in run["state_differences"]]
        want = dict(sorted(expected.items())) if run["client"] == "provider" else statuses
        got = {outcome: count for outcome, count in run["outcomes"].items() if count}
        if got != {outcome: count for outcome, count in want.items() if count}:
            found.append(f"{name}: outcomes {got}, expected {want}")
        if run["sessions_left_open"] or run["sign_ins"] != run["parallelism"] or run["peak_seats"] > run["parallelism"]:
            found.append(
                f"{name}: {run['sign_ins']} sign-ins, peak {run['peak_seats']} seats, "
                f"{run['sessions_left_open']} left open"
            )
    if len({run.get("results_file") for run in parallel}) > 1:
        found.append("the results files differ between parallelism settings")
    return found


def median_run(attempts: list[dict[str, Any]]) -> dict[str, Any]:
    """The attempt of median wall time (the lower middle one of an even count), with every attempt's wall time:
    the clients take turns, so a burst of load elsewhere on the machine lands on one attempt, not on one client."""
    ordered = sorted(attempts, key=lambda run: run["wall_seconds"])
    median = dict(ordered[(len(ordered) - 1) // 2])
    median["wall_seconds_each"] = [run["wall_seconds"] for run in attempts]
    return median


def summary(runs: list[dict[str, Any]], parallel: list[dict[str, Any]]) -> dict[str, Any]:
    by = {run["client"]: run for run in runs}
    base = by["baseline"]
    for run in runs:
        run["throughput_vs_baseline"] = round(run["records_per_second"] / base["records_per_second"], 3)
        run["cpu_vs_baseline"] = round(run["cpu_seconds"] / base["cpu_seconds"], 3)
        run["peak_rss_vs_baseline"] = round(run["peak_rss_kb"] / base["peak_rss_kb"], 3)
    serial = next(run for run in parallel if run["parallelism"] == 1) if parallel else None
    for run in parallel:
        run["speedup"] = round(serial["wall_seconds"] / run["wall_seconds"], 2) if serial else None
    widest = max(parallel, key=lambda run: run["parallelism"]) if parallel else None
    throughput = by["provider"]["throughput_vs_baseline"]
    return {
        "provider_throughput_vs_baseline": throughput,
        "throughput_met": throughput >= THROUGHPUT_TARGET,
        "speedups": {str(run["parallelism"]): run["speedup"] for run in parallel},
        "parallel_met": bool(widest and widest["parallelism"] >= 4 and widest["speedup"] >= SPEEDUP_TARGET),
    }


def markdown(report: dict[str, Any]) -> str:
    settings = report["settings"]
    lines = [
        f"| {settings['records']:,} Customer updates | Wall s | Records/s | x baseline | CPU s | x baseline | "
        "Peak RSS MB | Requests | Outcomes | State exact |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for run in report["runs"]:
        lines.append(
            f"| {LABELS[run['client']]} | {run['wall_seconds']:.2f} | {run['records_per_second']:,.0f} | "
            f"{run['throughput_vs_baseline']:.2f} | {run['cpu_seconds']:.2f} | {run['cpu_vs_baseline']:.2f} | "
            f"{run['peak_rss_kb'] / 1024:,.0f} | {run['requests']:,} | {_outcomes(run)} | "
            f"{'yes' if not run['state_differences'] else 'NO'} |"
        )
    if report["parallel"]:
        lines += [
            "",
            f"| {settings['parallel_records']:,} updates, {settings['latency_ms']} ms latency | Wall s | Records/s | "
            "Speedup vs k=1 | Peak seats | Sign-ins / left open | Results file = k=1 | State exact |",
            "|---|---:|---:|---:|---:|---:|---|---|",
        ]
        first = report["parallel"][0].get("results_file")
        for run in report["parallel"]:
            lines.append(
                f"| parallelism {run['parallelism']} | {run['wall_seconds']:.2f} | {run['records_per_second']:,.1f} | "
                f"{run['speedup']:.2f}x | {run['peak_seats']} | {run['sign_ins']} / {run['sessions_left_open']} | "
                f"{'yes' if run.get('results_file') == first else 'NO'} | "
                f"{'yes' if not run['state_differences'] else 'NO'} |"
            )
    return "\n".join(lines) + "\n"


def _outcomes(run: dict[str, Any]) -> str:
    return ", ".join(f"{count:,} {name}" for name, count in run["outcomes"].items() if count)


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=2_000, help="Customer records, each updated once")
    parser.add_argument("--clients", nargs="+", choices=CLIENTS, default=list(CLIENTS))
    parser.add_argument("--repeats", type=int, default=3, help="attempts per client, taking turns; the median counts")
    parser.add_argument("--parallel-records", type=int, default=400, help="0 skips the parallel section")
    parser.add_argument("--latency-ms", type=int, default=100, help="per request, in the parallel section")
    parser.add_argument("--out", type=Path, default=BENCH / "results")
    args = parser.parse_args(argv)
    if not {"baseline", "provider"} <= set(args.clients):
        parser.error("the ratio is the provider's against the baseline's: keep both in --clients")
    return args


def prepare(records: int, work: Path, name: str) -> tuple[Path, list[dict[str, Any]], Counter[str]]:
    """The input file from a sandbox's own data, the state it should leave, the outcomes it should give."""
    with sandbox(records, entity=ENTITY) as server:
        initial = customers(server)
    lines, outcomes = updates(initial)
    return write_input(lines, work / f"{name}.jsonl"), expected_state(initial, lines), outcomes


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["client"]:
        return client_main(argv[1:])
    args = parse(argv)
    load = [round(value, 2) for value in os.getloadavg()]
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="upsert-") as scratch:
        work = Path(scratch)
        source, expected, outcomes = prepare(args.records, work, "updates")
        print(f"{args.records:,} Customer updates ({dict(outcomes)}):", flush=True)
        attempts: dict[str, list[dict[str, Any]]] = {client: [] for client in args.clients}
        for repeat in range(1, args.repeats + 1):
            for client in args.clients:
                print(f"  {client:<14} #{repeat}", end="", flush=True)
                attempts[client].append({**run_upsert(args.records, client, source, expected, work), "repeat": repeat})
                print(_progress(attempts[client][-1]), flush=True)
        runs = [median_run(each) for each in attempts.values()]
        parallel: list[dict[str, Any]] = []
        parallel_outcomes: Counter[str] = Counter()
        if args.parallel_records:
            source, state, parallel_outcomes = prepare(args.parallel_records, work, "parallel")
            print(f"{args.parallel_records:,} updates at {args.latency_ms} ms latency per request:", flush=True)
            for k in PARALLELISM:
                print(f"  parallelism {k:<2}", end="", flush=True)
                run = run_upsert(
                    args.parallel_records, "provider", source, state, work, latency_ms=args.latency_ms, parallelism=k
                )
                parallel.append(run)
                print(_progress(run), flush=True)
    found = check([run for each in attempts.values() for run in each], [], outcomes)
    found += check([], parallel, parallel_outcomes)
    report = {
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "duration_seconds": round(time.monotonic() - started, 1),
        "load_average_at_start": load,
        "machine": machine(),
        "settings": {key: str(value) if isinstance(value, Path) else value for key, value in vars(args).items()},
        "expected_outcomes": dict(sorted(outcomes.items())),
        "runs": runs,
        "parallel": parallel,
        "targets": summary(runs, parallel),
        "failures": found,
    }
    (args.out / "upsert.json").write_text(json.dumps(report, indent=2) + "\n")
    print("\n" + markdown(report))
    print("Targets: " + json.dumps(report["targets"]))
    for failure in found:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
