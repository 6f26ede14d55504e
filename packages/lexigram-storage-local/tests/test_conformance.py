"""The local driver passes the whole public conformance kit, built from config."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from lexigram.storage import BlobStore, StorageConfig, StorageProvider
from lexigram.storage.local.asgi import create_app
from lexigram.storage.testing import BlobStoreConformance
from lexigram.storage.testing.agreements import FetchedURL

from .conftest import BASE_URL, SIGNING_KEY
from .test_asgi import request


class TestLocalConformance(BlobStoreConformance):
    @pytest_asyncio.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[BlobStore]:
        config = StorageConfig.from_dict(
            {
                "default_driver": "local",
                "drivers": {
                    "local": {
                        "root_dir": str(tmp_path / "data"),
                        "base_url": BASE_URL,
                        "signing_key": SIGNING_KEY,
                    }
                },
            }
        )
        async with StorageProvider(config=config) as provider:
            yield provider.store()

    async def fetch_presigned(self, store: BlobStore, url: str) -> FetchedURL:
        # the URL is served by the package's ASGI app, driven in-process
        reply = await request(create_app(store), "GET", url)
        return reply.status, reply.headers, reply.body
