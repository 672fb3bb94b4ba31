"""Atomic publication: the final path holds the previous file or the complete new one, never a partial one."""

from __future__ import annotations

import errno
import hashlib
import os
import signal
import uuid
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import ObjectStoragePath
from airflow.providers.common.compat.sdk import io as airflow_io
from fsspec.implementations.local import LocalFileOpener
from fsspec.implementations.memory import MemoryFileSystem

from airflow_provider_acumatica.exceptions import AcumaticaConfigError, AcumaticaError
from airflow_provider_acumatica.output import AtomicOutput, build_output_path
from airflow_provider_acumatica.output import atomic as atomic_module


class Boom(Exception):
    pass


def fail_while_writing(out: AtomicOutput, data: bytes) -> None:
    with out:
        out.write(data)
        raise Boom


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".partial"))


def test_the_file_appears_only_when_complete(tmp_path: Path) -> None:
    final = tmp_path / "exports" / "orders.jsonl"
    with AtomicOutput(build_output_path(str(final))) as out:
        out.write(b'{"a":1}\n')
        assert not final.exists()
        assert leftovers(final.parent) == [out.temporary.name]
        assert out.temporary.name.startswith(".orders.jsonl.")
        out.write(bytearray(b'{"a":2}\n'))
    assert final.read_bytes() == b'{"a":1}\n{"a":2}\n'
    assert out.committed
    assert leftovers(final.parent) == []


def test_bytes_and_sha256_are_those_of_the_final_file(tmp_path: Path) -> None:
    final = tmp_path / "orders.jsonl"
    with AtomicOutput(build_output_path(str(final))) as out:
        for n in range(100):
            out.write(f"line {n} ünïcode\n".encode())
    data = final.read_bytes()
    assert out.bytes_written == len(data) == out.tell()
    assert out.sha256 == hashlib.sha256(data).hexdigest()


def test_an_exception_mid_write_keeps_the_previous_file(tmp_path: Path) -> None:
    final = tmp_path / "orders.jsonl"
    final.write_bytes(b"previous good file\n")
    out = AtomicOutput(build_output_path(str(final)))
    with pytest.raises(Boom):
        fail_while_writing(out, b"half of a new file")
    assert final.read_bytes() == b"previous good file\n"
    assert not out.committed
    assert leftovers(tmp_path) == []


def test_an_exception_leaves_no_file_when_there_was_none(tmp_path: Path) -> None:
    final = tmp_path / "orders.jsonl"
    with pytest.raises(Boom):
        fail_while_writing(AtomicOutput(build_output_path(str(final))), b"partial")
    assert list(tmp_path.iterdir()) == []


def test_abort_discards_without_an_exception(tmp_path: Path) -> None:
    final = tmp_path / "orders.jsonl"
    final.write_bytes(b"previous")
    with AtomicOutput(build_output_path(str(final))) as out:
        out.write(b"new")
        out.abort()
    assert final.read_bytes() == b"previous"
    assert leftovers(tmp_path) == []


def test_success_replaces_the_previous_file(tmp_path: Path) -> None:
    final = tmp_path / "orders.jsonl"
    final.write_bytes(b"old contents that are longer")
    with AtomicOutput(build_output_path(str(final))) as out:
        out.write(b"new")
    assert final.read_bytes() == b"new"


def test_a_killed_process_never_leaves_the_final_name(tmp_path: Path) -> None:
    final = tmp_path / "orders.jsonl"
    final.write_bytes(b"previous")
    child = os.fork()
    if child == 0:
        try:
            with AtomicOutput(build_output_path(str(final))) as out:
                out.write(b"x" * 100_000)
                out.flush()
                os.kill(os.getpid(), signal.SIGKILL)
        finally:
            os._exit(1)
    _, status = os.waitpid(child, 0)
    assert os.WIFSIGNALED(status)
    assert final.read_bytes() == b"previous"
    (leftover,) = leftovers(tmp_path)
    assert leftover.startswith(".orders.jsonl.")
    assert (tmp_path / leftover).stat().st_size == 100_000


