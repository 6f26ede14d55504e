"""Reads of the S3 driver: the first GET of a read, and the parallel ranged GETs of the
parts beyond it (run by the core's part pump; checked against the object's stored
checksum when read whole)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from lexigram.storage.errors import DriverError, ErrorCode
from lexigram.storage.integrity import Expected, RunningDigest, collect_verified
from lexigram.storage.s3.integrity import expected_of
from lexigram.storage.s3.transfer import iter_chunks, read_chunks
from lexigram.storage.transfer import Part, chain, plan_ranges, pump

if TYPE_CHECKING:
    from lexigram.storage.s3.driver import S3Driver

__all__ = [
    "body_chunks",
    "extent",
    "first_get",
    "parallel_read",
    "read_checked",
    "take_bytes",
    "take_into",
    "total_size",
]

T = TypeVar("T", bytes, memoryview)


def first_get(driver: S3Driver, key: str, start: int, end: int | None) -> dict[str, Any]:
    """The first GetObject of a read: the whole object is one plain GET (no Range:
    less for botocore to do; asking for the stored checksum when checksums are on), a
    range asks for at most one part."""
    if start == 0 and end is None:
        if driver.settings.checksums:
            return {"Bucket": driver.settings.bucket, "Key": key, "ChecksumMode": "ENABLED"}
        return {"Bucket": driver.settings.bucket, "Key": key}
    part = driver.settings.part_size
    first_end = start + part if end is None else min(end, start + part)
    return {
        "Bucket": driver.settings.bucket,
        "Key": key,
        "Range": f"bytes={start}-{first_end - 1}",
    }


def extent(
    driver: S3Driver, resp: Mapping[str, Any], start: int, end: int | None
) -> tuple[int, int, Expected | None]:
    """For the answer to :func:`first_get`: where its first part ends, where the
    read stops, and what to check the bytes against.

    Whole-object reads are checked (see :func:`expected_of`): against the stored
    full-object CRC32C, or a plain-MD5 ETag. A body botocore checks itself (its own
    algorithms) is left to it when it is read whole, but not for a parallel read, whose
    ranged parts botocore does not check. Ranges of an object are not checked.
    """
    part = driver.settings.part_size
    if start == 0 and end is None:
        stop = total = int(resp.get("ContentLength", 0))
        first_end = min(part, stop)  # of the plain GET, only the first part is read
    else:
        total = total_size(resp)
        stop = total if end is None else min(end, total)
        first_end = start + part if end is None else min(end, start + part)
    if not (driver.settings.checksums and start == 0 and stop == total):
        return first_end, stop, None
    expected = expected_of(resp)
    if expected is None and first_end < stop:
        # botocore checks only the first part: the whole object is checked here
        expected = expected_of({**resp, "Body": None})
    return first_end, stop, expected


async def parallel_read(
    driver: S3Driver,
    key: str,
    resp: Mapping[str, Any],
    start: int,
    first_end: int,
    stop: int,
    expected: Expected | None,
    take: Callable[[int, int, Any, bool], Awaitable[list[T]]],
    *,
    pinned: bool = False,
) -> list[list[T]]:
    """Read the first part ``[start, first_end)`` from the first answer ``resp``
    while parallel ranged GETs fetch ``[first_end, stop)`` in parts.

    ``take(offset, size, body, limit)`` consumes one part's body (``offset`` from
    ``start``) and returns its bytes as pieces; ``limit``: the body goes on past the
    part (the plain GET of a whole object, closed after its first part: what was sent
    beyond it is dropped with its connection). The pieces of every part come back in
    order. With ``expected``, the parts are hashed in order as they arrive (large ones
    in a worker thread, beside the download of the later parts). ``pinned``
    (a conditional read): every part is asked ``If-Match`` the first answer's ETag, so
    an overwrite midway fails the read instead of mixing two versions.
    """
    client = driver._client
    bucket = driver.settings.bucket
    part = driver.settings.part_size
    ranges = plan_ranges(stop, part, first_end)
    same_version = {"IfMatch": resp["ETag"]} if pinned and resp.get("ETag") else {}
    arrived: list[asyncio.Future[list[T]]] = []
    hashing: asyncio.Future[bytes] | None = None
    if expected is not None:
        loop = asyncio.get_running_loop()
        arrived = [loop.create_future() for _ in range(len(ranges) + 1)]
        hashing = asyncio.ensure_future(expected.checksum.in_order(arrived))

    async def fetch(part: Part[tuple[int, int]]) -> list[T]:
        n, (a, b) = part.number, part.data
        r = await client.get_object(
            Bucket=bucket, Key=key, Range=f"bytes={a}-{b - 1}", **same_version
        )
        async with r["Body"] as body:
            pieces = await take(a - start, b - a, body, False)
        if arrived:
            arrived[n].set_result(pieces)
        return pieces

    async def first_part() -> list[T]:
        async with resp["Body"] as body:
            pieces = await take(0, first_end - start, body, "ContentRange" not in resp)
        if arrived:
            arrived[0].set_result(pieces)
        return pieces

    head_task = asyncio.ensure_future(first_part())
    try:
        rest = await pump(chain(ranges), fetch, concurrency=driver.settings.max_concurrency)
        first = await head_task
    except BaseException:
        head_task.cancel()
        pending = [head_task] if hashing is None else [head_task, hashing]
        if hashing is not None:
            hashing.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        raise
    rest.insert(0, first)
    del first
    if hashing is not None and expected is not None:
        digest = await hashing
        del arrived
        if digest != expected.digest:
            raise expected.mismatch()
    return rest


async def take_bytes(offset: int, size: int, body: Any, limit: bool) -> list[bytes]:
    """A part read by :meth:`S3Driver.read`: kept as the pieces aiohttp received, all
    joined once by the caller."""
    return _exact(await read_chunks(body, size if limit else None), size)


def take_into(
    buffer: memoryview, running: RunningDigest | None = None
) -> Callable[[int, int, Any, bool], Awaitable[list[memoryview]]]:
    """The part reader of :meth:`S3Driver.read_into`: each piece is copied into its place
    in ``buffer`` as it arrives, then dropped; and fed to ``running`` when given."""

    async def take(offset: int, size: int, body: Any, limit: bool) -> list[memoryview]:
        dest = buffer[offset : offset + size]
        pos = 0
        async for chunk in iter_chunks(body, size if limit else None):
            n = len(chunk)
            if pos + n > size:
                break
            if running is not None:
                await running.feed(chunk)
            dest[pos : pos + n] = chunk
            pos += n
        else:
            if pos == size:
                return [dest]
        raise DriverError(
            ErrorCode.UNAVAILABLE, f"a ranged read returned other than the {size} bytes asked"
        )

    return take


def total_size(resp: Mapping[str, Any]) -> int:
    """The object's size from a ranged GET's Content-Range (``bytes a-b/total``)."""
    content_range = resp.get("ContentRange")
    if content_range and "/" in content_range:
        tail = content_range.rsplit("/", 1)[1]
        if tail.isdigit():
            return int(tail)
    return int(resp.get("ContentLength", 0))


async def read_checked(body: Any, expected: Expected) -> list[bytes]:
    """A GetObject body, whole, as the pieces aiohttp received, each hashed as it
    arrives; DATA_CORRUPTED at the end when they do not hash to ``expected``."""
    return await collect_verified(iter_chunks(body), expected)


async def body_chunks(body: Any, chunk_size: int) -> AsyncGenerator[bytes, None]:
    """A GetObject body in chunks of ``chunk_size`` (the last may be shorter), closed
    at the end."""
    async with body:
        while True:
            chunk = await body.read(chunk_size)
            if not chunk:
                return
            yield chunk


def _exact(chunks: list[bytes], size: int) -> list[bytes]:
    """A ranged part, checked to be whole."""
    got = sum(map(len, chunks))
    if got != size:
        raise DriverError(ErrorCode.UNAVAILABLE, f"a ranged read returned {got} of {size} bytes")
    return chunks
