"""Block uploads: stage blocks concurrently with bounded memory, commit once.

Staged blocks stay invisible until ``Put Block List`` commits them: if the body fails,
a block fails or the task is cancelled, nothing is committed, the old blob (if any) is
untouched and no new blob appears. Azure discards uncommitted blocks after a week, or
as soon as another upload of the same key commits.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any, cast

from azure.core.exceptions import HttpResponseError
from azure.storage.blob import BlobBlock
from lexigram.storage.azure.errors import block_list_lost
from lexigram.storage.errors import DriverError, ErrorCode
from lexigram.storage.integrity import MD5, b64

if TYPE_CHECKING:
    from azure.storage.blob.aio import BlobClient

__all__ = ["BlockBody", "as_bytes", "md5_header", "upload_blocks"]


def md5_header(digest: bytes) -> dict[str, str]:
    """``Content-MD5`` as a request header: the service refuses a body that differs."""
    return {"Content-MD5": b64(digest)}


def as_bytes(block: bytes | bytearray | memoryview) -> bytes:
    """The SDK sends only ``bytes`` as a plain body: convert, copying only when needed."""
    if isinstance(block, bytes):
        return block
    if (
        isinstance(block, memoryview)
        and isinstance(block.obj, bytes)
        and (block.nbytes == len(block.obj) and block.contiguous)
    ):
        return block.obj
    return bytes(block)


#: piece of a block handed to the socket at a time.
WRITE_PIECE = 256 * 1024

#: detail of an upload whose staged blocks another upload's commit discarded
LOST_RACE = (
    "another upload of this key committed while this one was staging its blocks, which "
    "discarded them; nothing of this upload was stored and the other upload's content is "
    "in place. Upload again if this content should replace it"
)


class BlockBody:
    """A block as a request body that aiohttp writes piece by piece, waiting for the
    socket to drain in between: the transport never buffers a copy of the whole block
    (on Python 3.11 asyncio copies whatever a single write could not send). Iterable
    again from the start, so the SDK's retry of a failed Put Block resends it whole."""

    __slots__ = ("_view",)

    def __init__(self, block: bytes | bytearray | memoryview) -> None:
        self._view = memoryview(block).cast("B")

    def __len__(self) -> int:
        return self._view.nbytes

    def __aiter__(self) -> AsyncIterator[memoryview]:
        return self._pieces()

    async def _pieces(self) -> AsyncIterator[memoryview]:
        view = self._view
        for offset in range(0, view.nbytes, WRITE_PIECE):
            yield view[offset : offset + WRITE_PIECE]


async def _chain(
    first: Iterable[bytes | bytearray | memoryview],
    rest: AsyncIterator[bytes | bytearray | memoryview],
) -> AsyncGenerator[bytes | bytearray | memoryview, None]:
    for block in first:
        yield block
    async for block in rest:
        yield block


async def upload_blocks(
    blob: BlobClient,
    first: Iterable[bytes | bytearray | memoryview],
    rest: AsyncIterator[bytes | bytearray | memoryview],
    *,
    concurrency: int,
    commit: dict[str, Any],
    checksums: bool = True,
) -> tuple[int, dict[str, Any]]:
    """Stage every block (at most ``concurrency`` in flight), then commit them in order.

    ``checksums``: each Put Block carries the block's Content-MD5 (computed in a worker
    thread, beside the event loop and the other blocks), so a block altered in transit
    is refused and nothing is committed.

    Returns the total size and the SDK's commit response. Memory: the blocks in flight
    (at most ``concurrency``) plus the one the body is filling.
    """
    upload_id = uuid.uuid4().hex  # distinct ids: concurrent uploads of a key never mix
    ids: list[str] = []
    pending: set[asyncio.Future[Any]] = set()
    total = 0
    source = _chain(first, rest)
    try:
        while True:
            # Wait for a free slot *before* reading the next block: at most
            # ``concurrency`` blocks are held, in flight or about to be.
            while len(pending) >= concurrency:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()  # the first failure stops the upload
            block = await anext(source, None)
            if block is None:
                break
            block_id = f"{upload_id}-{len(ids):06d}"
            ids.append(block_id)
            data = BlockBody(block)
            total += len(data)
            pending.add(asyncio.ensure_future(_stage(blob, block_id, block, data, checksums)))
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        blocks = [BlobBlock(block_id) for block_id in ids]
        try:
            response = await blob.commit_block_list(blocks, **commit)
        except HttpResponseError as exc:
            if not block_list_lost(exc):
                raise
            raise DriverError(ErrorCode.FAILED_PRECONDITION, LOST_RACE) from exc
        return total, dict(response)
    finally:
        await source.aclose()
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


async def _stage(
    blob: BlobClient,
    block_id: str,
    block: bytes | bytearray | memoryview,
    data: BlockBody,
    checksums: bool,
) -> None:
    """Put Block, with the block's Content-MD5 when ``checksums``."""
    extra: dict[str, Any] = {"headers": md5_header(await MD5.of(block))} if checksums else {}
    await blob.stage_block(block_id, cast(Any, data), length=len(data), **extra)
