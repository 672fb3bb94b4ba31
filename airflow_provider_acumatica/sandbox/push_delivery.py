"""Delivering push notifications: a background thread POSTs them to webhooks, retries, and keeps what happened.

The store listener only queues what a write concerns, so a write never waits for a webhook. The delivery thread
builds the notifications in write order (so `TimeStamp` grows), applies the knobs, and POSTs each as JSON with the
destination's one header. A 2xx answer delivers it; anything else, or no answer, is retried after
`retry_delay_seconds`, at most five attempts in all, then the notification goes to the failed list, where
`resend_failed` (SM502000's Resend) gives it five more. Knobs: `drop_rate` loses notifications before sending
(never listed as failed, as Acumatica's failures before sending; counted as `dropped`), `duplicate_rate` sends a
notification twice with the same Id, `reorder` delivers each batch of queued writes newest first, `delay_seconds`
holds each one back, `split_updates` sends an update's halves apart (see `push`).

Counters: `queued` notifications built, `duplicated` extra copies, `dropped`, `delivered` and `failed`; the sent
and failed lists keep the last 10,000 entries. The thread starts with the first notification and `close()` stops
it; what is still queued then waits for the next write or resend.
"""

from __future__ import annotations

import heapq
import http.client
import itertools
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections import Counter, deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .data import DataStore, RecordChange
from .push import Notification, PushNotifications, Watch

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
KEEP = 10_000
REORDER_WINDOW_SECONDS = 0.2
SEND_TIMEOUT_SECONDS = 10.0
COUNTERS = ("queued", "delivered", "failed", "duplicated", "dropped")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer other than 2xx, so a failure, not a reason to POST elsewhere."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


@dataclass
class Job:
    notification: Notification
    due: float
    generation: int
    attempts: int = 0
    last_error: str = ""


def post(notification: Notification) -> str | None:
    """POST the payload; None when delivered (2xx), else what went wrong."""
    destination = notification.destination
    headers = {"Content-Type": "application/json"}
    if destination.header_name is not None and destination.header_value is not None:
        headers[destination.header_name] = destination.header_value
    data = json.dumps(notification.payload).encode("utf-8")
    # parse_destination admits only http(s) addresses
    request = urllib.request.Request(destination.address, data=data, headers=headers, method="POST")  # noqa: S310
    try:
        with _OPENER.open(request, timeout=SEND_TIMEOUT_SECONDS) as answer:
            status = int(answer.status)
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (OSError, http.client.HTTPException) as exc:  # no answer, or not one that HTTP can read
        return f"{type(exc).__name__}: {exc}"
    return None if 200 <= status < 300 else f"HTTP {status}"


