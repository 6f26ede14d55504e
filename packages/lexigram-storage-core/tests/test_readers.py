"""BlobReader / BlobWriter policy over the memory driver: bounded read-ahead, bounded
write queue, failures of the upload reach the writer, arguments checked before I/O."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import pytest

from lexigram.storage import (
    BlobInfo,
    BlobStore,
    DriverError,
    ErrorCode,
    InvalidArgumentError,
    PresignedPost,
    StorageUnavailableError,
    StoreClosedError,
    UploadBody,
)
from lexigram.storage.memory import MemoryDriver
from lexigram.storage.readers import WRITER_QUEUE_CHUNKS


class GatedDriver(MemoryDriver):
    """Consumes an upload body only once ``gate`` is set; can fail after one chunk."""

    def __init__(self, *, fail: bool = False) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.fail = fail
        self.calls = 0

    async def put(
        self,
        key: str,
        body: UploadBody,
        *,
        content_type: str,
        metadata: Mapping[str, str],
        create_only: bool,
    ) -> BlobInfo:
        self.calls += 1
        await self.gate.wait()
        if self.fail:  # fails without consuming anything more
            raise DriverError(ErrorCode.UNAVAILABLE, "connection reset")
        return await super().put(
            key, body, content_type=content_type, metadata=metadata, create_only=create_only
        )


async def test_sequential_reads_fetch_one_block_at_a_time() -> None:
    store = BlobStore(MemoryDriver())
    data = bytes(range(256)) * 4096  # 1 MiB
    await store.upload("k", data)
    got = bytearray()
    async with store.open("k", block_size=64 * 1024) as f:
        while chunk := await f.read(1000):
            got += chunk
        assert f.fetches == 16
        assert f.bytes_fetched == len(data)
    assert bytes(got) == data


async def test_write_waits_while_the_upload_does_not_consume() -> None:
    driver = GatedDriver()
    store = BlobStore(driver)
    async with store.open("k", "wb", block_size=10) as w:
        for _ in range(WRITER_QUEUE_CHUNKS):
            await w.write(b"x" * 10)  # fills the queue
        blocked = asyncio.ensure_future(w.write(b"y" * 10))
        for _ in range(20):
            await asyncio.sleep(0)
        held_back = not blocked.done()
        driver.gate.set()  # before any assertion, so a failure cannot hang the test
        await blocked
    assert held_back  # bounded: the writer held back while the upload did not consume
    assert await store.download("k") == b"x" * 10 * WRITER_QUEUE_CHUNKS + b"y" * 10


async def test_a_failing_upload_reaches_a_waiting_writer() -> None:
    driver = GatedDriver(fail=True)
    store = BlobStore(driver)
    writer = store.open("k", "wb", block_size=10)
    await writer.__aenter__()
    for _ in range(WRITER_QUEUE_CHUNKS):
        await writer.write(b"x" * 10)  # fills the queue
    write = asyncio.ensure_future(writer.write(b"y" * 10))  # waits for room
    await asyncio.sleep(0)
    assert not write.done()
    driver.gate.set()  # the upload fails now, with the queue still full
    for _ in range(50):  # event-loop turns, not time: the write must not wait forever
        if write.done():
            break
        await asyncio.sleep(0)
    if not write.done():
        write.cancel()
        pytest.fail("write() kept waiting after the upload had failed")
    assert isinstance(write.exception(), StorageUnavailableError)
    await writer.abort()
    assert not await store.exists("k")


async def test_open_checks_arguments_before_any_request() -> None:
    driver = GatedDriver()
    store = BlobStore(driver)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(InvalidArgumentError, match="block_size"):
            store.open("k", block_size=bad)
    with pytest.raises(InvalidArgumentError, match="content_type and metadata"):
        store.open("k", "rb", content_type="text/plain")
    with pytest.raises(InvalidArgumentError, match="metadata"):
        store.open("k", "wb", metadata={"Bad Name": "x"})
    assert driver.calls == 0
    await store.close()
    with pytest.raises(StoreClosedError):
        store.open("k")


async def test_a_reader_not_entered_or_closed_refuses_io() -> None:
    store = BlobStore(MemoryDriver())
    await store.upload("k", b"abc")
    reader = store.open("k")
    with pytest.raises(InvalidArgumentError, match="async with"):
        await reader.read()
    async with reader:
        with pytest.raises(InvalidArgumentError, match="int"):
            reader.seek("1")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="closed"):
        await reader.read()
    writer = store.open("w", "wb")
    with pytest.raises(InvalidArgumentError, match="not open"):
        await writer.write(b"x")
    async with writer:
        await writer.write(b"x")
    with pytest.raises(InvalidArgumentError, match="closed"):
        await writer.write(b"y")


def test_presigned_post_repr_hides_the_signed_fields() -> None:
    post = PresignedPost("https://h/b", {"policy": "p", "x-amz-signature": "deadbeef"})
    assert "deadbeef" not in repr(post)
    assert post.fields["policy"] == "p"
