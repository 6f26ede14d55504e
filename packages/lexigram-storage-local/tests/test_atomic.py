"""Atomic writes: readers never see part of an object; failed or cancelled uploads
leave the old content and no temporary file; OS errors carry the OS reason."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from lexigram.storage import BlobStore, PermissionDeniedError, StorageError


def _leftovers(root: Path) -> list[str]:
    """Temp files of the driver anywhere under the root (there must be none)."""
    return [str(p) for p in root.rglob("*") if ".lexigram-tmp" in p.name or p.name.endswith(".tmp")]


class _Gate:
    """An async body that sends a first piece, then waits until cancelled."""

    def __init__(self) -> None:
        self.started = asyncio.Event()

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._gen()

    async def _gen(self) -> AsyncIterator[bytes]:
        yield b"partial " * 10_000
        self.started.set()
        await asyncio.Event().wait()  # never set: hangs until cancelled
        yield b"never"


async def test_cancelled_streamed_upload_keeps_old_content(store: BlobStore, root: Path) -> None:
    await store.upload("doc.txt", b"old content")
    body = _Gate()
    task = asyncio.create_task(store.upload("doc.txt", body))
    await body.started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await store.download("doc.txt") == b"old content"
    assert _leftovers(root) == []


async def test_cancelled_new_upload_leaves_nothing(store: BlobStore, root: Path) -> None:
    body = _Gate()
    task = asyncio.create_task(store.upload("new/deep/dir/doc.txt", body))
    await body.started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not await store.exists("new/deep/dir/doc.txt")
    assert _leftovers(root) == []
    assert not (root / "new").exists()  # the directories it made were pruned


async def test_cancelled_upload_into_existing_directories_prunes_the_empty_ones(
    store: BlobStore, root: Path
) -> None:
    # The parent exists, so the write opens it in one openat2 call (no fds of the levels
    # above it): pruning walks those levels again and removes the empty ones, as the
    # segment-by-segment walk does.
    await store.upload("keep/other.txt", b"stays")
    (root / "keep" / "empty" / "deep").mkdir(parents=True)
    body = _Gate()
    task = asyncio.create_task(store.upload("keep/empty/deep/doc.txt", body))
    await body.started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert _leftovers(root) == []
    assert not (root / "keep" / "empty").exists()
    assert (root / "keep" / "other.txt").read_bytes() == b"stays"


async def test_cancelled_in_memory_upload_is_all_or_nothing(store: BlobStore, root: Path) -> None:
    old, new = b"o" * 1000, b"n" * 4_000_000
    loop = asyncio.get_running_loop()
    outcomes = set()
    for delay in range(20):
        await store.upload("k", old)
        # a private executor, so we can wait for the worker thread to finish for sure
        executor = ThreadPoolExecutor(max_workers=2)
        loop.set_default_executor(executor)
        task = asyncio.create_task(store.upload("k", new))
        for _ in range(delay):
            await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        executor.shutdown(wait=True)  # the thread the cancel left running is done now
        loop.set_default_executor(ThreadPoolExecutor(max_workers=4))
        got = await store.download("k")
        assert got in (old, new)
        outcomes.add(got == new)
        assert _leftovers(root) == []
    assert False in outcomes  # at least some cancels took effect before the commit


async def test_readers_never_see_a_partial_object(store: BlobStore) -> None:
    versions = [bytes([65 + i]) * (3 * 1024 * 1024 + i) for i in range(6)]
    await store.upload("hot", versions[0])
    done = False
    seen: set[int] = set()

    async def reader() -> None:
        while not done:
            data = await store.download("hot")
            assert data in versions, (len(data), data[:1])
            seen.add(len(data))
            chunks = [c async for c in store.stream("hot", chunk_size=256 * 1024)]
            assert b"".join(chunks) in versions

    readers = [asyncio.create_task(reader()) for _ in range(3)]
    for _ in range(4):
        for version in versions:
            await store.upload("hot", version)
    done = True
    await asyncio.gather(*readers)
    assert seen


async def test_create_mode_race_across_keys_with_parents(store: BlobStore) -> None:
    results = await asyncio.gather(
        *(store.upload("p/q/r", str(i).encode(), mode="create") for i in range(16)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1


def _run_child(code: str, root: Path) -> dict[str, str]:
    env = dict(os.environ, ROOT=str(root))
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    result: dict[str, str] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


_CHILD_UPLOAD = """
import asyncio, json, os, resource, signal, sys
from lexigram.storage import BlobStore, StorageError
from lexigram.storage.local.config import StorageLocalConfig
from lexigram.storage.local.driver import LocalDriver

