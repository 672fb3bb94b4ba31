"""Command line: `python -m airflow_provider_acumatica.sandbox` or `acumatica-sandbox`.

Serves on 127.0.0.1:8085 by default (`--port 0` picks a free port). When ready it prints exactly one
line to stdout, which scripts can parse by taking the last word:

    Acumatica sandbox listening on <base URL>

for example `Acumatica sandbox listening on http://127.0.0.1:8085/AcumaticaDB`. It stops cleanly on
SIGINT or SIGTERM and exits with status 0.

The licence's request limits are off unless `--max-concurrent-requests N` or `--max-requests-per-minute N`
is given (changeable later with `POST /_sandbox/licence`); `--licence-window-seconds`,
`--licence-max-waiting` and `--licence-max-wait-seconds` shorten the documented 60 s, 20 and 600 s for tests.

Every fault setting is also a flag (`--latency-ms 200 --rate-429 0.1 ...`); `--faults JSON` sets
several at once and is applied first.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import fields
from types import FrameType
from typing import Any

from airflow_provider_acumatica.sandbox.config import SandboxConfig
from airflow_provider_acumatica.sandbox.faults import FaultSettings
from airflow_provider_acumatica.sandbox.licence import LicenceSettings
from airflow_provider_acumatica.sandbox.server import SandboxServer

DEFAULT_PORT = 8085
READY_LINE = "Acumatica sandbox listening on {url}"
_CONFIG_ONLY_FAULTS = ("max_seats",)
_PARSERS: dict[str, Callable[[str], Any]] = {"int": int, "float": float, "str": str}


def entity_count(text: str) -> tuple[str, int]:
    entity, sep, count = text.partition("=")
    if not sep or not entity or not count.isdigit():
        raise argparse.ArgumentTypeError(f"expected Entity=N, got {text!r}")
    return entity, int(count)


def fault_json(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"--faults is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("--faults must be a JSON object")
    return value


def _add_fault_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per fault setting, derived from `FaultSettings` so the two cannot drift apart."""
    group = parser.add_argument_group("faults (changeable later with POST /_sandbox/faults)")
    group.add_argument("--faults", type=fault_json, default={}, metavar="JSON", help="several fault settings at once")
    for spec in fields(FaultSettings):
        if spec.name in _CONFIG_ONLY_FAULTS:
            continue
        flag = f"--{spec.name.replace('_', '-')}"
        kind = str(spec.type).replace(" | None", "")
        if kind == "bool":
            group.add_argument(flag, action="store_true", default=None, dest=spec.name)
        else:
            group.add_argument(flag, type=_PARSERS[kind], default=None, dest=spec.name, metavar=kind.upper())


def _add_licence_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("licence request limits (changeable later with POST /_sandbox/licence)")
    group.add_argument("--max-concurrent-requests", type=int, default=None, metavar="N", help="default: no limit")
    group.add_argument("--max-requests-per-minute", type=int, default=None, metavar="N", help="default: no limit")
    group.add_argument("--licence-window-seconds", type=float, default=60, metavar="SECONDS", help="default 60")
    group.add_argument("--licence-max-waiting", type=int, default=20, metavar="N", help="queue size, default 20")
    group.add_argument("--licence-max-wait-seconds", type=float, default=600, metavar="SECONDS", help="default 600")


def licence_from(args: argparse.Namespace) -> LicenceSettings:
    return LicenceSettings(
        max_concurrent_requests=args.max_concurrent_requests,
        max_requests_per_minute=args.max_requests_per_minute,
        window_seconds=args.licence_window_seconds,
        max_waiting=args.licence_max_waiting,
        max_wait_seconds=args.licence_max_wait_seconds,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="acumatica-sandbox", description="A local Acumatica REST API sandbox.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}; 0 picks a free port")
    parser.add_argument("--tls-cert", help="PEM certificate; serves HTTPS together with --tls-key")
    parser.add_argument("--tls-key", help="PEM private key")
    parser.add_argument("--site-path", default="", help="virtual directory, e.g. /AcumaticaDB")
    parser.add_argument("--seed", type=int, default=1, help="data seed")
    parser.add_argument("--records", type=int, default=1000, metavar="N", help="records per entity")
    parser.add_argument(
        "--entity-records", type=entity_count, action="append", default=[], metavar="ENTITY=N", help="repeatable"
    )
    parser.add_argument(
        "--changes-per-hour", type=int, default=120, metavar="N", help="scheduled record changes per entity and hour"
    )
    parser.add_argument("--token-ttl", type=int, default=3600, metavar="SECONDS")
    parser.add_argument("--session-timeout", type=float, default=600, metavar="SECONDS")
    parser.add_argument("--max-seats", type=int, default=2, help="API seats of the license (trial: 2)")
    parser.add_argument(
        "--max-users", type=int, default=10, help="concurrent conventional users (HTTP Basic on OData) of the license"
    )
    parser.add_argument("--allow-client-credentials", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request to stderr")
    _add_licence_flags(parser)
    _add_fault_flags(parser)
    return parser


def config_from(args: argparse.Namespace) -> SandboxConfig:
    flagged = {
        spec.name: getattr(args, spec.name)
        for spec in fields(FaultSettings)
        if spec.name not in _CONFIG_ONLY_FAULTS and getattr(args, spec.name) is not None
    }
    faults = FaultSettings().updated({**args.faults, **flagged})
    return SandboxConfig(
        host=args.host,
        port=args.port,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        site_path=args.site_path,
        seed=args.seed,
        records=args.records,
        entity_records=dict(args.entity_records),
        changes_per_hour=args.changes_per_hour,
        token_ttl=args.token_ttl,
        session_timeout=args.session_timeout,
        max_seats=args.max_seats,
        max_users=args.max_users,
        allow_client_credentials=args.allow_client_credentials,
        faults=faults,
        licence=licence_from(args),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, stream=sys.stderr)
    try:
        config = config_from(args)
    except (TypeError, ValueError) as exc:
        parser.error(str(exc))
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    with SandboxServer(config) as sandbox:
        print(READY_LINE.format(url=sandbox.base_url), flush=True)
        while not stop.wait(0.5):
            continue
    return 0


if __name__ == "__main__":
    sys.exit(main())
