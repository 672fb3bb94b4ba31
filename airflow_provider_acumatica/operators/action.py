"""`AcumaticaActionOperator`: run an action (`POST /{Entity}/{Action}`) on one record, and report its `Status`.

Acumatica answers 204 when the action is done, or 202 with a `Location` to poll: 202 while it runs, 204 when
done. The poll backs off up to `max_poll_interval` and gives up after `timeout` seconds. While the action runs,
the same session's other requests to that form fail, so nothing else is sent meanwhile. Afterwards the record is
read back and its `Status` returned, since the action's answer carries no record.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from airflow.providers.common.compat.sdk import BaseOperator

from airflow_provider_acumatica.exceptions import AcumaticaApiError, AcumaticaConfigError, AcumaticaError
from airflow_provider_acumatica.hooks.acumatica import AcumaticaHook
from airflow_provider_acumatica.operators.to_file import check_name, close_all


class AcumaticaActionOperator(BaseOperator):
    """Invoke `action` of `entity` on the record named by `keys` (`{"OrderType": "SO", "OrderNbr": "..."}`)
    or `record_id`, with optional `parameters`; returns `{"entity", "action", "id" or "keys", "status"}`."""

    template_fields: Sequence[str] = ("entity", "action", "keys", "record_id", "parameters", "acumatica_conn_id")
    ui_color = "#e8fdf1"

    def __init__(
        self,
        *,
        entity: str,
        action: str,
        keys: Mapping[str, Any] | None = None,
        record_id: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        timeout: float = 600.0,
        poll_interval: float = 1.0,
        max_poll_interval: float = 30.0,
        endpoint_version: str | None = None,
        acumatica_conn_id: str = AcumaticaHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_name("entity", entity)
        check_name("action", action)
        if (keys is None) == (record_id is None):
            raise AcumaticaConfigError("Name the record with either keys={...} or record_id='...', not both or none.")
        if not 0 < poll_interval <= max_poll_interval or timeout <= 0:
            raise AcumaticaConfigError(
                "timeout and poll_interval must be positive seconds, with poll_interval <= max_poll_interval."
            )
        self.entity = entity
        self.action = action
        self.keys = keys
        self.record_id = record_id
        self.parameters = parameters
        self.timeout = timeout
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.endpoint_version = endpoint_version
        self.acumatica_conn_id = acumatica_conn_id
        self._hook: AcumaticaHook | None = None

    def execute(self, context: Any) -> dict[str, Any]:
        self._hook = hook = AcumaticaHook(self.acumatica_conn_id)
        try:
            version = self.endpoint_version or hook.settings.endpoint_version
            self._invoke(hook, version)
            return self._read_status(hook, version)
        finally:
            close_all([hook])

    def on_kill(self) -> None:
        if self._hook is not None:
            close_all([self._hook], terminate=True)

    def _target(self) -> dict[str, Any]:
        if self.record_id is not None:
            return {"id": self.record_id}
        return {name: {"value": value} for name, value in (self.keys or {}).items()}

    def _invoke(self, hook: AcumaticaHook, version: str) -> None:
        url = hook.entity_url(self.entity, self.action, endpoint_version=version)
        body = {"entity": self._target(), "parameters": dict(self.parameters or {})}
        try:
            response = hook.request("POST", url, json=body)
        except AcumaticaApiError as err:
            raise self._explained(err) from err
        if response.status_code == 202:
            self._wait(hook, response.headers.get("Location"))

    def _explained(self, err: AcumaticaApiError) -> AcumaticaError:
        if err.http_status == 404:
            return AcumaticaConfigError(
                f"{self.entity} has no action {self.action!r} on this endpoint (HTTP 404). Check the action's "
                "name in the endpoint's swagger.json (paths /{Entity}/{Action}) or in the Web Service Endpoints form."
            )
        if err.http_status == 422:
            return AcumaticaError(
                f"Acumatica refused {self.entity}/{self.action} for this record (HTTP 422): {err.summary}. "
                "The action is not allowed in the record's current state."
            )
        return err

    def _wait(self, hook: AcumaticaHook, location: str | None) -> None:
        """Poll the operation's status with backoff until 204, within `timeout`."""
        if not location:
            raise AcumaticaError(f"{self.entity}/{self.action} answered 202 without a Location to poll.")
        url = _absolute(hook, location)
        deadline = time.monotonic() + self.timeout
        delay = self.poll_interval
        while True:
            status = hook.request("GET", url).status_code
            if status == 204:
                return
            if time.monotonic() + delay > deadline:
                raise AcumaticaError(
                    f"{self.entity}/{self.action} was still running after timeout={self.timeout:g} s. It may still "
                    "finish on the server: check the record before running the action again, or raise timeout."
                )
            time.sleep(delay)
            delay = min(delay * 2, self.max_poll_interval)

    def _read_status(self, hook: AcumaticaHook, version: str) -> dict[str, Any]:
        ids = [self.record_id] if self.record_id is not None else [str(v) for v in (self.keys or {}).values()]
        url = hook.entity_url(self.entity, *ids, endpoint_version=version)
        record = hook.request_json("GET", url, params={"$select": "Status"})
        status = (record.get("Status") or {}).get("value") if isinstance(record, dict) else None
        named = {"id": self.record_id} if self.record_id is not None else {"keys": dict(self.keys or {})}
        self.log.info("%s/%s done; the record's Status is now %r.", self.entity, self.action, status)
        return {"entity": self.entity, "action": self.action, **named, "status": status}


def _absolute(hook: AcumaticaHook, location: str) -> str:
    """A `Location` may be a full URL or a path from the server's root (it already holds the site path)."""
    if "://" in location:
        return location
    base = urlsplit(hook.settings.base_url)
    return f"{base.scheme}://{base.netloc}{location}"
