"""S3 conditional requests and paging against moto, counting requests on the wire."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import botocore.session
import pytest
import pytest_asyncio

from lexigram.storage import BlobStore, PreconditionFailedError
from lexigram.storage.s3 import reads as s3_reads
from lexigram.storage.testing.faults import FaultProxy
from lexigram.storage.testing.servers import ServerProcess

from .conftest import RAW_ACCESS_KEY, RAW_SECRET_KEY, REGION
from .test_s3_driver import MIB, make_store, payload

MANY = 10_000


@pytest.fixture
def proxy(moto_server: ServerProcess) -> Iterator[FaultProxy]:
    """A proxy without faults: only to count the requests a store sends."""
    with FaultProxy(upstream_port=moto_server.port) as p:
        yield p


def requests(proxy: FaultProxy) -> int:
    return proxy.stats.exchanges.get("request", 0)


@pytest_asyncio.fixture
async def many_keys(s3_client: Any, bucket: str) -> list[str]:
    keys = [f"many/{i:05d}" for i in range(MANY)]
    gate = asyncio.Semaphore(64)

    async def put(key: str) -> None:
        async with gate:
            await s3_client.put_object(Bucket=bucket, Key=key, Body=b"")

    await asyncio.gather(*(put(k) for k in keys))
    return keys


@pytest_asyncio.fixture
async def counted(proxy: FaultProxy, bucket: str) -> AsyncIterator[BlobStore]:
    store = make_store(proxy.url, bucket)
    yield store
    await store.close()


@pytest.mark.asyncio
async def test_paging_reads_only_the_pages_asked_for(
    counted: BlobStore, proxy: FaultProxy, many_keys: list[str], s3_client: Any, bucket: str
) -> None:
    """One bucket of 10,000 keys (slow to fill on moto, so one test for all of it)."""
    before = requests(proxy)
    listed = [i.path async for i in counted.list("many/", start_after=many_keys[-101])]
    assert listed == many_keys[-100:]
    # StartAfter: one page of 100 keys (a filter in the client would read ten pages).
    assert requests(proxy) - before == 1

    before = requests(proxy)
    listed = [i.path async for i in counted.list("many/", limit=5)]
    assert listed == many_keys[:5]
    assert requests(proxy) - before == 1  # no second page once the limit is reached

    before = requests(proxy)
    page = [i.path async for i in counted.list("many/", start_after=many_keys[4999], limit=1500)]
    assert page == many_keys[5000:6500]
    assert requests(proxy) - before == 2

    await s3_client.put_object(Bucket=bucket, Key="many-not/x", Body=b"")
    before = requests(proxy)
    assert await counted.delete_prefix("many/") == MANY
    # ten batches of 1000: each one ListObjectsV2 page and one DeleteObjects, plus the
    # listing that finds nothing left
    assert requests(proxy) - before == 2 * (MANY // 1000) + 1
    left = await s3_client.list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in left.get("Contents", ())] == ["many-not/x"]


@pytest.mark.asyncio
async def test_conditional_parallel_read_is_one_version(
    moto_endpoint: str, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A conditional read in parallel ranged GETs pins every part to the ETag of the
    first answer: an overwrite after the first GET fails the read, never mixes versions."""
    store = make_store(moto_endpoint, bucket, part_size=5 * MIB, multipart_threshold=5 * MIB)
    first = payload(12 * MIB, seed=1)
    etag = (await store.upload("big.bin", first)).etag
    assert etag
    # a plain, blocking botocore client (the step planted below is synchronous code)
    raw = botocore.session.get_session().create_client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name=REGION,
        aws_access_key_id=RAW_ACCESS_KEY,
        aws_secret_access_key=RAW_SECRET_KEY,
    )
    real_plan = s3_reads.plan_ranges
    seeds = iter(range(2, 100))

    def overwrite_then_plan(*args: Any, **kwargs: Any) -> Any:
        # the step between the first GET and the ranged GETs of the other parts
        raw.put_object(Bucket=bucket, Key="big.bin", Body=payload(12 * MIB, seed=next(seeds)))
        return real_plan(*args, **kwargs)

    monkeypatch.setattr(s3_reads, "plan_ranges", overwrite_then_plan)
    try:
        with pytest.raises(PreconditionFailedError):
            await store.download("big.bin", if_match=etag)
        buffer = bytearray(12 * MIB)
        with pytest.raises(PreconditionFailedError):
            await store.download_into("big.bin", buffer, if_none_match='"other"')
    finally:
        await store.close()
