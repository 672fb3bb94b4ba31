"""What both extract operators share: stream pages into one file, publish it atomically, report it.

The entity and generic-inquiry operators differ only in where the pages come from; the output
writers, the manifest, the asset event, lineage and progress logging live here once.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from airflow.providers.common.compat.sdk import Asset, AssetAlias, BaseOperator, ObjectStoragePath

from airflow_provider_acumatica.exceptions import AcumaticaConfigError, AcumaticaError
from airflow_provider_acumatica.hooks.acumatica import AcumaticaHook
from airflow_provider_acumatica.incremental import Window
from airflow_provider_acumatica.output import (
    AtomicOutput,
    EntitySchema,
    ExtractManifest,
    build_output_path,
    check_output_format,
    open_writer,
)

PROGRESS_EVERY_SECONDS = 15.0
MAX_PAGE_SIZE = 100_000


class Progress:
    """Logs records so far, pages and throughput at most every PROGRESS_EVERY_SECONDS."""

    def __init__(self, log: Any, label: str) -> None:
        self.log = log
        self.label = label
        self.records = 0
        self.pages = 0
        self.started = time.monotonic()
        self._last = self.started

    def page(self, size: int) -> None:
        self.records += size
        self.pages += 1
        now = time.monotonic()
        if now - self._last >= PROGRESS_EVERY_SECONDS:
            self._last = now
            self.log.info("%s: %s", self.label, self.summary(now))

    def summary(self, now: float | None = None) -> str:
        elapsed = max((now or time.monotonic()) - self.started, 1e-9)
        return f"{self.records:,} records in {self.pages:,} pages ({self.records / elapsed:,.0f} records/s)"


class AcumaticaToFileOperator(BaseOperator):
    """Base class: subclasses implement `execute` and call `land` with their pages."""

    ui_color = "#fdf1e8"

    def __init__(
        self,
        *,
        output_path: str | ObjectStoragePath,
        acumatica_conn_id: str = AcumaticaHook.default_conn_name,
        page_size: int = 1000,
        output_format: str = "jsonl",
        flatten: bool = True,
        output_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.acumatica_conn_id = acumatica_conn_id
        self.page_size = check_page_size(page_size)
        self.output_format = check_output_format(output_format, _static_path(output_path), flatten=flatten)
        self.output_path = output_path
        self.flatten = flatten
        self.output_conn_id = output_conn_id
        if not self.outlets:
            self.outlets = [AssetAlias(name=f"acumatica:{self.dag_id or 'no-dag'}.{self.task_id}")]
        self._hooks: list[AcumaticaHook] = []
        self._lineage: dict[str, str] = {}

    def land(
        self,
        pages: Iterable[list[dict[str, Any]]],
        schema: EntitySchema | None,
        context: Any,
        *,
        entity: str | None = None,
        inquiry: str | None = None,
        endpoint_version: str | None = None,
        window: Window | None = None,
        dac: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        content: str = "records",
    ) -> dict[str, Any]:
        """Write every page to a temporary sibling, publish it only when complete, return the manifest."""
        path = build_output_path(self.output_path, self.output_conn_id)
        started = datetime.now(UTC)
        progress = Progress(self.log, entity or inquiry or dac or "Acumatica")
        with (
            sigterm_signs_out(self.on_kill),
            AtomicOutput(path) as output,
            open_writer(self.output_format, output, schema) as writer,
        ):
            for page in pages:
                writer.write_page(page)
                progress.page(len(page))
        manifest = ExtractManifest.from_output(
            output,
            writer,
            started=started,
            endpoint_version=endpoint_version,
            window_start=window.start if window else None,
            window_end=window.end if window else None,
            entity=entity,
            inquiry=inquiry,
            dac=dac,
            parameters=parameters,
            content=content,
        ).to_dict()
        self.log.info(
            "Wrote %s to %s (%s bytes, sha256 %s).",
            progress.summary(),
            manifest["path"],
            manifest["bytes"],
            manifest["sha256"],
        )
        self._lineage.update(output_namespace=path.namespace, output_name=path.key)
        self._emit_asset_events(context, manifest)
        return manifest

    def _emit_asset_events(self, context: Any, manifest: dict[str, Any]) -> None:
        events = context.get("outlet_events") if hasattr(context, "get") else None
        if events is None:
            return
        extra = flat_manifest(manifest)
        for outlet in self.outlets:
            if isinstance(outlet, AssetAlias):
                events[outlet].add(Asset(uri=manifest["path"]), extra=extra)
            elif isinstance(outlet, Asset):
                events[outlet].extra.update(extra)

    def new_hook(self) -> AcumaticaHook:
        """A hook of this task's connection, which `on_kill` will terminate."""
        hook = AcumaticaHook(self.acumatica_conn_id)
        self._hooks.append(hook)
        return hook

    def on_kill(self) -> None:
        """Sign out every session, so a killed task does not hold an API seat until the server's timeout."""
        close_all(self._hooks, terminate=True)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Input: the Acumatica entity or inquiry; output: the published file (OpenLineage installed only)."""
        from airflow.providers.common.compat.openlineage.facet import Dataset
        from airflow.providers.openlineage.extractors import OperatorLineage

        inputs = [Dataset(namespace=self._lineage["namespace"], name=self._lineage["source"])]
        outputs = [Dataset(namespace=self._lineage["output_namespace"], name=self._lineage["output_name"])]
        return OperatorLineage(inputs=inputs, outputs=outputs)


@contextmanager
def sigterm_signs_out(on_kill: Callable[[], None]) -> Iterator[None]:
    """Where nothing handles SIGTERM, make it run `on_kill` and fail the task, so the output is discarded.

    Airflow 3.0's task runner leaves SIGTERM at its default: a kill (mark-failed, a lost heartbeat) ends
    the process at once, `on_kill` never runs, the API seat stays taken until the server's idle timeout
    and the temporary file stays. Later task runners (3.3 checked) and `airflow dags test` install their
    own handler, which is left alone.
    """
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        yield
        return

    def terminate(signum: int, frame: FrameType | None) -> None:
        on_kill()
        raise AcumaticaError(
            "The task received SIGTERM: its Acumatica sessions are signed out and the unfinished output is discarded."
        )

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def flat_manifest(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest with the window as two keys and the parameters as JSON text: Airflow 3.0 hashes alias
    event extras, so no nested dicts."""
    window = manifest.get("window") or {}
    flat = {key: value for key, value in manifest.items() if key not in ("window", "parameters")}
    parameters = manifest.get("parameters")
    flat["parameters"] = json.dumps(parameters, sort_keys=True, default=str) if parameters is not None else None
    return {**flat, "window_start": window.get("start"), "window_end": window.get("end")}


