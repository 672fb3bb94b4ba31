"""Settings of one sandbox instance, fixed at start-up (faults are the part that changes at runtime).

The identities are public, well-known values so that tests, demos and DAG examples can share them:
tenant `Company`, branch `HQ`, user `admin` / `123`, and the OAuth client
`0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0@Company` / `sandbox-secret`.

A second user, `reader` / `123`, lacks the `OData4 User` role (`dac_odata=False`): the DAC-based OData
interface answers it 403, while the contract API and generic inquiries work. Tests that need a user without DAC
OData rights sign in as `reader`.

`max_seats` defaults to 2 because that is what an Acumatica trial license allows for API sessions,
the setting under which clients most often leak seats. `max_users` (concurrent conventional users, taken by
HTTP Basic on OData) defaults to 10, a sandbox choice: the reference docs give no trial figure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from airflow_provider_acumatica.sandbox.faults import FaultSettings
from airflow_provider_acumatica.sandbox.licence import LicenceSettings

CLIENT_ID_PATTERN = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}@(.+)$")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")


@dataclass(frozen=True)
class SandboxUser:
    name: str = "admin"
    password: str = "123"
    tenant: str = "Company"
    branch: str = "HQ"
    dac_odata: bool = True


@dataclass(frozen=True)
class OAuthClient:
    """A connected application; `user` is who it signs in as when no person is there to do it."""

    client_id: str = "0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0@Company"
    secret: str = "sandbox-secret"
    user: str = "admin"

    @property
    def tenant(self) -> str:
        match = CLIENT_ID_PATTERN.match(self.client_id)
        if match is None:
            raise ValueError(f"client id {self.client_id!r} is not of the form GUID@Tenant")
        return match.group(1)


@dataclass(frozen=True)
class SandboxConfig:
    host: str = "127.0.0.1"
    port: int = 0
    tls_cert: str | None = None
    tls_key: str | None = None
    site_path: str = ""
    seed: int = 1
    records: int = 1000
    entity_records: Mapping[str, int] = field(default_factory=dict)
    changes_per_hour: int = 120
    token_ttl: int = 3600
    session_timeout: float = 600
    max_seats: int = 2
    max_users: int = 10
    allow_client_credentials: bool = False
    tenants: tuple[str, ...] = ("Company",)
    users: tuple[SandboxUser, ...] = (SandboxUser(), SandboxUser(name="reader", dac_odata=False))
    clients: tuple[OAuthClient, ...] = (OAuthClient(),)
    redirect_uris: tuple[str, ...] = ()
    faults: FaultSettings = field(default_factory=FaultSettings)
    licence: LicenceSettings = field(default_factory=LicenceSettings)

    def __post_init__(self) -> None:
        object.__setattr__(self, "site_path", normalize_site_path(self.site_path))
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key must be given together")
        if not self.tenants:
            raise ValueError("at least one tenant is needed")
        for user in self.users:
            self._check_tenant(user.tenant, f"user {user.name!r}")
        for client in self.clients:
            self._check_tenant(client.tenant, f"client {client.client_id!r}")
            if self.find_user(client.user, client.tenant) is None:
                raise ValueError(f"client {client.client_id!r} signs in as {client.user!r}, who is not a user there")
        counts = (self.max_seats, self.max_users, self.changes_per_hour)
        if min(counts) < 0 or min(self.token_ttl, self.session_timeout) <= 0:
            raise ValueError(
                "max_seats, max_users and changes_per_hour must be >= 0, token_ttl and session_timeout > 0"
            )

    def _check_tenant(self, tenant: str, owner: str) -> None:
        if tenant not in self.tenants:
            raise ValueError(f"{owner} belongs to tenant {tenant!r}, which is not in tenants {self.tenants}")

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None

    @property
    def default_tenant(self) -> str:
        return self.tenants[0]

    def find_user(self, name: str, tenant: str) -> SandboxUser | None:
        """User names are case-insensitive on the real server; tenant login names are matched exactly."""
        return next((u for u in self.users if u.tenant == tenant and u.name.lower() == name.lower()), None)

    def find_client(self, client_id: str) -> OAuthClient | None:
        return next((c for c in self.clients if c.client_id.lower() == client_id.lower()), None)

    def client_user(self, client: OAuthClient) -> SandboxUser:
        user = self.find_user(client.user, client.tenant)
        if user is None:
            raise ValueError(
                f"client {client.client_id!r} signs in as {client.user!r}, who is not a user of its tenant"
            )
        return user

    def redirect_uri_allowed(self, uri: str) -> bool:
        """Loopback URIs on any port are registered, as for a native app; other URIs must match exactly."""
        if uri in self.redirect_uris:
            return True
        parts = urlsplit(uri)
        return parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS and not parts.fragment


def normalize_site_path(site_path: str) -> str:
    """`AcumaticaDB/`, `/AcumaticaDB` and `/AcumaticaDB/` all mean the virtual directory `/AcumaticaDB`."""
    stripped = site_path.strip("/")
    return f"/{stripped}" if stripped else ""
