"""A `requests.Session` that reads the proxy and CA-bundle environment once per host instead of on every call."""

from __future__ import annotations

from collections.abc import Hashable, MutableMapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests

if TYPE_CHECKING:
    from requests.sessions import _Settings


class EnvironmentOnceSession(requests.Session):
    """`requests` scans `os.environ` twice per request for proxies and CA bundles; on a small PUT that costs more
    client CPU than the rest of the call. A hook talks to one host for one task, so the answer is read once per
    (scheme, host, stream, verify, cert) and reused; a change to the environment during the task is not seen.
    Calls that pass their own `proxies` are merged afresh, as `requests` does."""

    def __init__(self) -> None:
        super().__init__()
        self._settled: dict[Hashable, _Settings] = {}

    def merge_environment_settings(
        self, url: str | bytes | None, proxies: MutableMapping[str, str] | None, stream: Any, verify: Any, cert: Any
    ) -> _Settings:
        if proxies or not self.trust_env or not isinstance(url, str):
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc, stream, verify, cert if isinstance(cert, Hashable) else repr(cert))
        settled = self._settled.get(key)
        if settled is None:
            settled = super().merge_environment_settings(url, {}, stream, verify, cert)
            self._settled[key] = settled
        return {**settled, "proxies": dict(settled["proxies"])}
