"""Atomic publication: readers see the previous file or the complete new one, never a partial file.

Bytes stream to a hidden sibling `.<name>.<random>.partial`, counted and hashed as they pass; on
success the sibling is renamed onto the final path (an atomic `os.replace` on local disks, copy and
delete on object stores, where the final key likewise only appears complete). On failure the
sibling is deleted. A killed process can leave a `.partial` behind, never a file under the final name.
The filesystem is used directly, so lineage records the published path, not the temporary one.

Hashing and writing run on one helper thread (both release the GIL), overlapping the encoding of
the next page; at most two chunks are pending, so memory stays at a few pages.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import IO

from airflow.providers.common.compat.sdk import ObjectStoragePath, get_hook_lineage_collector

from airflow_provider_acumatica.output.paths import LOCAL_PROTOCOLS, redact_uri, storage_error

log = logging.getLogger(__name__)

# Smaller writes (Parquet's page headers are tens of bytes) travel to the helper thread together.
_CHUNK_BYTES = 64 * 1024


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
        self._helper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="acumatica-output")
        self._in_flight: Future[None] | None = None
        self._buffer = bytearray()
        self._aborted = False

    @property
    def sha256(self) -> str:
        """Hex digest of exactly the bytes published (complete once committed)."""
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
        size = memoryview(data).nbytes
        if isinstance(data, bytes) and size >= _CHUNK_BYTES and not self._buffer:
            self._hand_off(data)
        else:
            self._buffer += data
            if len(self._buffer) >= _CHUNK_BYTES:
                self._hand_off(self._take_buffer())
        self.bytes_written += size
        return size

    def flush(self) -> None:
        if self._file is not None:
            self._drain()
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

    def _hand_off(self, chunk: bytes | bytearray) -> None:
        """Queue `chunk` behind the one in flight, then wait for that one: at most two are pending."""
        previous, self._in_flight = self._in_flight, self._helper.submit(self._store, chunk)
        self._settle(previous)

    def _store(self, chunk: bytes | bytearray) -> None:
        assert self._file is not None
        self._file.write(chunk)
        self._digest.update(chunk)

    def _take_buffer(self) -> bytearray:
        chunk, self._buffer = self._buffer, bytearray()
        return chunk

    def _wait(self) -> None:
        in_flight, self._in_flight = self._in_flight, None
        self._settle(in_flight)

    def _settle(self, in_flight: Future[None] | None) -> None:
        if in_flight is None:
            return
        try:
            in_flight.result()
        except OSError as err:
            raise storage_error(err, self.uri) from err

    def _drain(self) -> None:
        if self._buffer:
            self._hand_off(self._take_buffer())
        self._wait()

    def _commit(self) -> None:
        try:
            self._drain()
            self._close(sync=self._local)
            if self._local:
                os.replace(self.temporary.path, self.path.path)
                sync_directory(os.path.dirname(self.path.path))
            else:
                self.path.fs.mv(self.temporary.path, self.path.path)
        except OSError as err:
            self._discard()
            raise storage_error(err, self.uri) from err
        except BaseException:
            self._discard()
            raise
        self.committed = True
        get_hook_lineage_collector().add_output_asset(context=self.path, uri=self.uri)

    def _discard(self) -> None:
        self._buffer.clear()
        self._in_flight = None
        try:
            self._close(sync=False)
        except Exception:
            log.warning("Closing the unfinished output for %s failed; deleting it anyway.", self.uri, exc_info=True)
        self._remove_temporary()

    def _close(self, *, sync: bool) -> None:
        """Close the temporary file once the helper thread has finished its last chunk."""
        self._helper.shutdown(wait=True)
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


def sync_directory(directory: str | os.PathLike[str]) -> None:
    """Make the rename itself durable, so a power loss cannot bring back the previous file."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
