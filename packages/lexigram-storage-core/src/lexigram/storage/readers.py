"""File-like access to objects: :meth:`BlobStore.open` returns one of these.

* :class:`BlobReader` (mode ``"rb"``): an async, seekable binary reader over ranged
  reads, with read-ahead in bounded memory (one block of ``block_size`` bytes, plus
  what a single ``read(n)`` asks for). It pins the version it opened: if the object is
  replaced while it is open, the next read that has to fetch raises
  :class:`~lexigram.storage.errors.PreconditionFailedError` instead of mixing bytes of
  two versions.
* :class:`BlobWriter` (mode ``"wb"``): streams what is written into one upload (a
  multipart/block/resumable upload underneath, fed through a bounded queue). Leaving
  the ``async with`` block normally commits it; leaving it by an exception aborts it and
  nothing is stored (the previous object, if any, is left as it was).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING

from lexigram.storage.errors import InvalidArgumentError, PreconditionFailedError
from lexigram.storage.info import BlobInfo

if TYPE_CHECKING:
    from lexigram.storage.store import BlobStore

__all__ = ["DEFAULT_BLOCK_SIZE", "BlobReader", "BlobWriter"]

#: bytes fetched at once by a reader (read-ahead) and gathered per chunk by a writer.
DEFAULT_BLOCK_SIZE = 256 * 1024
#: chunks a writer may have queued ahead of the upload.
WRITER_QUEUE_CHUNKS = 2


class BlobReader:
    """An open object for reading: ``async with store.open(path) as f``.

    ``read``/``readinto`` are coroutines; ``seek``/``tell`` do no I/O and are plain
    methods. ``size`` and ``etag`` are those of the version opened.
    """

    def __init__(self, store: BlobStore, path: str, *, block_size: int) -> None:
        self._store = store
        self.path = path
        self._block_size = block_size
        self._info: BlobInfo | None = None
        self._pos = 0
        self._buf = b""
        self._buf_start = 0
        self._closed = False
        #: bytes fetched from the backend so far (for diagnostics and tests).
        self.bytes_fetched = 0
        #: ranged reads made so far.
        self.fetches = 0

    def __repr__(self) -> str:
        return f"BlobReader(path={self.path!r}, pos={self._pos}, closed={self._closed})"

    # -- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> BlobReader:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Look the object up and pin its version (``async with`` does this)."""
        if self._info is None:
            self._info = await self._store.info(self.path)

    async def close(self) -> None:
        self._closed = True
        self._buf = b""

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def info(self) -> BlobInfo:
        return self._opened()

    @property
    def size(self) -> int:
        """Size in bytes of the version opened."""
        return self._opened().size

    @property
    def etag(self) -> str | None:
        return self._opened().etag

    # -- positioning ----------------------------------------------------------------------

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        self._opened()
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Move to ``offset`` from the start (0), the current position (1) or the end
        (2); return the new position. Seeking past the end is allowed (reads return
        ``b""``); before the start is an ``InvalidArgumentError``."""
        info = self._opened()
        if type(offset) is not int:
            raise self._bad(f"seek offset must be an int, not {type(offset).__name__}")
        if whence == os.SEEK_SET:
            target = offset
        elif whence == os.SEEK_CUR:
            target = self._pos + offset
        elif whence == os.SEEK_END:
            target = info.size + offset
        else:
            raise self._bad(f"seek whence must be 0, 1 or 2, not {whence!r}")
        if target < 0:
            raise self._bad(f"seek to {target} is before the start of the object")
        self._pos = target
        return target

    # -- reading --------------------------------------------------------------------------

    async def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes from the current position (all the rest if ``n < 0``);
        ``b""`` at the end."""
        info = self._opened()
        if type(n) is not int:
            raise self._bad(f"read size must be an int, not {type(n).__name__}")
        end = info.size if n < 0 else min(info.size, self._pos + n)
        if end <= self._pos:
            return b""
        start = self._pos
        buf_end = self._buf_start + len(self._buf)
        if self._buf_start <= start and end <= buf_end:
            out = self._buf[start - self._buf_start : end - self._buf_start]
        elif end - start >= self._block_size:
            # larger than the read-ahead: fetch exactly what was asked, keep no buffer
            head = b""
            if self._buf_start <= start < buf_end:
                head = self._buf[start - self._buf_start :]
            out = head + await self._fetch(start + len(head), end)
        else:
            head = b""
            if self._buf_start <= start < buf_end:
                head = self._buf[start - self._buf_start :]
            fetch_from = start + len(head)
            block_end = min(info.size, fetch_from + self._block_size)
            self._buf = await self._fetch(fetch_from, block_end)
            self._buf_start = fetch_from
            out = head + self._buf[: end - fetch_from]
        self._pos = start + len(out)
        return out

    async def readinto(self, buffer: bytearray | memoryview) -> int:
        """Read into ``buffer`` (up to its length); return the number of bytes read."""
        view = memoryview(buffer).cast("B")
        data = await self.read(view.nbytes)
        view[: len(data)] = data
        return len(data)

    async def readall(self) -> bytes:
        return await self.read(-1)

    async def _fetch(self, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` of the pinned version.

        Where the driver has conditional reads, one ranged ``download(...,
        if_match=etag)``: the backend checks the version atomically with the read. Else
        (or when the object has no etag) the version is checked after the read: if
        ``info()`` then reports another etag or size, the bytes may be of another version
        and are not used. Either way a short read means the object changed.
        """
        info = self._opened()
        store = self._store
        pinned = info.etag is not None and store.driver.capabilities.conditional_read
        try:
            if pinned:
                data = await store.download(self.path, range=(start, end), if_match=info.etag)
            else:
                data = await store.download(self.path, range=(start, end))
        except PreconditionFailedError as exc:
            raise self._changed(info) from exc
        self.fetches += 1
        self.bytes_fetched += len(data)
        if len(data) != end - start:
            raise self._changed(info)
        if not pinned:
            now = await store.info(self.path)
            if now.etag != info.etag or now.size != info.size:
                raise self._changed(info)
        return data

    def _changed(self, info: BlobInfo) -> PreconditionFailedError:
        return PreconditionFailedError(
            f"Object {self.path!r} in backend {self._store.name!r} changed while it was "
            f"open for reading (etag {info.etag!r} when opened): open it again to read "
            "the new version.",
            backend=self._store.name,
            driver=self._store.driver_name,
            key=self.path,
            operation="open",
        )

    def _opened(self) -> BlobInfo:
        if self._closed:
            raise self._bad("the reader is closed")
        if self._info is None:
            raise self._bad("use 'async with store.open(path) as f' (the reader is not open)")
        return self._info

    def _bad(self, what: str) -> InvalidArgumentError:
        return InvalidArgumentError(
            f"{what} (reading {self.path!r} of backend {self._store.name!r}).",
            backend=self._store.name,
            key=self.path,
            operation="open",
        )


class _Aborted(Exception):
    """Raised into the upload's body to abort it."""


_END = object()
_ABORT = object()


class BlobWriter:
    """An object being written: ``async with store.open(path, "wb") as f``.

    ``await f.write(data)`` queues bytes for the upload running underneath (bounded:
    ``write`` waits while the upload catches up). The object appears only when the block
    is left normally (``info`` is then its :class:`BlobInfo`); an exception in the block
    aborts the upload and leaves nothing behind.
    """

    def __init__(
        self,
        store: BlobStore,
        path: str,
        *,
        content_type: str | None,
        metadata: Mapping[str, str] | None,
        block_size: int,
    ) -> None:
        self._store = store
        self.path = path
        self._content_type = content_type
        self._metadata = metadata
        self._block_size = block_size
        self._queue: asyncio.Queue[object] = asyncio.Queue(maxsize=WRITER_QUEUE_CHUNKS)
        self._pending = bytearray()
        self._task: asyncio.Task[BlobInfo] | None = None
        self._done = False
        self._written = 0
        self.info: BlobInfo | None = None

    def __repr__(self) -> str:
        return f"BlobWriter(path={self.path!r}, written={self._written}, done={self._done})"

    async def __aenter__(self) -> BlobWriter:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            await self.close()
        else:
            await self.abort()

    def start(self) -> None:
        """Start the upload underneath (``async with`` does this)."""
        if self._task is None:
            self._task = asyncio.ensure_future(
                self._store.upload(
                    self.path,
                    self._body(),
                    content_type=self._content_type,
                    metadata=self._metadata,
                )
            )

    @property
    def closed(self) -> bool:
        return self._done

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._written

    async def write(self, data: bytes | bytearray | memoryview) -> int:
        """Queue ``data`` for the upload; return its length."""
        if self._done or self._task is None:
            state = "closed" if self._done else "not open: use async with store.open(path, 'wb')"
            raise InvalidArgumentError(
                f"the writer of {self.path!r} is {state}.",
                backend=self._store.name,
                key=self.path,
                operation="open",
            )
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"write() takes bytes, not {type(data).__name__}")
        n = memoryview(data).nbytes
        self._pending += data
        self._written += n
        while len(self._pending) >= self._block_size:
            chunk = bytes(self._pending[: self._block_size])
            del self._pending[: self._block_size]
            await self._put(chunk)
        return n

    async def close(self) -> BlobInfo:
        """Send the rest and wait for the object to be stored; return its info."""
        if self.info is not None:
            return self.info
        self.start()
        assert self._task is not None
        if self._done:
            raise InvalidArgumentError(
                f"the writer of {self.path!r} was aborted; nothing was stored.",
                backend=self._store.name,
                key=self.path,
                operation="open",
            )
        self._done = True
        try:
            if self._pending:
                await self._put(bytes(self._pending))
                self._pending.clear()
            await self._put(_END)
            self.info = await self._task
        except BaseException:
            await self._cancel()
            raise
        return self.info

    async def abort(self) -> None:
        """Abort the upload: nothing is stored. Idempotent."""
        self._done = True
        self._pending.clear()
        task = self._task
        if task is None or task.done():
            if task is not None and not task.cancelled():
                task.exception()  # retrieved: the caller's exception is the one that matters
            return
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(_ABORT)
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            await self._cancel()
            raise
        except Exception:
            pass  # the upload failed because it was aborted, as asked

    async def _cancel(self) -> None:
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task

    async def _put(self, item: object) -> None:
        task = self._task
        assert task is not None
        if task.done():
            await task  # raises the upload's error
            raise RuntimeError("upload ended before its body")  # pragma: no cover
        try:
            self._queue.put_nowait(item)
            return
        except asyncio.QueueFull:
            pass
        put = asyncio.ensure_future(self._queue.put(item))
        try:
            await asyncio.wait({put, task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not put.done():
                put.cancel()
        if not put.done() or put.cancelled():
            await task  # the upload failed: raise its error
            raise RuntimeError("upload ended before its body")  # pragma: no cover

    async def _body(self) -> AsyncIterator[bytes]:
        while True:
            item = await self._queue.get()
            if item is _END:
                return
            if item is _ABORT:
                raise _Aborted(f"writing {self.path!r} was aborted")
            assert isinstance(item, bytes)
            yield item
