"""Upload bodies: every kind of ``data`` a caller may pass, turned into one shape.

The core turns bytes, an async iterable of bytes or a binary file object (sync or
async, e.g. aiofiles) into an :class:`UploadBody`, which a driver consumes in one of
three ways:

* ``body.data`` is not None: the whole payload is already in memory (``memoryview``);
* ``async for chunk in body.chunks()``: the bytes in the pieces they arrive in;
* ``async for block in body.blocks(size)``: blocks of exactly ``size`` bytes (the last
  may be shorter), for multipart / block / resumable uploads. Blocks of in-memory data
  are zero-copy ``memoryview`` slices; blocks of a stream are fresh ``bytearray``\\ s,
  so a driver may hold several at once while they upload concurrently, or, with
  ``ring=k``, ``k`` buffers filled in turn (for a driver that holds at most ``k - 1``
  blocks at once). A binary file with ``readinto`` is read straight into each block
  (in a worker thread): its bytes are not copied again.

A body can be consumed once. Progress is reported as the driver consumes it.
"""

from __future__ import annotations

import asyncio
import inspect
import io
import os
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from typing import Any, Protocol, TypeAlias, runtime_checkable

__all__ = [
    "AsyncReadable",
    "BlobData",
    "Chunk",
    "ProgressCallback",
    "SyncReadable",
    "UploadBody",
]

Chunk: TypeAlias = bytes | bytearray | memoryview
"""One piece of an upload body as it arrives (the caller's stream may yield any of these)."""

ProgressCallback: TypeAlias = Callable[[int, int | None], None]
"""Called with ``(bytes_done, total)``; ``total`` is None when the size is not known."""

READ_CHUNK = 1024 * 1024


@runtime_checkable
class SyncReadable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


@runtime_checkable
class AsyncReadable(Protocol):
    def read(self, size: int = -1, /) -> Awaitable[bytes]: ...


BlobData: TypeAlias = (
    "bytes | bytearray | memoryview | AsyncIterable[bytes] | SyncReadable | AsyncReadable"
    " | os.PathLike[str]"
)


