"""Benchmark: the provider under a licence's request limits, paced and in a storm.

    python bench/licence.py                       # 120 requests/minute, 2 concurrent, 20,000 records
    python bench/licence.py --records 1500 --storm-records 1200 --requests-per-minute 20 --window-seconds 3
    python3 dev.py bench -- --licence-only        # the same as the first line, through bench/run.py

A sandbox (in its own process) holds `--records` SalesOrder records behind a licence of
`--requests-per-minute` and `--concurrent` requests. First an unpaced serial extract, with the
licence lifted, gives the reference file. Then a `--parallelism` extract with the connection's
`max_requests_per_minute` and `max_concurrent_requests` set to the licence's figures: its request
rate against the licence's, declined and delayed requests, and its file against the reference.

Then the storm, on a sandbox of `--storm-records` under the same licence: `--storm-tasks` extracts
at once, in processes of their own, each with `--storm-parallelism` sessions and no pacing (and the
connection's default retries, or `--storm-max-retries`), so that more than 20 requests want to
wait. Reported: declined and delayed requests, the 429s the clients' hooks counted against those
the sandbox declined on data routes (each one retried, or its task failed), and every file against
that sandbox's own unpaced reference.

`--window-seconds` shortens the licence's minute (for the test): the sandbox's window and the
client pacer's sliding window both take that length, so the limit is per window and the rate is
reported per window. Writes `licence.json` under `--out`; exits non-zero when a file differs, a
paced run was declined, a storm task failed, the storm declined nothing, or a declined data request
went unseen by the clients. The rate target (90 % of the licence) is reported, not enforced.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from clients import EXTRA, PACING_WINDOW
from run import BENCH, Sandbox, _client_environment, _fingerprint, machine, run_client, sandbox

CLIENT = "provider-jsonl"
RATE_TARGET = 0.9
# The routes that sign in: a declined sign-in is retried by the auth strategy, not counted by the hook.
AUTH_ROUTES = ("login", "simplified_login", "token")
UNLIMITED = {"max_requests_per_minute": None, "max_concurrent_requests": None}


def licence_flags(args: argparse.Namespace) -> list[str]:
    return [
        "--max-requests-per-minute",
        str(args.requests_per_minute),
        "--max-concurrent-requests",
        str(args.concurrent),
        "--licence-window-seconds",
        str(args.window_seconds),
    ]


def licence_limits(args: argparse.Namespace) -> dict[str, Any]:
    """The licence's two figures, named as the sandbox's admin route and the connection's extras name them."""
    return {"max_requests_per_minute": args.requests_per_minute, "max_concurrent_requests": args.concurrent}


def set_licence(server: Sandbox, changes: dict[str, Any]) -> None:
    requests.post(f"{server.url}/_sandbox/licence", json=changes, timeout=30).raise_for_status()