def warn_if_open(log: Any, what: str, window: Window) -> None:
    """A change during the pull stamps the present; only a window that ended before it leaves such records
    to the next run."""
    if window.end > datetime.now(UTC):
        log.warning(
            "The window of %s ends at %s, after the pull started: records changed during the pull get a "
            "timestamp inside this window, so they may be in this file in their old state, or missing, and "
            "no later run picks them up. Exactness (docs/exactness.md) holds for windows that ended before the "
            "run, as a scheduled run's do.",
            what,
            window.end.isoformat(),
        )


def flattened(pages: Iterator[list[dict[str, Any]]], unwrap: Any) -> Iterator[list[dict[str, Any]]]:
    for page in pages:
        yield [unwrap(record) for record in page]


def close_all(hooks: Iterable[AcumaticaHook], *, terminate: bool = False) -> None:
    """Sign out every hook even when one sign-out fails; the first failure is raised afterwards."""
    with ExitStack() as stack:
        for hook in hooks:
            stack.callback(hook.terminate if terminate else hook.close)


def check_page_size(page_size: Any) -> int:
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise AcumaticaConfigError(f"page_size must be a whole number from 1 to {MAX_PAGE_SIZE:,}, not {page_size!r}.")
    return page_size


def check_name(kind: str, value: Any) -> None:
    """An entity or inquiry name must be a non-empty string (templates are checked when rendered)."""
    if not isinstance(value, str) or not value.strip():
        raise AcumaticaConfigError(f"{kind} must be a non-empty name, not {value!r}.")


def _static_path(output_path: str | ObjectStoragePath) -> str | ObjectStoragePath | None:
    """The path for the suffix check, unless it is a template that is only known at run time."""
    if isinstance(output_path, str) and "{{" in output_path:
        return None
    return output_path
