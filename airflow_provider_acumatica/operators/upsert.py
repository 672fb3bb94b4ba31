"""`AcumaticaUpsertOperator`: PUT every record of a file to an entity, with an outcome for each in a results file.

Acumatica's PUT is an upsert located by key fields or `id`; it writes only the fields that differ and a 200 does
not prove the save. So every record needs keys (a keyless PUT retried after a dropped connection inserts twice),
detail lines without an `id` are refused (the server appends them), and each record's outcome lands in a JSON Lines
results file: `inserted`, `updated`, `unchanged` or `rejected` with the HTTP status and the server's per-field
errors, and with `verify=True` every field whose stored value differs from the one sent.
"""

from __future__ import annotations

import json
import queue
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import IO, Any

import requests
from airflow.providers.common.compat.sdk import Asset, AssetAlias, BaseOperator, ObjectStoragePath

from airflow_provider_acumatica.exceptions import AcumaticaApiError, AcumaticaConfigError, AcumaticaError
from airflow_provider_acumatica.hooks.acumatica import AcumaticaHook
from airflow_provider_acumatica.operators.partitions import check_parallelism
from airflow_provider_acumatica.operators.to_file import check_name, close_all, sigterm_signs_out
from airflow_provider_acumatica.output import EntitySchema
from airflow_provider_acumatica.output.paths import redact_uri
from airflow_provider_acumatica.output.schema import LAST_MODIFIED_FIELDS, FieldType
from airflow_provider_acumatica.writeback import (
    CREATED_FIELDS,
    STAMPS,
    differences,
    input_format,
    missing_key,
    read_records,
    record_key,
    results_beside,
    storage_path,
    to_wire,
    unsafe_lines,
)

MODES = {"upsert": {}, "insert": {"If-None-Match": "*"}, "update": {"If-Match": "*"}}
OUTCOMES = ("inserted", "updated", "unchanged", "rejected")
_REJECTED_STATUSES = frozenset({400, 412, 422, 500})
_PRECONDITION = {
    "insert": "The record already exists and mode='insert' never changes one. Use mode='upsert' to update it.",
    "update": "No such record, and mode='update' never creates one. Use mode='upsert' to insert it.",
}
_STAMP_SLACK = timedelta(seconds=1)


