"""The two ends of a copy: a prefix of a configured backend, or a folder on this machine."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import mimetypes
import os
import re
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

import attrs

from lexigram.storage import BlobStore
from lexigram.storage.headers import NO_HEADERS, HttpHeaders

__all__ = ["PARTIAL_PREFIX", "Attributes", "Entry", "FsEndpoint", "StoreEndpoint"]

CHUNK = 1024 * 1024
#: the name of a download in progress; renamed into place only when complete
PARTIAL_PREFIX = ".lxs-partial-"
_MD5_ETAG = re.compile(r'^"?([0-9a-f]{32})"?$')


@attrs.frozen
class Attributes:
    """What a copy carries besides the bytes: the content type, the user metadata and
    the HTTP headers (Cache-Control, Content-Disposition, ...)."""

    content_type: str | None = None
    metadata: Mapping[str, str] = attrs.field(factory=dict)
    headers: HttpHeaders = NO_HEADERS


@attrs.frozen
class Entry:
    """One object or file, relative to its endpoint's root."""

    rel: str
    size: int
    modified: datetime | None
    etag: str | None = None
    #: the content's MD5 (hex) when the backend states it (an S3 single-part etag)
    md5: str | None = None


class StoreEndpoint:
    """``prefix`` on a backend; objects are addressed relative to it."""

    def __init__(
        self,
        name: str,
        store: BlobStore,
        prefix: str,
        shown: Callable[[str], str] | None = None,
    ) -> None:
        self.name, self.store, self.prefix = name, store, prefix
        #: how a key is shown (a store URL's endpoint: the URL, secrets hidden)
        self._shown = shown

    def describe(self, rel: str = "") -> str:
        if self._shown is not None:
            return self._shown(self.key(rel))
        return f"{self.name}:{self.key(rel)}"

    @property
    def keeps_http_headers(self) -> bool:
        """Whether the backend stores Cache-Control, Content-Disposition, ..."""
        return self.store.driver.capabilities.http_headers

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
            found[rel] = Entry(rel, info.size, info.last_modified, info.etag, self._md5(info.etag))
        return found

    def _md5(self, etag: str | None) -> str | None:
        """S3 gives a single-part object's MD5 as its etag; other etags are opaque."""
        if self.store.driver_name != "s3" or etag is None:
            return None
        found = _MD5_ETAG.match(etag)
        return found.group(1) if found else None

    async def md5_of(self, entry: Entry) -> str | None:
        return entry.md5

    async def attributes(self, rel: str) -> Attributes:
        info = await self.store.info(self.key(rel))
        return Attributes(info.content_type, dict(info.metadata), info.http_headers)

    async def single(self) -> Entry | None:
        if not self.prefix or self.prefix.endswith("/") or not await self.store.exists(self.prefix):
            return None
        info = await self.store.info(self.prefix)
        return Entry("", info.size, info.last_modified, info.etag, self._md5(info.etag))

    def read(self, rel: str) -> AsyncIterator[bytes]:
        return self.store.stream(self.key(rel), chunk_size=CHUNK)

    async def write(
        self,
        rel: str,
        source: AsyncIterator[bytes],
        size: int,
        attributes: Attributes | None = None,
        modified: datetime | None = None,
    ) -> None:
        if attributes is None:
            await self.store.upload(self.key(rel), source, size=size)
        else:
            # a backend without HTTP headers gets the rest (``run_copies`` warns once)
            headers = attributes.headers if self.keeps_http_headers else NO_HEADERS
            await self.store.upload(
                self.key(rel),
                source,
                size=size,
                content_type=attributes.content_type,
                metadata=attributes.metadata,
                cache_control=headers.cache_control,
                content_disposition=headers.content_disposition,
                content_encoding=headers.content_encoding,
                content_language=headers.content_language,
            )

    async def size_of(self, rel: str) -> int:
        return (await self.store.info(self.key(rel))).size

    async def delete(self, rel: str) -> None:
        await self.store.delete(self.key(rel))


class FsEndpoint:
    """A file or folder on this machine. Writes go to a temporary file that is renamed
    into place only when complete, so an interrupted copy leaves nothing partial; a
    download gets the source's last-modified time as its mtime."""

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
                if filename.startswith(PARTIAL_PREFIX):
                    _remove_if_abandoned(full)
                    continue
                if full.is_symlink() or not full.is_file():
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

    async def md5_of(self, entry: Entry) -> str | None:
        path = self.root / entry.rel if entry.rel else self.root

        def digest() -> str:
            with open(path, "rb") as handle:
                return hashlib.file_digest(handle, "md5").hexdigest()

        return await asyncio.to_thread(digest)

    async def attributes(self, rel: str) -> Attributes:
        path = self.root / rel if rel else self.root
        guessed, _ = mimetypes.guess_type(path.name, strict=False)
        return Attributes(guessed, {})

    async def read(self, rel: str) -> AsyncIterator[bytes]:
        path = self.root / rel if rel else self.root
        handle = await asyncio.to_thread(open, path, "rb")
        try:
            while chunk := await asyncio.to_thread(handle.read, CHUNK):
                yield chunk
        finally:
            handle.close()

    async def write(
        self,
        rel: str,
        source: AsyncIterator[bytes],
        size: int,
        attributes: Attributes | None = None,
        modified: datetime | None = None,
    ) -> None:
        target = self.root / rel if rel else self.root
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.parent / f"{PARTIAL_PREFIX}{os.getpid()}-{id(source):x}-{target.name}"
        try:
            handle = await asyncio.to_thread(open, temp, "wb")
            with handle:
                async for chunk in source:
                    await asyncio.to_thread(handle.write, chunk)
                await asyncio.to_thread(os.fsync, handle.fileno())
            if modified is not None:
                stamp = modified.timestamp()
                os.utime(temp, (stamp, stamp))
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


def _remove_if_abandoned(path: Path) -> None:
    """Remove a partial download whose writer (its pid is in the name) is gone: it is
    debris of a killed copy, never data, and would otherwise stay forever."""
    pid_text = path.name[len(PARTIAL_PREFIX) :].split("-", 1)[0]
    try:
        pid = int(pid_text)
    except ValueError:
        pid = -1
    if pid > 0 and pid != os.getpid():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            pass
        except PermissionError:
            return  # alive, another user's
        else:
            return  # its writer is still running
    elif pid == os.getpid():
        return
    with contextlib.suppress(OSError):
        path.unlink()