class UploadBody:
    """One upload's payload; see the module docstring for how drivers consume it."""

    __slots__ = (
        "_bytes",
        "_consumed",
        "_done",
        "_progress",
        "_readinto",
        "_source",
        "data",
        "size",
        "source_error",
    )

    def __init__(
        self,
        data: memoryview | None,
        source: AsyncIterator[Chunk] | None,
        size: int | None,
        progress: ProgressCallback | None = None,
        readinto: Callable[[memoryview], int | None] | None = None,
    ) -> None:
        self.data = data
        self.size = size
        #: the exception the caller's own stream raised, if it did (the core re-raises it as is).
        self.source_error: BaseException | None = None
        self._source = self._guard(source) if source is not None else None
        self._progress = progress
        self._done = 0
        self._consumed = False
        self._bytes: bytes | None = None  # the caller's immutable bytes, handed out uncopied
        #: a sync file object's ``readinto``, for blocks read in place
        self._readinto = readinto

    # -- construction -------------------------------------------------------------

    @classmethod
    def from_data(
        cls, data: Any, *, size: int | None = None, progress: ProgressCallback | None = None
    ) -> UploadBody:
        """Normalise ``data``; raise ``TypeError`` for anything that is not binary data."""
        if type(data) is bytes:
            body = cls(memoryview(data), None, len(data), progress)
            body._bytes = data
            return body
        if isinstance(data, bytes | bytearray | memoryview):
            view = memoryview(data)
            if view.ndim != 1 or view.itemsize != 1:
                view = view.cast("B")
            return cls(view, None, view.nbytes, progress)
        if isinstance(data, str):
            raise TypeError(
                "upload() data must be bytes, an async iterable of bytes or a binary file "
                "object, not str: encode it first (e.g. text.encode('utf-8'))."
            )
        if isinstance(data, io.BytesIO):
            view = data.getbuffer()[data.tell() :]
            return cls(memoryview(bytes(view)), None, len(view), progress)
        if isinstance(data, io.TextIOBase):
            raise TypeError("upload() needs a binary file object; open the file with mode 'rb'.")
        if isinstance(data, AsyncIterable):
            return cls(None, _checked(aiter(data)), size, progress)
        read = getattr(data, "read", None)
        if callable(read):
            if inspect.iscoroutinefunction(read):
                return cls(None, _read_async(read), size, progress)
            readinto = getattr(data, "readinto", None)
            return cls(
                None,
                _read_sync(read),
                size if size is not None else _remaining(data),
                progress,
                readinto
                if callable(readinto) and not inspect.iscoroutinefunction(readinto)
                else None,
            )
        raise TypeError(
            "upload() data must be bytes, an async iterable of bytes or a binary file "
            f"object, not {type(data).__name__}."
        )

    async def _guard(self, source: AsyncIterator[Chunk]) -> AsyncIterator[Chunk]:
        try:
            async for chunk in source:
                yield chunk
        except Exception as exc:
            self.source_error = exc
            raise

    # -- consumption --------------------------------------------------------------

    def _take(self) -> None:
        if self._consumed:
            raise RuntimeError("an UploadBody can be consumed only once")
        self._consumed = True

    def _advance(self, n: int) -> None:
        self._done += n
        if self._progress is not None and n:
            self._progress(self._done, self.size)

    async def read_all(self) -> bytes:
        """The whole payload as bytes (for drivers that need it in one piece)."""
        if self.data is not None:
            self._take()
            self._advance(self.data.nbytes)
            return self._bytes if self._bytes is not None else self.data.tobytes()
        parts = [bytes(chunk) async for chunk in self.chunks()]
        return b"".join(parts)

    async def chunks(self) -> AsyncIterator[Chunk]:
        """The payload in the pieces it arrives in."""
        self._take()
        if self.data is not None:
            view = self.data
            for start in range(0, view.nbytes, READ_CHUNK):
                piece = view[start : start + READ_CHUNK]
                yield piece
                self._advance(piece.nbytes)
            return
        assert self._source is not None
        async for chunk in self._source:
            yield chunk
            self._advance(len(chunk))

    async def blocks(
        self, block_size: int, *, ring: int = 0
    ) -> AsyncIterator[memoryview | bytearray]:
        """Blocks of exactly ``block_size`` bytes (the last may be shorter, never empty
        unless the whole body is empty, in which case one empty block is yielded).

        ``ring=0``: each block of a stream is a buffer of its own. ``ring=k`` (k >= 2):
        ``k`` buffers are filled in turn, so a block stays intact until ``k - 1`` more
        have been asked for (a consumer that reads one block ahead uses 2).
        """
        if block_size <= 0:
            raise ValueError("block_size must be positive")
        if ring == 1 or ring < 0:
            raise ValueError("ring must be 0 (a buffer per block) or at least 2")
        self._take()
        if self.data is not None:
            view = self.data
            if view.nbytes == 0:
                yield view
                return
            for start in range(0, view.nbytes, block_size):
                piece = view[start : start + block_size]
                yield piece
                self._advance(piece.nbytes)
            return
        ring_buffers = [bytearray(block_size) for _ in range(ring)]
        turn = 0

        def next_buffer() -> bytearray:
            nonlocal turn
            if not ring:
                return bytearray(block_size)
            turn = (turn + 1) % ring
            return ring_buffers[turn]

        buf = ring_buffers[0] if ring else bytearray(block_size)
        readinto = self._readinto
        if readinto is not None:
            # A file: read straight into the block, in a worker thread; no copy here.
            while True:
                try:
                    filled = await asyncio.to_thread(_fill, readinto, memoryview(buf))
                except Exception as exc:
                    self.source_error = exc
                    raise
                if filled < block_size:
                    break
                yield buf
                self._advance(block_size)
                buf = next_buffer()
            if filled or not self._done:
                yield memoryview(buf)[:filled]
                self._advance(filled)
            return
        assert self._source is not None
        # Each block is copied once, into its buffer, as the chunks arrive: memory is
        # the block being filled plus the blocks the driver still holds.
        filled = 0
        sent_any = False
        async for chunk in self._source:
            view = memoryview(chunk).cast("B")
            while view.nbytes:
                take = min(block_size - filled, view.nbytes)
                buf[filled : filled + take] = view[:take]
                filled += take
                view = view[take:]
                if filled == block_size:
                    yield buf
                    sent_any = True
                    self._advance(block_size)
                    buf = next_buffer()
                    filled = 0
        if filled or not sent_any:
            if ring:
                yield memoryview(buf)[:filled]
            else:
                del buf[filled:]
                yield buf
            self._advance(filled)

    def rewind(self) -> None:
        """Make an in-memory body consumable again (for a retry); streams cannot rewind."""
        if self.data is None:
            raise RuntimeError("a streamed UploadBody cannot be rewound")
        self._consumed = False
        self._done = 0

    def finish(self) -> None:
        """Called by the core when the upload succeeded: reports completion."""
        if self._progress is not None and self.size is not None and self._done < self.size:
            self._done = self.size
            self._progress(self._done, self.size)
        elif self._progress is not None and self._done == 0:
            self._progress(0, 0 if self.size is None else self.size)


async def _checked(source: AsyncIterator[Any]) -> AsyncIterator[Chunk]:
    async for chunk in source:
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise TypeError(
                f"upload() stream yielded {type(chunk).__name__}; an async iterable body "
                "must yield bytes."
            )
        if chunk:
            yield chunk


async def _read_async(read: Callable[[int], Awaitable[bytes]]) -> AsyncIterator[bytes]:
    while True:
        chunk = await read(READ_CHUNK)
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise TypeError(
                "the file object's read() returned text; open it in binary mode ('rb')."
            )
        if not chunk:
            return
        yield chunk


async def _read_sync(read: Callable[[int], bytes]) -> AsyncIterator[bytes]:
    while True:
        chunk = await asyncio.to_thread(read, READ_CHUNK)
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise TypeError(
                "the file object's read() returned text; open it in binary mode ('rb')."
            )
        if not chunk:
            return
        yield chunk


def _fill(readinto: Callable[[memoryview], int | None], view: memoryview) -> int:
    """Fill ``view`` from a file's ``readinto``; fewer bytes only at the end of the file."""
    filled = 0
    total = view.nbytes
    while filled < total:
        n = readinto(view[filled:])
        if not n:
            break
        filled += n
    return filled


def _remaining(fileobj: Any) -> int | None:
    try:
        size = os.fstat(fileobj.fileno()).st_size
        position: int = fileobj.tell()
        return max(0, size - position)
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return None
