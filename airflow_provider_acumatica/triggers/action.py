"""`AcumaticaActionTrigger`: wait in the triggerer for a long action (202) to finish, in the session that started it.

Acumatica keeps an action's status (`Location: …/{Entity}/{Action}/status/{GUID}`) in the session that invoked
it, so the worker hands that session over (its cookies or bearer token) and the trigger polls with it. The
trigger owns the session's API seat from then on and signs it out itself:

* when the action is done, fails, or runs past the deadline: before the event is sent, so the worker's
  `execute_complete` (which reads the record back in a new session) never holds a second seat;
* when a user acts on the deferred task (mark failed, clear, mark success): in `on_kill` on Airflow versions
  that have it (3.3+), else on any cancellation, since those versions cannot tell a user's cancel apart;
* never in `cleanup()`: that runs also when the triggerer restarts or hands the trigger to another triggerer,
  and the resumed trigger still needs the session to read the action's status.

The deadline is an absolute time (the operator's `timeout` from the POST), so a resumed trigger keeps it. The
serialized kwargs hold the session's credentials: they are masked in logs and kept out of `repr`.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_acumatica.masking import mask

# Consecutive unanswered polls (connection errors, 429, 5xx) tolerated before the trigger gives up.
MAX_POLL_FAILURES = 5
_TRANSIENT = frozenset({429, 500, 502, 503, 504})
# Whether the triggerer calls `on_kill` only for a user's action (Airflow 3.3+).
_HAS_ON_KILL = "on_kill" in vars(BaseTrigger)


class AcumaticaActionTrigger(BaseTrigger):
    """Poll `location` with backoff until 204 (done) or `deadline` (epoch seconds), then sign the session out.

    Events: `{"status": "done"}`, `{"status": "timeout", "message"}` or `{"status": "error", "message"}`."""

    def __init__(
        self,
        *,
        location: str,
        logout_url: str,
        headers: Mapping[str, str],
        deadline: float,
        timeout: float,
        entity: str,
        action: str,
        poll_interval: float = 1.0,
        max_poll_interval: float = 30.0,
        verify: bool | str = True,
        request_timeout: float = 60.0,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.location = location
        self.logout_url = logout_url
        self.headers = dict(headers)
        for value in self.headers.values():
            mask(value)
        self.deadline = deadline
        self.timeout = timeout
        self.entity = entity
        self.action = action
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.verify = verify
        self.request_timeout = request_timeout
        self._signed_out = False

    def __repr__(self) -> str:
        """Everything but the session's credentials, which the base class would print with the other kwargs."""
        return (
            f"<{type(self).__name__} {self.entity}/{self.action} polling {self.location} until {self.deadline:.0f} "
            f"(headers {sorted(self.headers)} hidden)>"
        )

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__name__}",
            {
                "location": self.location,
                "logout_url": self.logout_url,
                "headers": dict(self.headers),
                "deadline": self.deadline,
                "timeout": self.timeout,
                "entity": self.entity,
                "action": self.action,
                "poll_interval": self.poll_interval,
                "max_poll_interval": self.max_poll_interval,
                "verify": self.verify,
                "request_timeout": self.request_timeout,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        self.log.info("Waiting for %s/%s at %s.", self.entity, self.action, urlsplit(self.location).path)
        async with await self._client() as client:
            try:
                event = await self._wait(client)
            except asyncio.CancelledError:
                if not _HAS_ON_KILL:
                    await self._sign_out(client)
                raise
            await self._sign_out(client)
        self.log.info("%s/%s: %s; the session is signed out.", self.entity, self.action, event["status"])
        yield TriggerEvent(event)  # type: ignore[no-untyped-call]

    async def on_kill(self) -> None:
        """A user failed, cleared or finished the deferred task: the action's seat is not needed any more."""
        async with await self._client() as client:
            await self._sign_out(client)

    async def _client(self) -> httpx.AsyncClient:
        """Built in a thread: loading the CA bundle would block the triggerer's event loop for a moment."""
        return await asyncio.to_thread(self._new_client)

    def _new_client(self) -> httpx.AsyncClient:
        verify = ssl.create_default_context(cafile=self.verify) if isinstance(self.verify, str) else self.verify
        return httpx.AsyncClient(
            headers={"Accept": "application/json", **self.headers},
            verify=verify,
            timeout=self.request_timeout,
            follow_redirects=False,
        )

    async def _wait(self, client: httpx.AsyncClient) -> dict[str, Any]:
        """Poll until done, an error or the deadline; a run of transient failures is bounded too."""
        what = f"{self.entity}/{self.action}"
        delay = self.poll_interval
        failures = 0
        while True:
            try:
                status: int | str = (await client.get(self.location)).status_code
            except httpx.HTTPError as err:
                status = type(err).__name__
            if status == 204:
                return {"status": "done"}
            if status == 202:
                failures = 0
            elif status == 401:
                return _error(
                    f"Acumatica signed the session of {what} out (HTTP 401) while the action ran, so its outcome "
                    "cannot be read. Check the record before running the action again."
                )
            elif status in _TRANSIENT or isinstance(status, str):
                failures += 1
                if failures >= MAX_POLL_FAILURES:
                    return _error(
                        f"The status of {what} could not be read {failures} times in a row (last: {status}). "
                        "The action may still finish on the server: check the record before running it again."
                    )
            else:
                return _error(f"Polling the status of {what} answered HTTP {status}.")
            if time.time() + delay > self.deadline:
                return {
                    "status": "timeout",
                    "message": (
                        f"{what} was still running after timeout={self.timeout:g} s. It may still finish on the "
                        "server: check the record before running the action again, or raise timeout."
                    ),
                }
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_poll_interval)

    async def _sign_out(self, client: httpx.AsyncClient) -> None:
        """Once; a failed sign-out is reported without credentials and the seat frees at the server's timeout."""
        if self._signed_out:
            return
        self._signed_out = True
        try:
            response = await client.post(self.logout_url, content=b"", headers={"Content-Length": "0"})
        except httpx.HTTPError as err:
            self.log.warning(
                "Acumatica sign-out failed (%s); the seat frees at the server's timeout.", type(err).__name__
            )
            return
        if response.status_code not in {200, 204, 401}:
            self.log.warning(
                "Acumatica sign-out answered HTTP %s; the seat frees at the server's idle timeout.",
                response.status_code,
            )


def _error(message: str) -> dict[str, Any]:
    return {"status": "error", "message": message}
