"""The core's policy for conditional requests, paging and delete_prefix: argument checks
before any driver call, capability gating, and the defaults it supplies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, ClassVar

import pytest

from lexigram.storage import (
    BlobInfo,
    BlobStore,
    Capabilities,
    InvalidArgumentError,
    NotModifiedError,
    NotSupportedError,
    PreconditionFailedError,
)
from lexigram.storage.conditions import normalize_etag, valid_etag
from lexigram.storage.memory import MemoryDriver


class PlainDriver(MemoryDriver):
    """A driver without conditional requests nor native start_after, counting calls."""

    capabilities: ClassVar[Capabilities] = Capabilities(
        native_delimiter=False,
        presign_methods=frozenset(),
        native_urls=False,
        delete_batch_size=3,
    )

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []
        self.batches: list[int] = []

    async def put(self, key: str, body: Any, **kwargs: Any) -> BlobInfo:
        self.calls.append("put")
        return await super().put(key, body, **kwargs)

    async def delete_many(self, keys: Any) -> Any:
        self.batches.append(len(keys))
        return await super().delete_many(keys)

    async def list(  # type: ignore[override]
        self, prefix: str, *, delimiter: str | None
    ) -> AsyncIterator[BlobInfo]:
        self.calls.append("list")
        async for info in super().list(prefix, delimiter=delimiter):
            yield info


async def paths(source: AsyncIterator[BlobInfo]) -> list[str]:
    return [i.path async for i in source]


@pytest.mark.asyncio
async def test_unsupported_conditions_name_driver_and_operation() -> None:
    driver = PlainDriver()
    store = BlobStore(driver, name="plain")
    etag = (await store.upload("k", b"x")).etag
    assert etag
    with pytest.raises(NotSupportedError, match=r"'memory'.*upload\(if_match"):
        await store.upload("k", b"y", if_match=etag)
    with pytest.raises(NotSupportedError, match=r"delete\(if_match"):
        await store.delete("k", if_match=etag)
    with pytest.raises(NotSupportedError, match=r"download\(if_match/if_none_match\)"):
        await store.download("k", if_none_match=etag)
    assert await store.download("k") == b"x"  # nothing changed


@pytest.mark.asyncio
async def test_info_conditions_are_checked_by_the_core_on_one_head() -> None:
    store = BlobStore(PlainDriver(), name="plain")
    etag = (await store.upload("k", b"x")).etag
    assert etag
    assert (await store.info("k", if_match=normalize_etag(etag))).etag == etag
    with pytest.raises(NotModifiedError, match="'k'") as caught:
        await store.info("k", if_none_match=etag)
    assert caught.value.key == "k" and caught.value.operation == "info"
    with pytest.raises(PreconditionFailedError):
        await store.info("k", if_match='"other"')


@pytest.mark.asyncio
async def test_bad_arguments_are_refused_before_any_request() -> None:
    driver = PlainDriver()
    store = BlobStore(driver, name="plain")
    with pytest.raises(InvalidArgumentError, match=r"mode='create'.*if_match"):
        await store.upload("k", b"x", mode="create", if_match='"a"')
    with pytest.raises(InvalidArgumentError, match="if_match"):
        await store.upload("k", b"x", if_match='"a\nb"')
    with pytest.raises(InvalidArgumentError, match="if_none_match"):
        await store.info("k", if_none_match="a\r\nb")
    with pytest.raises(InvalidArgumentError, match="limit"):
        await paths(store.list("", limit=0))
    with pytest.raises(InvalidArgumentError, match="start_after"):
        await paths(store.list("", start_after="a\nb"))
    with pytest.raises(InvalidArgumentError, match="all=True"):
        await store.delete_prefix("")
    assert driver.calls == []


def test_etags_compare_in_one_form() -> None:
    assert valid_etag('"abc"') == valid_etag("abc") == "abc"
    assert valid_etag('W/"abc"') == "abc"
    for bad in ("", '""', "*", "a b", "a\nb", 'a"b', "é", None, 5):
        assert valid_etag(bad) is None, bad


@pytest.mark.asyncio
async def test_start_after_default_filters_and_stops_early() -> None:
    driver = PlainDriver()
    store = BlobStore(driver, name="plain")
    for key in ("a/1", "a/2", "a/3", "b/1"):
        await store.upload(key, b"")
    driver.calls.clear()
    assert await paths(store.list("a/", start_after="a/1")) == ["a/2", "a/3"]
    assert await paths(store.list("a/", start_after="a/1", limit=1)) == ["a/2"]
    # every key under "a/" sorts before "b": no request at all
    assert await paths(store.list("a/", start_after="b")) == []
    assert driver.calls == ["list", "list"]


@pytest.mark.asyncio
async def test_delete_prefix_deletes_in_batches_of_the_bulk_call() -> None:
    driver = PlainDriver()
    store = BlobStore(driver, name="plain")
    keys = [f"tmp/{i:02d}" for i in range(8)]
    for key in [*keys, "tmpx", "keep/1"]:
        await store.upload(key, b"")
    assert await store.delete_prefix("tmp/") == 8
    assert driver.batches == [3, 3, 2]
    assert await paths(store.list("")) == ["keep/1", "tmpx"]
    assert await store.delete_prefix("", all=True) == 2
    assert await paths(store.list("")) == []
