"""A one-shot HTTP listener on the loopback redirect URI, where the browser lands after consent."""

from __future__ import annotations

import contextlib
import queue
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_acumatica.exceptions import AcumaticaConfigError
from airflow_provider_acumatica.settings import is_loopback

_PAGE = (
    b"<!DOCTYPE html><html><head><title>Acumatica consent</title></head><body>"
    b"<p>The answer reached acumatica-oauth. You can close this tab and return to the terminal.</p>"
    b"</body></html>"
)


def loopback_address(redirect_uri: str) -> tuple[str, int, str]:
    """Host, port and path to listen on; only `http://` loopback URIs with an explicit port qualify."""
    parts = urlsplit(redirect_uri)
    if parts.scheme != "http" or not parts.hostname or not is_loopback(parts.hostname) or parts.port is None:
        raise AcumaticaConfigError(
            f"The redirect URI {redirect_uri!r} is not an http:// loopback address with a port, so no listener "
            "can receive it. Register one such as http://127.0.0.1:8765/callback on Connected Applications "
            "(SM303010) and pass it with --redirect-uri, or use --headless and paste the redirect URL."
        )
    return parts.hostname, parts.port, parts.path or "/"


class LoopbackListener:
    """Serves until the first request to the redirect path and hands over its path and query."""

    def __init__(self, redirect_uri: str) -> None:
        host, port, self.path = loopback_address(redirect_uri)
        self._answers: queue.Queue[str] = queue.Queue(maxsize=1)
        try:
            self._server = HTTPServer((host, port), self._handler())
        except OSError as err:
            raise AcumaticaConfigError(
                f"Cannot listen on {host}:{port} for the redirect ({err.strerror}). Another program uses the "
                "port: stop it, or register a redirect URI with a free port and pass it with --redirect-uri."
            ) from None
        self._thread = threading.Thread(target=self._server.serve_forever, name="acumatica-oauth-listener")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if urlsplit(self.path).path != listener.path:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(_PAGE)))
                self.end_headers()
                self.wfile.write(_PAGE)
                with contextlib.suppress(queue.Full):
                    listener._answers.put_nowait(self.path)

            def log_message(self, format: str, *args: Any) -> None:
                """Silent: the query carries the authorization code."""

        return Handler

    def __enter__(self) -> LoopbackListener:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def wait(self, timeout: float) -> str | None:
        """The redirect's path and query, or None when nothing arrived in time."""
        try:
            return self._answers.get(timeout=timeout)
        except queue.Empty:
            return None
