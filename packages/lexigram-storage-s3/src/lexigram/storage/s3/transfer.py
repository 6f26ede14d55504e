"""S3 transfer pieces: part sizes within S3's limits, zero-copy part bodies, the
pieces of a GetObject body. (Concurrency, retries and aborts: the core's
:mod:`lexigram.storage.transfer`.)"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any, TypeVar

import aiohttp
from aiobotocore.response import (  # type: ignore[import-untyped]
    AioReadTimeoutError,
    StreamingBody,
)
from botocore.exceptions import ResponseStreamingError  # type: ignore[import-untyped]

__all__ = [
    "MAX_COPY_SIZE",
    "MAX_PARTS",
    "SMALL_BODY",
    "TOO_MANY_PARTS",
    "ViewReader",
    "iter_chunks",
    "part_body",
    "part_size_for",
    "read_chunks",
]

T = TypeVar("T")

#: S3's most parts per multipart upload.
MAX_PARTS = 10_000
#: the largest object CopyObject copies in one request (5 GiB); larger ones use UploadPartCopy.
MAX_COPY_SIZE = 5 * 1024**3


class ViewReader(io.BytesIO):
    """A read-only, seekable file object over a memoryview, so botocore accepts it as a
    body (it refuses a bare memoryview) and aiohttp sends it with its in-memory payload
    writer. ``read`` returns memoryview slices: the part's bytes are never copied."""

    def __init__(self, view: memoryview) -> None:
        super().__init__()
        self._view = view
        self._pos = 0

    def read(self, size: int | None = -1, /) -> memoryview:  # type: ignore[override]
        start = self._pos
        total = self._view.nbytes
        stop = total if size is None or size < 0 else min(total, start + size)
        self._pos = max(start, stop)
        return self._view[start : self._pos]

    def readinto(self, buffer: Any, /) -> int:
        chunk = self.read(len(buffer))
        n = chunk.nbytes
        buffer[:n] = chunk
        return n

    def seek(self, offset: int, whence: int = io.SEEK_SET, /) -> int:
        if whence == io.SEEK_SET:
            base = 0
        elif whence == io.SEEK_CUR:
            base = self._pos
        else:
            base = self._view.nbytes
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def getbuffer(self) -> memoryview:
        return self._view[:]

    def getvalue(self) -> bytes:
        return self._view.tobytes()

    def __len__(self) -> int:
        return max(0, self._view.nbytes - self._pos)


#: bodies up to this size are sent as plain bytes: botocore then sends one CRC32 header
#: instead of an aws-chunked stream with a trailing checksum, and aiohttp accepts raw
#: bytes this small without warning. Larger ones are wrapped, never copied.
SMALL_BODY = 1024 * 1024


def part_body(block: memoryview | bytearray | bytes) -> bytes | bytearray | ViewReader:
    """What to pass as ``Body`` for a block: larger blocks as a zero-copy
    :class:`ViewReader`; small ones as bytes (the caller's own object when it can)."""
    if isinstance(block, bytes | bytearray):
        return block if len(block) <= SMALL_BODY else ViewReader(memoryview(block))
    if block.nbytes > SMALL_BODY:
        return ViewReader(block)
    owner = block.obj
    if isinstance(owner, bytes | bytearray) and len(owner) == block.nbytes and block.contiguous:
        return owner
    return block.tobytes()


async def read_chunks(body: Any, limit: int | None = None) -> list[bytes]:
    """A GetObject body, whole (or its first ``limit`` bytes), as the pieces aiohttp
    received (see :func:`iter_chunks`): ``body.read()`` joins them (one copy of every
    byte), and a parallel download that joins its parts again would copy each byte twice."""
    return [chunk async for chunk in iter_chunks(body, limit)]


async def iter_chunks(body: Any, limit: int | None = None) -> AsyncIterator[bytes]:
    """The pieces of a GetObject body as aiohttp received them, none of them copied
    (but the last one, cut at ``limit`` bytes when a limit is given).

    Only a plain aiohttp body is read this way: one that botocore checks while it is read
    (a stored checksum), or another HTTP backend's, is read with ``body.read(1 MiB)``.
    Errors are those of ``body.read()``.
    """
    left = -1 if limit is None else limit
    reader = _aiohttp_reader(body)
    try:
        while left:
            if reader is None:
                chunk = await body.read(SMALL_BODY if left < 0 else min(left, SMALL_BODY))
                if not chunk:
                    return
            else:
                chunk, end_of_http_chunk = await reader.readchunk()
                if not chunk:
                    if end_of_http_chunk:
                        continue
                    return
            if left >= 0:
                if len(chunk) > left:
                    chunk = chunk[:left]
                left -= len(chunk)
            yield chunk
    except TimeoutError as exc:
        if reader is None:
            raise
        raise AioReadTimeoutError(endpoint_url=str(body.raw_stream.url), error=exc) from exc
    except aiohttp.ClientConnectionError as exc:
        if reader is None:
            raise
        raise ResponseStreamingError(error=exc) from exc


def _aiohttp_reader(body: Any) -> aiohttp.StreamReader | None:
    if type(body) is not StreamingBody:
        return None
    content = getattr(getattr(body, "raw_stream", None), "content", None)
    return content if isinstance(content, aiohttp.StreamReader) else None


#: the message of a body needing more parts than S3 takes.
TOO_MANY_PARTS = (
    f"the body needs more than {MAX_PARTS} parts: raise part_size, or pass size= to "
    "upload() so the part size can be chosen up front"
)


def part_size_for(size: int | None, part_size: int) -> int:
    """The part size to use: the configured one, grown (to a whole MiB) when the known
    size would need more than S3's 10,000 parts."""
    if size is None or size <= part_size * MAX_PARTS:
        return part_size
    mib = 1024 * 1024
    needed = -(-size // MAX_PARTS)
    return -(-needed // mib) * mib
