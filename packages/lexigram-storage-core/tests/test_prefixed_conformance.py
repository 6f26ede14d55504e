"""A store opened under a prefix passes the public conformance kit, and nothing it does
reaches a key outside its prefix."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from lexigram.storage import BlobStore
from lexigram.storage.memory import MemoryDriver
from lexigram.storage.prefixed import prefixed
from lexigram.storage.testing import BlobStoreConformance


class TestPrefixedMemoryConformance(BlobStoreConformance):
    @pytest_asyncio.fixture
    async def store(self) -> AsyncIterator[BlobStore]:
        inner = MemoryDriver(None)
        outside = BlobStore(inner, name="outside")
        await outside.upload("neighbour/kept.txt", b"not ours")
        await outside.upload("tenant", b"a key equal to the prefix without its slash")
        store = BlobStore(prefixed(inner, "tenant/a"), name="prefixed")
        yield store
        if store.closed:  # the memory driver forgets everything when closed
            return
        # whatever the test did (delete_many, moves, listings...) stayed inside the prefix
        assert await outside.download("neighbour/kept.txt") == b"not ours"
        assert await outside.exists("tenant")
        keys = {i.path async for i in outside.list()} - {"neighbour/kept.txt", "tenant"}
        assert all(k.startswith("tenant/a/") for k in keys), keys
        await store.close()
