"""
### Acumatica on change

Pulls what changed in Acumatica within minutes of the change, woken by either of two triggers:

* **push notifications**: Acumatica POSTs to `acumatica-push-receiver` (see docs/push-receiver.md), which
  spools each notification; `AcumaticaPushTrigger` turns each batch in the spool into one asset event;
* **change polling**: `AcumaticaChangeTrigger` asks Acumatica every few minutes whether anything changed,
  signed in only for that one request.

Each event only wakes the DAG: the run pulls every named entity (all of them on the hourly safety-net run)
from where its last successful pull ended up to the moment the run starts, so a lost or repeated event
costs latency, never data, and a burst of events makes one or two runs (`max_active_runs=1`). The window
ends when the run starts, not at the newest event it was handed: while a run is active, Airflow folds later
events into the next run's queue entry and may hand them to neither run, but each such change happened
before the next run started. Files land
under

    {output_base}/acumatica_on_change/entity=<Entity>/<entity>-<window end>.jsonl

and a last task publishes them as the asset `x-acumatica://acumatica_on_change/files`.

**Settings** (read when the file is parsed, without any network call): the environment variables
`ACUMATICA_PUSH_SPOOL` (the receiver's spool; default `$AIRFLOW_HOME/acumatica-push-spool`),
`ACUMATICA_ON_CHANGE_TRIGGERS` (`push`, `poll` or `push,poll`, the default) and
`ACUMATICA_CHANGE_POLL_SECONDS` (default 300). `QUERIES` maps the generic inquiries that the push
notification (SM302000) watches to the entities to pull. Pausing the DAG removes its triggers: no API
traffic while paused. `on_change_dag(OnChangeSettings(...))` builds more such DAGs (other entities,
another connection, only one of the triggers).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.providers.common.compat.sdk import Asset, AssetAlias, Param, Variable, dag, get_current_context, task
from airflow.sdk import AssetWatcher
from airflow.timetables.assets import AssetOrTimeSchedule
from airflow.timetables.trigger import CronTriggerTimetable

from airflow_provider_acumatica.operators.extract import AcumaticaExtractOperator
from airflow_provider_acumatica.output.defaults import output_base
from airflow_provider_acumatica.triggers.change import AcumaticaChangeTrigger
from airflow_provider_acumatica.triggers.push import AcumaticaPushTrigger

ENTITIES: dict[str, dict[str, str]] = {"Customer": {}, "SalesOrder": {"expand": "Details"}}
QUERIES = {"Customer: Last Modified": "Customer", "SalesOrder: Last Modified": "SalesOrder"}
# A change stamped just before a window ends may still be committing: the extract reads this much later.
SETTLE_SECONDS = 3.0
FIRST_LOOKBACK = timedelta(days=1)


@dataclass(frozen=True)
class OnChangeSettings:
    dag_id: str = "acumatica_on_change"
    conn_id: str = "acumatica_default"
    triggers: frozenset[str] = frozenset({"push", "poll"})
    entities: dict[str, dict[str, str]] = field(default_factory=lambda: dict(ENTITIES))
    queries: dict[str, str] = field(default_factory=lambda: dict(QUERIES))
    spool: str = ""
    poll_seconds: float = 300.0

    @classmethod
    def from_environment(cls) -> OnChangeSettings:
        home = os.environ.get("AIRFLOW_HOME", str(Path.home() / "airflow"))
        names = os.environ.get("ACUMATICA_ON_CHANGE_TRIGGERS", "push,poll").split(",")
        return cls(
            triggers=frozenset(name.strip() for name in names if name.strip()),
            spool=os.environ.get("ACUMATICA_PUSH_SPOOL", f"{home}/acumatica-push-spool"),
            poll_seconds=float(os.environ.get("ACUMATICA_CHANGE_POLL_SECONDS", "300")),
        )

    @property
    def files(self) -> Asset:
        return Asset(f"x-acumatica://{self.dag_id}/files")

    @property
    def pulled_until(self) -> str:
        """The Variable holding, per entity, where the last successful pull ended."""
        return f"{self.dag_id}_pulled_until"


def change_assets(settings: OnChangeSettings) -> list[Asset]:
    """One asset per wake-up source, each with its watcher; nothing here touches the network."""
    assets = []
    if "push" in settings.triggers:
        trigger = AcumaticaPushTrigger(spool=settings.spool, queries=list(settings.queries))
        watcher = AssetWatcher(name=f"{settings.dag_id}_push", trigger=trigger)
        assets.append(Asset(f"x-acumatica://{settings.dag_id}/push", watchers=[watcher]))
    if "poll" in settings.triggers:
        for entity in settings.entities:
            trigger = AcumaticaChangeTrigger(
                entity=entity, acumatica_conn_id=settings.conn_id, poll_interval=settings.poll_seconds
            )
            watcher = AssetWatcher(name=f"{settings.dag_id}_poll_{entity.lower()}", trigger=trigger)
            assets.append(Asset(f"x-acumatica://{settings.dag_id}/poll/{entity}", watchers=[watcher]))
    if not assets:
        raise ValueError(f"{settings.dag_id}: triggers must name push, poll or both, not {sorted(settings.triggers)}.")
    return assets


def _any_of(assets: list[Asset]) -> Any:
    condition: Any = assets[0]
    for asset in assets[1:]:
        condition = condition | asset
    return condition


def entities_named(events: Any, settings: OnChangeSettings) -> set[str]:
    """The entities the triggering events name: the polled entity, or the entities of the pushed queries."""
    named: set[str] = set()
    for payload in _payloads(events):
        if "entity" in payload:
            named.add(payload["entity"])
        named.update(settings.queries[query] for query in payload.get("queries", {}) if query in settings.queries)
    return named & set(settings.entities)


def latest_change(events: Any) -> datetime | None:
    """When the newest change the events report happened, so that the window can end after it."""
    moments = []
    for payload in _payloads(events):
        if "detected_at" in payload:
            moments.append(datetime.fromisoformat(payload["detected_at"]))
        if "last_timestamp" in payload:
            moments.append(DOTNET_EPOCH + timedelta(microseconds=payload["last_timestamp"] // 10))
    return max(moments, default=None)


DOTNET_EPOCH = datetime(1, 1, 1, tzinfo=UTC)


def _payloads(events: Any) -> list[dict[str, Any]]:
    return [(event.extra or {}).get("payload") or {} for asset_events in events.values() for event in asset_events]


def on_change_dag(settings: OnChangeSettings) -> Any:
    @dag(
        dag_id=settings.dag_id,
        schedule=AssetOrTimeSchedule(
            timetable=CronTriggerTimetable("0 * * * *", timezone="UTC"), assets=_any_of(change_assets(settings))
        ),
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,
        doc_md=__doc__,
        tags=["acumatica", "extract", "event-driven"],
        params={
            "output_base": Param(
                "", type="string", description="Where files land (empty: Variable acumatica_output_base)."
            ),
        },
        default_args={
            "owner": "data-engineering",
            "retries": 3,
            "retry_delay": timedelta(minutes=1),
            "retry_exponential_backoff": True,
            "max_retry_delay": timedelta(minutes=15),
            "pool": "acumatica_api",
        },
    )
    def pull_on_change() -> None:
        @task
        def plan() -> list[dict[str, Any]]:
            """The entities to pull, each from its last pull's end to now, once transactions in flight could commit."""
            context = get_current_context()
            events = context["triggering_asset_events"]
            _wait_past(latest_change(events))
            end = datetime.now(UTC)
            time.sleep(SETTLE_SECONDS)
            pulled = Variable.get(settings.pulled_until, default={}, deserialize_json=True)
            base = output_base(context["params"]["output_base"])
            return [
                _pull(entity, settings, base, _start(pulled, entity, end), end)
                for entity in sorted(entities_named(events, settings) or settings.entities)
                if _start(pulled, entity, end) < end
            ]

        extracts = AcumaticaExtractOperator.partial(
            task_id="extract",
            outlets=[AssetAlias(f"acumatica:{settings.dag_id}.extract")],
            acumatica_conn_id=settings.conn_id,
            incremental_field="auto",
            output_format="jsonl",
            execution_timeout=timedelta(minutes=30),
        ).expand_kwargs(plan())

        @task(outlets=[settings.files])
        def publish(manifests: list[dict[str, Any]]) -> dict[str, Any]:
            """Record where each pull ended, only now that its file landed, and publish the files.

            A polling DAG also moves its change trigger's Variable watermark (read after a restart before 3.3);
            a push-only DAG leaves it to the DAGs that poll, since setting one new Variable from two tasks at
            once fails on Airflow 3.0."""
            pulled = Variable.get(settings.pulled_until, default={}, deserialize_json=True)
            for manifest in manifests:
                entity, end = manifest["entity"], manifest["window"]["end"]
                pulled[entity] = end
                if "poll" in settings.triggers:
                    Variable.set(AcumaticaChangeTrigger.watermark_variable(settings.conn_id, entity), end)
            Variable.set(settings.pulled_until, pulled, serialize_json=True)
            summary = {"entities": {m["entity"]: m for m in manifests}, "records": sum(m["records"] for m in manifests)}
            get_current_context()["outlet_events"][settings.files].extra = summary
            return {"records": summary["records"], "files": [m["path"] for m in manifests]}

        publish(extracts.output)

    return pull_on_change()


def _start(pulled: dict[str, str], entity: str, end: datetime) -> datetime:
    return datetime.fromisoformat(pulled[entity]) if entity in pulled else end - FIRST_LOOKBACK


def _pull(entity: str, settings: OnChangeSettings, base: str, start: datetime, end: datetime) -> dict[str, Any]:
    return {
        "entity": entity,
        "window_start": start.isoformat(),
        "window_end": end.isoformat(),
        "output_path": f"{base}/{settings.dag_id}/entity={entity}/{entity.lower()}-{end:%Y%m%dT%H%M%S}.jsonl",
        **settings.entities[entity],
    }


def _wait_past(moment: datetime | None) -> None:
    """When Acumatica's clock runs ahead of ours, wait (a minute at most) until ours passes the newest change."""
    if moment is None:
        return
    wait = (moment - datetime.now(UTC)).total_seconds() + 1
    time.sleep(min(max(wait, 0.0), 60.0))


acumatica_on_change = on_change_dag(OnChangeSettings.from_environment())
