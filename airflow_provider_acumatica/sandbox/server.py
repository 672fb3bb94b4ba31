"""The HTTP side of the sandbox: a threading HTTP/1.1 server with keep-alive and optional TLS.

`SandboxServer` runs it in a background thread:

    with SandboxServer(SandboxConfig(records=250)) as sandbox:
        requests.post(f"{sandbox.base_url}/entity/auth/login", json={"name": "admin", "password": "123"})
"""

from __future__ import annotations

import io
import logging
import socket
import ssl
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from airflow_provider_acumatica.sandbox.app import SandboxApp, unhandled_error
from airflow_provider_acumatica.sandbox.config import SandboxConfig
from airflow_provider_acumatica.sandbox.cookies import parse_cookie_header
from airflow_provider_acumatica.sandbox.data import DataStore
from airflow_provider_acumatica.sandbox.faults import FaultSettings
from airflow_provider_acumatica.sandbox.protocol import Request, Response, px_error

logger = logging.getLogger(__name__)

MAX_LINE = 65536
NO_BODY_STATUSES = (204, 304)


class MalformedRequestError(ValueError):
    """A request whose body cannot be framed; the connection cannot be reused after it."""


def read_chunked(stream: io.BufferedIOBase) -> bytes:
    chunks = []
    while True:
        line = stream.readline(MAX_LINE)
        try:
            size = int(line.split(b";")[0].strip(), 16)
        except ValueError as exc:
            raise MalformedRequestError(f"bad chunk size line {line!r}") from exc
        if size == 0:
            break
        chunks.append(stream.read(size))
        stream.readline(MAX_LINE)
    while stream.readline(MAX_LINE) not in (b"\r\n", b"\n", b""):
        continue
    return b"".join(chunks)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 120
    server: _HTTPServer

    def version_string(self) -> str:
        return "Microsoft-IIS/10.0"

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        try:
            request = self._read_request()
        except MalformedRequestError as exc:
            self.close_connection = True
            self._write(Response.json(px_error("An error has occurred.", str(exc), "System.Web.HttpException"), 500))
            return
        try:
            response = self.server.app.dispatch(request)
        except Exception:
            logger.exception("sandbox failed on %s %s", request.method, request.path)
            response = unhandled_error()
        if response is None:
            self._drop()
        else:
            self._write(response)

    def _read_request(self) -> Request:
        parts = urlsplit(self.path)
        query = {name: values[-1] for name, values in parse_qs(parts.query, keep_blank_values=True).items()}
        return Request(
            method=self.command,
            path=unquote(parts.path),
            query=query,
            headers=self.headers,
            body=self._read_body(),
            cookies=parse_cookie_header(self.headers.get("Cookie")),
        )

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return read_chunked(self.rfile)
        raw_length = self.headers.get("Content-Length")
        if raw_length is None:
            return b""
        try:
            length = int(raw_length)
        except ValueError:
            length = -1
        if length < 0:
            raise MalformedRequestError(f"bad Content-Length {raw_length!r}")
        return self.rfile.read(length)

    def _write(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            if name.lower() not in {"content-length", "transfer-encoding"}:
                self.send_header(name, value)
        streamed = response.chunks is not None and response.status not in NO_BODY_STATUSES
        if streamed:
            self.send_header("Transfer-Encoding", "chunked")
        elif response.status not in NO_BODY_STATUSES:
            self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if streamed and response.chunks is not None:
            self._write_chunks(response.chunks)
        elif response.body and response.status not in NO_BODY_STATUSES:
            self.wfile.write(response.body)

    def _write_chunks(self, chunks: Iterable[bytes]) -> None:
        for chunk in chunks:
            if chunk:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")

    def _drop(self) -> None:
        """Close without a status line, as a crashed worker or a cut network would."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            logger.debug("connection already gone before the injected drop")


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, config: SandboxConfig, app: SandboxApp) -> None:
        super().__init__((config.host, config.port), _Handler)
        self.app = app
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        if config.tls_cert is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(config.tls_cert, config.tls_key)
            # The handshake then runs in the connection's thread, so a slow client cannot stall accept().
            self.socket = context.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        with self._connections_lock:
            self._connections.add(connection)
        return connection, address

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that vanish or fail the TLS handshake are routine here, not worth a traceback on stderr."""
        logger.debug("connection from %s failed", client_address, exc_info=True)

    def close_connections(self) -> None:
        """Cut idle keep-alive connections, which would otherwise keep being served after a stop."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                logger.debug("connection already closed at shutdown")


class SandboxServer:
    """A running sandbox; state (data, sessions, counters) survives `stop()` and a later `start()`."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self.app = SandboxApp(self.config)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def store(self) -> DataStore:
        return self.app.store

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the sandbox is not running")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """The instance URL, site path included, as a client would configure it."""
        scheme = "https" if self.config.tls else "http"
        host = self.config.host if self.config.host not in ("", "0.0.0.0") else "127.0.0.1"  # noqa: S104
        return f"{scheme}://{host}:{self.port}{self.config.site_path}"

    def start(self) -> SandboxServer:
        if self._httpd is not None:
            raise RuntimeError("the sandbox is already running")
        self._httpd = _HTTPServer(self.config, self.app)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="acumatica-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None:
            return
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        thread.join()
        self.app.close()
        self._httpd = self._thread = None

    def stats(self) -> dict[str, Any]:
        return self.app.snapshot()

    def issued_credentials(self) -> list[str]:
        """Every token, session ticket and session id issued so far, to search logs for leaks."""
        return self.app.identity.issued_credentials()

    def set_faults(self, **settings: Any) -> FaultSettings:
        return self.app.set_faults(settings)

    def reset(self, faults: bool = False) -> None:
        self.app.reset(faults=faults)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
