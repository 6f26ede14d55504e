"""The core's conformance kit against moto, through the s3 and the r2 driver."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from lexigram.storage import BlobStore
from lexigram.storage.config.converter import structure_at
from lexigram.storage.s3 import StorageR2Config, StorageS3Config
from lexigram.storage.s3.driver import S3Driver
from lexigram.storage.testing import BlobStoreConformance

from .conftest import r2_settings, s3_settings


class TestS3Conformance(BlobStoreConformance):
    @pytest_asyncio.fixture
    async def store(self, moto_endpoint: str, bucket: str) -> AsyncIterator[BlobStore]:
        config = structure_at(s3_settings(moto_endpoint, bucket), StorageS3Config, "$.s3")
        store = BlobStore(S3Driver.from_config(config), name="conformance-s3")
        yield store
        await store.close()


class TestR2Conformance(BlobStoreConformance):
    @pytest_asyncio.fixture
    async def store(self, moto_endpoint: str, bucket: str) -> AsyncIterator[BlobStore]:
        config = structure_at(r2_settings(moto_endpoint, bucket), StorageR2Config, "$.r2")
        driver = S3Driver.from_config(config)
        assert driver.name == "r2"
        store = BlobStore(driver, name="conformance-r2")
        yield store
        await store.close()
