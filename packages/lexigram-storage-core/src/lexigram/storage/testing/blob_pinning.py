"""Conformance of version pinning: an open reader and ``download_file`` never pair bytes
of one version with another's; a mixin of
:class:`~lexigram.storage.testing.BlobStoreConformance`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from lexigram.storage.errors import PreconditionFailedError
from lexigram.storage.store import BlobStore

__all__ = ["ReaderPinningConformance"]


def _count_heads(store: BlobStore, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every ``head`` the driver is asked for."""
    driver = store.driver
    head: Callable[..., Awaitable[Any]] = driver.head
    calls: list[str] = []

    async def counted(key: str, **kwargs: Any) -> Any:
        calls.append(key)
        return await head(key, **kwargs)

    monkeypatch.setattr(driver, "head", counted)
    return calls


class ReaderPinningConformance:
    """An overwrite planted between two reads of an open object (or between the lookup
    and the transfer of ``download_file``) is refused with ``PreconditionFailedError``."""

    @pytest.mark.asyncio
    async def test_open_refuses_an_overwrite_planted_between_two_fetches(
        self, store: BlobStore, prefix: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        key = prefix + "pin/between.bin"
        await store.upload(key, b"a" * 3000)
        heads = _count_heads(store, monkeypatch)
        async with store.open(key, block_size=1000) as f:
            assert await f.read(1000) == b"a" * 1000  # fetch 1
            assert await f.read(1000) == b"a" * 1000  # fetch 2
            if store.driver.capabilities.conditional_read:
                # one conditional read per fetch: no lookup after the one at open
                assert len(heads) == 1, heads
                assert f.fetches == 2
            await store.upload(key, b"b" * 3000)  # same size, another version
            with pytest.raises(PreconditionFailedError) as caught:
                await f.read(1000)
        assert key in str(caught.value) and "open it again" in str(caught.value)
        if store.driver.capabilities.conditional_read:
            # refused by the backend, atomically with the read, not found out afterwards
            assert isinstance(caught.value.__cause__, PreconditionFailedError)
        assert await store.download(key) == b"b" * 3000

    @pytest.mark.asyncio
    async def test_download_file_refuses_an_overwrite_planted_after_the_lookup(
        self, store: BlobStore, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        key = prefix + "pin/file.bin"
        await store.upload(key, b"old" * 100)
        driver = store.driver
        head: Callable[..., Awaitable[Any]] = driver.head
        planted: list[str] = []

        async def then_overwrite(path: str, **kwargs: Any) -> Any:
            found = await head(path, **kwargs)
            if not planted:  # after the lookup, before the transfer
                planted.append(path)
                await store.upload(key, b"new" * 100)
            return found

        monkeypatch.setattr(driver, "head", then_overwrite)
        folder = tmp_path / "downloads"
        folder.mkdir()
        target = folder / "out.bin"
        if store.driver.capabilities.conditional_read:
            with pytest.raises(PreconditionFailedError):
                await store.download_file(key, target)
            assert not target.exists()  # nothing half-written, no temp file left
            assert list(folder.iterdir()) == []
            assert planted
        else:  # pragma: no cover - every bundled driver reads conditionally
            await store.download_file(key, target)
