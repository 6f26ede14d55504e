"""GCS conditional requests and paging against fake-gcs-server, counting requests."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs, urlsplit

import pytest

from lexigram.storage import BlobStore

from .conftest import Requests

pytestmark = pytest.mark.integration

MANY = 10_000


def _list_pages(seen: Requests) -> list[dict[str, list[str]]]:
    return [
        parse_qs(urlsplit(url).query)
        for method, url in seen.sent
        if method == "GET" and urlsplit(url).path.endswith("/o")
    ]


@pytest.mark.asyncio
async def test_paging_reads_only_the_pages_asked_for(
    store: BlobStore, requests_seen: Requests
) -> None:
    keys = [f"many/{i:05d}" for i in range(MANY)]
    gate = asyncio.Semaphore(64)

    async def put(key: str) -> None:
        async with gate:
            await store.upload(key, b"")

    await asyncio.gather(*(put(k) for k in keys))
    requests_seen.sent.clear()
    listed = [i.path async for i in store.list("many/", start_after=keys[-101])]
    assert listed == keys[-100:]
    # startOffset: one page from the key on (a filter in the client would read ten).
    pages = _list_pages(requests_seen)
    assert len(pages) == 1 and pages[0]["startOffset"] == [keys[-101]]

    requests_seen.sent.clear()
    assert [i.path async for i in store.list("many/", limit=3)] == keys[:3]
    assert len(_list_pages(requests_seen)) == 1

    requests_seen.sent.clear()
    assert await store.delete_prefix("many/") == MANY
    # ten batches, each listed from after the last one, plus the empty listing at the end
    assert len(_list_pages(requests_seen)) == MANY // 1000 + 1
    assert [i.path async for i in store.list("")] == []


@pytest.mark.asyncio
async def test_preconditions_are_sent_as_generations(
    store: BlobStore, requests_seen: Requests
) -> None:
    """What fake-gcs-server does not check (a DELETE's and a resumable upload's
    preconditions) GCS does: the driver sends them on every such request."""
    etag = (await store.upload("k", b"one")).etag
    assert etag
    generation, metageneration = etag.strip('"').split(".")
    requests_seen.sent.clear()
    new = await store.upload("k", b"x" * (512 * 1024), if_match=etag)  # resumable (> 256 KiB)
    assert new.etag and new.etag != etag
    await store.delete("k", if_match=new.etag)
    queries = [parse_qs(urlsplit(url).query) for _, url in requests_seen.sent]
    first_upload = next(q for q in queries if q.get("uploadType") == ["resumable"])
    assert first_upload["ifGenerationMatch"] == [generation]
    assert first_upload["ifMetagenerationMatch"] == [metageneration]
    delete = [(m, u) for m, u in requests_seen.sent if m == "DELETE"]
    assert len(delete) == 1
    assert parse_qs(urlsplit(delete[0][1]).query)["ifGenerationMatch"] == [
        new.etag.strip('"').split(".")[0]
    ]