def test_a_failing_disk_surfaces_with_the_path_and_stays_retryable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    final = tmp_path / "orders.jsonl"
    final.write_bytes(b"previous")

    def disk_full(self: LocalFileOpener, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(LocalFileOpener, "write", disk_full)
    with pytest.raises(AcumaticaError) as raised:
        write_pages(AtomicOutput(build_output_path(str(final))), pages=5)
    assert not isinstance(raised.value, AcumaticaConfigError)
    assert f"Cannot write file://{final}: OSError: [Errno 28] No space left on device" in str(raised.value)
    assert final.read_bytes() == b"previous"
    assert leftovers(tmp_path) == []


def write_pages(out: AtomicOutput, pages: int) -> None:
    with out:
        for _ in range(pages):
            out.write(b"x" * 100_000)


def test_buffers_reused_by_the_caller_are_copied(tmp_path: Path) -> None:
    final = tmp_path / "orders.parquet"
    reused = bytearray(b"a" * 100_000)
    with AtomicOutput(build_output_path(str(final))) as out:
        out.write(reused)
        reused[:] = b"b" * 100_000
        out.write(memoryview(b"tail"))
    assert final.read_bytes() == b"a" * 100_000 + b"tail"
    assert out.sha256 == hashlib.sha256(final.read_bytes()).hexdigest()


def test_writing_outside_the_context_is_an_error(tmp_path: Path) -> None:
    out = AtomicOutput(build_output_path(str(tmp_path / "x.jsonl")))
    assert out.closed
    with pytest.raises(ValueError, match="not open"):
        out.write(b"x")


def test_a_parent_that_is_a_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_bytes(b"")
    target = tmp_path / "blocker" / "orders.jsonl"
    with pytest.raises(AcumaticaConfigError) as raised, AtomicOutput(build_output_path(str(target))):
        pytest.fail("the output must not open")
    assert f"Cannot write file://{target}" in str(raised.value)
    assert "not a directory" in str(raised.value)


def test_a_directory_at_the_final_path_fails_cleanly(tmp_path: Path) -> None:
    (tmp_path / "orders.jsonl").mkdir()
    with (
        pytest.raises(AcumaticaConfigError, match="is a directory"),
        AtomicOutput(build_output_path(str(tmp_path / "orders.jsonl"))) as out,
    ):
        out.write(b"data")
    assert leftovers(tmp_path) == []
    assert (tmp_path / "orders.jsonl").is_dir()


def test_permission_denied_names_the_path_and_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = build_output_path(str(tmp_path / "orders.jsonl"))

    def refuse(*_: Any, **__: Any) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(type(path.fs), "open", refuse)
    with pytest.raises(AcumaticaConfigError) as raised, AtomicOutput(path):
        pytest.fail("the output must not open")
    assert f"file://{tmp_path}/orders.jsonl" in str(raised.value)
    assert "write access" in str(raised.value)


def test_credentials_in_the_uri_never_reach_messages(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_bytes(b"")
    path = build_output_path(f"file://user:s3cr3tpassword@{tmp_path}/blocker/x.jsonl")
    out = AtomicOutput(path)
    assert "s3cr3tpassword" in str(path)
    assert "s3cr3tpassword" not in out.uri
    with pytest.raises(AcumaticaConfigError) as raised, out:
        pytest.fail("the output must not open")
    assert "s3cr3tpassword" not in str(raised.value)


def test_lineage_names_the_published_file_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recorded: list[str] = []

    class Collector:
        def add_output_asset(self, *, context: Any, uri: str) -> None:
            recorded.append(uri)

    monkeypatch.setattr(atomic_module, "get_hook_lineage_collector", Collector)
    with AtomicOutput(build_output_path(str(tmp_path / "orders.jsonl"), "fs_default")) as out:
        out.write(b"x")
    assert recorded == [f"file://{tmp_path}/orders.jsonl"]


@pytest.fixture
def memory_bucket() -> str:
    airflow_io.attach("memory", fs=MemoryFileSystem())
    return f"bucket-{uuid.uuid4().hex}"


def test_object_stores_publish_by_move(memory_bucket: str) -> None:
    fs = MemoryFileSystem()
    final = ObjectStoragePath(f"{memory_bucket}/exports/orders.jsonl", protocol="memory")
    fs.pipe(final.path, b"previous")
    with AtomicOutput(build_output_path(final)) as out:
        out.write(b"new contents")
        assert fs.cat(final.path) == b"previous"
        assert fs.exists(out.temporary.path)
    assert fs.cat(final.path) == b"new contents"
    assert out.sha256 == hashlib.sha256(b"new contents").hexdigest()
    assert fs.ls(f"/{memory_bucket}/exports", detail=False) == [final.path]


def test_object_store_failures_remove_the_temporary_key(memory_bucket: str) -> None:
    fs = MemoryFileSystem()
    final = ObjectStoragePath(f"{memory_bucket}/orders.jsonl", protocol="memory")
    out = AtomicOutput(build_output_path(final))
    with pytest.raises(Boom):
        fail_while_writing(out, b"partial")
    assert not fs.exists(final.path)
    assert not fs.exists(out.temporary.path)
