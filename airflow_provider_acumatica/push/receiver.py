"""`acumatica-push-receiver`: the webhook that Acumatica's push notifications (SM302000) POST to.

It runs on its own (never inside the triggerer, which may run twice or move hosts) and only spools: it checks
the shared-secret header (Acumatica's webhooks are unsigned; the one header is all the authentication there
is), limits and checks the body, and answers 200 only once the notification is durably in the spool, 5xx
otherwise so that Acumatica resends (at most five attempts, then its failed list). A resent notification
answers 200 and stores nothing new. `AcumaticaPushTrigger` reads the spool. See docs/push-receiver.md.
"""

from __future__ import annotations

import argparse
import hmac
import ipaddress
import json
import logging
import os
import ssl
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from airflow_provider_acumatica.push.payload import InvalidNotification, parse_notification
from airflow_provider_acumatica.push.spool import Spool

log = logging.getLogger("airflow_provider_acumatica.push.receiver")

SECRET_ENVIRONMENT = "ACUMATICA_PUSH_SECRET"
DEFAULT_HEADER = "X-Acumatica-Push-Secret"
MIN_SECRET_LENGTH = 16
# Acumatica truncates messages over 500,000 characters; this leaves room for multi-byte characters.
DEFAULT_MAX_BODY = 1_000_000


