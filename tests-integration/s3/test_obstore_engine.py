"""What the obstore engine does its own way, against moto: listings by any string prefix
(object_store lists whole path segments), and the bucket told from the key when missing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from lexigram.storage import BlobStore, StorageConfig, StorageProvider
from lexigram.storage.errors import BlobNotFoundError, BucketNotFoundError

from .conftest import s3_settings

KEYS = [
    "p/a",
    "p/az",
    "p/b",
    "p/b/x",
    "p/b0",
    "p/b1",
    "p/ba/deep/y",
    "p/c",
    "p/0",
    "p/00",
    "p/1",
    "q",
    "qq/r",
]


@pytest_asyncio.fixture
async def store(moto_endpoint: str, bucket: str) -> AsyncIterator[BlobStore]:
    settings = s3_settings(moto_endpoint, bucket, engine="obstore")
    provider = StorageProvider(config=StorageConfig.from_dict({"drivers": {"s3": settings}}))
    yield provider.store()
    await provider.close()


@pytest_asyncio.fixture
async def filled(store: BlobStore) -> BlobStore:
    for key in KEYS:
        await store.upload(key, key.encode())
    return store


@pytest.mark.parametrize("prefix", ["", "p", "p/", "p/b", "p/b/", "p/0", "p/1", "q", "qq", "z"])
async def test_a_listing_is_every_key_with_the_prefix_in_order(
    filled: BlobStore, prefix: str
) -> None:
    listed = [info.path async for info in filled.list(prefix)]
    assert listed == sorted(k for k in KEYS if k.startswith(prefix))


@pytest.mark.parametrize(("prefix", "after"), [("p/", "p/b"), ("p/b", "p/b/x"), ("", "p/c")])
async def test_a_listing_starts_after_start_after(
    filled: BlobStore, prefix: str, after: str
) -> None:
    listed = [info.path async for info in filled.list(prefix, start_after=after)]
    assert listed == sorted(k for k in KEYS if k.startswith(prefix) and k > after)


@pytest.mark.parametrize(
    ("prefix", "delimiter"), [("p/", "/"), ("p/b", "/"), ("", "/"), ("p/", "b")]
)
async def test_delimiter_listings_roll_up_common_prefixes(
    filled: BlobStore, prefix: str, delimiter: str
) -> None:
    expected: list[str] = []
    for key in sorted(k for k in KEYS if k.startswith(prefix)):
        at = key.find(delimiter, len(prefix))
        entry = key if at < 0 else key[: at + len(delimiter)]
        if entry not in expected:
            expected.append(entry)
    listed = [(i.path, i.is_prefix) async for i in filled.list(prefix, delimiter=delimiter)]
    assert [path for path, _ in listed] == expected
    assert all(is_prefix == path.endswith(delimiter) for path, is_prefix in listed)


async def test_a_missing_bucket_is_told_from_a_missing_key(
    moto_endpoint: str, store: BlobStore
) -> None:
    with pytest.raises(BlobNotFoundError):
        await store.info("nothing/here")
    settings = s3_settings(moto_endpoint, "no-such-bucket-obstore", engine="obstore")
    provider = StorageProvider(config=StorageConfig.from_dict({"drivers": {"s3": settings}}))
    missing = provider.store()
    for call in (missing.info("k"), missing.download("k"), missing.upload("k", b"x")):
        with pytest.raises(BucketNotFoundError) as caught:
            await call
        assert "no-such-bucket-obstore" in str(caught.value)
    assert not (await missing.health_check()).healthy
    await provider.close()
