"""The redis backend against the public KV conformance class, on Redis 6 and Valkey."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from lexigram.storage.kv import KVStorageProtocol
from lexigram.storage.redis.store import RedisKVStorage
from lexigram.storage.testing.kv import KVStoreConformance
from lexigram.storage.testing.servers import ServerProcess


class TestRedisKVStorage(KVStoreConformance):
    @pytest.fixture
    async def kv_store(self, redis_url: str, prefix: str) -> AsyncIterator[KVStorageProtocol]:
        store = RedisKVStorage(redis_url, prefix=prefix)
        yield store
        await store.aclose()


class TestRedisKVStorageWithoutPrefix(KVStoreConformance):
    """An empty prefix: the store owns database 1 of the server."""

    @pytest.fixture
    async def kv_store(self, server: ServerProcess) -> AsyncIterator[KVStorageProtocol]:
        url = f"redis://127.0.0.1:{server.port}/1"
        async with RedisKVStorage(url) as cleaner:
            await cleaner.clear()
        store = RedisKVStorage(url)
        yield store
        await store.aclose()
