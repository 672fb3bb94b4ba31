"""Generic inquiries over OData v4 (`/t/<tenant>/api/odata/gi/...`) of the sandbox."""

from __future__ import annotations

from .data import DataStore
from .protocol import Request, Response


class ODataApi:
    """Serves `$metadata` and the sandbox's generic inquiries."""

    def __init__(self, store: DataStore, site_path: str = "") -> None:
        self.store = store
        self.site_path = site_path.rstrip("/")

    def handle(self, request: Request, tenant: str, resource: str) -> Response:
        """Answer `GET /t/<tenant>/api/odata/gi/<resource>`; resource is `$metadata` or an inquiry name."""
        raise NotImplementedError
