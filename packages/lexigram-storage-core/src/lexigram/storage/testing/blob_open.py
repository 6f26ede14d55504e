"""Conformance of ``BlobStore.open`` (seekable readers, streaming writers) and
``get_presigned_post``: a mixin of :class:`~lexigram.storage.testing.BlobStoreConformance`."""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib
from datetime import timedelta
from typing import Any

import pytest

from lexigram.storage.errors import (
    BlobNotFoundError,
    InvalidArgumentError,
    NotSupportedError,
    PreconditionFailedError,
)
from lexigram.storage.presigned_post import PresignedPost
from lexigram.storage.store import BlobStore

__all__ = ["BlobFileConformance", "make_zip", "read_zip_member"]


def make_zip(members: int = 40, member_size: int = 64 * 1024) -> tuple[bytes, dict[str, bytes]]:
    """A real zip archive of incompressible members, and its members by name."""
    contents = {f"m{i:03d}.bin": os.urandom(member_size) for i in range(members)}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in contents.items():
            archive.writestr(name, data)
    return out.getvalue(), contents


async def read_zip_member(reader: Any, name: str) -> bytes:
    """Read one member of a zip archive the way zip readers do: find the end of central
    directory by seeking from the end, read the central directory, then seek to the
    member's local header and read its data only."""
    tail = min(reader.size, 22 + 0xFFFF)
    reader.seek(-tail, os.SEEK_END)
    end = await reader.read(tail)
    at = end.rfind(b"PK\x05\x06")
    assert at >= 0, "no end of central directory"
    cd_size, cd_offset = struct.unpack("<II", end[at + 12 : at + 20])
    reader.seek(cd_offset)
    directory = await reader.read(cd_size)
    pos = 0
    while pos < len(directory):
        assert directory[pos : pos + 4] == b"PK\x01\x02"
        method, _, _, crc, csize, _usize, nlen, xlen, clen = struct.unpack(
            "<HHHIIIHHH", directory[pos + 10 : pos + 34]
        )
        local = struct.unpack("<I", directory[pos + 42 : pos + 46])[0]
        entry = directory[pos + 46 : pos + 46 + nlen].decode()
        pos += 46 + nlen + xlen + clen
        if entry != name:
            continue
        reader.seek(local)
        header = await reader.read(30)
        lnlen, lxlen = struct.unpack("<HH", header[26:30])
        reader.seek(lnlen + lxlen, os.SEEK_CUR)
        raw = await reader.read(csize)
        data = zlib.decompress(raw, -15) if method == zipfile.ZIP_DEFLATED else raw
        assert zlib.crc32(data) == crc
        return data
    raise KeyError(name)


