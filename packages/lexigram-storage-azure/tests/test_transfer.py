"""Block cutting and block bodies (pure, no network)."""

from __future__ import annotations

from lexigram.storage.azure.transfer import WRITE_PIECE, BlockBody, as_bytes


async def test_block_body_is_re_iterable_in_pieces() -> None:
    data = bytes(range(256)) * (3 * WRITE_PIECE // 256 + 1)
    body = BlockBody(bytearray(data))
    assert len(body) == len(data)
    for _ in range(2):  # a retry iterates again from the start
        pieces = [bytes(p) async for p in body]
        assert b"".join(pieces) == data
        assert max(len(p) for p in pieces) == WRITE_PIECE


def test_as_bytes_avoids_copies_of_whole_bytes() -> None:
    raw = b"hello"
    assert as_bytes(raw) is raw
    assert as_bytes(memoryview(raw)) is raw
    assert as_bytes(memoryview(raw)[1:3]) == b"el"
    assert as_bytes(bytearray(b"ab")) == b"ab"
