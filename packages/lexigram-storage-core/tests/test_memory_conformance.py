"""The memory driver passes the public conformance kit."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from lexigram.storage import BlobStore, StorageConfig, StorageProvider
from lexigram.storage.testing import BlobStoreConformance


class TestMemoryConformance(BlobStoreConformance):
    @pytest_asyncio.fixture
    async def store(self) -> AsyncIterator[BlobStore]:
        provider = StorageProvider(
            config=StorageConfig(default_driver="memory", drivers={"memory": {}})
        )
        async with provider:
            yield provider.store()
