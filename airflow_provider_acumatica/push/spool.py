"""The spool between the push receiver and the push trigger: one file per notification, named by its dedup key.

`<root>/pending/<name>` holds what no DAG has been woken for yet, `<root>/consumed/<name>` what has; a
consumed file is kept (and pruned after the resend window) so that a resend of it is still a duplicate.
A file is `{"key", "received_at", "notification"}`. It appears whole or not at all: on a local disk it is
written to a temporary sibling, fsynced and renamed (and the folder fsynced); on an object store it is one
put. Errors writing or reading are `OSError`s, which the receiver answers with 503, so Acumatica resends.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from airflow_provider_acumatica.output.atomic import sync_directory
from airflow_provider_acumatica.push.payload import InvalidNotification, Notification, parse_notification, spool_name

log = logging.getLogger(__name__)

PENDING = "pending"
CONSUMED = "consumed"
# Acumatica lets failed notifications be resent for two days; a consumed file must outlive that.
DEFAULT_DEDUP_WINDOW = timedelta(days=3)
_TEMP_PREFIX = ".incoming-"


@dataclass(frozen=True)
class SpooledNotification:
    name: str
    notification: Notification
    received_at: datetime


class Spool:
    """A spool on the local disk or on any object store (`Spool.at("s3://bucket/spool", "aws_default")`)."""

    def __init__(self, root: Any) -> None:
        self.root = root
        self._local = _local_path(root)

    @classmethod
    def at(cls, location: str, conn_id: str | None = None) -> Spool:
        if "://" not in location and conn_id is None:
            return cls(Path(location))
        from airflow.providers.common.compat.sdk import ObjectStoragePath

        return cls(ObjectStoragePath(location, conn_id=conn_id))

    def __str__(self) -> str:
        return str(self.root)

    def store(self, notification: Notification, received_at: datetime | None = None) -> bool:
        """Write it into `pending/`; False, writing nothing, if its key is already pending or consumed."""
        name = spool_name(notification.key)
        if self._exists(PENDING, name) or self._exists(CONSUMED, name):
            return False
        moment = received_at or datetime.now(UTC)
        document = {
            "key": notification.key.to_json(),
            "received_at": moment.astimezone(UTC).isoformat(),
            "notification": notification.to_json(),
        }
        self._write(name, json.dumps(document, ensure_ascii=False).encode())
        return True

    def pending(self) -> list[SpooledNotification]:
        """Everything pending, oldest transaction first; an unreadable file is skipped with a warning."""
        found = [item for item in self._read_all(PENDING) if item is not None]
        return sorted(found, key=lambda item: (item.notification.timestamp, item.name))

    def consume(self, names: Iterable[str]) -> None:
        """Move these to `consumed/`; a name already consumed or gone is fine (another trigger was faster)."""
        for name in names:
            self._move_to_consumed(name)

    def prune_consumed(self, older_than: timedelta = DEFAULT_DEDUP_WINDOW) -> int:
        """Delete consumed files received before `older_than` ago; returns how many."""
        cutoff = datetime.now(UTC) - older_than
        pruned = 0
        for name in self._names(CONSUMED):
            item = self._read(CONSUMED, name)
            if item is None or item.received_at < cutoff:
                self._delete(CONSUMED, name)
                pruned += 1
        return pruned

    def _read_all(self, folder: str) -> Iterator[SpooledNotification | None]:
        for name in self._names(folder):
            yield self._read(folder, name)

    def _read(self, folder: str, name: str) -> SpooledNotification | None:
        try:
            document = json.loads(self._read_bytes(folder, name))
            notification = parse_notification(document["notification"])
            received_at = datetime.fromisoformat(document["received_at"])
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError, InvalidNotification) as err:
            log.warning("Skipping the unreadable spool file %s/%s (%s).", folder, name, err)
            return None
        return SpooledNotification(name, notification, received_at)

    def _names(self, folder: str) -> list[str]:
        if self._local is not None:
            directory = self._local / folder
            if not directory.is_dir():
                return []
            return sorted(entry.name for entry in directory.iterdir() if _is_spooled(entry.name))
        directory = self.root / folder
        if not directory.exists():
            return []
        return sorted(entry.name for entry in directory.iterdir() if _is_spooled(entry.name))

    def _exists(self, folder: str, name: str) -> bool:
        if self._local is not None:
            return (self._local / folder / name).exists()
        return bool((self.root / folder / name).exists())

    def _read_bytes(self, folder: str, name: str) -> bytes:
        if self._local is not None:
            return (self._local / folder / name).read_bytes()
        return bytes((self.root / folder / name).read_bytes())

    def _write(self, name: str, data: bytes) -> None:
        if self._local is None:
            (self.root / PENDING / name).write_bytes(data)
            return
        directory = self._local / PENDING
        directory.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=directory)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, directory / name)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        sync_directory(directory)

    def _move_to_consumed(self, name: str) -> None:
        if self._local is not None:
            target = self._local / CONSUMED
            target.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(self._local / PENDING / name, target / name)
            except FileNotFoundError:
                return
            sync_directory(target)
            return
        source = self.root / PENDING / name
        try:
            data = source.read_bytes()
        except FileNotFoundError:
            return
        (self.root / CONSUMED / name).write_bytes(data)
        source.unlink(missing_ok=True)

    def _delete(self, folder: str, name: str) -> None:
        if self._local is not None:
            (self._local / folder / name).unlink(missing_ok=True)
        else:
            (self.root / folder / name).unlink(missing_ok=True)


def _local_path(root: Any) -> Path | None:
    """A plain folder, or an `ObjectStoragePath` on the local file system: both get the fsync'd rename."""
    protocol = getattr(root, "protocol", None)
    if protocol is None:
        return Path(root)
    if protocol in ("file", "local"):
        return Path(root.path)
    return None


def _is_spooled(name: str) -> bool:
    return name.endswith(".json") and not name.startswith(_TEMP_PREFIX)
