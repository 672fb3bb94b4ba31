"""Where the newest refresh token of an authorization-code connection lives, shared by every worker.

Acumatica rotates the refresh token on every refresh, and Airflow 3 tasks cannot write connections,
so the newest token goes into an Airflow Variable (encrypted at rest with Airflow's Fernet key).
Inside a task the Task SDK reaches it through the Execution API. Outside a task (the consent command,
scripts on a host with the metadata database) the Task SDK cannot write Variables, so the metastore
model is used, as Airflow's own CLI does. Where neither works (a plain script without an Airflow
database) the token lives in this process only, and a warning says so.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Iterable
from typing import Any, ClassVar, Protocol

from airflow.providers.common.compat.sdk import Variable

from airflow_provider_acumatica.masking import mask

log = logging.getLogger(__name__)

VARIABLE_PREFIX = "acumatica_refresh_token__"
ROTATION_GRACE_SECONDS = 1.5
_POLL_SECONDS = 0.1


def variable_key(conn_id: str) -> str:
    """The Variable of a connection; "token" in the name makes Airflow hide its value in the UI."""
    return f"{VARIABLE_PREFIX}{conn_id}"


def in_task() -> bool:
    """Whether the Task SDK talks to a supervisor: the same test `airflow.models.Variable` makes."""
    return hasattr(sys.modules.get("airflow.sdk.execution_time.task_runner"), "SUPERVISOR_COMMS")


class TokenBackend(Protocol):
    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str) -> None: ...


class ProcessBackend:
    """Tokens held by this process only, for scripts that have no Airflow database."""

    _tokens: ClassVar[dict[str, str]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def get(self, key: str) -> str | None:
        with self._lock:
            return self._tokens.get(key)

    def set(self, key: str, value: str) -> None:
        with self._lock:
            self._tokens[key] = value


class VariableBackend:
    """Airflow Variables: the Task SDK inside a task, the metastore model outside one."""

    def get(self, key: str) -> str | None:
        value = Variable.get(key, default=None) if in_task() else _metastore_variable().get(key, default_var=None)
        return str(value) if value else None

    def set(self, key: str, value: str) -> None:
        description = "Newest refresh token of an Acumatica connection, rotated by airflow-provider-acumatica."
        if in_task():
            Variable.set(key, value, description=description)
        else:
            _metastore_variable().set(key, value, description=description)


def _metastore_variable() -> Any:
    """The ORM model: the Task SDK's Variable refuses to write (3.0 also to read) outside a task."""
    from airflow.models.variable import Variable as MetastoreVariable

    return MetastoreVariable


class RefreshTokenStore:
    """The newest refresh token of one connection, with a per-process lock to refresh one at a time."""

    _locks: ClassVar[dict[str, threading.Lock]] = {}
    _locks_guard: ClassVar[threading.Lock] = threading.Lock()
    variables_unavailable: ClassVar[bool] = False

    def __init__(self, key: str, backend: TokenBackend, grace: float = ROTATION_GRACE_SECONDS) -> None:
        self.key = key
        self.backend = backend
        self.grace = grace
        with self._locks_guard:
            self.lock = self._locks.setdefault(key, threading.Lock())

    @classmethod
    def for_connection(cls, conn_id: str) -> RefreshTokenStore:
        backend: TokenBackend = ProcessBackend() if cls.variables_unavailable else VariableBackend()
        return cls(variable_key(conn_id), backend)

    @classmethod
    def in_process(cls, key: str) -> RefreshTokenStore:
        return cls(key, ProcessBackend())

    def read(self) -> str | None:
        try:
            value = self.backend.get(self.key)
        except Exception as err:
            self._fall_back(err)
            value = self.backend.get(self.key)
        mask(value)
        return value

    def write(self, token: str) -> None:
        mask(token)
        try:
            self.backend.set(self.key, token)
        except Exception as err:
            self._fall_back(err)
            self.backend.set(self.key, token)

    def wait_for_other(self, rejected: Iterable[str]) -> str | None:
        """A token other than the rejected ones, waiting briefly for a concurrent rotation to be written."""
        seen = set(rejected)
        deadline = time.monotonic() + self.grace
        while True:
            value = self.read()
            if value and value not in seen:
                return value
            if time.monotonic() >= deadline:
                return None
            time.sleep(_POLL_SECONDS)

    def _fall_back(self, err: Exception) -> None:
        if isinstance(self.backend, ProcessBackend):
            raise err
        RefreshTokenStore.variables_unavailable = True
        log.warning(
            "Could not use the Airflow Variable %s (%s); the rotated refresh token is kept in this process "
            "only, so other workers cannot share it. Run with an Airflow metadata database or inside a task.",
            self.key,
            type(err).__name__,
        )
        self.backend = ProcessBackend()
