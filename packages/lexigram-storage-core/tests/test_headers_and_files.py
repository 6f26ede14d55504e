"""Core policy of HTTP headers, download_file and upload_file, over memory drivers with
faults and capabilities planted."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import attrs
import pytest

from lexigram.storage import (
    BlobStore,
    Capabilities,
    HttpHeaders,
    InvalidArgumentError,
    NotSupportedError,
    StorageUnavailableError,
)
from lexigram.storage.body import UploadBody
from lexigram.storage.memory.driver import MemoryDriver


class NoHeaders(MemoryDriver):
    """A driver that does not declare HTTP headers (as a third-party one may not)."""

    capabilities: ClassVar[Capabilities] = attrs.evolve(
        MemoryDriver.capabilities, http_headers=False
    )
    puts = 0

    async def put(self, key: str, body: UploadBody, **kwargs: Any) -> Any:
        type(self).puts += 1
        assert "headers" not in kwargs  # never passed to a driver that did not ask
        return await super().put(key, body, **kwargs)


class PresignAll(MemoryDriver):
    capabilities: ClassVar[Capabilities] = attrs.evolve(
        MemoryDriver.capabilities, presign_methods=frozenset({"GET", "PUT"})
    )
    seen: ClassVar[list[Any]] = []

    async def presign(self, key: str, request: Any) -> str:
        self.seen.append(request)
        return "https://signed.invalid/" + key


class CutMidStream(MemoryDriver):
    """Yields the first chunk, then fails as a cut connection does."""

    async def stream(
        self, key: str, *, start: int, end: int | None, chunk_size: int, **conditions: Any
    ) -> AsyncIterator[bytes]:
        # **conditions: download_file pins the version it looked up (conditional_read)
        chunks = super().stream(key, start=start, end=end, chunk_size=chunk_size, **conditions)
        async for chunk in chunks:
            yield chunk
            raise ConnectionResetError("connection cut mid-stream")


async def test_headers_on_a_driver_without_them_are_not_supported() -> None:
    store = BlobStore(NoHeaders(), name="plain")
    with pytest.raises(NotSupportedError, match="cache_control"):
        await store.upload("a.txt", b"x", cache_control="no-cache")
    assert NoHeaders.puts == 0 and not await store.exists("a.txt")
    info = await store.upload("a.txt", b"x")  # no header: the driver is called as before
    assert info.cache_control is None and NoHeaders.puts == 1


async def test_bad_header_is_refused_before_the_driver_is_called() -> None:
    store = BlobStore(NoHeaders(), name="plain")
    before = NoHeaders.puts
    with pytest.raises(InvalidArgumentError, match="content_language"):
        await store.upload("a.txt", b"x", content_language="en\r\nX-Evil: 1")
    assert NoHeaders.puts == before


async def test_presign_header_policy() -> None:
    store = BlobStore(PresignAll(), name="p")
    with pytest.raises(InvalidArgumentError, match="cache_control"):
        await store.get_presigned_url("k", timedelta(minutes=1), cache_control="no-cache")
    # PUT: a header the driver cannot bind is NotSupported, not silently dropped
    with pytest.raises(NotSupportedError, match="content_encoding"):
        await store.get_presigned_url("k", timedelta(minutes=1), "PUT", content_encoding="gzip")
    assert PresignAll.seen == []
    with pytest.raises(InvalidArgumentError, match="content_disposition"):
        await store.get_presigned_url("k", timedelta(minutes=1), content_disposition="a\nb")
    url = await store.get_presigned_url("k", timedelta(minutes=1), content_disposition="inline")
    assert url.endswith("/k") and PresignAll.seen[-1].content_disposition == "inline"


async def test_download_file_cut_mid_stream_leaves_target_alone(tmp_path: Path) -> None:
    store = BlobStore(CutMidStream(), name="cut")
    data = os.urandom(3 * 1024 * 1024)
    await store.upload("big.bin", data)
    target = tmp_path / "big.bin"
    target.write_bytes(b"old")
    with pytest.raises(StorageUnavailableError):
        await store.download_file("big.bin", target)
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["big.bin"]


async def test_upload_file_streams_a_file_object_of_known_size(tmp_path: Path) -> None:
    seen: list[UploadBody] = []

    class Recording(MemoryDriver):
        async def put(self, key: str, body: UploadBody, **kwargs: Any) -> Any:
            seen.append(body)
            return await super().put(key, body, **kwargs)

    store = BlobStore(Recording(), name="rec")
    source = tmp_path / "data.json"
    source.write_bytes(b"{}" * 1000)
    info = await store.upload_file("k", source, cache_control="max-age=1")
    body = seen[0]
    assert body.data is None  # streamed from the file, not read into memory first
    assert body.size == 2000
    assert info.content_type == "application/json" and info.cache_control == "max-age=1"


def test_http_headers_record() -> None:
    headers = HttpHeaders(cache_control="no-cache", content_language="en")
    assert bool(headers) and not bool(HttpHeaders())
    assert headers.as_http() == {"Cache-Control": "no-cache", "Content-Language": "en"}
