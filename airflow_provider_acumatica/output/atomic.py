"""Atomic publication: readers see the previous file or the complete new one, never a partial file.

Bytes stream to a hidden sibling `.<name>.<random>.partial`, counted and hashed as they pass; on
success the sibling is renamed onto the final path (an atomic `os.replace` on local disks, copy and
delete on object stores, where the final key likewise only appears complete). On failure the
sibling is deleted. A killed process can leave a `.partial` behind, never a file under the final name.
The filesystem is used directly, so lineage records the published path, not the temporary one.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from types import TracebackType
from typing import IO

from airflow.providers.common.compat.sdk import ObjectStoragePath, get_hook_lineage_collector

from airflow_provider_acumatica.output.paths import LOCAL_PROTOCOLS, redact_uri, storage_error

log = logging.getLogger(__name__)


class AtomicOutput:
    """A write-only binary stream for `with AtomicOutput(path) as out:`; publishes on a clean exit."""

    def __init__(self, path: ObjectStoragePath) -> None:
        self.path = path
        self.uri = redact_uri(path)
        self.temporary = path.parent / f".{path.name}.{secrets.token_hex(8)}.partial"
        self.bytes_written = 0
        self.committed = False
        self._local = path.protocol in LOCAL_PROTOCOLS
        self._digest = hashlib.sha256()
        self._file: IO[bytes] | None = None
        self._aborted = False

    @property
    def sha256(self) -> str:
        """Hex digest of exactly the bytes written so far (all of them once committed)."""
        return self._digest.hexdigest()

    @property
    def closed(self) -> bool:
        return self._file is None

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.bytes_written

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._file is None:
            raise ValueError(f"The output for {self.uri} is not open: use it inside `with AtomicOutput(path)`.")
        try:
            self._file.write(data)
        except OSError as err:
            raise storage_error(err, self.uri) from err
        self._digest.update(data)
        size = memoryview(data).nbytes
        self.bytes_written += size
        return size

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def abort(self) -> None:
        """Discard everything on exit, leaving the final path as it was."""
        self._aborted = True

    def __enter__(self) -> AtomicOutput:
        try:
            if self._local:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.fs.open(self.temporary.path, "wb")
        except OSError as err:
            raise storage_error(err, self.uri) from err
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if exc_type is None and not self._aborted:
            self._commit()
        else:
            self._discard()

    def _commit(self) -> None:
        try:
            self._close(sync=self._local)
            if self._local:
                os.replace(self.temporary.path, self.path.path)
                _sync_directory(os.path.dirname(self.path.path))
            else:
                self.path.fs.mv(self.temporary.path, self.path.path)
        except OSError as err:
            self._remove_temporary()
            raise storage_error(err, self.uri) from err
        self.committed = True
        get_hook_lineage_collector().add_output_asset(context=self.path, uri=self.uri)

    def _discard(self) -> None:
        try:
            self._close(sync=False)
        except Exception:
            log.warning("Closing the unfinished output for %s failed; deleting it anyway.", self.uri, exc_info=True)
        self._remove_temporary()

    def _close(self, *, sync: bool) -> None:
        handle, self._file = self._file, None
        if handle is None:
            return
        with handle:
            if sync:
                handle.flush()
                os.fsync(handle.fileno())

    def _remove_temporary(self) -> None:
        try:
            if self.temporary.exists():
                self.temporary.unlink()
        except Exception:
            log.warning(
                "Could not delete the unfinished output %s; it never carries the final name and can be removed.",
                redact_uri(self.temporary),
                exc_info=True,
            )


def _sync_directory(directory: str) -> None:
    """Make the rename itself durable, so a power loss cannot bring back the previous file."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
