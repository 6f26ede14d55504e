"""Plain binary file objects over :meth:`BlobStore.open`: what ``SyncBlobStore.open``
returns, for code (``zipfile``, ``pandas``, ``pyarrow``...) that takes a file object.

* :class:`SyncBlobReader`: an :class:`io.RawIOBase` (``read``/``readinto``/``seek``/
  ``tell``, seekable) over a :class:`~lexigram.storage.readers.BlobReader`: ranged reads
  with bounded read-ahead, pinned to the version opened.
* :class:`SyncBlobWriter`: an :class:`io.RawIOBase` (``write``, not seekable) over a
  :class:`~lexigram.storage.readers.BlobWriter`: one streamed upload, stored by
  ``close()`` (or a ``with`` block left normally) and aborted, storing nothing, by a
  ``with`` block left by an exception or by a writer dropped without ``close()``.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

from lexigram.storage.errors import StoreClosedError, SyncInEventLoopError
from lexigram.storage.info import BlobInfo
from lexigram.storage.readers import BlobReader, BlobWriter
from lexigram.storage.sync.runner import LoopThread

__all__ = ["SyncBlobReader", "SyncBlobWriter"]

T = TypeVar("T")


class SyncBlobReader(io.RawIOBase):
    """An object open for reading, as a seekable binary file: ``with store.open(path)
    as f``. ``size``/``etag``/``info`` are those of the version opened; a read that has
    to fetch after the object was replaced raises ``PreconditionFailedError``."""

    def __init__(self, reader: BlobReader, runner: LoopThread) -> None:
        super().__init__()
        self._reader = reader
        self._runner = runner

    def __repr__(self) -> str:
        return f"Sync{self._reader!r}"

    def _run(self, call: Callable[[], Any], what: str) -> Any:
        return self._runner.run(call, f"{self._reader!r}.{what}")

    @property
    def name(self) -> str:
        """The object's key."""
        return self._reader.path

    @property
    def mode(self) -> str:
        return "rb"

    @property
    def size(self) -> int:
        """Size in bytes of the version opened."""
        return self._reader.size

    @property
    def etag(self) -> str | None:
        return self._reader.etag

    @property
    def info(self) -> BlobInfo:
        return self._reader.info

    @property
    def bytes_fetched(self) -> int:
        """Bytes fetched from the backend so far."""
        return self._reader.bytes_fetched

    def readable(self) -> bool:
        self._checkClosed()
        return True

    def seekable(self) -> bool:
        self._checkClosed()
        return True

    def tell(self) -> int:
        self._checkClosed()
        return self._reader.tell()

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        self._checkClosed()
        return self._reader.seek(offset, whence)

    def read(self, size: int | None = -1) -> bytes:
        self._checkClosed()
        n = -1 if size is None else size
        return self._run(lambda: self._reader.read(n), "read()")  # type: ignore[no-any-return]

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: Any) -> int:
        self._checkClosed()
        return self._run(lambda: self._reader.readinto(buffer), "readinto()")  # type: ignore[no-any-return]

    def close(self) -> None:
        if not self.closed:
            # the async reader holds no connection: if the loop is gone, or this is a
            # garbage collection on a thread with a loop, there is nothing to release
            with contextlib.suppress(StoreClosedError, SyncInEventLoopError):
                self._run(self._reader.close, "close()")
        super().close()


class SyncBlobWriter(io.RawIOBase):
    """An object being written, as a binary file: ``with store.open(path, "wb") as f``.

    ``write`` streams into one upload (waiting while it catches up). The object is
    stored by ``close()`` or by leaving the ``with`` block normally (``info`` is then its
    :class:`BlobInfo`); leaving the block by an exception, :meth:`abort`, or dropping the
    writer without closing it stores nothing.
    """

    def __init__(self, writer: BlobWriter, runner: LoopThread) -> None:
        super().__init__()
        self._writer = writer
        self._runner = runner

    def __repr__(self) -> str:
        return f"Sync{self._writer!r}"

    def _run(self, call: Callable[[], Any], what: str) -> Any:
        return self._runner.run(call, f"{self._writer!r}.{what}")

    @property
    def name(self) -> str:
        """The object's key."""
        return self._writer.path

    @property
    def mode(self) -> str:
        return "wb"

    @property
    def info(self) -> BlobInfo | None:
        """The stored object's info once closed (``None`` before, or if aborted)."""
        return self._writer.info

    def writable(self) -> bool:
        self._checkClosed()
        return True

    def tell(self) -> int:
        self._checkClosed()
        return self._writer.tell()

    def write(self, data: Any) -> int:
        self._checkClosed()
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"write() takes bytes, not {type(data).__name__}")
        chunk = bytes(data)  # the caller may reuse its buffer once write() returns
        return self._run(lambda: self._writer.write(chunk), "write()")  # type: ignore[no-any-return]

    def close(self) -> None:
        """Send the rest and wait until the object is stored. Idempotent."""
        if self.closed:
            return
        try:
            if not self._writer.closed:
                self._run(self._writer.close, "close()")
        finally:
            super().close()

    def abort(self) -> None:
        """Abort the upload: nothing is stored. Idempotent."""
        if self.closed:
            return
        try:
            self._run(self._writer.abort, "abort()")
        finally:
            super().close()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.close()
        else:
            self.abort()

    def __del__(self) -> None:
        # dropped without close(): never store what may be half of the data
        if not self.closed:
            with contextlib.suppress(StoreClosedError, SyncInEventLoopError, Exception):
                self.abort()
        with contextlib.suppress(Exception):
            super().close()
