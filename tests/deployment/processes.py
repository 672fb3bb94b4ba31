"""Long-running child processes that must never outlive the test that started them.

Each runs in a session of its own and is stopped together with everything it forked (the
scheduler's LocalExecutor workers and their task processes, the api-server's workers, the
PostgreSQL backends). Its stdout and stderr go to one file, which the test reads and searches.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path

import psutil

STOP_TIMEOUT = 20.0
TAIL_CHARS = 4000


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
        """Its state and the end of its output, for failure messages."""
        state = "running" if self.running() else f"exited with {self._popen.returncode}"
        return f"--- {self.name} ({state}), last output:\n{self.output()[-TAIL_CHARS:]}"

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM to the process and all its descendants for a clean shutdown; SIGKILL to any left after `timeout`."""
        family = self._family()
        _send(family, signal.SIGTERM)
        survivors = _wait_for_exit(family, timeout)
        _send(survivors, signal.SIGKILL)
        _wait_for_exit(survivors, timeout)
        self._popen.wait(timeout)

    def _family(self) -> list[psutil.Process]:
        try:
            leader = psutil.Process(self._popen.pid)
            return [leader, *leader.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []


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
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