def _utc_text(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _entry(job: Job) -> dict[str, Any]:
    payload = job.notification.payload
    return {
        "id": payload["Id"],
        "query": payload["Query"],
        "destination": job.notification.destination.name,
        "timestamp": payload["TimeStamp"],
        "attempts": job.attempts,
    }


def _failed_entry(job: Job, at: float) -> dict[str, Any]:
    """As SM502000 lists it: with the last error and the whole notification, which a resend would send."""
    extra = {"last_error": job.last_error, "failed_at": _utc_text(at), "notification": dict(job.notification.payload)}
    return {**_entry(job), **extra}


class PushDelivery:
    """The queue between the store's writes and the webhooks, and the thread that empties it."""

    def __init__(self, store: DataStore, push: PushNotifications) -> None:
        self._push = push
        self._cond = threading.Condition()
        self._incoming: deque[Watch] = deque()
        self._incoming_since = 0.0
        self._jobs: list[tuple[float, int, Job]] = []  # a heap by due time, then by arrival
        self._arrivals = itertools.count()
        self._busy = 0
        self._generation = 0
        self._sent: deque[dict[str, Any]] = deque(maxlen=KEEP)
        self._failed: deque[tuple[Job, float]] = deque(maxlen=KEEP)
        self._counters: Counter[str] = Counter()
        self._thread: threading.Thread | None = None
        self._stopping = False
        store.add_listener(self._on_change)

    def _on_change(self, change: RecordChange) -> None:
        watches = self._push.watches(change)
        if not watches:
            return
        with self._cond:
            if not self._incoming:
                self._incoming_since = time.monotonic()
            self._incoming.extend(watches)
            self._start()
            self._cond.notify_all()

    def _start(self) -> None:
        """Called under the condition's lock."""
        if self._stopping or (self._thread is not None and self._thread.is_alive()):
            return
        self._thread = threading.Thread(target=self._run, name="acumatica-sandbox-push", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the delivery thread, after the POST in flight if any; the queue stays for a later start."""
        with self._cond:
            self._stopping, thread = True, self._thread
            self._cond.notify_all()
        if thread is not None:
            thread.join()
        with self._cond:
            self._stopping, self._thread = False, None

    def reset(self) -> None:
        """Forget the queue, the lists and the counters; a POST in flight is not recorded when it ends."""
        with self._cond:
            self._generation += 1
            self._incoming.clear()
            self._jobs.clear()
            self._sent.clear()
            self._failed.clear()
            self._counters.clear()
            self._cond.notify_all()

    def queued_now(self) -> int:
        """Writes not yet built plus notifications not yet delivered or failed: 0 when idle."""
        with self._cond:
            return self._queued_now()

    def _queued_now(self) -> int:
        return len(self._incoming) + len(self._jobs) + self._busy

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is queued or in flight; False if that takes longer than `timeout` seconds."""
        with self._cond:
            return self._cond.wait_for(lambda: self._queued_now() == 0, timeout)

    def sent(self) -> dict[str, Any]:
        with self._cond:
            counters = {name: self._counters[name] for name in COUNTERS}
            return {"sent": list(self._sent), "counters": counters, "queued_now": self._queued_now()}

    def failed(self) -> list[dict[str, Any]]:
        with self._cond:
            return [_failed_entry(job, at) for job, at in self._failed]

    def resend_failed(self) -> int:
        """Queue every failed notification again with five fresh attempts, as SM502000's Resend does."""
        now = time.monotonic()
        with self._cond:
            jobs = [Job(job.notification, now, self._generation) for job, _ in self._failed]
            self._failed.clear()
            self._schedule(jobs)
            if jobs:
                self._start()
            self._cond.notify_all()
            return len(jobs)

    def _run(self) -> None:
        while (work := self._wait()) is not None:
            if isinstance(work, Job):
                self._attempt(work)
            else:
                self._queue(*work)

    def _wait(self) -> Job | tuple[list[Watch], int] | None:
        """The next thing to do: a batch of writes to build, or a due job; None once stopping."""
        with self._cond:
            while not self._stopping:
                now = time.monotonic()
                pause = self._incoming_pause(now)
                if self._incoming and pause <= 0:
                    watches = list(self._incoming)
                    self._incoming.clear()
                    self._busy += 1
                    return watches, self._generation
                due = self._jobs[0][0] if self._jobs else None
                if due is not None and due <= now:
                    self._busy += 1
                    return heapq.heappop(self._jobs)[2]
                waits = [pause if self._incoming else None, None if due is None else due - now]
                self._cond.wait(min((w for w in waits if w is not None), default=None))
            return None

    def _incoming_pause(self, now: float) -> float:
        """With `reorder`, writes gather for a moment so a batch has something to reorder."""
        if not self._push.knobs.reorder:
            return 0.0
        return self._incoming_since + REORDER_WINDOW_SECONDS - now

    def _queue(self, watches: list[Watch], generation: int) -> None:
        """Build the batch's notifications; a bug there is logged and loses the batch, never the thread."""
        try:
            jobs, counts = self._build(watches, generation)
        except Exception:
            logger.exception("push notifications for %d writes could not be built", len(watches))
            jobs, counts = [], Counter()
        with self._cond:
            self._busy -= 1
            if generation == self._generation:
                self._schedule(jobs)
                self._counters.update(counts)
            self._cond.notify_all()

    def _build(self, watches: list[Watch], generation: int) -> tuple[list[Job], Counter[str]]:
        knobs = self._push.knobs
        notifications = [note for watch in watches for note in self._push.notifications(watch, knobs.split_updates)]
        if knobs.reorder:
            notifications.reverse()
        due = time.monotonic() + knobs.delay_seconds
        jobs: list[Job] = []
        counts = Counter(queued=len(notifications))
        for note in notifications:
            if self._push.chance(knobs.drop_rate):
                counts["dropped"] += 1
                continue
            copies = 2 if self._push.chance(knobs.duplicate_rate) else 1
            counts["duplicated"] += copies - 1
            jobs.extend(Job(note, due, generation) for _ in range(copies))
        return jobs, counts

    def _attempt(self, job: Job) -> None:
        error = post(job.notification)
        retry_delay = self._push.knobs.retry_delay_seconds
        with self._cond:
            self._busy -= 1
            job.attempts += 1
            if job.generation == self._generation:
                self._record(job, error, retry_delay)
            self._cond.notify_all()

    def _record(self, job: Job, error: str | None, retry_delay: float) -> None:
        """Called under the condition's lock: delivered, retried later, or failed for good."""
        if error is None:
            self._counters["delivered"] += 1
            self._sent.append({**_entry(job), "delivered_at": _utc_text(time.time())})
            return
        job.last_error = error
        if job.attempts >= MAX_ATTEMPTS:
            self._counters["failed"] += 1
            self._failed.append((job, time.time()))
            return
        job.due = time.monotonic() + retry_delay
        self._schedule([job])

    def _schedule(self, jobs: list[Job]) -> None:
        """Called under the condition's lock."""
        for job in jobs:
            heapq.heappush(self._jobs, (job.due, next(self._arrivals), job))
