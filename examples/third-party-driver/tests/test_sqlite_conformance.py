"""The example driver passes the public conformance kit, through its entry point."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from lexigram.storage import BlobStore, StorageConfig, StorageProvider
from lexigram.storage.testing import BlobStoreConformance


class TestSQLiteDriver(BlobStoreConformance):
    list_many = 1005

    @pytest_asyncio.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[BlobStore]:
        config = StorageConfig.from_dict(
            {"drivers": {"sqlite": {"path": str(tmp_path / "blobs.sqlite3")}}}
        )
        async with StorageProvider(config=config) as provider:
            yield provider.store()
