"""The core conformance kit against Azurite: once with the default transfer settings
(small bodies in one Put Blob), once with 1 MiB blocks so that every large or streamed
upload of the kit goes through staged blocks and one commit."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio

from lexigram.storage import BlobStore
from lexigram.storage.azure.driver import AzureBlobDriver
from lexigram.storage.testing import BlobStoreConformance

pytestmark = pytest.mark.integration

MIB = 1024 * 1024


class TestAzureConformance(BlobStoreConformance):
    @pytest_asyncio.fixture
    async def store(self, make_config: Callable[..., Any]) -> AsyncIterator[BlobStore]:
        store = BlobStore(AzureBlobDriver(make_config()), name="conformance")
        yield store
        await store.close()


class TestAzureConformanceBlocks(BlobStoreConformance):
    @pytest_asyncio.fixture
    async def store(self, make_config: Callable[..., Any]) -> AsyncIterator[BlobStore]:
        config = make_config(block_size=MIB, single_put_threshold=MIB, max_concurrency=3)
        store = BlobStore(AzureBlobDriver(config), name="conformance-blocks")
        yield store
        await store.close()