class BlobFileConformance:
    """``open`` and ``get_presigned_post`` against the ``store`` fixture."""

    # -- readers --------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_open_reads_a_zip_by_ranges(self, store: BlobStore, prefix: str) -> None:
        archive, contents = make_zip()
        key = prefix + "archive.zip"
        await store.upload(key, archive)
        async with store.open(key, block_size=16 * 1024) as reader:
            assert reader.size == len(archive)
            data = await read_zip_member(reader, "m017.bin")
            assert data == contents["m017.bin"]
            # the tail, the central directory and one member: far less than the archive
            assert reader.bytes_fetched < len(archive) // 10, reader.bytes_fetched

    @pytest.mark.asyncio
    async def test_open_read_seek_tell(self, store: BlobStore, prefix: str) -> None:
        payload = bytes(range(256)) * 64
        key = prefix + "seek.bin"
        await store.upload(key, payload)
        async with store.open(key, block_size=1000) as f:
            assert f.tell() == 0
            assert await f.read(10) == payload[:10]
            assert f.seek(100) == 100
            assert await f.read(3000) == payload[100:3100]
            assert f.seek(-5, os.SEEK_CUR) == 3095
            buf = bytearray(10)
            assert await f.readinto(buf) == 10
            assert bytes(buf) == payload[3095:3105]
            assert f.seek(-7, os.SEEK_END) == len(payload) - 7
            assert await f.read() == payload[-7:]
            assert await f.read(5) == b""
            f.seek(len(payload) + 50)
            assert await f.read(1) == b""
            f.seek(0)
            assert await f.read() == payload
            with pytest.raises(InvalidArgumentError):
                f.seek(-1)
            with pytest.raises(InvalidArgumentError):
                f.seek(0, 3)
        assert f.closed

    @pytest.mark.asyncio
    async def test_open_empty_and_missing(self, store: BlobStore, prefix: str) -> None:
        await store.upload(prefix + "empty", b"")
        async with store.open(prefix + "empty") as f:
            assert f.size == 0
            assert await f.read() == b""
        with pytest.raises(BlobNotFoundError):
            async with store.open(prefix + "missing"):
                pass

    @pytest.mark.asyncio
    async def test_open_pins_the_version(self, store: BlobStore, prefix: str) -> None:
        key = prefix + "pinned.bin"
        first = b"a" * 50_000
        await store.upload(key, first)
        async with store.open(key, block_size=1000) as f:
            assert await f.read(10) == b"a" * 10
            await store.upload(key, b"b" * 50_000)
            f.seek(20_000)
            with pytest.raises(PreconditionFailedError) as caught:
                await f.read(10)
            assert key in str(caught.value)

    @pytest.mark.asyncio
    @pytest.mark.parametrize("mode", ["r", "w", "ab", "r+b", "rt", ""])
    async def test_open_bad_mode(self, store: BlobStore, prefix: str, mode: str) -> None:
        with pytest.raises(InvalidArgumentError) as caught:
            store.open(prefix + "k", mode)
        assert repr(mode) in str(caught.value) and "mode" in str(caught.value)

    # -- writers --------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_open_write_streams_an_upload(self, store: BlobStore, prefix: str) -> None:
        key = prefix + "written.bin"
        piece = os.urandom(100_003)
        size = 6 * 1024 * 1024 + 17
        sent = bytearray()
        async with store.open(
            key, "wb", content_type="application/x-test", metadata={"origin": "writer"}
        ) as w:
            while len(sent) < size:
                part = piece[: size - len(sent)]
                assert await w.write(part) == len(part)
                sent += part
        assert w.info is not None and w.info.size == size
        assert await store.download(key) == bytes(sent)
        info = await store.info(key)
        assert info.content_type == "application/x-test"
        assert info.metadata.get("origin") == "writer"

    @pytest.mark.asyncio
    async def test_open_write_nothing_stores_empty(self, store: BlobStore, prefix: str) -> None:
        async with store.open(prefix + "nothing", "wb"):
            pass
        assert await store.download(prefix + "nothing") == b""

    @pytest.mark.asyncio
    async def test_open_write_aborted_by_an_exception(self, store: BlobStore, prefix: str) -> None:
        key = prefix + "aborted.bin"
        old = prefix + "kept.bin"
        await store.upload(old, b"old content")

        class Boom(Exception):
            pass

        for target in (key, old):
            with pytest.raises(Boom):
                async with store.open(target, "wb") as w:
                    await w.write(os.urandom(6 * 1024 * 1024))  # more than one part
                    raise Boom
        assert not await store.exists(key)
        assert await store.download(old) == b"old content"
        assert [i.path async for i in store.list(prefix)] == [old]

    # -- presigned POST -------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_presigned_post_or_not_supported(self, store: BlobStore, prefix: str) -> None:
        key = prefix + "posted.bin"
        if not store.driver.capabilities.presign_post:
            with pytest.raises(NotSupportedError) as caught:
                await store.get_presigned_post(key, expires_in=timedelta(minutes=5))
            assert store.driver.name in str(caught.value)
            assert "get_presigned_post" in str(caught.value)
            return
        post = await store.get_presigned_post(
            key,
            expires_in=timedelta(minutes=5),
            content_type="image/png",
            max_size=1000,
            metadata={"owner": "u1"},
        )
        assert isinstance(post, PresignedPost)
        assert post.url
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in post.fields.items())

    @pytest.mark.asyncio
    @pytest.mark.parametrize(
        ("kwargs", "named"),
        [
            ({"expires_in": timedelta(0)}, "expires_in"),
            ({"expires_in": timedelta(days=3650)}, "expires_in"),
            ({"expires_in": 60}, "expires_in"),
            ({"expires_in": timedelta(minutes=5), "max_size": -1}, "max_size"),
            ({"expires_in": timedelta(minutes=5), "max_size": 1.5}, "max_size"),
            ({"expires_in": timedelta(minutes=5), "content_type": "not a type"}, "content_type"),
        ],
    )
    async def test_presigned_post_bad_arguments(
        self, store: BlobStore, prefix: str, kwargs: dict[str, Any], named: str
    ) -> None:
        with pytest.raises(InvalidArgumentError) as caught:
            await store.get_presigned_post(prefix + "k", **kwargs)
        assert named in str(caught.value)
