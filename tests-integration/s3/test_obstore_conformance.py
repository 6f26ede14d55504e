"""The core's conformance kit against moto through the s3 and r2 drivers' obstore
engine (``engine: obstore``), built the way an application builds it (from config)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from lexigram.storage import BlobStore, StorageConfig, StorageProvider
from lexigram.storage.s3.obstore_engine import ObstoreR2Driver, ObstoreS3Driver
from lexigram.storage.testing import BlobStoreConformance

from .conftest import r2_settings, s3_settings


class TestS3ObstoreConformance(BlobStoreConformance):
    @pytest_asyncio.fixture
    async def store(self, moto_endpoint: str, bucket: str) -> AsyncIterator[BlobStore]:
        settings = s3_settings(moto_endpoint, bucket, engine="obstore")
        provider = StorageProvider(config=StorageConfig.from_dict({"drivers": {"s3": settings}}))
        store = provider.store()
        assert type(store.driver) is ObstoreS3Driver
        yield store
        await provider.close()


class TestR2ObstoreConformance(BlobStoreConformance):
    @pytest_asyncio.fixture
    async def store(self, moto_endpoint: str, bucket: str) -> AsyncIterator[BlobStore]:
        settings = r2_settings(moto_endpoint, bucket, engine="obstore")
        provider = StorageProvider(config=StorageConfig.from_dict({"drivers": {"r2": settings}}))
        store = provider.store()
        assert type(store.driver) is ObstoreR2Driver
        yield store
        await provider.close()
