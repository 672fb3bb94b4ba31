"""`AcumaticaActionOperator`: run an action (`POST /{Entity}/{Action}`) on one record, or on each record of a file.

Acumatica answers 204 when the action is done, or 202 with a `Location` to poll: 202 while it runs, 204 when
done. The poll backs off up to `max_poll_interval` and gives up after `timeout` seconds. While the action runs,
the same session's other requests to that form fail, so nothing else is sent meanwhile, and a file's records
run one after another. Afterwards the record is read back and its `Status` returned, since the action's answer
carries no record.

With `deferrable=True` (one record) the worker POSTs the action and, on 202, hands its session to
`AcumaticaActionTrigger`, which polls in the triggerer and signs the session out; `execute_complete` reads the
record back in a new session. The seat stays taken while deferred, because the action's status lives in it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import timedelta
from typing import IO, Any
from urllib.parse import urlsplit

from airflow.providers.common.compat.sdk import BaseOperator, ObjectStoragePath

from airflow_provider_acumatica.exceptions import AcumaticaApiError, AcumaticaConfigError, AcumaticaError
from airflow_provider_acumatica.hooks.acumatica import AcumaticaHook
from airflow_provider_acumatica.operators.to_file import check_name, close_all, sigterm_signs_out
from airflow_provider_acumatica.operators.upsert import Tally, check_max_rejects
from airflow_provider_acumatica.output.paths import redact_uri
from airflow_provider_acumatica.triggers.action import AcumaticaActionTrigger
from airflow_provider_acumatica.writeback import input_format, read_records, record_key, results_beside, storage_path

OUTCOMES = ("done", "rejected", "timed_out")
# Rejected records of a file: the action did not run on that record (400, 422) or may not have (500).
_REJECTED_STATUSES = frozenset({400, 422, 500})
# Beyond the trigger's own deadline, so the trigger reports the timeout and signs out before Airflow gives up.
DEFER_GRACE = timedelta(seconds=60)


class ActionTimeoutError(AcumaticaError):
    """The action was still running at `timeout`; it may still finish on the server."""


class AcumaticaActionOperator(BaseOperator):
    """Invoke `action` of `entity`, with optional `parameters`, on the record named by `keys`
    (`{"OrderType": "SO", "OrderNbr": "..."}`) or `record_id`, or on each record of `input_path`.

    One record returns `{"entity", "action", "id" or "keys", "status"}`. A file (JSON Lines, CSV or Parquet)
    names each record by its `id` or its `key_fields`; each record's outcome (`done` with the `status` after,
    `rejected` with the HTTP status and the server's message, `timed_out`) lands in `results_path` (default
    `<input>.results.jsonl`, written also when the task fails), and the return value holds counts only. More than
    `max_rejects` rejected records (a count, or a share below 1) fail the task; an unknown action (404) or a
    timeout stops the file at once. `deferrable=True` waits for one record's long action in the triggerer.
    """

    template_fields: Sequence[str] = (
        "entity",
        "action",
        "keys",
        "record_id",
        "parameters",
        "acumatica_conn_id",
        "endpoint_version",
        "input_path",
        "input_conn_id",
        "results_path",
        "key_fields",
    )
    ui_color = "#e8fdf1"

    def __init__(
        self,
        *,
        entity: str,
        action: str,
        keys: Mapping[str, Any] | None = None,
        record_id: str | None = None,
        input_path: str | ObjectStoragePath | None = None,
        key_fields: Sequence[str] | None = None,
        input_format: str | None = None,
        input_conn_id: str | None = None,
        results_path: str | ObjectStoragePath | None = None,
        max_rejects: int | float = 0,
        parameters: Mapping[str, Any] | None = None,
        timeout: float = 600.0,
        poll_interval: float = 1.0,
        max_poll_interval: float = 30.0,
        deferrable: bool = False,
        endpoint_version: str | None = None,
        acumatica_conn_id: str = AcumaticaHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_name("entity", entity)
        check_name("action", action)
        named = [
            name
            for name, value in (("keys", keys), ("record_id", record_id), ("input_path", input_path))
            if value is not None
        ]
        if len(named) != 1:
            raise AcumaticaConfigError(
                "Name the record with exactly one of keys={...}, record_id='...' or input_path='...' (a file of "
                f"records, with key_fields=[...] or an id column); got {', '.join(named) or 'none'}."
            )
        if key_fields and input_path is None:
            raise AcumaticaConfigError("key_fields names the key columns of input_path; use keys={...} for one record.")
        if deferrable and input_path is not None:
            raise AcumaticaConfigError(
                "deferrable=True waits for one record's action in the triggerer; a file's actions run one after "
                "another in one session on the worker. Drop deferrable, or run one record per task."
            )
        if not 0 < poll_interval <= max_poll_interval or timeout <= 0:
            raise AcumaticaConfigError(
                "timeout and poll_interval must be positive seconds, with poll_interval <= max_poll_interval."
            )
        self.entity = entity
        self.action = action
        self.keys = keys
        self.record_id = record_id
        self.input_path = input_path
        self.key_fields = list(key_fields or [])
        self.input_format = input_format
        self.input_conn_id = input_conn_id
        self.results_path = results_path
        self.max_rejects = check_max_rejects(max_rejects)
        self.parameters = parameters
        self.timeout = timeout
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.deferrable = deferrable
        self.endpoint_version = endpoint_version
        self.acumatica_conn_id = acumatica_conn_id
        self._hook: AcumaticaHook | None = None

    def execute(self, context: Any) -> dict[str, Any]:
        if self.input_path is not None:
            return self._execute_file()
        self._hook = hook = AcumaticaHook(self.acumatica_conn_id)
        try:
            version = self.endpoint_version or hook.settings.endpoint_version
            try:
                location = self._post(hook, version, self._target())
            except AcumaticaApiError as err:
                raise self._explained(err) from err
            if location is not None:
                if self.deferrable:
                    self._defer(hook, location)
                self._wait(hook, location)
            return self._result(hook, version)
        finally:
            close_all([hook])

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Back from the trigger, which signed the action's session out: read the record in a new one."""
        if not event or event.get("status") != "done":
            message = (event or {}).get("message") or f"The trigger of {self.entity}/{self.action} sent {event!r}."
            raise (ActionTimeoutError if (event or {}).get("status") == "timeout" else AcumaticaError)(message)
        self._hook = hook = AcumaticaHook(self.acumatica_conn_id)
        try:
            return self._result(hook, self.endpoint_version or hook.settings.endpoint_version)
        finally:
            close_all([hook])

    def on_kill(self) -> None:
        if self._hook is not None:
            close_all([self._hook], terminate=True)

    def _defer(self, hook: AcumaticaHook, location: str) -> None:
        """Hand the session to the trigger, which from now on owns its seat; raises TaskDeferred."""
        settings = hook.settings
        trigger = AcumaticaActionTrigger(
            location=location,
            logout_url=settings.url(settings.logout_path),
            headers=hook.hand_over_session(),
            deadline=time.time() + self.timeout,
            timeout=self.timeout,
            entity=self.entity,
            action=self.action,
            poll_interval=self.poll_interval,
            max_poll_interval=self.max_poll_interval,
            verify=settings.verify,
            request_timeout=settings.timeout,
        )
        self.log.info("%s/%s is running; deferring to the triggerer to wait for it.", self.entity, self.action)
        self.defer(
            trigger=trigger,
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout) + DEFER_GRACE,
        )

    def _target(self) -> dict[str, Any]:
        if self.record_id is not None:
            return {"id": self.record_id}
        return {name: {"value": value} for name, value in (self.keys or {}).items()}

    def _post(self, hook: AcumaticaHook, version: str, target: dict[str, Any]) -> str | None:
        """POST the action; the absolute status URL to poll when it runs on (202), None when done (204)."""
        url = hook.entity_url(self.entity, self.action, endpoint_version=version)
        body = {"entity": target, "parameters": dict(self.parameters or {})}
        response = hook.request("POST", url, json=body)
        if response.status_code != 202:
            return None
        location = response.headers.get("Location")
        if not location:
            raise AcumaticaError(f"{self.entity}/{self.action} answered 202 without a Location to poll.")
        return hook.url_for(_absolute(hook, location))

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

    def _wait(self, hook: AcumaticaHook, url: str) -> None:
        """Poll the operation's status with backoff until 204, within `timeout`."""
        deadline = time.monotonic() + self.timeout
        delay = self.poll_interval
        while True:
            status = hook.request("GET", url).status_code
            if status == 204:
                return
            if time.monotonic() + delay > deadline:
                raise ActionTimeoutError(
                    f"{self.entity}/{self.action} was still running after timeout={self.timeout:g} s. It may still "
                    "finish on the server: check the record before running the action again, or raise timeout."
                )
            time.sleep(delay)
            delay = min(delay * 2, self.max_poll_interval)

    def _result(self, hook: AcumaticaHook, version: str) -> dict[str, Any]:
        ids = [self.record_id] if self.record_id is not None else [str(v) for v in (self.keys or {}).values()]
        status = self._status(hook, version, ids)
        named = {"id": self.record_id} if self.record_id is not None else {"keys": dict(self.keys or {})}
        self.log.info("%s/%s done; the record's Status is now %r.", self.entity, self.action, status)
        return {"entity": self.entity, "action": self.action, **named, "status": status}

    def _status(self, hook: AcumaticaHook, version: str, ids: list[str]) -> Any:
        url = hook.entity_url(self.entity, *ids, endpoint_version=version)
        record = hook.request_json("GET", url, params={"$select": "Status"})
        return (record.get("Status") or {}).get("value") if isinstance(record, dict) else None

    def _execute_file(self) -> dict[str, Any]:
        source = storage_path(self.input_path, self.input_conn_id, "input_path")
        fmt = input_format(source, self.input_format)
        target = storage_path(self.results_path or results_beside(source), self.input_conn_id, "results_path")
        base = {
            "entity": self.entity,
            "action": self.action,
            "input_path": redact_uri(source),
            "results_path": redact_uri(target),
        }
        tally = Tally(base, OUTCOMES, reads_back=False)
        self._hook = hook = AcumaticaHook(self.acumatica_conn_id)
        try:
            with sigterm_signs_out(self.on_kill), target.fs.open(target.path, "wb") as results:
                self._run_all(hook, read_records(source, fmt), results, tally)
        finally:
            close_all([hook])
        manifest = tally.manifest()
        self.log.info("%s/%s: %s; results in %s.", self.entity, self.action, tally.summary(), manifest["results_path"])
        tally.check(self.max_rejects)
        return manifest

    def _run_all(
        self, hook: AcumaticaHook, records: Iterator[dict[str, Any]], results: IO[bytes], tally: Tally
    ) -> None:
        """One record after another: the session's next request to the form waits for the running action."""
        version = self.endpoint_version or hook.settings.endpoint_version
        for number, record in enumerate(records, start=1):
            outcome, stop = self._run_one(hook, version, number, record)
            tally.add(outcome, results)
            if stop is not None:
                raise stop

    def _run_one(
        self, hook: AcumaticaHook, version: str, number: int, record: dict[str, Any]
    ) -> tuple[dict[str, Any], AcumaticaError | None]:
        """The record's outcome, and the error that stops the file (an unknown action, a timeout), if any."""
        result: dict[str, Any] = {"row": number, "key": record_key(record, self.key_fields)}
        named = self._record_target(record)
        if isinstance(named, str):
            return {**result, "outcome": "rejected", "http_status": None, "message": named}, None
        target, ids = named
        try:
            location = self._post(hook, version, target)
            if location is not None:
                self._wait(hook, location)
        except ActionTimeoutError as err:
            stop = ActionTimeoutError(
                f"{err} The session is busy with it, so the records after row {number} were not run."
            )
            return {**result, "outcome": "timed_out", "message": str(err)}, stop
        except AcumaticaApiError as err:
            if err.http_status == 404:
                return {**result, "outcome": "rejected", "http_status": 404, "message": err.summary or err.message}, (
                    self._explained(err)
                )
            if err.http_status not in _REJECTED_STATUSES:
                raise
            message = err.summary or err.message
            if err.http_status == 500:
                message += " A 500 on an action is not retried: it may or may not have run; check the record."
            return {**result, "outcome": "rejected", "http_status": err.http_status, "message": message}, None
        return {**result, "outcome": "done", "status": self._status(hook, version, ids)}, None

    def _record_target(self, record: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]] | str:
        """The action's `entity` body and the ids to read the record back by, or why the record names none."""
        record_id = record.get("id")
        if isinstance(record_id, str) and record_id.strip():
            return {"id": record_id}, [record_id]
        if not self.key_fields:
            return "The record has no id and key_fields is not set: name the key columns with key_fields=[...]."
        empty = [name for name in self.key_fields if record.get(name) in (None, "")]
        if empty:
            return f"Key field(s) {', '.join(empty)} empty: the record cannot be found without them."
        values = [record[name] for name in self.key_fields]
        return {name: {"value": value} for name, value in zip(self.key_fields, values, strict=True)}, [
            str(value) for value in values
        ]


def _absolute(hook: AcumaticaHook, location: str) -> str:
    """A `Location` may be a full URL or a path from the server's root (it already holds the site path)."""
    if "://" in location:
        return location
    base = urlsplit(hook.settings.base_url)
    return f"{base.scheme}://{base.netloc}{location}"