@dataclass(frozen=True)
class ReceiverConfig:
    spool: str
    secret: str = field(repr=False)
    spool_conn_id: str | None = None
    host: str = "127.0.0.1"
    port: int = 8780
    path: str = "/acumatica/push"
    header_name: str = DEFAULT_HEADER
    max_body_bytes: int = DEFAULT_MAX_BODY
    certfile: str | None = None
    keyfile: str | None = None
    insecure_behind_proxy: bool = False

    def check(self) -> None:
        """Refuse a set-up that would accept forged notifications or send the secret in the clear."""
        if len(self.secret) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"The shared secret must be at least {MIN_SECRET_LENGTH} characters (a long random value, e.g. "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`)."
            )
        if self.certfile is None and not _is_loopback(self.host) and not self.insecure_behind_proxy:
            raise ValueError(
                f"Listening on {self.host} without TLS would carry the secret in the clear: give --certfile and "
                "--keyfile, or --insecure-behind-proxy when a TLS-terminating reverse proxy is in front."
            )


@dataclass
class Counters:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected_auth: int = 0
    rejected_body: int = 0
    failed_store: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, name: str) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + 1)

    def snapshot(self) -> dict[str, int]:
        with self.lock:
            return {name: getattr(self, name) for name in _COUNTER_NAMES}


_COUNTER_NAMES = ("received", "stored", "duplicates", "rejected_auth", "rejected_body", "failed_store")


class ReceiverServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, config: ReceiverConfig) -> None:
        self.config = config
        self.spool = Spool.at(config.spool, config.spool_conn_id)
        self.counters = Counters()
        super().__init__((config.host, config.port), _Handler)
        if config.certfile:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(config.certfile, config.keyfile)
            self.socket = context.wrap_socket(self.socket, server_side=True)

    @property
    def url(self) -> str:
        scheme = "https" if self.config.certfile else "http"
        host, port = self.server_address[:2]
        name = host.decode() if isinstance(host, bytes) else host
        return f"{scheme}://{name}:{port}{self.config.path}"


class _Handler(BaseHTTPRequestHandler):
    server: ReceiverServer
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        if self.path.split("?", 1)[0] != self.server.config.path:
            self._answer(404, {"message": "Not found."}, "unknown path")
            return
        self.server.counters.add("received")
        status, body, reason = self._receive()
        self._answer(status, body, reason)

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] == "/health":
            self._answer(200, self._health(), "health", quiet=True)
        elif self.path.split("?", 1)[0] == self.server.config.path:
            self._answer(405, {"message": "Acumatica push notifications are POSTed."}, "method not allowed")
        else:
            self._answer(404, {"message": "Not found."}, "unknown path")

    def do_PUT(self) -> None:
        self._answer(405, {"message": "Acumatica push notifications are POSTed."}, "method not allowed")

    do_DELETE = do_PUT

    def _receive(self) -> tuple[int, dict[str, Any], str]:
        refused = self._refuse_unauthenticated()
        if refused is not None:
            self.server.counters.add("rejected_auth")
            return refused
        body = self._read_body()
        if isinstance(body, tuple):
            self.server.counters.add("rejected_body")
            return body
        try:
            notification = parse_notification(body)
        except InvalidNotification as err:
            self.server.counters.add("rejected_body")
            return 400, {"message": str(err)}, f"bad body: {err}"
        what = f"query {notification.query!r} id {notification.id}"
        try:
            stored = self.server.spool.store(notification)
        except OSError as err:
            self.server.counters.add("failed_store")
            return 503, {"message": "The notification could not be stored; resend it."}, f"{what} not stored: {err}"
        if not stored:
            self.server.counters.add("duplicates")
            return 200, {"stored": False, "duplicate": True}, f"{what} is a duplicate"
        self.server.counters.add("stored")
        return 200, {"stored": True}, f"{what} stored"

    def _refuse_unauthenticated(self) -> tuple[int, dict[str, Any], str] | None:
        """401 without the header, 403 with a wrong one; compared in constant time, never logged."""
        given = self.headers.get(self.server.config.header_name)
        if given is None:
            return 401, {"message": f"The {self.server.config.header_name} header is missing."}, "no secret header"
        if not hmac.compare_digest(given.encode(), self.server.config.secret.encode()):
            return 403, {"message": f"The {self.server.config.header_name} header is wrong."}, "wrong secret header"
        return None

    def _read_body(self) -> bytes | tuple[int, dict[str, Any], str]:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.close_connection = True
            return 411, {"message": "A Content-Length header is required."}, "no content length"
        if int(length) > self.server.config.max_body_bytes:
            self.close_connection = True
            limit = self.server.config.max_body_bytes
            return 413, {"message": f"The body is over {limit} bytes."}, f"body of {length} bytes over the limit"
        return self.rfile.read(int(length))

    def _health(self) -> dict[str, Any]:
        try:
            pending: int | None = len(self.server.spool.pending())
        except OSError:
            pending = None
        return {**self.server.counters.snapshot(), "pending": pending, "spool": str(self.server.spool)}

    def _answer(self, status: int, body: dict[str, Any], reason: str, *, quiet: bool = False) -> None:
        if not quiet:
            log.info("%s %s -> %d: %s", self.command, self.path.split("?", 1)[0], status, reason)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Our own one line per request replaces the default access log, which would go to stderr."""


def build_server(config: ReceiverConfig) -> ReceiverServer:
    config.check()
    _mask(config.secret)
    return ReceiverServer(config)


def _mask(secret: str) -> None:
    """Also hide the secret from Airflow's logs when the receiver runs beside Airflow."""
    try:
        from airflow_provider_acumatica.masking import mask
    except ImportError:
        return
    mask(secret)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="acumatica-push-receiver",
        description="Receive Acumatica push notifications (webhook destination on SM302000) into a spool.",
    )
    parser.add_argument("--spool", required=True, help="folder or object-store URI the push trigger watches")
    parser.add_argument("--spool-conn-id", help="Airflow connection for an object-store spool")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8780)
    parser.add_argument("--path", default="/acumatica/push", help="the URL path entered on SM302000")
    parser.add_argument("--header-name", default=DEFAULT_HEADER, help="the Header Name entered on SM302000")
    parser.add_argument("--secret-file", help=f"file holding the Header Value (else ${SECRET_ENVIRONMENT})")
    parser.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY)
    parser.add_argument("--certfile", help="TLS certificate chain (PEM)")
    parser.add_argument("--keyfile", help="TLS private key (PEM)")
    parser.add_argument(
        "--insecure-behind-proxy",
        action="store_true",
        help="listen without TLS on a non-loopback address, behind a TLS-terminating reverse proxy",
    )
    return parser.parse_args(argv)


def _secret(args: argparse.Namespace) -> str:
    if args.secret_file:
        return Path(args.secret_file).read_text().strip()
    return os.environ.get(SECRET_ENVIRONMENT, "")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    config = ReceiverConfig(
        spool=args.spool,
        secret=_secret(args),
        spool_conn_id=args.spool_conn_id,
        host=args.host,
        port=args.port,
        path=args.path,
        header_name=args.header_name,
        max_body_bytes=args.max_body_bytes,
        certfile=args.certfile,
        keyfile=args.keyfile,
        insecure_behind_proxy=args.insecure_behind_proxy,
    )
    try:
        server = build_server(config)
    except (ValueError, OSError) as err:
        print(f"acumatica-push-receiver: {err}", file=sys.stderr)
        return 2
    log.info("Receiving Acumatica push notifications at %s into %s.", server.url, server.spool)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
