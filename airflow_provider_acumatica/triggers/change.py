"""`AcumaticaChangeTrigger`: wake a DAG when an entity changes, for instances without push notifications.

Every `poll_interval` it signs in, asks for at most one record changed since its watermark (`$top=1`,
`$select` of the last-modified field, which comes back with the record's `id`, and `$filter` on it), signs out,
and fires when one came back. The watermark then moves to the server's clock (the response's `Date`, whole
seconds, so nothing committed in that second is skipped), or to the found record's stamp when that is later, so
one edit fires once. Costs per poll: one sign-in, one `GET`, one sign-out (three requests with a cookie session,
fewer with a token), and no seat between polls.

What it guarantees and what it does not:

* It only wakes the DAG; the run's incremental pull decides what lands, so an event too many costs a run and
  a missed one (an edit committed late, a restart on Airflow before 3.3 without a Variable) costs latency
  until the next timetable run, never data.
* It never fires on start-up without a stored watermark: the first poll only learns the server's time.
* 429, 5xx, dropped connections and a full licence double the wait up to `max_backoff`; rejected credentials
  are never tried again until the connection changes (Acumatica locks accounts); a wrong entity or field is
  logged and retried at `max_backoff` only. It never raises: the triggerer would re-create it within a second.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from airflow import __version__ as airflow_version
from airflow.providers.common.compat.connection import get_async_connection
from airflow.providers.common.compat.sdk import Connection
from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from airflow_provider_acumatica.exceptions import AcumaticaApiError, AcumaticaConfigError, AcumaticaCredentialsError
from airflow_provider_acumatica.hooks.acumatica import AcumaticaHook
from airflow_provider_acumatica.incremental import AUTO, check_field_name, date_literal
from airflow_provider_acumatica.retry_policy import RetryPolicy
from airflow_provider_acumatica.triggers.watermark import WatermarkStore, watermark_store

# The hook retries nothing: a retry would hold the seat while it waits; the trigger backs off signed out.
_NO_RETRIES = RetryPolicy(max_retries=0, max_seconds=0.0)
# Before 3.0.3 a trigger's connection or Variable read races the trigger runner's own reads of the same pipe
# and can stall every trigger of the triggerer (apache/airflow#50185, fixed by #51279).
_STALLING_TRIGGERER = tuple(int(part) for part in re.findall(r"\d+", airflow_version)[:3]) < (3, 0, 3)
# How long a cancelled trigger waits for the poll in flight, so that the poll's sign-out still happens.
_SIGN_OUT_GRACE_SECONDS = 30.0


@dataclass(frozen=True)
class PollResult:
    changed_id: str | None
    changed_at: datetime | None
    server_time: datetime

    @property
    def next_watermark(self) -> datetime:
        """The server's time, or the change seen if it is later (in the same second): it must not fire twice."""
        return max(self.server_time, self.changed_at or self.server_time)


class ChangePoller:
    """One poll in one short-lived session; synchronous, so the trigger runs it in a thread."""

    def __init__(self, connection: Connection, entity: str, field: str, endpoint_version: str | None) -> None:
        self.connection = connection
        self.entity = entity
        self.field = field
        self.endpoint_version = endpoint_version

    def poll(self, since: datetime) -> PollResult:
        with AcumaticaHook(self.connection.conn_id, connection=self.connection, retry_policy=_NO_RETRIES) as hook:
            field = self._field(hook)
            version = self.endpoint_version or hook.settings.endpoint_version
            params = {
                "$top": "1",
                "$select": field,
                "$filter": f"{field} gt {date_literal(since, version)}",
            }
            url = hook.entity_url(self.entity, endpoint_version=version)
            response = hook.request("GET", url, params=params)
        rows = _rows(response, self.entity)
        if not rows:
            return PollResult(None, None, _server_time(response))
        return PollResult(str(rows[0].get("id")), _stamp(rows[0].get(self.field)), _server_time(response))

    def _field(self, hook: AcumaticaHook) -> str:
        """`auto` is resolved once, from the endpoint's schema, in the first poll's session."""
        if self.field != AUTO:
            return self.field
        found = hook.entity_schema(self.entity, self.endpoint_version).last_modified_field()
        if found is None:
            raise AcumaticaConfigError(
                f"{self.entity} has no last-modified field, so no change can be polled for. Schedule its pull "
                "on a timetable instead, or give last_modified_field."
            )
        self.field = found
        return found


