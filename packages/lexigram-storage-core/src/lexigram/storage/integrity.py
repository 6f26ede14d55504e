"""End-to-end integrity, once for every driver: checksums computed without stopping the
event loop, one stream wrapper that checks a download at its end, and the repair policy
for a server that stored an upload altered.

Checksums (:class:`Checksum`): :data:`CRC32C` (what S3's ``x-amz-checksum-crc32c`` and
GCS's ``crc32c`` carry; ``google-crc32c`` computes it in C at several GB/s, ``crc32c``,
when installed, in hardware with the GIL released) and
:data:`MD5` (``Content-MD5``: Azure, and plain-MD5 ETags). A body at least
``thread_min`` bytes long is hashed in a worker thread where the checksum releases the
GIL (hashlib, ``crc32c``; not ``google-crc32c``), so a large part is hashed beside the
event loop and the other transfers instead of stopping them for milliseconds; a smaller
one at once, which is cheaper than the hand-over to a thread.

Downloads: :func:`verify_at_end` hashes a stream's chunks as they pass and raises
:attr:`ErrorCode.DATA_CORRUPTED` at its end, before it completes, when the digest is not
the one expected. Never a second pass over bytes already received.

Uploads (:func:`keep_intact`): a server that checks the checksum sent with a body (S3's
``x-amz-checksum-crc32c``, GCS's ``crc32c``, Azure's ``Content-MD5``) refuses altered
bytes, and nothing is stored. A server that does not check (an emulator) stores them,
and the driver only sees it in its answer (a checksum or ETag that is not the one sent).
Then the body is sent again, on condition that the altered version is still the one
stored, up to :data:`REPAIRS` times; a body that cannot be sent again (a stream) or keeps
arriving altered is deleted, on the same condition, so the altered bytes are never left
readable, and DATA_CORRUPTED is raised. The driver gives two primitives: a conditional
put and a conditional delete of the version in an answer.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
from collections.abc import AsyncGenerator, AsyncIterable, Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

import attrs

from lexigram.storage.errors import DriverError, ErrorCode

__all__ = [
    "BATCH",
    "CRC32C",
    "MD5",
    "REPAIRS",
    "Checksum",
    "Crc32c",
    "Expected",
    "Hasher",
    "RunningDigest",
    "b64",
    "collect_verified",
    "corrupted",
    "keep_intact",
    "verify_at_end",
]

T = TypeVar("T")

#: times an upload is sent again when the server stored something else than was sent.
REPAIRS = 2

Buffer = bytes | bytearray | memoryview


class Hasher(Protocol):
    """A running digest (``hashlib``'s interface)."""

    def update(self, data: Buffer, /) -> None: ...

    def digest(self) -> bytes: ...


#: google-crc32c takes only ``bytes``: other buffers are hashed in copies of this size.
_PIECE = 1024 * 1024


def _crc32c_extend() -> tuple[Callable[[int, Buffer], int], bool]:
    """The CRC32C function (``extend(crc, data) -> crc``) and whether it releases the
    GIL and takes any buffer: ``crc32c`` (in hardware, over 10 GB/s, GIL released) when
    it happens to be installed (it is LGPL-2.1: only the optional ``fast-crc32c`` extra
    of the s3 and gcs packages asks for it), else ``google-crc32c`` (Apache-2.0, the
    dependency of the s3 and gcs packages; about 3-5 GB/s, holding the GIL, ``bytes``
    only). With neither, importing this module still works (MD5 needs no package); a
    CRC32C computed is a DriverError saying what to install."""
    try:
        import crc32c

        fast: Any = crc32c.crc32c
        return (lambda crc, data: int(fast(data, crc))), True
    except ImportError:
        pass
    try:
        import google_crc32c
    except ImportError:
        return _missing, False
    slow: Any = google_crc32c.extend

    def extend(crc: int, data: Buffer) -> int:
        if isinstance(data, bytes):
            return int(slow(crc, data))
        view = data if isinstance(data, memoryview) else memoryview(data)
        for start in range(0, view.nbytes, _PIECE):
            crc = int(slow(crc, bytes(view[start : start + _PIECE])))
        return crc

    return extend, False


def _missing(crc: int, data: Buffer) -> int:
    raise DriverError(
        ErrorCode.UNKNOWN,
        "CRC32C checksums need the google-crc32c package (a dependency of the s3 and gcs "
        "driver packages): pip install google-crc32c, or set checksums: false in the "
        "driver's config",
    )


_extend, _GIL_FREE = _crc32c_extend()


class Crc32c:
    """A running CRC32C over pieces of any bytes-like type; ``digest()`` is 4 bytes,
    big-endian, as S3 (``x-amz-checksum-crc32c``) and GCS (``crc32c``, ``x-goog-hash``)
    write it, in base64."""

    __slots__ = ("_crc",)

    def __init__(self) -> None:
        self._crc = 0

    def update(self, data: Buffer, /) -> None:
        self._crc = _extend(self._crc, data)

    def digest(self) -> bytes:
        return self._crc.to_bytes(4, "big")


def _md5() -> Hasher:
    return hashlib.md5(usedforsecurity=False)


@attrs.frozen
class Checksum:
    """One checksum algorithm: how to start a running digest, and from which body size
    on it is computed in a worker thread."""

    name: str
    new: Callable[[], Hasher]
    #: bodies at least this large are hashed in a worker thread: about 1-2 ms of work.
    thread_min: int
    #: whether hashing releases the GIL (else a worker thread would not run beside the
    #: event loop, and nothing is handed to one).
    threaded: bool = True
    #: whether a stream's chunks are handed to a worker thread in batches of
    #: :data:`BATCH` (worth it when a batch is milliseconds of work); else each chunk is
    #: hashed at once, on the event loop.
    batched: bool = True

    def now(self, data: Buffer) -> bytes:
        """The digest of ``data``, computed here (on the event loop when called there)."""
        hasher = self.new()
        hasher.update(data)
        return hasher.digest()

    async def of(self, data: Buffer) -> bytes:
        """The digest of ``data``, in a worker thread when it is large."""
        if len(data) < self.thread_min or not self.threaded:
            return self.now(data)
        return await asyncio.to_thread(self.now, data)

    def running(self) -> RunningDigest:
        return RunningDigest(self)

    async def in_order(self, parts: Sequence[Awaitable[Sequence[Buffer]]]) -> bytes:
        """The digest of the concatenated ``parts`` (each a list of chunks), each part
        hashed (see :class:`RunningDigest`) as soon as it and every part before it have
        arrived."""
        running = self.running()
        for part in parts:
            chunks = await part
            await running.feed_all(chunks, sum(map(len, chunks)))
        return await running.digest()


#: over 10 GB/s on one core with ``crc32c``, in a worker thread from 8 MiB on (about
#: 1 ms); ``google-crc32c`` holds the GIL, so a thread would only add its hand-over. A
#: stream's chunks are hashed at once (about 0.1 ms per MiB): handing a batch to a thread
#: costs more than hashing it, measured with ``benchmarks/checksums.py``.
CRC32C = Checksum("CRC32C", Crc32c, 8 * 1024 * 1024, threaded=_GIL_FREE, batched=False)
#: ~0.4-0.7 GB/s on one core: 1 MiB is 1.5-2.5 ms.
MD5 = Checksum("MD5", _md5, 1024 * 1024)


#: the chunks of a stream are hashed together, in a worker thread, once this many bytes
#: have arrived: on the event loop a chunk is only put aside.
BATCH = 1024 * 1024


class RunningDigest:
    """The digest of a stream, fed in order.

    Chunks are put aside until :data:`BATCH` bytes have arrived, then hashed together in
    a worker thread while the next ones arrive (:meth:`feed` waits only when the previous
    batch is not done yet); what is left at the end (less than a batch) is hashed on the
    event loop. A checksum that is cheaper than the hand-over (not ``batched``) or holds
    the GIL (not ``threaded``) is computed at once.
    Every chunk fed must stay unchanged until :meth:`settled` or :meth:`digest` has
    returned.
    """

    __slots__ = ("_batch", "_batched", "_hasher", "_pending", "_threaded")

    def __init__(self, checksum: Checksum) -> None:
        self._hasher = checksum.new()
        self._threaded = checksum.threaded and checksum.batched
        self._pending: asyncio.Future[None] | None = None
        self._batch: list[Buffer] = []
        self._batched = 0

    async def feed(self, chunk: Buffer) -> None:
        if not self._threaded:
            self._hasher.update(chunk)
            return
        self._batch.append(chunk)
        self._batched += len(chunk)
        if self._batched >= BATCH:
            await self._hand_over()

    async def feed_all(self, chunks: Sequence[Buffer], size: int) -> None:
        """Feed ``chunks`` (``size`` bytes in all) in their order."""
        if not self._threaded:
            _update_all(self._hasher, chunks)
            return
        self._batch.extend(chunks)
        self._batched += size
        if self._batched >= BATCH:
            await self._hand_over()

    async def _hand_over(self) -> None:
        """Hash the chunks put aside in a worker thread, once the previous batch is done."""
        if self._pending is not None:
            await self._pending
            self._pending = None
        batch, self._batch, self._batched = self._batch, [], 0
        self._pending = asyncio.ensure_future(asyncio.to_thread(_update_all, self._hasher, batch))

    async def settled(self) -> None:
        """Wait until every chunk fed is hashed (then the caller may reuse its buffers)."""
        if self._pending is not None:
            await self._pending
            self._pending = None
        if self._batch:
            batch, self._batch, self._batched = self._batch, [], 0
            _update_all(self._hasher, batch)  # less than a batch

    async def digest(self) -> bytes:
        await self.settled()
        return self._hasher.digest()


def _update_all(hasher: Hasher, chunks: Sequence[Buffer]) -> None:
    for chunk in chunks:
        hasher.update(chunk)


def b64(digest: bytes) -> str:
    """A digest as headers and resources carry it (``Content-MD5``,
    ``x-amz-checksum-crc32c``, GCS's ``crc32c``): base64."""
    return base64.b64encode(digest).decode("ascii")


def corrupted(detail: str) -> DriverError:
    """The error of bytes that do not match their checksum."""
    return DriverError(ErrorCode.DATA_CORRUPTED, detail)


@attrs.frozen
class Expected:
    """What the bytes of a whole-object read must hash to, by the backend's answer."""

    checksum: Checksum
    digest: bytes
    #: what the digest is, for the error message: "its stored CRC32C (x-goog-hash)".
    source: str

    def mismatch(self) -> DriverError:
        return corrupted(f"the bytes received do not match {self.source}")

    async def check(self, running: RunningDigest) -> None:
        """Raise DATA_CORRUPTED when what ``running`` was fed does not hash to it."""
        if await running.digest() != self.digest:
            raise self.mismatch()


async def verify_at_end(
    chunks: AsyncIterable[bytes], expected: Expected
) -> AsyncGenerator[bytes, None]:
    """``chunks``, hashed as they pass; at the end, DATA_CORRUPTED when the digest is
    not the one ``expected``: the stream then never completes with altered bytes."""
    running = expected.checksum.running()
    try:
        async for chunk in chunks:
            await running.feed(chunk)
            yield chunk
    finally:
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()
    await expected.check(running)


async def collect_verified(chunks: AsyncIterable[bytes], expected: Expected) -> list[bytes]:
    """Every chunk of ``chunks``, hashed as they arrive (handed over a batch at a time:
    nothing per chunk but keeping it); DATA_CORRUPTED at the end when they do not hash
    to ``expected``. The caller joins them once."""
    running = expected.checksum.running()
    pieces: list[bytes] = []
    handed = pending = 0
    async for chunk in chunks:
        pieces.append(chunk)
        pending += len(chunk)
        if pending >= BATCH:
            await running.feed_all(pieces[handed:], pending)
            handed, pending = len(pieces), 0
    await running.feed_all(pieces[handed:], pending)
    await expected.check(running)
    return pieces


async def keep_intact(
    stored: T,
    *,
    intact: Callable[[T], bool],
    send_again: Callable[[T], Awaitable[T]] | None,
    remove: Callable[[T], Awaitable[object]],
    mismatch: str,
    replaced: Callable[[BaseException], bool] | None = None,
) -> T:
    """Return the server's answer to an upload once it shows the bytes sent.

    ``stored``: the answer to the upload; ``intact(answer)`` whether it shows the bytes
    sent (true where it cannot tell). The two driver primitives: ``send_again(answer)``
    uploads the body again on condition that the version in ``answer`` is still the one
    stored (a conditional put), and returns the new answer, or ``None`` when the body
    cannot be sent again; ``remove(answer)`` deletes that version, on the same condition
    (a conditional delete; best effort: its failure is not reported over the
    corruption). ``replaced(exc)``: whether an error of ``send_again`` means the
    condition failed (another writer replaced the altered version first), which is
    raised as DATA_CORRUPTED. ``mismatch`` says what differed, for the error message.
    """
    sent = 1
    while not intact(stored):
        if send_again is None or sent > REPAIRS:
            with contextlib.suppress(Exception):
                await remove(stored)
            times = "" if sent == 1 else f" {sent} times"
            raise corrupted(
                f"the server stored altered bytes{times} ({mismatch}); the altered object "
                "was deleted"
            )
        try:
            stored = await send_again(stored)
        except Exception as exc:
            if replaced is None or not replaced(exc):
                raise
            raise corrupted(
                f"the server stored altered bytes ({mismatch}), and another writer replaced "
                "them before they could be repaired"
            ) from exc
        sent += 1
    return stored
