"""Conformance tests for HTTP headers on objects, local files in and out, and progress
totals: mixed into :class:`~lexigram.storage.testing.BlobStoreConformance`."""

from __future__ import annotations

import asyncio
import gzip
import os
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from lexigram.storage.errors import InvalidArgumentError, NotSupportedError
from lexigram.storage.headers import HEADER_FIELDS
from lexigram.storage.info import BlobInfo
from lexigram.storage.store import BlobStore

__all__ = ["HeadersAndFilesConformance"]

HEADERS: dict[str, Any] = {
    "cache_control": "public, max-age=3600",
    "content_disposition": 'attachment; filename="report.txt"',
    "content_encoding": "gzip",
    "content_language": "de-DE",
}

#: header values every store must refuse (line breaks, control characters, non-Latin-1).
BAD_HEADER_VALUES: list[Any] = [
    "no-cache\r\nX-Injected: 1",
    "line\nbreak",
    "nul\x00",
    "del\x7f",
    "\u6587\u5b57",
    42,
]


def _blob(size: int, seed: int = 3) -> bytes:
    block = bytes((i * 17 + seed) % 253 for i in range(4096))
    return (block * (size // len(block) + 1))[:size]


def _headers_of(info: BlobInfo) -> dict[str, str | None]:
    return {name: getattr(info, name) for name in HEADER_FIELDS}


def _names(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


class _Boom(Exception):
    pass


class HeadersAndFilesConformance:
    """HTTP headers stored with objects; ``upload_file``/``download_file``; totals."""

    large_size: int

    @pytest.fixture
    def files_dir(self, tmp_path: Path) -> Path:
        """An empty local directory of the test's own (the store's root may be tmp_path)."""
        path = tmp_path / f"local-files-{uuid.uuid4().hex[:8]}"
        path.mkdir()
        return path

    # -- HTTP headers ---------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_http_headers_round_trip(self, store: BlobStore, prefix: str) -> None:
        key = prefix + "headers/report.txt"
        data = gzip.compress(b"hello headers " * 100)
        if not store.driver.capabilities.http_headers:
            with pytest.raises(NotSupportedError):
                await store.upload(key, data, **HEADERS)
            assert not await store.exists(key)
            return
        put = await store.upload(key, data, content_type="text/plain", **HEADERS)
        assert _headers_of(put) == HEADERS
        info = await store.info(key)
        assert _headers_of(info) == HEADERS
        assert info.content_type == "text/plain"
        assert info.http_headers.as_http()["Cache-Control"] == HEADERS["cache_control"]
        # content_encoding is a label only: the stored bytes come back exactly
        assert await store.download(key) == data
        assert b"".join([c async for c in store.stream(key)]) == data
        assert await store.download(key, range=(0, 10)) == data[:10]
        listed = [e async for e in store.list(prefix + "headers/")]
        assert [e.path for e in listed] == [key]
        for name, value in HEADERS.items():
            assert getattr(listed[0], name) in (None, value), name

    @pytest.mark.asyncio
    async def test_http_headers_unset_are_none(self, store: BlobStore, prefix: str) -> None:
        key = prefix + "plain.bin"
        put = await store.upload(key, b"x")
        assert set(_headers_of(put).values()) == {None}
        assert set(_headers_of(await store.info(key)).values()) == {None}
        if store.driver.capabilities.http_headers:
            await store.upload(key, b"y", cache_control="no-store")
            info = await store.info(key)
            assert info.cache_control == "no-store"
            assert info.content_encoding is None and info.content_disposition is None

    @pytest.mark.asyncio
    async def test_http_headers_kept_by_copy_and_move(self, store: BlobStore, prefix: str) -> None:
        if not store.driver.capabilities.http_headers:
            return
        src = prefix + "h/src.txt"
        await store.upload(
            src, b"copied", content_type="text/plain", metadata={"a": "1"}, **HEADERS
        )
        await store.copy(src, prefix + "h/copy.txt")
        copied = await store.info(prefix + "h/copy.txt")
        assert _headers_of(copied) == HEADERS
        assert copied.metadata == {"a": "1"} and copied.content_type == "text/plain"
        await store.move(prefix + "h/copy.txt", prefix + "h/moved.txt")
        moved = await store.info(prefix + "h/moved.txt")
        assert _headers_of(moved) == HEADERS
        assert await store.download(prefix + "h/moved.txt") == b"copied"

    @pytest.mark.asyncio
    @pytest.mark.parametrize("argument", list(HEADER_FIELDS))
    @pytest.mark.parametrize("bad", BAD_HEADER_VALUES)
    async def test_bad_header_values_are_refused(
        self, store: BlobStore, prefix: str, argument: str, bad: Any
    ) -> None:
        key = prefix + "bad-header.txt"
        await store.upload(key, b"kept")
        with pytest.raises(InvalidArgumentError, match=argument):
            await store.upload(key, b"replaced", **{argument: bad})
        assert await store.download(key) == b"kept"
        with pytest.raises(InvalidArgumentError, match=argument):
            await store.get_presigned_url(key, timedelta(minutes=5), "PUT", **{argument: bad})

    @pytest.mark.asyncio
    async def test_presigned_put_headers(self, store: BlobStore, prefix: str) -> None:
        key = prefix + "presigned.txt"
        caps = store.driver.capabilities
        for name, value in HEADERS.items():
            if "PUT" in caps.presign_methods and name in caps.presign_put_headers:
                url = await self._presign_or_config_error(store, key, name, value)
                assert url is None or url.startswith(("http://", "https://"))
            else:
                with pytest.raises(NotSupportedError):
                    await store.get_presigned_url(key, timedelta(minutes=5), "PUT", **{name: value})
        if "GET" in caps.presign_methods:
            with pytest.raises(InvalidArgumentError, match="cache_control"):
                await store.get_presigned_url(key, timedelta(minutes=5), cache_control="no-cache")

    @staticmethod
    async def _presign_or_config_error(
        store: BlobStore, key: str, name: str, value: str
    ) -> str | None:
        try:
            return await store.get_presigned_url(key, timedelta(minutes=5), "PUT", **{name: value})
        except NotSupportedError as exc:
            # a driver may need config for URLs at all (local: signing_key, base_url)
            assert "signing" in str(exc) or "base_url" in str(exc), exc
            return None

    # -- files ----------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_upload_file_streams_with_total_and_guesses_type(
        self, store: BlobStore, prefix: str, files_dir: Path
    ) -> None:
        data = _blob(self.large_size)
        source = files_dir / "picture.png"
        source.write_bytes(data)
        seen: list[tuple[int, int | None]] = []
        key = prefix + "files/no-extension"
        info = await store.upload_file(key, source, progress=lambda d, t: seen.append((d, t)))
        assert info.size == len(data)
        assert info.content_type == "image/png"
        assert seen and all(total == len(data) for _, total in seen)
        assert seen[-1][0] == len(data)
        assert await store.download(key) == data
        # a str path; a given content type wins; upload options pass through
        info = await store.upload_file(
            prefix + "files/b", str(source), content_type="application/x-mine", metadata={"k": "v"}
        )
        assert info.content_type == "application/x-mine"
        got = await store.info(prefix + "files/b")
        assert got.content_type == "application/x-mine" and got.metadata == {"k": "v"}
        # no guess from the file name: the key's extension decides, as for upload()
        plain = files_dir / "no_extension"
        plain.write_bytes(b"abc")
        assert (await store.upload_file(prefix + "files/c.txt", plain)).content_type == "text/plain"

    @pytest.mark.asyncio
    async def test_upload_accepts_a_path(
        self, store: BlobStore, prefix: str, files_dir: Path
    ) -> None:
        source = files_dir / "body.bin"
        source.write_bytes(b"from a path")
        seen: list[tuple[int, int | None]] = []
        info = await store.upload(
            prefix + "p.bin", source, progress=lambda d, t: seen.append((d, t))
        )
        assert info.size == 11
        assert seen[-1] == (11, 11)
        assert await store.download(prefix + "p.bin") == b"from a path"

    @pytest.mark.asyncio
    async def test_upload_file_bad_source(
        self, store: BlobStore, prefix: str, files_dir: Path
    ) -> None:
        key = prefix + "bad-source"
        with pytest.raises(InvalidArgumentError, match="source"):
            await store.upload_file(key, files_dir / "missing.bin")
        with pytest.raises(InvalidArgumentError, match="source"):
            await store.upload_file(key, files_dir)  # a directory
        with pytest.raises(InvalidArgumentError, match="source"):
            await store.upload_file(key, 42)  # type: ignore[arg-type]
        if hasattr(os, "mkfifo"):
            fifo = files_dir / "fifo"
            os.mkfifo(fifo)
            with pytest.raises(InvalidArgumentError, match="source"):
                await store.upload_file(key, fifo)  # refused, never waited on
        assert not await store.exists(key)

    @pytest.mark.asyncio
    async def test_download_file(self, store: BlobStore, prefix: str, files_dir: Path) -> None:
        data = _blob(self.large_size, seed=9)
        key = prefix + "dl/object.bin"
        await store.upload(key, data)
        target = files_dir / "out.bin"
        target.write_bytes(b"old content")
        seen: list[tuple[int, int | None]] = []
        info = await store.download_file(key, target, progress=lambda d, t: seen.append((d, t)))
        assert target.read_bytes() == data
        assert info.size == len(data) and info.path == key
        assert info.last_modified is not None
        assert abs(target.stat().st_mtime - info.last_modified.timestamp()) < 0.001
        assert seen and all(t == len(data) for _, t in seen) and seen[-1][0] == len(data)
        assert _names(files_dir) == ["out.bin"]
        await store.download_file(key, str(files_dir / "part.bin"), range=(10, 1000))
        assert (files_dir / "part.bin").read_bytes() == data[10:1000]

    @pytest.mark.asyncio
    async def test_download_file_keeps_bytes_of_gzip_encoded_object(
        self, store: BlobStore, prefix: str, files_dir: Path
    ) -> None:
        if not store.driver.capabilities.http_headers:
            return
        data = gzip.compress(_blob(200_000))
        key = prefix + "dl/page.html"
        await store.upload(key, data, content_type="text/html", content_encoding="gzip")
        await store.download_file(key, files_dir / "page.html.gz")
        assert (files_dir / "page.html.gz").read_bytes() == data
        buf = bytearray(len(data))
        assert await store.download_into(key, buf) == len(data) and bytes(buf) == data

    @pytest.mark.asyncio
    @pytest.mark.parametrize("fault", ["error", "cancel"])
    async def test_download_file_never_half_writes(
        self, store: BlobStore, prefix: str, files_dir: Path, fault: str
    ) -> None:
        data = _blob(self.large_size, seed=5)
        key = prefix + "dl/big.bin"
        await store.upload(key, data)
        target = files_dir / "keep.bin"
        target.write_bytes(b"previous")

        def planted(done: int, total: int | None) -> None:
            # the fault strikes mid-stream: after some bytes were written to disk
            if 0 < done < len(data):
                if fault == "error":
                    raise _Boom("fault planted mid-stream")
                task = asyncio.current_task()
                assert task is not None
                task.cancel()

        expected: type[BaseException] = _Boom if fault == "error" else asyncio.CancelledError
        with pytest.raises(expected):
            await store.download_file(key, target, progress=planted)
        assert target.read_bytes() == b"previous"
        assert _names(files_dir) == ["keep.bin"]
        fresh = files_dir / "fresh.bin"
        with pytest.raises(expected):
            await store.download_file(key, fresh, progress=planted)
        assert not fresh.exists()
        assert _names(files_dir) == ["keep.bin"]

    @pytest.mark.asyncio
    async def test_download_file_bad_target(
        self, store: BlobStore, prefix: str, files_dir: Path
    ) -> None:
        key = prefix + "dl/x.bin"
        await store.upload(key, b"x")
        with pytest.raises(InvalidArgumentError, match="target"):
            await store.download_file(key, files_dir)  # a directory
        with pytest.raises(InvalidArgumentError, match="target"):
            await store.download_file(key, files_dir / "no" / "such" / "dir.bin")
        with pytest.raises(FileNotFoundError):  # BlobNotFoundError
            await store.download_file(prefix + "dl/missing", files_dir / "m.bin")
        assert _names(files_dir) == []

    # -- progress totals ------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_stream_and_download_progress_have_a_total(
        self, store: BlobStore, prefix: str
    ) -> None:
        data = _blob(self.large_size, seed=1)
        key = prefix + "progress.bin"
        await store.upload(key, data)
        seen: list[tuple[int, int | None]] = []
        got = b"".join(
            [c async for c in store.stream(key, progress=lambda d, t: seen.append((d, t)))]
        )
        assert got == data
        assert seen and all(t == len(data) for _, t in seen)
        seen.clear()
        part = await store.download(
            key, range=(100, None), progress=lambda d, t: seen.append((d, t))
        )
        assert part == data[100:]
        assert seen and all(t == len(data) - 100 for _, t in seen)
        seen.clear()
        await store.download(
            key, range=(5, len(data) + 50), progress=lambda d, t: seen.append((d, t))
        )
        assert seen[-1] == (len(data) - 5, len(data) - 5)