class AcumaticaChangeTrigger(BaseEventTrigger):
    """Fire `{"entity", "acumatica_conn_id", "changed_since", "detected_at", "changed_id"}` on a change.

    Use it in an `AssetWatcher`. The kwargs hold only names and limits (no secret, no moving cursor), so the
    dag processor keeps one trigger across parses."""

    def __init__(
        self,
        *,
        entity: str,
        acumatica_conn_id: str = AcumaticaHook.default_conn_name,
        last_modified_field: str = AUTO,
        poll_interval: float = 300.0,
        max_backoff: float = 3600.0,
        endpoint_version: str | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        check_field_name(last_modified_field)
        if poll_interval <= 0 or max_backoff < poll_interval:
            raise AcumaticaConfigError(
                f"poll_interval must be positive and max_backoff at least poll_interval (got {poll_interval} "
                f"and {max_backoff})."
            )
        self.entity = entity
        self.acumatica_conn_id = acumatica_conn_id
        self.last_modified_field = last_modified_field
        self.poll_interval = poll_interval
        self.max_backoff = max_backoff
        self.endpoint_version = endpoint_version

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__name__}",
            {
                "entity": self.entity,
                "acumatica_conn_id": self.acumatica_conn_id,
                "last_modified_field": self.last_modified_field,
                "poll_interval": self.poll_interval,
                "max_backoff": self.max_backoff,
                "endpoint_version": self.endpoint_version,
            },
        )

    @property
    def watermark_key(self) -> str:
        return self.watermark_variable(self.acumatica_conn_id, self.entity)

    @staticmethod
    def watermark_variable(acumatica_conn_id: str, entity: str) -> str:
        """The Variable a trigger without an asset state store resumes from: a pull task may set it to where
        its pull ended, so a triggerer that cannot write Variables (Airflow 3.0) still resumes there."""
        return f"acumatica_change_watermark__{acumatica_conn_id}__{entity}"

    async def run(self) -> AsyncIterator[TriggerEvent]:
        if _STALLING_TRIGGERER:
            self.log.warning(
                "Airflow %s's triggerer can stall when a trigger reads a connection (apache/airflow#50185, fixed "
                "in 3.0.3): upgrade Airflow, or wake the DAG with AcumaticaPushTrigger instead.",
                airflow_version,
            )
        store = watermark_store(self, self.watermark_key)
        watermark = await store.load()
        connection = await get_async_connection(self.acumatica_conn_id, AcumaticaHook)
        poller = ChangePoller(connection, self.entity, self.last_modified_field, self.endpoint_version)
        rejected: str | None = None
        delay = self.poll_interval
        self.log.info(
            "Watching %s on %s every %g s%s.",
            self.entity,
            self.acumatica_conn_id,
            self.poll_interval,
            f", changes since {watermark.isoformat()}" if watermark else "",
        )
        while True:
            await asyncio.sleep(delay)
            if rejected is not None:
                connection = await get_async_connection(self.acumatica_conn_id, AcumaticaHook)
                if _fingerprint(connection) == rejected:
                    continue
                self.log.info("The connection %s changed: signing in again.", self.acumatica_conn_id)
                poller = ChangePoller(connection, self.entity, self.last_modified_field, self.endpoint_version)
                rejected = None
            try:
                result = await _poll(poller, watermark)
            except AcumaticaCredentialsError as err:
                self.log.error("%s Not signing in again until the connection %s changes.", err, connection.conn_id)
                rejected, delay = _fingerprint(connection), self.poll_interval
                continue
            except Exception as err:  # a trigger that raises is re-created at once: a hot loop of sign-ins
                delay = self._backoff(delay, err)
                continue
            delay = self.poll_interval
            event, watermark = await self._advance(store, watermark, result)
            if event is not None:
                yield event

    async def _advance(
        self, store: WatermarkStore, watermark: datetime | None, result: PollResult
    ) -> tuple[TriggerEvent | None, datetime]:
        """The first poll only learns the server's time; later ones fire on a change and move the watermark."""
        if watermark is not None and result.changed_id is None:
            return None, watermark
        moved = result.next_watermark
        await store.save(moved)
        if watermark is None:
            return None, moved
        self.log.info("%s changed since %s (e.g. id %s).", self.entity, watermark.isoformat(), result.changed_id)
        payload = {
            "entity": self.entity,
            "acumatica_conn_id": self.acumatica_conn_id,
            "changed_since": watermark.isoformat(),
            "detected_at": moved.isoformat(),
            "changed_id": result.changed_id,
        }
        return TriggerEvent(payload), moved  # type: ignore[no-untyped-call]

    def _backoff(self, delay: float, err: Exception) -> float:
        if isinstance(err, AcumaticaConfigError):
            self.log.error("Polling %s failed: %s Trying again in %g s.", self.entity, err, self.max_backoff)
            return self.max_backoff
        longer = min(delay * 2, self.max_backoff)
        self.log.warning("Polling %s failed (%s); trying again in %g s.", self.entity, _describe(err), longer)
        return longer


async def _poll(poller: ChangePoller, watermark: datetime | None) -> PollResult:
    """The poll runs in a thread; on cancellation it is let finish, so its session is still signed out."""
    since = watermark or datetime.now(UTC)
    task = asyncio.ensure_future(asyncio.to_thread(poller.poll, since))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait({task}, timeout=_SIGN_OUT_GRACE_SECONDS)
        raise


def _rows(response: requests.Response, entity: str) -> list[dict[str, Any]]:
    try:
        rows = response.json()
    except ValueError:
        rows = None
    if not isinstance(rows, list):
        raise AcumaticaApiError(
            f"GET {entity} did not answer a JSON array; check the entity name and the endpoint version.",
            http_status=response.status_code,
        )
    return rows


def _server_time(response: requests.Response) -> datetime:
    """The server's `Date` (whole seconds: rounding down never skips a record); our clock if it has none."""
    try:
        return parsedate_to_datetime(response.headers["Date"]).astimezone(UTC)
    except (KeyError, TypeError, ValueError):
        return datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)


def _stamp(value: Any) -> datetime | None:
    """The found record's last-modified value (`{"value": "…+00:00"}`), or None if it cannot be read."""
    text = value.get("value") if isinstance(value, dict) else value
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _fingerprint(connection: Connection) -> str:
    """Tells a fixed connection from the rejected one without keeping the secret itself."""
    fields = [connection.host, connection.login, connection.password, connection.extra, connection.schema]
    return hashlib.sha256(json.dumps(fields, default=str).encode()).hexdigest()


def _describe(err: Exception) -> str:
    """The status or the kind of failure; never the message, which may quote a request."""
    if isinstance(err, AcumaticaApiError) and err.http_status is not None:
        return f"HTTP {err.http_status}"
    return type(err).__name__
