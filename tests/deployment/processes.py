"""Long-running child processes that must never outlive the test that started them.

Each runs in a session of its own and is stopped together with everything it forked (the
scheduler's LocalExecutor workers and their task processes, the api-server's workers, the
PostgreSQL backends). Its stdout and stderr go to one file, which the test reads and searches.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import psutil

STOP_TIMEOUT = 20.0
TAIL_CHARS = 4000
MAX_ERROR_LINES = 20
ERROR_LINE = re.compile(r"\b(ERROR|error|CRITICAL|Traceback)\b")


class ManagedProcess:
    """A started command with its output in `output_path`."""

    def __init__(self, name: str, command: list[str], *, env: dict[str, str], output_path: Path, cwd: Path) -> None:
        self.name = name
        self.output_path = output_path
        output_path.parent.mkdir(parents=True, exist_ok=True)
        with output_path.open("wb") as output:
            self._popen = subprocess.Popen(
                command, env=env, cwd=cwd, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )

    def running(self) -> bool:
        return self._popen.poll() is None

    def output(self) -> str:
        return self.output_path.read_text(errors="replace")

    def describe(self) -> str:
        """Its state, its last error lines (often far from the end) and the end of its output, for failure messages."""
        state = "running" if self.running() else f"exited with {self._popen.returncode}"
        output = self.output()
        errors = [line for line in output.splitlines() if ERROR_LINE.search(line)][-MAX_ERROR_LINES:]
        return "\n".join([f"--- {self.name} ({state}), error lines:", *errors, "last output:", output[-TAIL_CHARS:]])

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        stop_all([self], timeout)

    def kill(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGKILL to it and everything it forked at once, as when its machine is lost: nothing cleans up."""
        family = self.family()
        _send(family, signal.SIGKILL)
        _wait_for_exit(family, timeout)
        self.reap(timeout)

    def family(self) -> list[psutil.Process]:
        """The process itself first, then its descendants and whatever else is left in its process group.

        The group catches the children of a component that already died (they are no longer its descendants).
        """
        try:
            leader = psutil.Process(self._popen.pid)
            members = [leader, *leader.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []
        return members + [process for process in psutil.process_iter() if _in_group(process, leader.pid, members)]

    def reap(self, timeout: float) -> None:
        self._popen.wait(timeout)


def stop_all(processes: list[ManagedProcess], timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM to each at once, so each shuts its own children down; SIGKILL to anything left after `timeout`."""
    families = [process.family() for process in processes]
    _send([family[0] for family in families if family], signal.SIGTERM)
    survivors = _wait_for_exit([member for family in families for member in family], timeout)
    _send(survivors, signal.SIGKILL)
    _wait_for_exit(survivors, timeout)
    for process in processes:
        process.reap(timeout)


def _in_group(process: psutil.Process, group: int, known: list[psutil.Process]) -> bool:
    try:
        return process not in known and os.getpgid(process.pid) == group
    except ProcessLookupError:
        return False


def _send(processes: list[psutil.Process], signal_number: int) -> None:
    for process in processes:
        try:
            process.send_signal(signal_number)
        except psutil.NoSuchProcess:
            continue


def _wait_for_exit(processes: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """The processes still alive after `timeout`; a zombie counts as gone (only its parent can reap it)."""
    deadline = time.monotonic() + timeout
    alive = [process for process in processes if _alive(process)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = [process for process in alive if _alive(process)]
    return alive


def _alive(process: psutil.Process) -> bool:
    try:
        return bool(process.is_running() and process.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
