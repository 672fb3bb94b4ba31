"""Pages that IIS itself answers with, before or instead of the Acumatica application."""

from __future__ import annotations

from airflow_provider_acumatica.sandbox.protocol import Response

_PAGES = {
    411: ("Length Required", "HTTP Error 411. The request must be chunked or have a content length."),
    502: (
        "502 - Web server received an invalid response while acting as a gateway or proxy server.",
        "There is a problem with the page you are looking for, and it cannot be displayed.",
    ),
    503: ("Service Unavailable", "HTTP Error 503. The service is unavailable."),
}


def iis_page(status: int) -> Response:
    """HTML, not JSON: a client that assumes every error body is JSON breaks on these."""
    title, detail = _PAGES[status]
    page = (
        '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN""http://www.w3.org/TR/html4/strict.dtd">\r\n'
        f"<HTML><HEAD><TITLE>{title}</TITLE>\r\n"
        '<META HTTP-EQUIV="Content-Type" Content="text/html; charset=us-ascii"></HEAD>\r\n'
        f"<BODY><h2>{title}</h2>\r\n<hr><p>{detail}</p>\r\n</BODY></HTML>\r\n"
    )
    return Response(status=status, body=page.encode("ascii"), headers=[("Content-Type", "text/html; charset=us-ascii")])