{setup}

async def main():
    store = BlobStore(LocalDriver(StorageLocalConfig(root_dir=os.environ["ROOT"])))
    try:
        await store.upload("doc.bin", b"x" * 2_000_000)
    except StorageError as exc:
        return {{"type": type(exc).__name__, "message": str(exc),
                "cause": type(exc.__cause__).__name__}}
    return {{"type": "none"}}

print(json.dumps(asyncio.run(main())))
"""


async def test_file_too_large_is_a_storage_error_and_nothing_changes(
    store: BlobStore, root: Path
) -> None:
    """A real OS write failure (EFBIG from RLIMIT_FSIZE, in a child process) mid-upload."""
    await store.upload("doc.bin", b"old")
    setup = (
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (1_000_000, 1_000_000))"
    )
    result = _run_child(_CHILD_UPLOAD.format(setup=setup), root)
    assert result["type"] == "StorageError", result
    assert "File too large" in result["message"], result
    assert "doc.bin" in result["message"]
    assert await store.download("doc.bin") == b"old"
    assert _leftovers(root) == []


def _make_read_only(directory: Path) -> tuple[str, list[str]]:
    """Make ``directory`` unwritable for this process, for real: as root, file modes are
    ignored, so use the immutable attribute (chattr +i, EPERM); else chmod 0o555 (EACCES).
    Returns the OS reason to expect and the command that undoes it."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(directory)], check=True)
        return "Operation not permitted", ["chattr", "-i", str(directory)]
    os.chmod(directory, 0o555)
    return "Permission denied", ["chmod", "755", str(directory)]


async def test_unwritable_directory_is_permission_denied(store: BlobStore, root: Path) -> None:
    await store.upload("ro/doc.bin", b"old")
    reason, undo = _make_read_only(root / "ro")
    try:
        for data in (b"new" * 1000, _chunks(b"new" * 100_000)):
            with pytest.raises(PermissionDeniedError) as caught:
                await store.upload("ro/doc.bin", data)
            assert reason in str(caught.value)
            assert "ro/doc.bin" in str(caught.value)
        with pytest.raises(PermissionDeniedError):
            await store.upload("ro/sub/new.bin", b"x")
        with pytest.raises(PermissionDeniedError):
            await store.delete("ro/doc.bin")
        assert await store.download("ro/doc.bin") == b"old"
    finally:
        subprocess.run(undo, check=True)  # noqa: ASYNC221
    assert _leftovers(root) == []
    assert sorted(p.name for p in (root / "ro").iterdir()) == ["doc.bin"]


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for offset in range(0, len(data), 65536):
        yield data[offset : offset + 65536]


async def test_os_errors_map_to_typed_errors(store: BlobStore) -> None:
    driver = store.driver
    assert driver.classify(OSError(28, "No space left on device")).value == "unknown"
    assert driver.classify(OSError(30, "Read-only file system")).value == "unknown"
    assert driver.classify(PermissionError(13, "Permission denied")).value == "permission_denied"
    assert driver.classify(OSError(24, "Too many open files")).value == "unavailable"
    assert driver.classify(FileNotFoundError(2, "x")).value == "not_found"
    assert isinstance(StorageError("x"), Exception)
