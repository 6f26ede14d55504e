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


class _File(io.RawIOBase):
    """A binary file whose readinto returns at most ``most`` bytes a call (short reads)."""

    def __init__(self, data: bytes, most: int) -> None:
        self._buf = io.BytesIO(data)
        self._most = most
        self.readinto_calls = 0
        self.read_calls = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        self.readinto_calls += 1
        view = memoryview(b)[: self._most]
        return self._buf.readinto(view)

    def read(self, size: int = -1) -> bytes:
        self.read_calls += 1
        return self._buf.read(size)


@pytest.mark.parametrize(("size", "block"), [(10, 4), (12, 4), (0, 4), (3, 8)])
async def test_file_blocks_are_read_in_place(size: int, block: int) -> None:
    data = bytes(range(size))
    f = _File(data, most=3)
    calls: list[tuple[int, int | None]] = []
    body = UploadBody.from_data(f, size=size, progress=lambda d, t: calls.append((d, t)))
    blocks = [bytes(b) async for b in body.blocks(block)]
    assert b"".join(blocks) == data
    assert blocks == ([b""] if not data else [data[i : i + block] for i in range(0, size, block)])
    assert f.readinto_calls > 0 and f.read_calls == 0  # readinto, never read() + a copy
    assert (calls[-1][0] if calls else 0) == size


async def test_file_errors_are_the_callers_own() -> None:
    class Broken(_File):
        def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
            raise OSError("disk gone")

    body = UploadBody.from_data(Broken(b"abc", 3))
    with pytest.raises(OSError, match="disk gone"):
        async for _ in body.blocks(4):
            pass
    assert isinstance(body.source_error, OSError)


@pytest.mark.parametrize("kind", ["stream", "file"])
async def test_ring_blocks_reuse_buffers_in_turn(kind: str) -> None:
    data = bytes(range(200)) * 3  # 600 bytes: blocks of 128, the last of 88
    pieces = [data[i : i + 50] for i in range(0, 600, 50)]
    body = UploadBody.from_data(source(pieces) if kind == "stream" else _File(data, 7))
    seen: list[bytes] = []
    owners: list[int] = []
    held: list[memoryview | bytearray] = []
    async for block in body.blocks(128, ring=2):
        if held:
            # the block asked for before this one is still intact (read one ahead)
            assert bytes(held[-1]) == seen[-1]
        seen.append(bytes(block))
        owners.append(id(block.obj if isinstance(block, memoryview) else block))
        held = [block]
    assert b"".join(seen) == data and [len(b) for b in seen] == [128] * 4 + [88]
    assert len(set(owners)) == 2  # two buffers, used in turn


async def test_ring_must_be_zero_or_at_least_two() -> None:
    with pytest.raises(ValueError, match="ring"):
        async for _ in UploadBody.from_data(source([b"x"])).blocks(4, ring=1):
            pass
