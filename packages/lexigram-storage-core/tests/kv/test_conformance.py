"""Both KV backends against the public conformance class."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lexigram.storage.kv import InMemoryKVStorage, KVStorageProtocol, LocalStorage
from lexigram.storage.testing.kv import KVStoreConformance


class TestInMemoryKVStorage(KVStoreConformance):
    @pytest.fixture
    async def kv_store(self) -> AsyncIterator[KVStorageProtocol]:
        store = InMemoryKVStorage(sweep_interval=0.05)
        yield store
        await store.aclose()


class TestLocalStorage(KVStoreConformance):
    @pytest.fixture
    async def kv_store(self, tmp_path: Path) -> AsyncIterator[KVStorageProtocol]:
        store = LocalStorage(tmp_path / "kv.jsonl", sweep_interval=0.05)
        yield store
        await store.aclose()


class TestLocalStorageWithoutFsyncAndTinyCompaction(KVStoreConformance):
    """Compaction after nearly every write must not change any behaviour."""

    @pytest.fixture
    async def kv_store(self, tmp_path: Path) -> AsyncIterator[KVStorageProtocol]:
        store = LocalStorage(
            tmp_path / "kv.jsonl", fsync=False, compact_min_bytes=0, compact_ratio=1.01
        )
        yield store
        await store.aclose()
