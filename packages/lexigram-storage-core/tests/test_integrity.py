"""The core integrity layer: checksums off the event loop, the verify-at-end stream
wrapper, and the repair policy's handling of a lost race (the policy itself:
test_repair.py)."""

from __future__ import annotations

import asyncio
import hashlib
import sys
import threading
from collections.abc import AsyncIterator

import pytest

from lexigram.storage.errors import DriverError, ErrorCode
from lexigram.storage.integrity import (
    BATCH,
    CRC32C,
    MD5,
    Checksum,
    Crc32c,
    Expected,
    b64,
    collect_verified,
    keep_intact,
    verify_at_end,
)

BODY = b"the quick brown fox"


def test_crc32c_of_every_buffer_type() -> None:
    # the check value of CRC32C (RFC 3720): "123456789" -> e3069283
    assert CRC32C.now(b"123456789").hex() == "e3069283"
    assert b64(CRC32C.now(b"123456789")) == "4waSgw=="
    for data in (bytearray(BODY), memoryview(BODY), memoryview(bytearray(BODY))):
        assert CRC32C.now(data) == CRC32C.now(BODY)


def test_both_crc32c_implementations_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    """``crc32c`` when installed, else ``google-crc32c`` (bytes only: other buffers are
    hashed in copied pieces, and it holds the GIL: never handed to a thread)."""
    from lexigram.storage import integrity

    data = bytes(range(256)) * (3 * 1024 * 1024 // 256) + b"tail"
    fast, fast_gil_free = integrity._crc32c_extend()
    monkeypatch.setitem(sys.modules, "crc32c", None)  # not installed
    slow, slow_gil_free = integrity._crc32c_extend()
    assert not slow_gil_free
    for extend in (fast, slow):
        assert extend(0, b"123456789") == 0xE3069283
        view = memoryview(bytearray(data))
        crc = extend(0, view[:7])
        crc = extend(crc, view[7 : 2 * 1024 * 1024 + 3])
        crc = extend(crc, view[2 * 1024 * 1024 + 3 :])
        assert crc == extend(0, data)
    assert fast_gil_free == (integrity._GIL_FREE and CRC32C.threaded)


#: run in a fresh interpreter where ``crc32c`` cannot be imported: the module's CRC32C
#: must then be google-crc32c's, computed on the event loop, and still right.
_ONLY_GOOGLE = """
import asyncio, sys
sys.modules["crc32c"] = None
from lexigram.storage import integrity
from lexigram.storage.integrity import CRC32C, Expected, collect_verified, verify_at_end

assert not integrity._GIL_FREE and not CRC32C.threaded
assert "google_crc32c" in sys.modules
data = bytes(range(256)) * (9 * 1024 * 1024 // 256) + b"tail"  # above thread_min
want = int.from_bytes(CRC32C.now(b"123456789"), "big")
assert want == 0xE3069283, hex(want)

async def main():
    threads = []
    real = asyncio.to_thread
    async def spy(*args, **kwargs):
        threads.append(args[0])
        return await real(*args, **kwargs)
    asyncio.to_thread = spy
    digest = await CRC32C.of(memoryview(bytearray(data)))
    assert digest == CRC32C.now(data)
    assert threads == [], threads  # holding the GIL: never handed to a thread
    async def chunks():
        for at in range(0, len(data), 1 << 20):
            yield data[at : at + (1 << 20)]
    got = [c async for c in verify_at_end(chunks(), Expected(CRC32C, digest, "t"))]
    assert b"".join(got) == data
    await collect_verified(chunks(), Expected(CRC32C, digest, "t"))
    try:
        await collect_verified(chunks(), Expected(CRC32C, b"\\0\\0\\0\\0", "t"))
    except Exception as exc:
        assert exc.code.name == "DATA_CORRUPTED", exc
    else:
        raise AssertionError("a wrong CRC32C passed")

asyncio.run(main())
print("ok")
"""

#: neither package: the module imports (MD5 needs neither), a CRC32C says what to install.
_NEITHER = """
import sys
sys.modules["crc32c"] = None
sys.modules["google_crc32c"] = None
from lexigram.storage.errors import DriverError
from lexigram.storage.integrity import CRC32C, MD5

assert MD5.now(b"")
try:
    CRC32C.now(b"x")
except DriverError as exc:
    assert "pip install google-crc32c" in str(exc), exc
else:
    raise AssertionError("CRC32C without a package")
print("ok")
"""


@pytest.mark.parametrize("script", [_ONLY_GOOGLE, _NEITHER], ids=["google-only", "neither"])
def test_crc32c_fallback_in_a_fresh_interpreter(script: str) -> None:
    """What a user without the optional ``crc32c`` (LGPL) package runs: forced in a
    fresh interpreter, since the implementation is chosen when the module is imported."""
    import subprocess

    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_running_crc32c_over_pieces_larger_than_its_copy_size() -> None:
    data = bytes(range(256)) * (5 * 1024 * 1024 // 256) + b"tail"
    running = Crc32c()
    view = memoryview(bytearray(data))
    running.update(view[:3])
    running.update(view[3 : 3 * 1024 * 1024 + 7])
    running.update(view[3 * 1024 * 1024 + 7 :])
    assert running.digest() == CRC32C.now(data)


class _Recording:
    """A checksum that records the thread each body was hashed in."""

    def __init__(self) -> None:
        self.threads: list[int] = []

    def new(self) -> hashlib._Hash:
        threads = self.threads

        class Md5:
            def __init__(self) -> None:
                self.inner = hashlib.md5()

            def update(self, data: bytes | bytearray | memoryview) -> None:
                threads.append(threading.get_ident())
                self.inner.update(data)

            def digest(self) -> bytes:
                return self.inner.digest()

        return Md5()  # type: ignore[return-value]


async def test_large_bodies_are_hashed_off_the_event_loop_small_ones_on_it() -> None:
    recording = _Recording()
    checksum = Checksum("MD5", recording.new, thread_min=1000)
    loop_thread = threading.get_ident()
    small, large = b"s" * 999, b"l" * 1000
    assert await checksum.of(small) == hashlib.md5(small).digest()
    assert await checksum.of(memoryview(bytearray(large))) == hashlib.md5(large).digest()
    assert recording.threads[0] == loop_thread
    assert recording.threads[1] != loop_thread


async def test_running_digest_keeps_the_order_of_small_and_large_chunks() -> None:
    chunks = [b"a" * 10, bytes(range(256)) * 4096, b"b" * 1000, bytes(range(256)) * 8192, b""]
    chunks += [bytes([i]) * (BATCH // 3) for i in range(7)]  # several batches
    for checksum in (MD5, CRC32C):
        running = checksum.running()
        for chunk in chunks:
            await running.feed(chunk)
        assert await running.digest() == checksum.now(b"".join(chunks))


async def test_running_digest_hashes_batches_off_the_event_loop() -> None:
    recording = _Recording()
    running = Checksum("MD5", recording.new, thread_min=1, batched=True).running()
    loop_thread = threading.get_ident()
    for _ in range(4):
        await running.feed(b"x" * (BATCH // 2))  # a batch every second chunk
    await running.feed(b"tail")
    assert await running.digest() == hashlib.md5(b"x" * (2 * BATCH) + b"tail").digest()
    *batches, tail = recording.threads
    assert len(batches) == 4 and all(t != loop_thread for t in batches)
    assert tail == loop_thread  # the rest, less than a batch, at the end


async def test_settled_means_every_chunk_fed_is_hashed() -> None:
    running = CRC32C.running()
    buffer = bytearray(b"a" * BATCH)
    await running.feed(memoryview(buffer))
    await running.feed(b"b")
    await running.settled()
    buffer[:] = b"z" * BATCH  # reused once settled: the digest is of what was fed
    assert await running.digest() == CRC32C.now(b"a" * BATCH + b"b")


async def test_in_order_hashes_parts_in_their_order_whatever_order_they_arrive_in() -> None:
    small_threads = Checksum("MD5", MD5.new, thread_min=64 * 1024)
    parts = [[bytes([i]) * (32 * 1024 + i), bytes([i + 7]) * (i + 1)] for i in range(4)]
    parts.append([memoryview(bytearray(b"m" * (64 * 1024 + 9)))])
    loop = asyncio.get_running_loop()
    arrived: list[asyncio.Future[list[bytes | memoryview]]] = [loop.create_future() for _ in parts]
    hashing = asyncio.ensure_future(small_threads.in_order(arrived))
    for i in (3, 1, 4, 0, 2):  # the ranged GETs finish out of order
        arrived[i].set_result(list(parts[i]))
        await asyncio.sleep(0)
    whole = b"".join(bytes(piece) for part in parts for piece in part)
    assert await hashing == hashlib.md5(whole).digest()


async def _source(chunks: list[bytes], closed: list[bool]) -> AsyncIterator[bytes]:
    try:
        for chunk in chunks:
            yield chunk
    finally:
        closed.append(True)


@pytest.mark.parametrize("checksum", [CRC32C, MD5], ids=lambda c: c.name)
async def test_verify_at_end_passes_every_chunk_of_intact_bytes(checksum: Checksum) -> None:
    chunks = [b"abc", b"", b"d" * 5000, b"e"]
    closed: list[bool] = []
    got = [
        c
        async for c in verify_at_end(
            _source(chunks, closed), Expected(checksum, checksum.now(b"".join(chunks)), "x")
        )
    ]
    assert got == chunks and closed == [True]


async def test_verify_at_end_raises_after_the_last_chunk_of_altered_bytes() -> None:
    chunks = [b"abc", b"def"]
    received: list[bytes] = []
    with pytest.raises(DriverError) as caught:
        async for chunk in verify_at_end(
            _source(chunks, []), Expected(CRC32C, CRC32C.now(b"abcdeF"), "its stored CRC32C")
        ):
            received.append(chunk)
    assert caught.value.code is ErrorCode.DATA_CORRUPTED
    assert "its stored CRC32C" in str(caught.value)
    assert received == chunks  # the error comes at the end, before the stream completes


async def test_verify_at_end_closed_early_closes_its_source() -> None:
    closed: list[bool] = []
    stream = verify_at_end(_source([b"a", b"b"], closed), Expected(MD5, b"", "x"))
    assert await anext(stream) == b"a"
    await stream.aclose()
    assert closed == [True]


async def test_a_repair_that_loses_the_race_is_data_corrupted() -> None:
    removed: list[str] = []

    async def send_again(answer: str) -> str:
        raise LookupError("412")  # the driver's SDK error of a failed condition

    async def remove(answer: str) -> None:
        removed.append(answer)

    with pytest.raises(DriverError) as caught:
        await keep_intact(
            "bad",
            intact=lambda a: a == "good",
            send_again=send_again,
            remove=remove,
            mismatch="its CRC32C differs",
            replaced=lambda exc: isinstance(exc, LookupError),
        )
    assert caught.value.code is ErrorCode.DATA_CORRUPTED
    assert "another writer replaced" in str(caught.value)
    assert "its CRC32C differs" in str(caught.value)
    assert isinstance(caught.value.__cause__, LookupError)
    assert removed == []  # the other writer's version is not deleted


async def test_other_failures_of_a_repair_are_raised_as_they_are() -> None:
    async def send_again(answer: str) -> str:
        raise OSError("connection reset")

    async def remove(answer: str) -> None:
        raise AssertionError("not removed")

    with pytest.raises(OSError):
        await keep_intact(
            "bad",
            intact=lambda a: a == "good",
            send_again=send_again,
            remove=remove,
            mismatch="x",
            replaced=lambda exc: isinstance(exc, LookupError),
        )


async def test_collect_verified_keeps_every_chunk_and_checks_them_all() -> None:
    chunks = [bytes([i]) * (BATCH // 3 + i) for i in range(8)] + [b"", b"end"]
    whole = b"".join(chunks)
    got = await collect_verified(_source(chunks, []), Expected(CRC32C, CRC32C.now(whole), "x"))
    assert got == chunks
    altered = Expected(CRC32C, CRC32C.now(whole[:-1] + b"E"), "the object's stored CRC32C")
    with pytest.raises(DriverError) as caught:
        await collect_verified(_source(chunks, []), altered)
    assert caught.value.code is ErrorCode.DATA_CORRUPTED
    assert "the object's stored CRC32C" in str(caught.value)