class AcumaticaUpsertOperator(BaseOperator):
    """Write the records of a JSON Lines, CSV or Parquet file to `entity`, one PUT each.

    `mode`: `upsert` (default), `insert` (`If-None-Match: *`, an existing record is rejected) or `update`
    (`If-Match: *`, a missing one is rejected). Records are located by `key_fields` or their `id`. The results file
    (`results_path`, default `<input>.results.jsonl`) is written also when the task fails or is killed, for what
    was written until then. More than `max_rejects` rejected records (a count, or a share below 1) fail the task
    after the file is written. `parallelism` k writes on k sessions (k API seats) and keeps the input order.
    """

    template_fields: Sequence[str] = (
        "entity",
        "acumatica_conn_id",
        "endpoint_version",
        "input_path",
        "input_conn_id",
        "results_path",
        "key_fields",
        "mode",
    )
    ui_color = "#e8f1fd"

    def __init__(
        self,
        *,
        entity: str,
        input_path: str | ObjectStoragePath,
        key_fields: Sequence[str] | None = None,
        mode: str = "upsert",
        input_format: str | None = None,
        input_conn_id: str | None = None,
        results_path: str | ObjectStoragePath | None = None,
        append_lines: bool = False,
        verify: bool = False,
        parallelism: int = 1,
        max_rejects: int | float = 0,
        endpoint_version: str | None = None,
        acumatica_conn_id: str = AcumaticaHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_name("entity", entity)
        self.entity = entity
        self.input_path = input_path
        self.key_fields = list(key_fields or [])
        self.mode = check_mode(mode)
        self.input_format = input_format
        self.input_conn_id = input_conn_id
        self.results_path = results_path
        self.append_lines = append_lines
        self.verify = verify
        self.parallelism = check_parallelism(parallelism)
        self.max_rejects = check_max_rejects(max_rejects)
        self.endpoint_version = endpoint_version
        self.acumatica_conn_id = acumatica_conn_id
        if not self.outlets:
            self.outlets = [AssetAlias(name=f"acumatica:{self.dag_id or 'no-dag'}.{self.task_id}")]
        self._hooks: list[AcumaticaHook] = []

    def execute(self, context: Any) -> dict[str, Any]:
        check_mode(self.mode)
        source = storage_path(self.input_path, self.input_conn_id, "input_path")
        fmt = input_format(source, self.input_format)
        target = storage_path(self.results_path or results_beside(source), self.input_conn_id, "results_path")
        self._hooks = [AcumaticaHook(self.acumatica_conn_id) for _ in range(self.parallelism)]
        base = {
            "entity": self.entity,
            "mode": self.mode,
            "input_path": redact_uri(source),
            "results_path": redact_uri(target),
        }
        tally = Tally(base)
        try:
            with sigterm_signs_out(self.on_kill), target.fs.open(target.path, "wb") as results:
                self._write_all(read_records(source, fmt), results, tally)
        finally:
            close_all(self._hooks)
        manifest = tally.manifest()
        self.log.info("Upsert of %s: %s; results in %s.", self.entity, tally.summary(), manifest["results_path"])
        self._emit_asset_events(context, manifest)
        tally.check(self.max_rejects)
        return manifest

    def on_kill(self) -> None:
        """Sign out every session; the results file keeps the outcomes written so far."""
        close_all(self._hooks, terminate=True)

    def _write_all(self, records: Iterator[dict[str, Any]], results: IO[bytes], tally: Tally) -> None:
        hook = self._hooks[0]
        version = self.endpoint_version or hook.settings.endpoint_version
        document = hook.request_json("GET", hook.entity_url("swagger.json", endpoint_version=version))
        writer = RecordWriter(self, EntitySchema.from_openapi(document, self.entity), version)
        if self.parallelism == 1:
            for number, record in enumerate(records, start=1):
                tally.add(writer.write(hook, number, record), results)
            return
        self._write_in_parallel(writer, records, results, tally)

    def _write_in_parallel(
        self, writer: RecordWriter, records: Iterator[dict[str, Any]], results: IO[bytes], tally: Tally
    ) -> None:
        """Up to 4k records in flight over k sessions; outcomes are still written in input order."""
        pool: queue.Queue[AcumaticaHook] = queue.Queue()
        for each in self._hooks:
            pool.put(each)

        def one(number: int, record: dict[str, Any]) -> dict[str, Any]:
            session = pool.get()
            try:
                return writer.write(session, number, record)
            finally:
                pool.put(session)

        window: deque[Future[dict[str, Any]]] = deque()
        with ThreadPoolExecutor(max_workers=self.parallelism, thread_name_prefix="acumatica-upsert") as executor:
            try:
                for number, record in enumerate(records, start=1):
                    window.append(executor.submit(one, number, record))
                    if len(window) >= 4 * self.parallelism:
                        tally.add(window.popleft().result(), results)
                while window:
                    tally.add(window.popleft().result(), results)
            except BaseException:
                executor.shutdown(wait=True, cancel_futures=True)
                for done in window:
                    if not done.cancelled() and done.exception() is None:
                        tally.add(done.result(), results)
                raise

    def _emit_asset_events(self, context: Any, manifest: dict[str, Any]) -> None:
        events = context.get("outlet_events") if hasattr(context, "get") else None
        if events is None:
            return
        for outlet in self.outlets:
            if isinstance(outlet, AssetAlias):
                events[outlet].add(Asset(uri=manifest["results_path"]), extra=manifest)
            elif isinstance(outlet, Asset):
                events[outlet].extra.update(manifest)


class RecordWriter:
    """One record's PUT, its outcome and, with `verify`, the read-back; safe to call from several threads."""

    def __init__(self, operator: AcumaticaUpsertOperator, schema: EntitySchema, version: str) -> None:
        self.operator = operator
        self.schema = schema
        self.version = version
        self.stamps = [name for name in STAMPS if (f := schema.get(name)) and f.type is FieldType.DATETIME]

    def write(self, hook: AcumaticaHook, number: int, record: dict[str, Any]) -> dict[str, Any]:
        op = self.operator
        result: dict[str, Any] = {"row": number, "key": record_key(record, op.key_fields)}
        body = to_wire(record, self.schema)
        refusal = missing_key(body, op.key_fields) or unsafe_lines(body, self.schema, op.mode, op.append_lines)
        if refusal is not None:
            return {**result, "outcome": "rejected", "http_status": None, "message": refusal}
        retries = hook.call_stats.retries
        try:
            response = hook.request("PUT", self._url(hook), json=body, params=self._params(), headers=MODES[op.mode])
        except AcumaticaApiError as err:
            if err.http_status not in _REJECTED_STATUSES:
                raise
            return {**result, **self._rejected(err, hook.call_stats.retries > retries)}
        stored = response.json()
        result.update(outcome=self._outcome(stored, response), http_status=response.status_code, id=stored.get("id"))
        if op.verify:
            result["differences"] = differences(body, self._read_back(hook, stored["id"], body))
        return result

    def _url(self, hook: AcumaticaHook) -> str:
        return hook.entity_url(self.operator.entity, endpoint_version=self.version)

    def _params(self) -> dict[str, str]:
        """Only the stamps come back: the outcome needs them, and an echo of the whole record costs time."""
        return {"$select": ",".join(self.stamps)} if self.stamps else {}

    def _rejected(self, err: AcumaticaApiError, retried: bool) -> dict[str, Any]:
        message = err.summary or err.message
        if err.http_status == 412:
            message = f"{message} {_PRECONDITION.get(self.operator.mode, '')}".strip()
            if retried and self.operator.mode == "insert":
                message += " The PUT was retried after a lost answer: its first attempt may have inserted it."
        if err.http_status == 500:
            message += " A 500 on a write is not retried: the record may or may not be saved; check it."
        rejected: dict[str, Any] = {"outcome": "rejected", "http_status": err.http_status, "message": message}
        if err.field_errors:
            rejected["field_errors"] = err.field_errors
        return rejected

    def _outcome(self, stored: dict[str, Any], response: requests.Response) -> str:
        """Unchanged when the last-modified stamp predates this call; inserted when it also equals the created one."""
        if self.operator.mode == "insert":
            return "inserted"
        moments = {name: _moment(stored.get(name)) for name in self.stamps}
        modified = next((moments[name] for name in LAST_MODIFIED_FIELDS if moments.get(name)), None)
        created = next((moments[name] for name in CREATED_FIELDS if moments.get(name)), None)
        if modified is None:
            return "updated"
        if modified < _server_time(response) - _STAMP_SLACK:
            return "unchanged"
        return "inserted" if created == modified and self.operator.mode == "upsert" else "updated"

    def _read_back(self, hook: AcumaticaHook, record_id: str, body: dict[str, Any]) -> dict[str, Any]:
        nested = [name for name, value in body.items() if isinstance(value, list | dict) and "value" not in value]
        params = {"$expand": ",".join(nested)} if nested else {}
        if not nested:
            params["$select"] = ",".join(name for name in body if name != "id")
        url = hook.entity_url(self.operator.entity, record_id, endpoint_version=self.version)
        stored = hook.request_json("GET", url, params=params)
        return stored if isinstance(stored, dict) else {}


class Tally:
    """Counts the outcomes and streams each result line; the manifest holds counts, never record data."""

    def __init__(self, base: dict[str, Any], outcomes: Sequence[str] = OUTCOMES, *, reads_back: bool = True) -> None:
        self.counts = dict.fromkeys(outcomes, 0)
        self.mismatched = 0
        self.reads_back = reads_back
        self.started = datetime.now(UTC)
        self.clock = time.monotonic()
        self.base = base

    def add(self, result: dict[str, Any], results: IO[bytes]) -> None:
        self.counts[result["outcome"]] += 1
        self.mismatched += bool(result.get("differences"))
        results.write(json.dumps(result, default=str, ensure_ascii=False).encode("utf-8") + b"\n")

    @property
    def records(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> str:
        elapsed = max(time.monotonic() - self.clock, 1e-9)
        counts = ", ".join(f"{count} {name}" for name, count in self.counts.items())
        if self.reads_back:
            counts += f"; {self.mismatched} differ when read back"
        return f"{self.records} records ({counts}) in {elapsed:.1f} s"

    def manifest(self) -> dict[str, Any]:
        finished = datetime.now(UTC)
        return {
            **self.base,
            "records": self.records,
            **self.counts,
            **({"mismatched": self.mismatched} if self.reads_back else {}),
            "started": self.started.isoformat(),
            "finished": finished.isoformat(),
            "duration_seconds": round((finished - self.started).total_seconds(), 3),
        }

    def check(self, max_rejects: int | float) -> None:
        rejected = self.counts["rejected"]
        limit = max_rejects if isinstance(max_rejects, int) else max_rejects * self.records
        if rejected > limit:
            raise AcumaticaError(
                f"{rejected} of {self.records} records were rejected, more than max_rejects={max_rejects!r}. "
                f"Each one's reason is in {self.base['results_path']}."
            )


def check_mode(mode: Any) -> str:
    if mode not in MODES:
        raise AcumaticaConfigError(f"mode must be one of {', '.join(MODES)}, not {mode!r}.")
    return str(mode)


def check_max_rejects(value: Any) -> int | float:
    """A count (a whole number >= 0) or a share (a number from 0 to below 1)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AcumaticaConfigError(f"max_rejects must be a count or a share below 1, not {value!r}.")
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, float) and 0 <= value < 1:
        return value
    raise AcumaticaConfigError(
        f"max_rejects={value!r}: give a whole number of records (e.g. 10) or a share from 0 to below 1 (e.g. 0.05)."
    )


def _moment(wrapped: Any) -> datetime | None:
    text = wrapped.get("value") if isinstance(wrapped, dict) else None
    if not isinstance(text, str):
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _server_time(response: requests.Response) -> datetime:
    """The server's clock from the `Date` header (the stamps are the server's), the local one without it."""
    header = response.headers.get("Date")
    try:
        return parsedate_to_datetime(header) if header else datetime.now(UTC)
    except (TypeError, ValueError):
        return datetime.now(UTC)
