"""A throwaway PostgreSQL server for Airflow's metadata database, started from the installed binaries.

PostgreSQL refuses to run as root, so as root it runs as the `postgres` system user (which the
Debian package creates), in a temporary directory that user owns. It listens on a free loopback
port with its unix socket in that directory, so it never meets a server already on the machine.
Durability is switched off: the database lives as long as one test module.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg2

from tests.deployment.processes import ManagedProcess, free_port

DEBIAN_SERVERS = Path("/usr/lib/postgresql")
SYSTEM_USER = "postgres"
DATABASE = "airflow"
ROLE = "airflow"
START_TIMEOUT = 30.0
FAST_AND_LOOSE = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")


def server_binaries() -> Path | None:
    """The bin directory of the newest installed server (Debian keeps it off PATH), else the one on PATH."""
    versions = sorted(DEBIAN_SERVERS.glob("*/bin"), key=lambda folder: _version(folder.parent.name), reverse=True)
    on_path = shutil.which("initdb")
    candidates = [*versions, *([Path(on_path).parent] if on_path else [])]
    return next((folder for folder in candidates if _has_server(folder)), None)


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def _has_server(folder: Path) -> bool:
    return all(os.access(folder / program, os.X_OK) for program in ("initdb", "postgres"))


class PostgresServer:
    """One cluster with an `airflow` role (trust authentication on loopback only) and an `airflow` database."""

    def __init__(self, binaries: Path) -> None:
        self.binaries = binaries
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="airflow-deployment-postgres-"))
        self._process: ManagedProcess | None = None

    @property
    def sqlalchemy_url(self) -> str:
        return f"postgresql+psycopg2://{ROLE}@127.0.0.1:{self.port}/{DATABASE}"

    def start(self) -> PostgresServer:
        if os.geteuid() == 0:
            account = pwd.getpwnam(SYSTEM_USER)
            os.chown(self.root, account.pw_uid, account.pw_gid)
        self._initdb()
        settings = [f"--port={self.port}", "--listen_addresses=127.0.0.1", f"--unix_socket_directories={self.root}"]
        settings += [f"--{setting}" for setting in FAST_AND_LOOSE]
        command = [*self._as_server_user(), str(self.binaries / "postgres"), "-D", str(self.root / "data"), *settings]
        self._process = ManagedProcess(
            "postgres", command, env=dict(os.environ), output_path=self.root / "postgres.log", cwd=self.root
        )
        self._create_database(self._process)
        return self

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def _as_server_user(self) -> list[str]:
        return ["runuser", "-u", SYSTEM_USER, "--"] if os.geteuid() == 0 else []

    def _initdb(self) -> None:
        command = [str(self.binaries / "initdb"), "-D", str(self.root / "data"), "-U", ROLE, "--auth=trust"]
        command += ["--encoding=UTF8", "--locale=C", "--no-sync"]
        completed = subprocess.run(
            [*self._as_server_user(), *command], cwd=self.root, capture_output=True, text=True, check=False, timeout=120
        )
        if completed.returncode != 0:
            raise RuntimeError(f"initdb failed ({completed.returncode}):\n{completed.stdout}\n{completed.stderr}")

    def _create_database(self, process: ManagedProcess) -> None:
        connection = self._connect_when_ready(process)
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(f"CREATE DATABASE {DATABASE}")
        finally:
            connection.close()

    def _connect_when_ready(self, process: ManagedProcess) -> psycopg2.extensions.connection:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                return psycopg2.connect(host="127.0.0.1", port=self.port, user=ROLE, dbname="postgres")
            except psycopg2.OperationalError:
                if not process.running() or time.monotonic() > deadline:
                    raise RuntimeError(f"PostgreSQL did not start:\n{process.describe()}") from None
                time.sleep(0.2)
