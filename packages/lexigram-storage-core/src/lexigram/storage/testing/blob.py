"""The blob-store conformance suite, public for third-party driver authors.

Subclass :class:`BlobStoreConformance` in a test module and provide a ``store``
fixture that yields a fresh :class:`~lexigram.storage.BlobStore` over your driver::

    import pytest_asyncio
    from lexigram.storage import BlobStore
    from lexigram.storage.testing import BlobStoreConformance

    class TestMyDriver(BlobStoreConformance):
        @pytest_asyncio.fixture
        async def store(self):
            store = BlobStore(MyDriver(...), name="conformance")
            yield store
            await store.close()          # must tolerate a store the kit already closed

Every test is an ``asyncio`` test and works in pytest-asyncio's strict and auto modes.
Capability-gated behaviour is never skipped: where a driver declares it cannot do
something, the test asserts that the store raises ``NotSupportedError`` instead.
Tests work under a fresh random prefix, so a store may be shared between tests.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import tempfile
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, timedelta
from typing import Any

import pytest

from lexigram.storage.errors import (
    BlobExistsError,
    BlobNotFoundError,
    InvalidArgumentError,
    InvalidKeyError,
    NotSupportedError,
    StorageError,
    StoreClosedError,
)
from lexigram.storage.info import BlobInfo
from lexigram.storage.store import BlobStore
from lexigram.storage.testing.agreements import DriverAgreements
from lexigram.storage.testing.blob_conditional import ConditionalOpsConformance
from lexigram.storage.testing.blob_files import HeadersAndFilesConformance
from lexigram.storage.testing.blob_open import BlobFileConformance
from lexigram.storage.testing.blob_pinning import ReaderPinningConformance

__all__ = ["INVALID_KEYS", "UNUSUAL_KEYS", "BlobStoreConformance"]

#: keys every store must refuse with InvalidKeyError.
INVALID_KEYS: list[Any] = [
    "",
    "/leading",
    "a//b",
    "trailing/",
    ".",
    "..",
    "a/./b",
    "a/../b",
    "../escape",
    "nul\x00byte",
    "tab\tkey",
    "new\nline",
    "del\x7fchar",
    "c1\x85control",
    "x" * 1025,
    "é" * 513,  # 1026 bytes of UTF-8
    "lone\ud800surrogate",
]

#: keys every store must accept and give back exactly.
UNUSUAL_KEYS: list[str] = [
    "with space.txt",
    "ünïcödé/文字/🎉.bin",
    "plus+percent%25?query#hash&amp=eq;semi",
    "quote'double\"back\\slash",
    "x" * 200,
    "dir.with.dots/file...name",
    "-dash/_under/~tilde",
]


class _Pieces:
    """An async iterable of bytes in fixed pieces, optionally failing midway."""

    def __init__(self, data: bytes, piece: int, fail_after: int | None = None) -> None:
        self.data, self.piece, self.fail_after = data, piece, fail_after

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._gen()

    async def _gen(self) -> AsyncIterator[bytes]:
        for n, offset in enumerate(range(0, len(self.data), self.piece)):
            if self.fail_after is not None and n >= self.fail_after:
                raise _SourceFailed("the source failed midway")
            await asyncio.sleep(0)
            yield self.data[offset : offset + self.piece]


class _SourceFailed(Exception):
    pass


class _AsyncFile:
    """A minimal async binary file object (like aiofiles')."""

    def __init__(self, data: bytes) -> None:
        self._buf = io.BytesIO(data)

    async def read(self, size: int = -1) -> bytes:
        await asyncio.sleep(0)
        return self._buf.read(size)


def _payload(size: int, seed: int = 0) -> bytes:
    # Deterministic, not all the same byte, cheap to build for several MiB.
    block = bytes((i * 31 + seed) % 251 for i in range(4096))
    return (block * (size // len(block) + 1))[:size]


async def _collect(source: AsyncIterator[BlobInfo]) -> list[BlobInfo]:
    return [item async for item in source]


class BlobStoreConformance(
    DriverAgreements,
    HeadersAndFilesConformance,
    BlobFileConformance,
    ConditionalOpsConformance,
    ReaderPinningConformance,
):
    """Tests every method of the public blob API against the ``store`` fixture."""

    #: size of the "larger than one chunk" body (bytes).
    large_size: int = 5 * 1024 * 1024 + 123
    #: keys created for the pagination test (more than one page of S3's 1000).
    list_many: int = 1005

    @pytest.fixture
    def prefix(self) -> str:
        return f"conformance-{uuid.uuid4().hex[:10]}/"

    # -- upload and download --------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_round_trip_bytes(self, store: BlobStore, prefix: str) -> None:
        key = prefix + "hello.txt"
        info = await store.upload(key, b"hello world")
        assert info.path == key
        assert info.size == 11
        assert await store.download(key) == b"hello world"

    @pytest.mark.asyncio
    @pytest.mark.parametrize(
        "kind", ["bytearray", "memoryview", "bytesio", "file", "async_file", "async_iter"]
    )
    async def test_upload_accepts_every_data_kind(
        self, store: BlobStore, prefix: str, kind: str
    ) -> None:
        data = _payload(300_000, seed=7)
        key = prefix + f"kinds/{kind}.bin"
        source: Any
        if kind == "bytearray":
            source = bytearray(data)
        elif kind == "memoryview":
            source = memoryview(data)
        elif kind == "bytesio":
            source = io.BytesIO(data)
        elif kind == "async_file":
            source = _AsyncFile(data)
        elif kind == "async_iter":
            source = _Pieces(data, 65_536)
        else:
            with tempfile.TemporaryFile() as fh:
                fh.write(data)
                fh.seek(0)
                await store.upload(key, fh)
            assert await store.download(key) == data
            return
        info = await store.upload(key, source)
        assert info.size == len(data)
        assert await store.download(key) == data

    @pytest.mark.asyncio
    async def test_empty_object(self, store: BlobStore, prefix: str) -> None:
        key = prefix + "empty"
        info = await store.upload(key, b"")
        assert info.size == 0
        assert await store.download(key) == b""
        assert (await store.info(key)).size == 0
        assert [c async for c in store.stream(key)] in ([], [b""])

    @pytest.mark.asyncio
    @pytest.mark.parametrize("bad", ["text", 42, None, ["list"]])
    async def test_non_bytes_data_is_a_type_error(
        self, store: BlobStore, prefix: str, bad: Any
    ) -> None:
        key = prefix + "typed"
        with pytest.raises(TypeError):
            await store.upload(key, bad)
        assert not await store.exists(key)

    @pytest.mark.asyncio
    async def test_overwrite_replaces(self, store: BlobStore, prefix: str) -> None:
        key = prefix + "over"
        await store.upload(key, b"first version")
        await store.upload(key, b"second")
        assert await store.download(key) == b"second"
        assert (await store.info(key)).size == 6

    @pytest.mark.asyncio
    async def test_large_streamed_round_trip(self, store: BlobStore, prefix: str) -> None:
        data = _payload(self.large_size, seed=3)
        key = prefix + "large.bin"
        info = await store.upload(key, _Pieces(data, 256 * 1024))
        assert info.size == len(data)
        chunk_size = 256 * 1024
        chunks = [c async for c in store.stream(key, chunk_size=chunk_size)]
        assert len(chunks) > 1
        assert max(len(c) for c in chunks) <= chunk_size
        assert b"".join(chunks) == data
        assert await store.download(key) == data

    @pytest.mark.asyncio
    async def test_failing_stream_keeps_old_content(self, store: BlobStore, prefix: str) -> None:
        key = prefix + "keep"
        await store.upload(key, b"old content")
        with pytest.raises(_SourceFailed):
            await store.upload(key, _Pieces(_payload(3 * 1024 * 1024), 256 * 1024, fail_after=5))
        assert await store.download(key) == b"old content"
        fresh = prefix + "never"
        with pytest.raises(_SourceFailed):
            await store.upload(fresh, _Pieces(_payload(1024 * 1024), 4096, fail_after=2))
        assert not await store.exists(fresh)

    @pytest.mark.asyncio
    async def test_concurrent_uploads_and_downloads(self, store: BlobStore, prefix: str) -> None:
        bodies = {prefix + f"conc/{i:02d}": _payload(10_000 + i, seed=i) for i in range(20)}
        await asyncio.gather(*(store.upload(k, v) for k, v in bodies.items()))
        got = await asyncio.gather(*(store.download(k) for k in bodies))
        assert dict(zip(bodies, got, strict=True)) == bodies

    # -- content type and metadata --------------------------------------------------------

    @pytest.mark.asyncio
    async def test_content_type_given_and_guessed(self, store: BlobStore, prefix: str) -> None:
        await store.upload(prefix + "a.bin", b"x", content_type="image/png")
        assert (await store.info(prefix + "a.bin")).content_type == "image/png"
        await store.upload(prefix + "photo.jpg", b"x")
        assert (await store.info(prefix + "photo.jpg")).content_type == "image/jpeg"
        await store.upload(prefix + "noext", b"x")
        assert (await store.info(prefix + "noext")).content_type == "application/octet-stream"

    @pytest.mark.asyncio
    async def test_metadata_round_trip(self, store: BlobStore, prefix: str) -> None:
        key = prefix + "meta.txt"
        meta = {"owner": "42", "source_app": "conformance kit"}
        if not store.driver.capabilities.metadata:
            with pytest.raises(NotSupportedError):
                await store.upload(key, b"x", metadata=meta)
            return
        await store.upload(key, b"x", metadata=meta)
        assert dict((await store.info(key)).metadata) == meta

    @pytest.mark.asyncio
    @pytest.mark.parametrize(
        "meta", [{"Bad-Name": "x"}, {"ok": "naïve"}, {"ok": "line\nbreak"}, {"": "x"}]
    )
    async def test_invalid_metadata_is_refused(
        self, store: BlobStore, prefix: str, meta: dict[str, str]
    ) -> None:
        key = prefix + "badmeta"
        with pytest.raises((InvalidArgumentError, NotSupportedError)):
            await store.upload(key, b"x", metadata=meta)
        assert not await store.exists(key)

    # -- create mode ----------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_create_mode(self, store: BlobStore, prefix: str) -> None:
        key = prefix + "create"
        if not store.driver.capabilities.create_only:
            with pytest.raises(NotSupportedError):
                await store.upload(key, b"x", mode="create")
            return
        await store.upload(key, b"first", mode="create")
        with pytest.raises(BlobExistsError) as caught:
            await store.upload(key, b"second", mode="create")
        assert key in str(caught.value)
        assert isinstance(caught.value, FileExistsError)
        assert await store.download(key) == b"first"
        streamed = prefix + "create-stream"
        await store.upload(streamed, _Pieces(b"s" * 100_000, 10_000), mode="create")
        with pytest.raises(BlobExistsError):
            await store.upload(streamed, _Pieces(b"t" * 100_000, 10_000), mode="create")
        assert await store.download(streamed) == b"s" * 100_000

    @pytest.mark.asyncio
    async def test_create_mode_race_has_one_winner(self, store: BlobStore, prefix: str) -> None:
        if not store.driver.capabilities.create_only:
            return  # covered by test_create_mode (NotSupportedError)
        key = prefix + "race"
        bodies = [f"writer {i}".encode() * 1000 for i in range(8)]
        results = await asyncio.gather(
            *(store.upload(key, b, mode="create") for b in bodies), return_exceptions=True
        )
        winners = [i for i, r in enumerate(results) if isinstance(r, BlobInfo)]
        losers = [r for r in results if isinstance(r, BaseException)]
        assert len(winners) == 1, results
        assert all(isinstance(r, BlobExistsError) for r in losers), losers
        assert await store.download(key) == bodies[winners[0]]

    @pytest.mark.asyncio
    async def test_invalid_mode(self, store: BlobStore, prefix: str) -> None:
        with pytest.raises(InvalidArgumentError):
            await store.upload(prefix + "m", b"x", mode="append")  # type: ignore[arg-type]

    # -- ranges and streaming ---------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_ranges_are_slices(self, store: BlobStore, prefix: str) -> None:
        data = bytes(range(256)) * 4
        key = prefix + "ranged"
        await store.upload(key, data)
        for rng in [
            (0, 5),
            (5, None),
            (100, 200),
            (2, 2),
            (0, len(data)),
            (3, len(data) + 100),
            (len(data) - 1, None),
        ]:
            assert await store.download(key, range=rng) == data[rng[0] : rng[1]], rng
            joined = b"".join([c async for c in store.stream(key, range=rng, chunk_size=64)])
            assert joined == data[rng[0] : rng[1]], rng
        assert await store.download(key, range=(len(data), None)) == b""
        assert await store.download(key, range=(len(data) + 10, None)) == b""

    @pytest.mark.asyncio
    async def test_download_into_a_buffer(self, store: BlobStore, prefix: str) -> None:
        small, large = bytes(range(256)) * 4, _payload(self.large_size, seed=5)
        await store.upload(prefix + "small", small)
        await store.upload(prefix + "large", _Pieces(large, 256 * 1024))
        for key, data in ((prefix + "small", small), (prefix + "large", large)):
            buffer = bytearray(b"\xee" * (len(data) + 7))  # larger than needed: the rest stays
            assert await store.download_into(key, buffer) == len(data)
            assert buffer[: len(data)] == data and buffer[len(data) :] == b"\xee" * 7
            exact = memoryview(bytearray(len(data)))
            assert await store.download_into(key, exact) == len(data)
            assert exact == data
        for rng in [(0, 5), (5, None), (100, 200), (3, len(small) + 100), (2, 2)]:
            buffer = bytearray(len(small))
            n = await store.download_into(prefix + "small", buffer, range=rng)
            assert buffer[:n] == small[rng[0] : rng[1]], rng
        lo, hi = len(large) // 3, len(large) - 11
        buffer = bytearray(hi - lo)
        assert await store.download_into(prefix + "large", buffer, range=(lo, hi)) == hi - lo
        assert buffer == large[lo:hi]
        assert (
            await store.download_into(prefix + "small", bytearray(4), range=(len(small), None)) == 0
        )

    @pytest.mark.asyncio
    async def test_download_into_refuses_what_does_not_fit(
        self, store: BlobStore, prefix: str
    ) -> None:
        key = prefix + "fit"
        data = _payload(3000)
        await store.upload(key, data)
        with pytest.raises(InvalidArgumentError) as caught:
            await store.download_into(key, bytearray(len(data) - 1))
        assert key in str(caught.value) and "buffer" in str(caught.value)
        assert await store.download(key) == data  # nothing stored was touched
        for bad in (b"read-only bytes", memoryview(b"read-only"), "text"):
            with pytest.raises(InvalidArgumentError):
                await store.download_into(key, bad)  # type: ignore[arg-type]
        with pytest.raises(BlobNotFoundError):
            await store.download_into(prefix + "missing", bytearray(10))
        with pytest.raises(InvalidArgumentError):
            await store.download_into(key, bytearray(10), range=(5, 2))

    @pytest.mark.asyncio
    @pytest.mark.parametrize("rng", [(-1, 3), (5, 2), (1.5, 3), ("a", None), (1, 2, 3)])
    async def test_invalid_ranges(self, store: BlobStore, prefix: str, rng: Any) -> None:
        key = prefix + "r"
        await store.upload(key, b"0123456789")
        with pytest.raises(InvalidArgumentError):
            await store.download(key, range=rng)
        with pytest.raises(InvalidArgumentError):
            async for _ in store.stream(key, range=rng):
                pass

    @pytest.mark.asyncio
    async def test_progress_callbacks(self, store: BlobStore, prefix: str) -> None:
        data = _payload(2 * 1024 * 1024 + 5)
        key = prefix + "progress"
        calls: list[tuple[int, int | None]] = []
        await store.upload(key, data, progress=lambda done, total: calls.append((done, total)))
        assert calls and calls[-1] == (len(data), len(data))
        assert all(a[0] <= b[0] for a, b in itertools.pairwise(calls))
        calls.clear()
        await store.upload(
            key, _Pieces(data, 100_000), size=len(data), progress=lambda d, t: calls.append((d, t))
        )
        assert calls[-1] == (len(data), len(data))
        calls.clear()
        assert await store.download(key, progress=lambda d, t: calls.append((d, t))) == data
        assert calls[-1][0] == len(data)

    # -- info, exists, missing keys -----------------------------------------------------------

    @pytest.mark.asyncio
    async def test_info_fields(self, store: BlobStore, prefix: str) -> None:
        key = prefix + "info.json"
        await store.upload(key, b'{"a": 1}')
        info = await store.info(key)
        assert info.path == key
        assert info.size == 8
        assert info.content_type == "application/json"
        assert info.last_modified is not None and info.last_modified.utcoffset() == timedelta(0)
        assert info.last_modified.tzinfo is not None
        assert info.last_modified.astimezone(UTC).year >= 2020
        assert isinstance(info.etag, str) and info.etag
        assert not info.is_prefix

    @pytest.mark.asyncio
    async def test_missing_key(self, store: BlobStore, prefix: str) -> None:
        key = prefix + "missing/file.txt"
        assert not await store.exists(key)
        for call in (store.download(key), store.info(key)):
            with pytest.raises(BlobNotFoundError) as caught:
                await call
            assert key in str(caught.value)
            assert isinstance(caught.value, FileNotFoundError)
            assert caught.value.key == key
        with pytest.raises(BlobNotFoundError):
            async for _ in store.stream(key):
                pass
        with pytest.raises(BlobNotFoundError):
            await store.download(key, range=(0, 0))

    @pytest.mark.asyncio
    async def test_exists(self, store: BlobStore, prefix: str) -> None:
        key = prefix + "e"
        assert await store.exists(key) is False
        await store.upload(key, b"1")
        assert await store.exists(key) is True
        assert await store.exists(prefix.rstrip("/")) is False  # a "directory" is not an object

    # -- keys ---------------------------------------------------------------------------------

    @pytest.mark.asyncio
    @pytest.mark.parametrize("bad", INVALID_KEYS, ids=range(len(INVALID_KEYS)))
    async def test_invalid_keys_are_refused(self, store: BlobStore, prefix: str, bad: Any) -> None:
        with pytest.raises(InvalidKeyError):
            await store.upload(bad, b"x")
        for call in (store.download(bad), store.info(bad), store.exists(bad), store.delete(bad)):
            with pytest.raises(InvalidKeyError):
                await call
        with pytest.raises(InvalidKeyError):
            await store.copy(prefix + "x", bad)

    @pytest.mark.asyncio
    @pytest.mark.parametrize("suffix", UNUSUAL_KEYS, ids=range(len(UNUSUAL_KEYS)))
    async def test_unusual_keys_round_trip(
        self, store: BlobStore, prefix: str, suffix: str
    ) -> None:
        key = prefix + suffix
        forbidden = [c for c in store.driver.capabilities.forbidden_key_chars if c in suffix]
        if forbidden:  # the backend would alias the key: the core must refuse it everywhere
            calls = (
                store.upload(key, b"x"),
                store.download(key),
                store.info(key),
                store.delete(key),
            )
            for call in calls:
                with pytest.raises(InvalidKeyError) as caught:
                    await call
                assert store.driver.name in str(caught.value)
            with pytest.raises(InvalidKeyError):
                await store.delete_many([key])
            assert await _collect(store.list(prefix)) == []
            return
        await store.upload(key, key.encode("utf-8"))
        assert await store.download(key) == key.encode("utf-8")
        assert (await store.info(key)).path == key
        listed = [i.path for i in await _collect(store.list(prefix))]
        assert listed == [key]
        await store.delete(key)
        assert not await store.exists(key)

    # -- listing ------------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_list_is_lexicographic(self, store: BlobStore, prefix: str) -> None:
        names = ["b", "a-b", "a/b", "a0", "aB", "a", "é", "z/z/z", "A", "a b", "~", "a/a/a"]
        for name in names:
            await store.upload(prefix + name, name.encode())
        listed = await _collect(store.list(prefix))
        assert [i.path for i in listed] == sorted(prefix + n for n in names)
        assert all(not i.is_prefix for i in listed)
        sizes = {i.path: i.size for i in listed}
        assert sizes[prefix + "é"] == len("é".encode())

    @pytest.mark.asyncio
    async def test_list_prefix_filters(self, store: BlobStore, prefix: str) -> None:
        for name in ["docs/a.txt", "docs/b.txt", "docsx/c.txt", "img/d.png"]:
            await store.upload(prefix + name, b"x")
        assert [i.path for i in await _collect(store.list(prefix + "docs/"))] == [
            prefix + "docs/a.txt",
            prefix + "docs/b.txt",
        ]
        assert [i.path for i in await _collect(store.list(prefix + "docs"))] == [
            prefix + "docs/a.txt",
            prefix + "docs/b.txt",
            prefix + "docsx/c.txt",
        ]
        assert await _collect(store.list(prefix + "nothing-here/")) == []

    @pytest.mark.asyncio
    async def test_list_with_delimiter(self, store: BlobStore, prefix: str) -> None:
        for name in ["a.txt", "b/1.txt", "b/2.txt", "b/c/3.txt", "b-c.txt", "d/4.txt", "e.txt"]:
            await store.upload(prefix + name, b"x")
        listed = await _collect(store.list(prefix, delimiter="/"))
        assert [(i.path, i.is_prefix) for i in listed] == [
            (prefix + "a.txt", False),
            (prefix + "b-c.txt", False),
            (prefix + "b/", True),
            (prefix + "d/", True),
            (prefix + "e.txt", False),
        ]
        inner = await _collect(store.list(prefix + "b/", delimiter="/"))
        assert [(i.path, i.is_prefix) for i in inner] == [
            (prefix + "b/1.txt", False),
            (prefix + "b/2.txt", False),
            (prefix + "b/c/", True),
        ]

    @pytest.mark.asyncio
    async def test_list_hides_pagination(self, store: BlobStore, prefix: str) -> None:
        keys = [f"{prefix}many/{i:05d}" for i in range(self.list_many)]
        gate = asyncio.Semaphore(32)

        async def put(key: str) -> None:
            async with gate:
                await store.upload(key, b"")

        await asyncio.gather(*(put(k) for k in keys))
        assert [i.path for i in await _collect(store.list(prefix + "many/"))] == keys

    @pytest.mark.asyncio
    async def test_invalid_delimiter(self, store: BlobStore, prefix: str) -> None:
        with pytest.raises(InvalidArgumentError):
            await _collect(store.list(prefix, delimiter=""))

    # -- delete -------------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_delete(self, store: BlobStore, prefix: str) -> None:
        key = prefix + "gone"
        await store.upload(key, b"x")
        await store.delete(key)
        assert not await store.exists(key)
        await store.delete(key)  # a missing key is not an error

    @pytest.mark.asyncio
    async def test_delete_many(self, store: BlobStore, prefix: str) -> None:
        keys = [f"{prefix}bulk/{i:03d}" for i in range(25)]
        for key in keys:
            await store.upload(key, b"x")
        await store.upload(prefix + "keep", b"x")
        await store.delete_many([*keys, prefix + "bulk/never-existed"])
        assert [i.path for i in await _collect(store.list(prefix))] == [prefix + "keep"]
        await store.delete_many([])

    # -- copy and move ------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_copy(self, store: BlobStore, prefix: str) -> None:
        src, dst = prefix + "src.txt", prefix + "copy/dst.bin"
        metadata = {"tag": "v1"} if store.driver.capabilities.metadata else None
        await store.upload(src, b"payload", content_type="text/plain", metadata=metadata)
        await store.copy(src, dst)
        assert await store.download(dst) == b"payload"
        assert await store.download(src) == b"payload"
        info = await store.info(dst)
        assert info.content_type == "text/plain"
        if metadata:
            assert dict(info.metadata) == metadata
        await store.copy(src, src)
        assert await store.download(src) == b"payload"
        with pytest.raises(BlobNotFoundError):
            await store.copy(prefix + "nope", prefix + "nope2")
        assert not await store.exists(prefix + "nope2")

    @pytest.mark.asyncio
    async def test_move(self, store: BlobStore, prefix: str) -> None:
        src, dst = prefix + "m/src", prefix + "m/dst"
        await store.upload(src, b"moving")
        await store.move(src, dst)
        assert not await store.exists(src)
        assert await store.download(dst) == b"moving"
        await store.move(dst, dst)
        assert await store.download(dst) == b"moving"
        with pytest.raises(BlobNotFoundError):
            await store.move(prefix + "m/none", prefix + "m/none2")
        assert not await store.exists(prefix + "m/none2")

    @pytest.mark.asyncio
    async def test_move_under_itself(self, store: BlobStore, prefix: str) -> None:
        """``move("b", "b/a")``: the new key lies under the old one, and back again."""
        src = prefix + "mv/b"
        dst = src + "/a"
        await store.upload(src, b"old b")
        await store.move(src, dst)
        assert not await store.exists(src)
        assert await store.download(dst) == b"old b"
        assert [i.path for i in await _collect(store.list(prefix + "mv/"))] == [dst]
        await store.move(dst, src)
        assert not await store.exists(dst)
        assert await store.download(src) == b"old b"
        assert [i.path for i in await _collect(store.list(prefix + "mv/"))] == [src]

    # -- URLs ---------------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_get_url(self, store: BlobStore, prefix: str) -> None:
        key = prefix + "a file.txt"
        await store.upload(key, b"x")
        try:
            url = await store.get_url(key)
        except NotSupportedError as exc:
            assert store.driver.name in str(exc)
            return
        assert isinstance(url, str) and url
        assert "a%20file.txt" in url

    @pytest.mark.asyncio
    @pytest.mark.parametrize("method", ["GET", "PUT"])
    async def test_presigned_url(self, store: BlobStore, prefix: str, method: str) -> None:
        key = prefix + "signed.txt"
        await store.upload(key, b"x")
        if method not in store.driver.capabilities.presign_methods:
            with pytest.raises(NotSupportedError):
                await store.get_presigned_url(key, method=method)
            return
        url = await store.get_presigned_url(key, timedelta(minutes=5), method=method)
        assert isinstance(url, str) and url.startswith(("http://", "https://"))

    @pytest.mark.asyncio
    @pytest.mark.parametrize(
        ("expires", "method"),
        [
            (timedelta(0), "GET"),
            (timedelta(seconds=-5), "GET"),
            (timedelta(days=3650), "GET"),
            (timedelta(hours=1), "DELETE"),
        ],
    )
    async def test_presigned_url_bad_arguments(
        self, store: BlobStore, prefix: str, expires: timedelta, method: str
    ) -> None:
        with pytest.raises((InvalidArgumentError, NotSupportedError)):
            await store.get_presigned_url(prefix + "k", expires, method=method)

    # -- health and lifecycle ------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_health_check(self, store: BlobStore) -> None:
        status = await store.health_check()
        assert status.healthy, status.detail
        assert status.latency_ms >= 0

    @pytest.mark.asyncio
    async def test_closed_store(self, store: BlobStore, prefix: str) -> None:
        await store.upload(prefix + "c", b"x")
        await store.close()
        await store.close()  # idempotent
        with pytest.raises(StoreClosedError) as caught:
            await store.download(prefix + "c")
        assert isinstance(caught.value, StorageError)
        with pytest.raises(StoreClosedError):
            await store.upload(prefix + "c", b"y")
        status = await store.health_check()
        assert not status.healthy
