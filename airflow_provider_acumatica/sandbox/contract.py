"""Contract-based REST routes (`/entity/...`) of the sandbox."""

from __future__ import annotations

from .data import DataStore
from .protocol import Request, Response


class ContractApi:
    """Serves `/entity`, swagger.json and entity CRUD for the `Default` endpoint versions."""

    def __init__(self, store: DataStore, site_path: str = "") -> None:
        self.store = store
        self.site_path = site_path.rstrip("/")

    def handle(self, request: Request) -> Response:
        """Route an authenticated request whose path (site prefix removed) starts with `/entity`."""
        raise NotImplementedError

    def list_screen(self, request: Request, screen_id: str) -> Response:
        """The simplified published `GET /api/data/<ScreenID>` route: a screen's list on 24.200.001."""
        raise NotImplementedError
