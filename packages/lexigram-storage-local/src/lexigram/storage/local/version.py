"""One version of an object, opened once, for the ASGI app.

What the app says about an object (``Content-Length``, ``ETag``, ``Last-Modified``,
``Content-Type``, the answer to a ``Range`` or a conditional request) and the bytes it
sends must describe the same file, even while a ``PUT`` renames a new file over the key.
On a local store both come from one descriptor: the info from its ``fstat`` (and the
sidecar of that very inode), the bytes by ``pread`` on it, so a GET racing an overwrite
answers wholly from the old file or wholly from the new one. On another driver's store
the info and the stream are two requests to the backend.
"""

from __future__ import annotations

import functools
import os
from collections.abc import AsyncIterator

from lexigram.storage.errors import ERROR_CLASSES, ErrorCode, IntegrityError, StorageError
from lexigram.storage.info import BlobInfo
from lexigram.storage.keys import validate_key
from lexigram.storage.local.driver import LocalDriver, _in_thread
from lexigram.storage.store import BlobStore

__all__ = ["OpenVersion", "open_version"]


class OpenVersion:
    """``info`` of one version of an object and :meth:`chunks` of its bytes; close it
    with :meth:`aclose` (``async with`` does)."""

    __slots__ = ("_blobs", "_fd", "info")

    def __init__(self, info: BlobInfo, *, fd: int | None = None, blobs: BlobStore) -> None:
        self.info = info
        self._fd = fd
        self._blobs = blobs

    async def chunks(self, start: int, end: int, chunk_size: int) -> AsyncIterator[bytes]:
        """Bytes ``start`` up to ``end`` (``end <= info.size``) of this version."""
        fd = self._fd
        if fd is None:
            async for chunk in self._blobs.stream(
                self.info.path, chunk_size=chunk_size, range=(start, end)
            ):
                yield chunk
            return
        offset = start
        while offset < end:
            # a cancelled read waits for its thread, so the fd is never closed under it
            chunk = await _in_thread(
                functools.partial(os.pread, fd, min(chunk_size, end - offset), offset)
            )
            if not chunk:
                raise IntegrityError(
                    f"{self.info.path!r} ended {end - offset} bytes early in backend "
                    f"{self._blobs.name!r} (local): it was truncated in place while served",
                    backend=self._blobs.name,
                    driver="local",
                    key=self.info.path,
                    operation="stream",
                )
            offset += len(chunk)
            yield chunk

    async def aclose(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    async def __aenter__(self) -> OpenVersion:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


async def open_version(blobs: BlobStore, key: str) -> OpenVersion:
    """Open the current version of ``key`` in ``blobs``; raises the store's typed errors
    (:class:`~lexigram.storage.errors.BlobNotFoundError`, ...)."""
    driver = blobs.driver
    if not isinstance(driver, LocalDriver) or blobs.closed:
        return OpenVersion(await blobs.info(key), blobs=blobs)
    validate_key(key)
    try:
        fd, info = await _in_thread(
            functools.partial(driver.files.open_version, key),
            undo=lambda opened: os.close(opened[0]),
        )
    except Exception as exc:
        raise _error(blobs, key, exc) from exc
    return OpenVersion(info, fd=fd, blobs=blobs)


def _error(blobs: BlobStore, key: str, exc: Exception) -> StorageError:
    if isinstance(exc, StorageError):
        return exc
    code = blobs.driver.classify(exc)
    what = (
        f"No object {key!r}"
        if code is ErrorCode.NOT_FOUND
        else f"Opening {key!r} failed ({type(exc).__name__})"
    )
    return ERROR_CLASSES[code](
        f"{what} in backend {blobs.name!r} (local).",
        backend=blobs.name,
        driver="local",
        key=key,
        operation="open",
    )
