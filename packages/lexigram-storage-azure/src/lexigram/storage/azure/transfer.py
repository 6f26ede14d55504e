"""Block uploads: Put Block per part through the core's part pump, one Put Block List.

Staged blocks stay invisible until ``Put Block List`` commits them: if the body fails,
a block fails or the task is cancelled, nothing is committed, the old blob (if any) is
untouched and no new blob appears. Azure discards uncommitted blocks after a week, or
as soon as another upload of the same key commits.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterable, AsyncIterator
from typing import TYPE_CHECKING, Any, cast

from azure.core.exceptions import HttpResponseError
from azure.storage.blob import BlobBlock
from lexigram.storage.azure.errors import block_list_lost
from lexigram.storage.errors import DriverError, ErrorCode
from lexigram.storage.integrity import MD5, b64
from lexigram.storage.transfer import Part, upload_parts

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


class _StagedBlocks:
    """The SDK calls of a block upload, run by the core's part pump: Put Block per part
    (with its Content-MD5), nothing to abort (uncommitted blocks are never visible, and
    Azure drops them after a week or at the next commit of the key)."""

    def __init__(self, blob: BlobClient, checksums: bool) -> None:
        self.blob = blob
        self.checksums = checksums
        self.upload_id = uuid.uuid4().hex  # distinct ids: concurrent uploads never mix

    async def send(self, part: Part[bytes | bytearray | memoryview]) -> tuple[str, int]:
        block = part.data
        block_id = f"{self.upload_id}-{part.number - 1:06d}"
        data = BlockBody(block)
        # the MD5 in a worker thread when the block is large: beside the event loop
        extra: dict[str, Any] = (
            {"headers": md5_header(await MD5.of(block))} if self.checksums else {}
        )
        await self.blob.stage_block(block_id, cast(Any, data), length=len(data), **extra)
        return block_id, len(data)

    async def abort(self) -> None:
        return None


async def upload_blocks(
    blob: BlobClient,
    blocks: AsyncIterable[bytes | bytearray | memoryview],
    *,
    concurrency: int,
    commit: dict[str, Any],
    checksums: bool = True,
) -> tuple[int, dict[str, Any]]:
    """Stage every block through the core's part pump (at most ``concurrency`` in
    flight), then commit them in order. A failed Put Block is retried by the SDK's own
    retry policy (transient failures); the pump does not send a block again.

    ``checksums``: each Put Block carries the block's Content-MD5 (computed in a worker
    thread when large, beside the event loop and the other blocks), so a block altered
    in transit is refused and nothing is committed (the old blob stays).

    Returns the total size and the SDK's commit response. Memory: at most
    ``concurrency`` blocks, in flight or being filled.
    """
    staged = _StagedBlocks(blob, checksums)

    async def commit_blocks(results: list[tuple[str, int]]) -> tuple[int, dict[str, Any]]:
        try:
            response = await blob.commit_block_list(
                [BlobBlock(block_id) for block_id, _ in results], **commit
            )
        except HttpResponseError as exc:
            if not block_list_lost(exc):
                raise
            raise DriverError(ErrorCode.FAILED_PRECONDITION, LOST_RACE) from exc
        return sum(size for _, size in results), dict(response)

    return await upload_parts(
        staged,
        blocks,
        concurrency=concurrency,
        commit=commit_blocks,
    )
