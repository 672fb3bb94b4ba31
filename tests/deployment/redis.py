"""A throwaway Redis server for the CeleryExecutor's broker, started from Debian's `redis-server`.

It listens on a free loopback port with persistence off, in a temporary directory, so it never meets
a server already on the machine and leaves nothing behind.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from pathlib import Path

from tests.deployment.processes import ManagedProcess, free_port

START_TIMEOUT = 30.0


def server_binary() -> Path | None:
    found = shutil.which("redis-server")
    return Path(found) if found else None


class RedisServer:
    def __init__(self, binary: Path) -> None:
        self.binary = binary
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="airflow-deployment-redis-"))
        self._process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        command = [str(self.binary), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.root)]
        command += ["--save", "", "--appendonly", "no", "--protected-mode", "yes"]
        self._process = ManagedProcess(
            "redis", command, env=dict(os.environ), output_path=self.root / "redis.log", cwd=self.root
        )
        self._wait_for_pong(self._process)
        return self

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def _wait_for_pong(self, process: ManagedProcess) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not self._answers_ping():
            if not process.running() or time.monotonic() > deadline:
                raise RuntimeError(f"Redis did not start:\n{process.describe()}")
            time.sleep(0.1)

    def _answers_ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as connection:
                connection.sendall(b"PING\r\n")
                return connection.recv(16).startswith(b"+PONG")
        except OSError:
            return False