def reference(server: Sandbox, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """An unpaced serial extract with the licence lifted, then the licence restored."""
    set_licence(server, UNLIMITED)
    try:
        return run_client(server, CLIENT, work, page_size=args.page_size)
    finally:
        set_licence(server, licence_limits(args))


def licence_counters(server: Sandbox, args: argparse.Namespace, wall_seconds: float) -> dict[str, Any]:
    """The sandbox's licence counters, and the rate of the requests the licence counted (all but sign-out)."""
    stats = server.stats()
    licence, routes = stats["licence"], stats["routes"]
    declined_by_route = {name: codes.get("429", 0) for name, codes in routes.items() if codes.get("429")}
    licensed = sum(sum(codes.values()) for name, codes in routes.items() if name != "logout")
    per_window = licensed / wall_seconds * args.window_seconds
    return {
        "licensed_requests": licensed,
        "requests_per_window": round(per_window, 1),
        "rate_vs_licence": round(per_window / args.requests_per_minute, 3),
        "declined": licence["declined"],
        "answered_429": sum(declined_by_route.values()),
        "declined_data_requests": sum(n for name, n in declined_by_route.items() if name not in AUTH_ROUTES),
        "declined_sign_ins": sum(n for name, n in declined_by_route.items() if name in AUTH_ROUTES),
        "delayed": licence["delayed"],
        "delay_seconds": licence["delay_seconds"],
        "peak_concurrency": licence["peak_concurrency"],
        "peak_queue": licence["peak_queue"],
        "sessions_opened": stats["sessions"]["opened"] + sum(stats["token_grants"].values()),
        "sessions_left_open": stats["seats_in_use"],
    }


def paced(server: Sandbox, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    environment = {EXTRA: json.dumps(licence_limits(args)), PACING_WINDOW: str(args.window_seconds)}
    run = run_client(server, CLIENT, work, page_size=args.page_size, parallelism=args.parallelism, env=environment)
    return {**run, **licence_counters(server, args, run["wall_seconds"])}


def storm_task(server: Sandbox, args: argparse.Namespace, output: Path) -> dict[str, Any]:
    command = [sys.executable, str(BENCH / "clients.py"), CLIENT, server.url, str(output)]
    command += ["--page-size", str(args.page_size), "--parallelism", str(args.storm_parallelism)]
    environment = _client_environment(output.parent)
    environment[EXTRA] = json.dumps({} if args.storm_max_retries is None else {"max_retries": args.storm_max_retries})
    completed = subprocess.run(command, capture_output=True, text=True, env=environment, check=False)
    lines = completed.stdout.strip().splitlines()
    result: dict[str, Any] = json.loads(lines[-1]) if lines else {}
    if completed.returncode != 0:
        return {**result, "failed": f"exit {completed.returncode}: {_last_error(completed.stderr)}"}
    result["output"] = _fingerprint(output)
    output.unlink()
    return result


def _last_error(stderr: str) -> str:
    """The exception line of a traceback, not the frames above it."""
    lines = [line for line in stderr.strip().splitlines() if line and not line.startswith(" ")]
    return lines[-1] if lines else "(no output)"


def storm(server: Sandbox, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """`--storm-tasks` unpaced extracts at once, each in its own process."""
    server.reset()
    outputs = [work / f"storm-{task}.jsonl" for task in range(args.storm_tasks)]
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=args.storm_tasks) as pool:
        tasks = list(pool.map(lambda output: storm_task(server, args, output), outputs))
    wall = time.monotonic() - started
    return {
        "sessions": args.storm_tasks * args.storm_parallelism,
        "wall_seconds": round(wall, 2),
        "tasks": tasks,
        "failed_tasks": sum("failed" in task for task in tasks),
        "clients_rate_limited": sum(task.get("hook_rate_limited", 0) for task in tasks),
        "clients_retries": sum(task.get("hook_retries", 0) for task in tasks),
        **licence_counters(server, args, wall),
    }


def failures(paced_run: dict[str, Any], storm_run: dict[str, Any]) -> list[str]:
    found = []
    if paced_run["output"] != paced_run["reference"]:
        found.append("the paced file differs from the unpaced one")
    if paced_run["declined"]:
        found.append(f"the paced run had {paced_run['declined']} requests declined")
    for index, task in enumerate(storm_run["tasks"]):
        if "failed" in task:
            found.append(f"storm task {index} failed: {task['failed']}")
        elif task["output"] != storm_run["reference"]:
            found.append(f"storm task {index}'s file differs from the unpaced one")
    if not storm_run["declined"]:
        found.append("the storm had no request declined: nothing checked the retries (raise --storm-parallelism)")
    if storm_run["answered_429"] != storm_run["declined"]:
        found.append(f"the sandbox answered {storm_run['answered_429']} 429s for {storm_run['declined']} declined")
    if storm_run["clients_rate_limited"] != storm_run["declined_data_requests"]:
        found.append(
            f"the clients' hooks saw {storm_run['clients_rate_limited']} 429s, the sandbox declined "
            f"{storm_run['declined_data_requests']} data requests"
        )
    return found


def markdown(report: dict[str, Any]) -> str:
    paced_run, storm_run = report["paced"], report["storm"]
    settings = report["settings"]
    files = sum(task.get("output") == storm_run["reference"] for task in storm_run["tasks"])
    lines = [
        "| Run | Records | Sessions | Wall s | Requests | Rate / licence | Declined | Delayed | Delay s | Peak queue |"
        " Files exact |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        f"| Paced, parallelism {settings['parallelism']} | {settings['records']:,} | {settings['parallelism']} | "
        f"{paced_run['wall_seconds']:.1f} | {paced_run['licensed_requests']} | {paced_run['rate_vs_licence']:.2f} | "
        f"{paced_run['declined']} | {paced_run['delayed']} | {paced_run['delay_seconds']:.1f} | "
        f"{paced_run['peak_queue']} | {'yes' if paced_run['output'] == paced_run['reference'] else 'NO'} |",
        f"| Storm, {settings['storm_tasks']} tasks x {settings['storm_parallelism']}, unpaced | "
        f"{settings['storm_records']:,} each | {storm_run['sessions']} | {storm_run['wall_seconds']:.1f} | "
        f"{storm_run['licensed_requests']} | {storm_run['rate_vs_licence']:.2f} | {storm_run['declined']} | "
        f"{storm_run['delayed']} | {storm_run['delay_seconds']:.1f} | {storm_run['peak_queue']} | "
        f"{files} / {len(storm_run['tasks'])} |",
        "",
        f"Storm: the clients' hooks counted {storm_run['clients_rate_limited']} 429s and retried "
        f"{storm_run['clients_retries']} requests; the sandbox declined {storm_run['declined_data_requests']} data "
        f"requests and {storm_run['declined_sign_ins']} sign-ins; {storm_run['failed_tasks']} tasks failed.",
    ]
    return "\n".join(lines) + "\n"


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=20_000, help="SalesOrder records of the paced extract")
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--requests-per-minute", type=int, default=120, help="the licence's, per window")
    parser.add_argument("--concurrent", type=int, default=2, help="the licence's concurrent requests")
    parser.add_argument("--window-seconds", type=float, default=60, help="the licence's minute; shorter for tests")
    parser.add_argument("--parallelism", type=int, default=4)
    parser.add_argument("--storm-records", type=int, default=4_800, help="SalesOrder records of each storm task")
    parser.add_argument("--storm-tasks", type=int, default=4)
    parser.add_argument("--storm-parallelism", type=int, default=6, help="sessions per storm task")
    parser.add_argument(
        "--storm-max-retries", type=int, default=None, help="the storm connection's max_retries (default: its default)"
    )
    parser.add_argument("--out", type=Path, default=BENCH / "results")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="licence-") as scratch:
        work = Path(scratch)
        with sandbox(args.records, flags=licence_flags(args)) as server:
            paced_reference = reference(server, args, work)
            print(f"reference, {args.records:,} records unpaced: {paced_reference['wall_seconds']:.1f} s", flush=True)
            paced_run = {**paced(server, args, work), "reference": paced_reference["output"]}
            print(f"paced: {paced_run['wall_seconds']:.1f} s, rate {paced_run['rate_vs_licence']:.2f}", flush=True)
        with sandbox(args.storm_records, flags=licence_flags(args)) as server:
            storm_reference = reference(server, args, work)["output"]
            storm_run = {**storm(server, args, work), "reference": storm_reference}
            print(f"storm: {storm_run['wall_seconds']:.1f} s, {storm_run['declined']} declined", flush=True)
    found = failures(paced_run, storm_run)
    report = {
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "duration_seconds": round(time.monotonic() - started, 1),
        "machine": machine(),
        "settings": {key: str(value) if isinstance(value, Path) else value for key, value in vars(args).items()},
        "paced": paced_run,
        "storm": storm_run,
        "rate_target_met": paced_run["rate_vs_licence"] >= RATE_TARGET,
        "failures": found,
    }
    (args.out / "licence.json").write_text(json.dumps(report, indent=2) + "\n")
    print("\n" + markdown(report))
    for failure in found:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
