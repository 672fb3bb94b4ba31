"""Where an event trigger keeps its watermark across triggerer restarts.

Airflow 3.3 gives a watcher a durable store of its own (`asset_state_store`, AIP-103). Before that a trigger
can read Airflow Variables through the triggerer, but only some triggerers accept a Variable write (3.0's
answers none), so there the watermark lives in memory and a restart resumes from the Variable's last value.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, Protocol, get_args

from asgiref.sync import sync_to_async

log = logging.getLogger(__name__)


class WatermarkStore(Protocol):
    async def load(self) -> datetime | None: ...

    async def save(self, moment: datetime) -> None: ...


class AssetStateWatermark:
    """One key in the watched asset's state store (Airflow 3.3+)."""

    def __init__(self, accessor: Any, key: str) -> None:
        self._accessor = accessor
        self._key = key

    async def load(self) -> datetime | None:
        return parse_moment(await self._accessor.aget(self._key, None))

    async def save(self, moment: datetime) -> None:
        await self._accessor.aset(self._key, moment.isoformat())


class VariableWatermark:
    """An Airflow Variable, written only where the triggerer accepts Variable writes."""

    def __init__(self, key: str, *, writable: bool) -> None:
        self._key = key
        self._writable = writable

    async def load(self) -> datetime | None:
        from airflow.providers.common.compat.sdk import Variable

        try:
            stored = await sync_to_async(Variable.get, thread_sensitive=False)(self._key, None)
        except Exception as err:  # the trigger must start even where Variables cannot be read
            log.warning("Could not read the Variable %s (%s); starting from the server's time.", self._key, err)
            return None
        return parse_moment(stored)

    async def save(self, moment: datetime) -> None:
        if not self._writable:
            return
        from airflow.providers.common.compat.sdk import Variable

        await sync_to_async(Variable.set, thread_sensitive=False)(self._key, moment.isoformat())


def watermark_store(trigger: Any, key: str) -> WatermarkStore:
    """The asset state store when the triggerer injected one for exactly one asset, else the Variable `key`."""
    accessors = getattr(trigger, "asset_state_store", None)
    if accessors is not None:
        try:
            accessor = accessors._single_accessor()
        except ValueError:
            log.info("This trigger watches several assets; its watermark goes to the Variable %s.", key)
        else:
            return AssetStateWatermark(accessor, key)
    writable = triggerer_accepts("PutVariable")
    if not writable:
        log.info(
            "This Airflow's triggerer cannot write Variables: the watermark stays in memory and a restart "
            "resumes from the Variable %s (set it from a task) or from the server's time.",
            key,
        )
    return VariableWatermark(key, writable=writable)


def triggerer_accepts(message: str) -> bool:
    """Whether the running triggerer answers this Task SDK request, e.g. `PutVariable` (3.3 does, 3.0 not)."""
    try:
        from airflow.jobs import triggerer_job_runner
    except ImportError:
        return False
    accepted = getattr(triggerer_job_runner, "ToTriggerSupervisor", None)
    return message in _type_names(accepted)


def _type_names(annotation: Any) -> set[str]:
    """Class names inside an `Annotated[Union[...], ...]` of message types, however it is nested."""
    names = set()
    for member in get_args(annotation):
        if isinstance(member, type):
            names.add(member.__name__)
        else:
            names |= _type_names(member)
    return names


def parse_moment(value: Any) -> datetime | None:
    """A stored ISO 8601 moment, in UTC; anything else (none yet, hand-edited garbage) counts as none."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        log.warning("Ignoring the stored watermark %r: not an ISO 8601 date and time.", value)
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
