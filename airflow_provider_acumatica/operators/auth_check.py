"""`AcumaticaAuthCheckOperator`: a scheduled proof that a connection can still sign in."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from airflow.providers.common.compat.sdk import BaseOperator

from airflow_provider_acumatica.exceptions import AcumaticaConfigError
from airflow_provider_acumatica.hooks.acumatica import AcumaticaHook


class AcumaticaAuthCheckOperator(BaseOperator):
    """Sign in, make one cheap call, sign out, and return a status manifest (no secrets).

    For refresh-token connections the sign-in is a refresh, so running this on a schedule keeps the
    refresh-token chain alive. Failures raise the hook's errors, which say what to fix.
    """

    template_fields: Sequence[str] = ("acumatica_conn_id",)
    ui_color = "#e8f4fd"

    def __init__(self, *, acumatica_conn_id: str = AcumaticaHook.default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.acumatica_conn_id = acumatica_conn_id
        self._hook: AcumaticaHook | None = None

    def execute(self, context: Any) -> dict[str, Any]:
        self._hook = AcumaticaHook(self.acumatica_conn_id)
        with self._hook as hook:
            started = time.perf_counter()
            check_tenant(hook)
            hook.get_conn()
            endpoints = hook.list_endpoints()
            round_trip_ms = round((time.perf_counter() - started) * 1000)
            status = self._status(hook, endpoints, round_trip_ms)
        self.log.info(
            "Acumatica connection %s is healthy: %s, endpoint %s, token valid for %s s.",
            self.acumatica_conn_id,
            status["auth_type"],
            status["endpoint"],
            status["token_expires_in_seconds"],
        )
        return status

    def _status(self, hook: AcumaticaHook, endpoints: list[dict[str, Any]], round_trip_ms: int) -> dict[str, Any]:
        settings = hook.settings
        endpoint = f"{settings.endpoint_name}/{settings.endpoint_version}"
        published = {f"{e.get('name')}/{e.get('version')}" for e in endpoints}
        if endpoint not in published:
            raise AcumaticaConfigError(
                f"Signed in, but endpoint {endpoint} is not published on this instance "
                f"(available: {', '.join(sorted(published)) or 'none'}). Set endpoint_version in the connection."
            )
        return {
            "conn_id": self.acumatica_conn_id,
            "auth_type": settings.auth_type,
            "endpoint": endpoint,
            **hook.auth.describe(),
            "round_trip_ms": round_trip_ms,
            "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }

    def on_kill(self) -> None:
        if self._hook is not None:
            self._hook.terminate()


def check_tenant(hook: AcumaticaHook) -> None:
    """A client ID is bound to the tenant it was registered in; a different `tenant` is a silent trap."""
    settings = hook.settings
    suffix = (settings.client_id or "").partition("@")[2]
    if settings.auth_type.startswith("oauth2") and suffix and settings.tenant and suffix != settings.tenant:
        raise AcumaticaConfigError(
            f"The client ID belongs to tenant {suffix!r} but the connection names tenant {settings.tenant!r}. "
            "OAuth tokens only reach the client ID's tenant: register the application in the right tenant "
            "or fix extra.tenant."
        )
