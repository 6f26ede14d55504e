"""UploadBody: every kind of data, blocks of exact size, one copy per streamed block."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import pytest

from lexigram.storage import UploadBody


async def source(pieces: list[bytes]) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


@pytest.mark.parametrize(
    ("pieces", "size"),
    [
        ([b"abc", b"defgh", b"ij"], 4),
        ([b"x" * 10], 3),
        ([b"a", b"b", b"c", b"d"], 2),
        ([b"12345678"], 8),
        ([], 5),
    ],
)
async def test_stream_blocks_are_exact(pieces: list[bytes], size: int) -> None:
    body = UploadBody.from_data(source(pieces))
    blocks = [bytes(b) async for b in body.blocks(size)]
    data = b"".join(pieces)
    if not data:
        assert blocks == [b""]
        return
    assert b"".join(blocks) == data
    assert all(len(b) == size for b in blocks[:-1])
    assert 0 < len(blocks[-1]) <= size


async def test_stream_blocks_are_fresh_buffers() -> None:
    blocks = [b async for b in UploadBody.from_data(source([b"aaaa", b"bbbb"])).blocks(4)]
    assert blocks == [bytearray(b"aaaa"), bytearray(b"bbbb")]
    assert blocks[0] is not blocks[1]


async def test_in_memory_blocks_are_zero_copy_views() -> None:
    data = b"0123456789"
    blocks = [b async for b in UploadBody.from_data(data).blocks(4)]
    assert [bytes(b) for b in blocks] == [b"0123", b"4567", b"89"]
    assert all(isinstance(b, memoryview) and b.obj is data for b in blocks)


async def test_progress_and_single_use() -> None:
    calls: list[tuple[int, int | None]] = []
    body = UploadBody.from_data(io.BytesIO(b"x" * 10), progress=lambda d, t: calls.append((d, t)))
    assert [bytes(b) async for b in body.blocks(4)] == [b"xxxx", b"xxxx", b"xx"]
    assert calls == [(4, 10), (8, 10), (10, 10)]
    with pytest.raises(RuntimeError, match="once"):
        await body.read_all()


async def test_bytes_are_handed_out_uncopied() -> None:
    data = b"payload" * 100
    assert await UploadBody.from_data(data).read_all() is data


@pytest.mark.parametrize("bad", ["text", 1, object()])
def test_non_binary_data(bad: object) -> None:
    with pytest.raises(TypeError):
        UploadBody.from_data(bad)
