"""The two ends of a copy: a prefix of a configured backend, or a folder on this machine."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import attrs

from lexigram.storage import BlobStore

__all__ = ["Entry", "FsEndpoint", "StoreEndpoint"]

CHUNK = 1024 * 1024


@attrs.frozen
class Entry:
    """One object or file, relative to its endpoint's root."""

    rel: str
    size: int
    modified: datetime | None
    etag: str | None = None


class StoreEndpoint:
    """``prefix`` on a backend; objects are addressed relative to it."""

    def __init__(self, name: str, store: BlobStore, prefix: str) -> None:
        self.name, self.store, self.prefix = name, store, prefix

    def describe(self, rel: str = "") -> str:
        return f"{self.name}:{self.key(rel)}"

    def key(self, rel: str) -> str:
        if not rel:
            return self.prefix
        if not self.prefix:
            return rel
        return self.prefix.rstrip("/") + "/" + rel

    async def entries(self) -> dict[str, Entry]:
        base = self.prefix.rstrip("/") + "/" if self.prefix else ""
        found: dict[str, Entry] = {}
        async for info in self.store.list(base):
            rel = info.path[len(base) :]
            found[rel] = Entry(rel, info.size, info.last_modified, info.etag)
        return found

    async def single(self) -> Entry | None:
        if not self.prefix or self.prefix.endswith("/") or not await self.store.exists(self.prefix):
            return None
        info = await self.store.info(self.prefix)
        return Entry("", info.size, info.last_modified, info.etag)

    def read(self, rel: str) -> AsyncIterator[bytes]:
        return self.store.stream(self.key(rel), chunk_size=CHUNK)

    async def write(self, rel: str, source: AsyncIterator[bytes], size: int) -> None:
        await self.store.upload(self.key(rel), source, size=size)

    async def size_of(self, rel: str) -> int:
        return (await self.store.info(self.key(rel))).size

    async def delete(self, rel: str) -> None:
        await self.store.delete(self.key(rel))


class FsEndpoint:
    """A file or folder on this machine. Writes go to a temporary file that is renamed
    into place only when complete, so an interrupted copy leaves nothing partial."""

    def __init__(self, path: str) -> None:
        self.root = Path(path)
        self.name = None

    def describe(self, rel: str = "") -> str:
        return str(self.root / rel) if rel else str(self.root)

    def key(self, rel: str) -> str:
        return self.describe(rel)

    async def entries(self) -> dict[str, Entry]:
        return await asyncio.to_thread(self._walk)

    def _walk(self) -> dict[str, Entry]:
        found: dict[str, Entry] = {}
        if not self.root.is_dir():
            return found
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = [d for d in dirnames if not Path(dirpath, d).is_symlink()]
            for filename in filenames:
                full = Path(dirpath, filename)
                if full.is_symlink() or not full.is_file() or filename.startswith(".lxs-partial-"):
                    continue
                stat = full.stat()
                rel = full.relative_to(self.root).as_posix()
                found[rel] = Entry(rel, stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC))
        return dict(sorted(found.items()))

    async def single(self) -> Entry | None:
        if not self.root.is_file():
            return None
        stat = self.root.stat()
        return Entry("", stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC))

    async def read(self, rel: str) -> AsyncIterator[bytes]:
        path = self.root / rel if rel else self.root
        handle = await asyncio.to_thread(open, path, "rb")
        try:
            while chunk := await asyncio.to_thread(handle.read, CHUNK):
                yield chunk
        finally:
            handle.close()

    async def write(self, rel: str, source: AsyncIterator[bytes], size: int) -> None:
        target = self.root / rel if rel else self.root
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.parent / f".lxs-partial-{os.getpid()}-{id(source):x}-{target.name}"
        try:
            handle = await asyncio.to_thread(open, temp, "wb")
            with handle:
                async for chunk in source:
                    await asyncio.to_thread(handle.write, chunk)
                await asyncio.to_thread(os.fsync, handle.fileno())
            os.replace(temp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                temp.unlink()
            raise

    async def size_of(self, rel: str) -> int:
        return (self.root / rel if rel else self.root).stat().st_size

    async def delete(self, rel: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.root / rel).unlink()
