"""Transfers, once for every driver: the part pump of multipart / block / resumable
uploads, range planning, and parallel ranged reads.

Uploads in parts (S3 multipart, Azure blocks, GCS resumable chunks) all do the same
thing: take the body's blocks one at a time, send each through one SDK call with at
most ``concurrency`` in flight, send a failed part again, and on any failure or
cancellation abort what the backend holds, so nothing half-written is left. A driver
describes its SDK calls as a :class:`PartUpload` (send one part, commit, abort) and
:func:`upload_parts` runs it:

* memory: at most ``concurrency`` parts are held at once (the next block is read from
  the body only once a slot is free), so about ``part_size x concurrency`` bytes;
* a part whose send fails with an error ``retryable`` accepts is sent again, after the
  backoff of :class:`~lexigram.storage.retry.RetryPolicy` (the one backoff formula);
* the results come back in part order, for the commit;
* on a failure (of a part, of the body, of the commit) or a cancellation, every part
  still running is cancelled and awaited, then ``abort`` runs to its end, shielded from
  the cancellation, and the error goes on.

Reads: a driver that implements the range-read primitive
:meth:`~lexigram.storage.driver.BlobDriver.read_range` and sets ``read_part_size``
gets parallel ranged reads (:func:`read_ranges`, :func:`read_ranges_into`) from the
base class: the first range tells the object's size and ETag, the rest of the bytes
come in ranges of ``read_part_size``, at most ``read_concurrency`` at once, each pinned
to that ETag so an overwrite midway fails the read instead of mixing two versions. A
read of a whole object whose first answer carried the object's digest is handed to the
driver's ``check_whole`` once complete.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Sequence,
)
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

import attrs

from lexigram.storage.conditions import Conditions, normalize_etag
from lexigram.storage.errors import DriverError, ErrorCode
from lexigram.storage.retry import RetryPolicy

if TYPE_CHECKING:
    from lexigram.storage.driver import BlobDriver

__all__ = [
    "Part",
    "PartUpload",
    "RangeRead",
    "chain",
    "plan_ranges",
    "pump",
    "read_ranges",
    "read_ranges_into",
    "shielded",
    "upload_parts",
]

P = TypeVar("P")
R = TypeVar("R")
T = TypeVar("T")
R_co = TypeVar("R_co", covariant=True)


def plan_ranges(size: int, part_size: int, start: int = 0) -> list[tuple[int, int]]:
    """Half-open byte ranges ``[a, b)`` covering ``[start, size)`` in parts of
    ``part_size`` (the last may be shorter); none when ``start >= size``."""
    if part_size <= 0:
        raise ValueError("part_size must be positive")
    return [(a, min(a + part_size, size)) for a in range(start, size, part_size)]


@attrs.frozen
class Part(Generic[P]):
    """One part handed to :meth:`PartUpload.send`."""

    #: 1-based position of the part (S3's PartNumber).
    number: int
    #: where the part starts in the body, in bytes.
    offset: int
    #: the part's bytes (or, for a copy, its source range).
    data: P
    #: 1 on the first send, 2 on the first retry...
    attempt: int = 1


class PartUpload(Protocol[P, R_co]):
    """The SDK calls of one upload in parts; the upload itself is created by the driver
    before :func:`upload_parts` is called (so it knows what to abort)."""

    async def send(self, part: Part[P]) -> R_co:
        """Upload one part; return what the commit needs of it (an ETag, a block id)."""
        ...

    async def abort(self) -> None:
        """Drop what the upload holds on the backend (best effort; errors are ignored)."""
        ...


def _size(data: object) -> int:
    if isinstance(data, memoryview):
        return data.nbytes
    if isinstance(data, bytes | bytearray):
        return len(data)
    if isinstance(data, tuple) and len(data) == 2:  # a (start, end) range
        return int(data[1]) - int(data[0])
    return 0


def _never(exc: BaseException) -> bool:
    return False


async def pump(
    parts: AsyncIterable[P],
    send: Callable[[Part[P]], Awaitable[R]],
    *,
    concurrency: int,
    retry: RetryPolicy | None = None,
    retryable: Callable[[BaseException], bool] = _never,
    max_parts: int | None = None,
    too_many: str = "",
    size_of: Callable[[P], int] = _size,
) -> list[R]:
    """Send every item of ``parts`` with ``send`` (at most ``concurrency`` in flight)
    and return the results in item order.

    The next item is taken from ``parts`` only once a slot is free: at most
    ``concurrency`` items are held at once. A send that fails with an error
    ``retryable`` accepts is tried again, up to ``retry.attempts`` tries in all, after
    ``retry.delay(attempt)``. On the first failure (or a cancellation) every running
    send is cancelled and awaited, then the error is raised. ``max_parts``: more items
    than that is ``INVALID_ARGUMENT`` with the message ``too_many``. ``size_of``: the
    bytes of an item, for :attr:`Part.offset` (default: its length, or a range's).
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    policy = retry if retry is not None else RetryPolicy(attempts=1)
    gate = asyncio.Semaphore(concurrency)
    tasks: list[asyncio.Task[R]] = []

    async def one(part: Part[P]) -> R:
        try:
            attempt = 1
            while True:
                try:
                    return await send(part)
                except Exception as exc:
                    if attempt >= policy.attempts or not retryable(exc):
                        raise
                await asyncio.sleep(policy.delay(attempt))
                attempt += 1
                part = attrs.evolve(part, attempt=attempt)
        finally:
            gate.release()

    def raise_failure() -> None:
        for task in tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

    source = aiter(parts)
    try:
        number = 0
        offset = 0
        while True:
            # A slot first, then the next item: at most `concurrency` items held.
            await gate.acquire()
            raise_failure()
            try:
                item = await anext(source)
            except StopAsyncIteration:
                gate.release()
                break
            number += 1
            if max_parts is not None and number > max_parts:
                raise DriverError(ErrorCode.INVALID_ARGUMENT, too_many)
            tasks.append(asyncio.ensure_future(one(Part(number, offset, item))))
            offset += size_of(item)
            del item
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    finally:
        close = getattr(source, "aclose", None)
        if close is not None:
            with contextlib.suppress(Exception):
                await close()


async def upload_parts(
    upload: PartUpload[P, R],
    parts: AsyncIterable[P],
    *,
    concurrency: int,
    commit: Callable[[list[R]], Awaitable[T]],
    retry: RetryPolicy | None = None,
    retryable: Callable[[BaseException], bool] = _never,
    max_parts: int | None = None,
    too_many: str = "",
    size_of: Callable[[P], int] = _size,
) -> T:
    """Send every part of ``parts`` through ``upload.send`` (see :func:`pump`), then
    ``commit`` the results, in part order. On any failure or cancellation (of a part,
    of reading the body, of the commit) ``upload.abort()`` runs to its end, shielded
    from the cancellation, before the error goes on."""
    try:
        results = await pump(
            parts,
            upload.send,
            concurrency=concurrency,
            retry=retry,
            retryable=retryable,
            max_parts=max_parts,
            too_many=too_many,
            size_of=size_of,
        )
        return await commit(results)
    except BaseException:
        await shielded(upload.abort())
        raise


async def chain(head: Iterable[T], rest: AsyncIterable[T] | None = None) -> AsyncIterator[T]:
    """The items of ``head`` (parts a driver already read, to choose how to upload),
    then those of ``rest`` (the body's remaining blocks). Drops each item of ``head``
    once handed out, so a part sent is not kept alive here."""
    items = list(head)
    items.reverse()
    del head
    while items:
        yield items.pop()
    if rest is not None:
        async for item in rest:
            yield item


async def shielded(work: Awaitable[object]) -> None:
    """Run ``work`` to its end even if the caller is being cancelled (the cancellation
    goes on once it is done, or at once while the work finishes in the background);
    its own errors are dropped. For aborts and other clean-ups."""
    task = asyncio.ensure_future(work)
    with contextlib.suppress(Exception, asyncio.CancelledError):
        await asyncio.shield(task)
    if not task.done():
        task.add_done_callback(lambda t: t.cancelled() or t.exception())


# -- parallel ranged reads ---------------------------------------------------------------


@attrs.frozen
class RangeRead:
    """What :meth:`~lexigram.storage.driver.BlobDriver.read_range`
    returns: the bytes of the range, and the object's size and ETag from the same answer."""

    data: bytes | bytearray | memoryview
    #: the whole object's size in bytes.
    size: int
    #: the object's ETag, if the answer had one (parts are pinned to it).
    etag: str | None = None
    #: the whole object's digest, as the answer gave it, for the driver's
    #: :meth:`~lexigram.storage.driver.BlobDriver.check_whole` (None: nothing to check).
    checksum: bytes | None = None


def _pinned(
    driver: BlobDriver, first: RangeRead, conditions: Conditions | None
) -> Conditions | None:
    """The conditions of the ranges after the first: the first one's ETag, when the
    driver can check it atomically (the caller's if_none_match was met by the first)."""
    if first.etag is None or not driver.capabilities.conditional_read:
        return conditions
    return Conditions(if_match=normalize_etag(first.etag))


def _changed(exc: DriverError) -> DriverError:
    return DriverError(
        ErrorCode.UNAVAILABLE,
        "the object was replaced while it was read in parts; read it again",
    )


def _in_place(data: bytes | bytearray | memoryview, into: memoryview | None) -> bool:
    """Whether the driver wrote a range where it was asked (``into``)."""
    return into is not None and isinstance(data, memoryview) and data.obj is into.obj


async def _first(
    driver: BlobDriver,
    key: str,
    start: int,
    end: int | None,
    conditions: Conditions | None,
    buffer: memoryview | None = None,
) -> tuple[RangeRead, int, int]:
    """The first range ``[start, start + part)`` and where the read stops."""
    part = driver.read_part_size
    first_end = start + part if end is None else min(end, start + part)
    room = {} if buffer is None or buffer.nbytes < first_end - start else {"into": buffer}
    first = await driver.read_range(key, start=start, end=first_end, conditions=conditions, **room)
    stop = first.size if end is None else min(end, first.size)
    got = _size(first.data)
    if start >= stop:
        got_end = start
    else:
        got_end = start + got
        if got != min(first_end, stop) - start:
            raise DriverError(
                ErrorCode.UNAVAILABLE,
                f"a ranged read returned {got} bytes, not the {min(first_end, stop) - start} "
                "asked for",
            )
    return first, got_end, stop


async def _rest(
    driver: BlobDriver,
    key: str,
    ranges: Sequence[tuple[int, int]],
    conditions: Conditions | None,
    place: Callable[[int, int, bytes | bytearray | memoryview], T],
    target: Callable[[int, int], memoryview] | None = None,
) -> list[T]:
    async def fetch(part: Part[tuple[int, int]]) -> T:
        a, b = part.data
        room = {} if target is None else {"into": target(a, b)}
        try:
            got = await driver.read_range(key, start=a, end=b, conditions=conditions, **room)
        except DriverError as exc:
            if conditions is not None and exc.code is ErrorCode.FAILED_PRECONDITION:
                raise _changed(exc) from exc
            raise
        if _size(got.data) != b - a:
            raise DriverError(
                ErrorCode.UNAVAILABLE,
                f"a ranged read returned {_size(got.data)} bytes, not the {b - a} asked for "
                "(the object changed while it was read in parts?)",
            )
        return place(a, b, got.data)

    async def items() -> AsyncIterator[tuple[int, int]]:
        for rng in ranges:
            yield rng

    return await pump(items(), fetch, concurrency=max(1, driver.read_concurrency))


async def read_ranges(
    driver: BlobDriver, key: str, *, start: int, end: int | None, conditions: Conditions | None
) -> bytes:
    """The bytes ``[start, end)`` of ``key`` by parallel ranged reads (see the module)."""
    first, got_end, stop = await _first(driver, key, start, end, conditions)
    if got_end >= stop:
        data = first.data if isinstance(first.data, bytes) else bytes(first.data)
    else:
        pinned = _pinned(driver, first, conditions)
        ranges = plan_ranges(stop, driver.read_part_size, got_end)
        rest = await _rest(driver, key, ranges, pinned, lambda a, b, data: data)
        data = b"".join([first.data, *rest])
        del rest
    if first.checksum is not None and start == 0 and stop == first.size:
        await driver.check_whole(first, memoryview(data))
    return data


async def read_ranges_into(
    driver: BlobDriver,
    key: str,
    buffer: memoryview,
    *,
    start: int,
    end: int | None,
    conditions: Conditions | None,
) -> int:
    """Write ``[start, end)`` of ``key`` into ``buffer`` by parallel ranged reads, each
    part written in its place by the driver (``read_range(into=)``) or copied there as it
    arrives; return the number of bytes written."""
    from lexigram.storage.driver import buffer_too_small

    first, got_end, stop = await _first(driver, key, start, end, conditions, buffer)
    total = max(0, stop - start)
    if total > buffer.nbytes:
        raise DriverError(
            ErrorCode.INVALID_ARGUMENT, buffer_too_small(buffer.nbytes, total, exact=True)
        )
    head = got_end - start
    if not _in_place(first.data, buffer):
        buffer[:head] = first.data
    if got_end < stop:
        pinned = _pinned(driver, first, conditions)
        ranges = plan_ranges(stop, driver.read_part_size, got_end)

        def target(a: int, b: int) -> memoryview:
            return buffer[a - start : b - start]

        def place(a: int, b: int, data: bytes | bytearray | memoryview) -> None:
            if not _in_place(data, buffer):
                buffer[a - start : b - start] = data

        await _rest(driver, key, ranges, pinned, place, target)
    if first.checksum is not None and start == 0 and stop == first.size:
        await driver.check_whole(first, buffer[:total])
    return total
