"""Reads of small cached objects happen on the event loop, and only then."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from lexigram.storage import BlobStore
from lexigram.storage.local import files
from lexigram.storage.local.config import StorageLocalConfig
from lexigram.storage.local.driver import LocalDriver


@pytest_asyncio.fixture
async def inline_store(config: StorageLocalConfig) -> AsyncIterator[BlobStore]:
    if files.files_open_cached is None:
        pytest.skip("openat2(RESOLVE_CACHED) is not available here: reads use a thread")
    async with BlobStore(LocalDriver(config)) as store:
        yield store


@pytest.fixture
def driver_files(inline_store: BlobStore) -> files.LocalFiles:
    driver = inline_store.driver
    assert isinstance(driver, LocalDriver)
    return driver.files


def _evict(path: Path) -> None:
    """Drop a clean file's pages from the page cache (a real eviction, no mock)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


async def test_cached_small_object_is_read_inline(
    inline_store: BlobStore, driver_files: files.LocalFiles, root: Path
) -> None:
    data = os.urandom(100_000)
    await inline_store.upload("dir/small.bin", data)
    assert await inline_store.download("dir/small.bin") == data
    assert driver_files.read_nowait("dir/small.bin", 0, None) == data
    assert driver_files.read_nowait("dir/small.bin", 10, 20) == data[10:20]
    big = os.urandom(files.INLINE_READ_MAX + 1)
    await inline_store.upload("big.bin", big)
    assert driver_files.read_nowait("big.bin", 0, None) is None  # too big: a thread
    assert await inline_store.download("big.bin") == big


async def test_uncached_object_goes_to_a_thread(
    inline_store: BlobStore, driver_files: files.LocalFiles, root: Path
) -> None:
    data = os.urandom(200_000)
    await inline_store.upload("cold.bin", data)
    _evict(root / "cold.bin")
    assert driver_files.read_nowait("cold.bin", 0, None) is None  # would wait for the disk
    assert await inline_store.download("cold.bin") == data  # read in a worker thread instead


async def test_inline_path_refuses_what_the_thread_path_refuses(
    inline_store: BlobStore, driver_files: files.LocalFiles, root: Path, tmp_path: Path
) -> None:
    (tmp_path / "outside.txt").write_bytes(b"secret")
    await inline_store.upload("x", b"x")
    os.symlink(tmp_path / "outside.txt", root / "link")
    os.symlink(tmp_path, root / "dirlink")
    for key in ("link", "dirlink/outside.txt", "missing"):
        assert driver_files.read_nowait(key, 0, None) is None
