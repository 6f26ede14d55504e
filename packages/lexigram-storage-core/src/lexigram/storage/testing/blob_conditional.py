"""Conformance tests of conditional requests, paged listing and ``delete_prefix``.

A mixin of :class:`~lexigram.storage.testing.BlobStoreConformance` (it uses the same
``store`` and ``prefix`` fixtures). Where a driver declares it cannot do a conditional
request (``Capabilities.conditional_write`` / ``conditional_read``), the tests assert
``NotSupportedError`` instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from lexigram.storage.errors import (
    BlobNotFoundError,
    InvalidArgumentError,
    NotModifiedError,
    NotSupportedError,
    PreconditionFailedError,
)
from lexigram.storage.info import BlobInfo
from lexigram.storage.store import BlobStore

__all__ = ["ConditionalOpsConformance"]


async def _paths(source: AsyncIterator[BlobInfo]) -> list[str]:
    return [item.path async for item in source]


def _other_form(etag: str) -> str:
    """The same ETag with its quotes toggled: both forms must be accepted."""
    return etag[1:-1] if etag.startswith('"') and etag.endswith('"') else f'"{etag}"'


class ConditionalOpsConformance:
    """``if_match`` / ``if_none_match``, ``list(start_after=, limit=)``, ``delete_prefix``."""

    # -- conditional writes ---------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_upload_if_match(self, store: BlobStore, prefix: str) -> None:
        key = prefix + "cas.txt"
        first = await store.upload(key, b"one")
        assert first.etag
        if not store.driver.capabilities.conditional_write:
            with pytest.raises(NotSupportedError):
                await store.upload(key, b"two", if_match=first.etag)
            return
        second = await store.upload(key, b"two", if_match=first.etag)
        assert await store.download(key) == b"two"
        assert second.etag
        # The first etag is stale now: the write is refused and nothing changes.
        with pytest.raises(PreconditionFailedError):
            await store.upload(key, b"three", if_match=first.etag)
        assert await store.download(key) == b"two"
        # Quoted or not, the same etag matches.
        await store.upload(key, b"four", if_match=_other_form(second.etag))
        assert await store.download(key) == b"four"

    @pytest.mark.asyncio
    async def test_upload_if_match_on_a_missing_key(self, store: BlobStore, prefix: str) -> None:
        key = prefix + "never"
        other = await store.upload(prefix + "other", b"x")
        assert other.etag
        expected = (
            PreconditionFailedError
            if store.driver.capabilities.conditional_write
            else NotSupportedError
        )
        with pytest.raises(expected):
            await store.upload(key, b"x", if_match=other.etag)
        assert not await store.exists(key)

    @pytest.mark.asyncio
    async def test_upload_if_match_race_has_one_winner(self, store: BlobStore, prefix: str) -> None:
        if not store.driver.capabilities.conditional_write:
            return  # covered by test_upload_if_match
        key = prefix + "race"
        etag = (await store.upload(key, b"base")).etag
        assert etag

        async def write(n: int) -> bool:
            try:
                await store.upload(key, f"writer-{n}".encode(), if_match=etag)
            except PreconditionFailedError:
                return False
            return True

        results = await asyncio.gather(*(write(n) for n in range(8)))
        assert results.count(True) == 1
        assert await store.download(key) == f"writer-{results.index(True)}".encode()

    @pytest.mark.asyncio
    @pytest.mark.parametrize(
        "kwargs",
        [
            {"mode": "create", "if_match": '"abc"'},
            {"if_match": "abc\ndef"},
            {"if_match": ""},
            {"if_match": 123},
        ],
    )
    async def test_conflicting_upload_options(
        self, store: BlobStore, prefix: str, kwargs: dict[str, object]
    ) -> None:
        key = prefix + "bad-options"
        with pytest.raises(InvalidArgumentError, match="if_match"):
            await store.upload(key, b"x", **kwargs)  # type: ignore[arg-type]
        assert not await store.exists(key)

    @pytest.mark.asyncio
    async def test_delete_if_match(self, store: BlobStore, prefix: str) -> None:
        key = prefix + "del-cas"
        old = await store.upload(key, b"one")
        new = await store.upload(key, b"two")
        assert old.etag and new.etag and old.etag != new.etag
        if not store.driver.capabilities.conditional_write:
            with pytest.raises(NotSupportedError):
                await store.delete(key, if_match=new.etag)
            return
        with pytest.raises(PreconditionFailedError):
            await store.delete(key, if_match=old.etag)
        assert await store.download(key) == b"two"
        await store.delete(key, if_match=_other_form(new.etag))
        assert not await store.exists(key)
        with pytest.raises(PreconditionFailedError):
            await store.delete(key, if_match=new.etag)
        with pytest.raises(InvalidArgumentError, match="if_match"):
            await store.delete(key, if_match="a\nb")

    # -- conditional reads ----------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_info_conditions(self, store: BlobStore, prefix: str) -> None:
        key = prefix + "info-cond"
        etag = (await store.upload(key, b"data")).etag
        stale = (await store.upload(prefix + "other", b"x")).etag
        assert etag and stale
        assert (await store.info(key, if_match=etag)).size == 4
        assert (await store.info(key, if_match=_other_form(etag))).size == 4
        assert (await store.info(key, if_none_match=stale)).size == 4
        with pytest.raises(PreconditionFailedError):
            await store.info(key, if_match=stale)
        with pytest.raises(NotModifiedError):
            await store.info(key, if_none_match=_other_form(etag))

    @pytest.mark.asyncio
    async def test_read_conditions(self, store: BlobStore, prefix: str) -> None:
        key = prefix + "read-cond"
        etag = (await store.upload(key, b"0123456789")).etag
        stale = (await store.upload(prefix + "other", b"x")).etag
        assert etag and stale
        buffer = bytearray(10)
        if not store.driver.capabilities.conditional_read:
            with pytest.raises(NotSupportedError):
                await store.download(key, if_match=etag)
            with pytest.raises(NotSupportedError):
                await _chunks(store.stream(key, if_none_match=etag))
            with pytest.raises(NotSupportedError):
                await store.download_into(key, buffer, if_match=etag)
            return
        assert await store.download(key, if_match=etag) == b"0123456789"
        assert await store.download(key, if_match=_other_form(etag), range=(2, 5)) == b"234"
        assert await store.download(key, if_none_match=stale) == b"0123456789"
        assert b"".join(await _chunks(store.stream(key, if_match=etag))) == b"0123456789"
        assert await store.download_into(key, buffer, if_match=etag) == 10
        assert bytes(buffer) == b"0123456789"
        with pytest.raises(PreconditionFailedError):
            await store.download(key, if_match=stale)
        with pytest.raises(PreconditionFailedError):
            await _chunks(store.stream(key, if_match=stale, chunk_size=3))
        with pytest.raises(PreconditionFailedError):
            await store.download_into(key, buffer, if_match=stale)
        with pytest.raises(NotModifiedError):
            await store.download(key, if_none_match=etag)
        with pytest.raises(NotModifiedError):
            await store.download(key, if_none_match=etag, range=(1, 3))
        with pytest.raises(NotModifiedError):
            await _chunks(store.stream(key, if_none_match=_other_form(etag)))
        with pytest.raises(NotModifiedError):
            await store.download_into(key, buffer, if_none_match=etag)
        # if_match on a missing key fails its precondition, as for writes and deletes
        with pytest.raises(PreconditionFailedError):
            await store.download(prefix + "missing", if_match=etag)
        with pytest.raises(PreconditionFailedError):
            await _chunks(store.stream(prefix + "missing", if_match=etag))
        with pytest.raises(PreconditionFailedError):
            await store.info(prefix + "missing", if_match=etag)
        with pytest.raises(BlobNotFoundError):
            await store.download(prefix + "missing", if_none_match=etag)

    @pytest.mark.asyncio
    async def test_bad_read_conditions(self, store: BlobStore, prefix: str) -> None:
        key = prefix + "bad-read"
        await store.upload(key, b"x")
        with pytest.raises(InvalidArgumentError, match="if_none_match"):
            await store.download(key, if_none_match="a\r\nb")
        with pytest.raises(InvalidArgumentError, match="if_match"):
            await store.info(key, if_match="*")

    # -- paging -------------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_list_start_after_and_limit(self, store: BlobStore, prefix: str) -> None:
        keys = [f"{prefix}page/{i:02d}" for i in range(12)]
        for key in keys:
            await store.upload(key, b"x")
        root = prefix + "page/"
        assert await _paths(store.list(root, start_after=keys[4])) == keys[5:]
        assert await _paths(store.list(root, limit=3)) == keys[:3]
        assert await _paths(store.list(root, start_after=keys[4], limit=3)) == keys[5:8]
        # A start between two keys, before every key, after every key.
        assert await _paths(store.list(root, start_after=keys[4] + "0")) == keys[5:]
        assert await _paths(store.list(root, start_after=prefix)) == keys
        assert await _paths(store.list(root, start_after=keys[-1])) == []
        assert await _paths(store.list(prefix, start_after=prefix + "zzz")) == []
        # Paging through with limit and start_after gives every key once, in order.
        pages: list[str] = []
        after: str | None = None
        while True:
            page = await _paths(store.list(root, start_after=after, limit=5))
            if not page:
                break
            pages += page
            after = page[-1]
        assert pages == keys

    @pytest.mark.asyncio
    async def test_list_start_after_with_delimiter(self, store: BlobStore, prefix: str) -> None:
        for key in ("a", "b/1", "b/2", "c", "d/1"):
            await store.upload(prefix + key, b"x")
        listed = await _paths(store.list(prefix, delimiter="/", start_after=prefix + "b/"))
        assert listed == [prefix + "c", prefix + "d/"]
        listed = await _paths(store.list(prefix, delimiter="/", limit=2))
        assert listed == [prefix + "a", prefix + "b/"]

    @pytest.mark.asyncio
    @pytest.mark.parametrize("limit", [0, -1, 1.5, True])
    async def test_list_bad_limit(self, store: BlobStore, prefix: str, limit: object) -> None:
        with pytest.raises(InvalidArgumentError, match="limit"):
            await _paths(store.list(prefix, limit=limit))  # type: ignore[arg-type]

    @pytest.mark.asyncio
    async def test_list_bad_start_after(self, store: BlobStore, prefix: str) -> None:
        with pytest.raises(InvalidArgumentError, match="start_after"):
            await _paths(store.list(prefix, start_after="a\nb"))

    # -- delete_prefix --------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_delete_prefix(self, store: BlobStore, prefix: str) -> None:
        doomed = [f"{prefix}tmp/{i:03d}" for i in range(7)] + [prefix + "tmp/sub/x"]
        kept = [prefix + "tmpfile", prefix + "keep/1"]
        for key in doomed + kept:
            await store.upload(key, b"x")
        assert await store.delete_prefix(prefix + "tmp/") == len(doomed)
        assert await _paths(store.list(prefix)) == sorted(kept)
        assert await store.delete_prefix(prefix + "tmp/") == 0

    @pytest.mark.asyncio
    async def test_delete_prefix_refuses_everything_by_default(
        self, store: BlobStore, prefix: str
    ) -> None:
        await store.upload(prefix + "safe", b"x")
        with pytest.raises(InvalidArgumentError, match="all=True"):
            await store.delete_prefix("")
        assert await store.exists(prefix + "safe")


async def _chunks(source: AsyncIterator[bytes]) -> list[bytes]:
    return [chunk async for chunk in source]
