"""The part of :class:`~lexigram.storage.testing.kv.KVStoreConformance` that checks the
operations sessions and locks need: ``add``, ``touch`` and ``delete_many``.

A base class of ``KVStoreConformance``; it uses the same ``kv_store`` fixture.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from lexigram.storage.errors import InvalidKeyError, StoreClosedError
from lexigram.storage.kv.protocol import KVStorageProtocol

__all__ = ["KVSessionOpsConformance"]

_SHORT_TTL = 0.2
_PAST_SHORT_TTL = 0.45


class KVSessionOpsConformance:
    """``add`` (set if absent), ``touch`` (new TTL for a live key), ``delete_many``."""

    @pytest.mark.asyncio
    async def test_add_stores_only_when_absent(self, kv_store: KVStorageProtocol) -> None:
        assert await kv_store.add("lock", {"owner": 1}) is True
        assert await kv_store.add("lock", {"owner": 2}) is False
        assert await kv_store.get("lock") == {"owner": 1}
        assert await kv_store.ttl("lock") is None

    @pytest.mark.asyncio
    async def test_add_with_ttl_and_after_expiry(self, kv_store: KVStorageProtocol) -> None:
        assert await kv_store.add("lock", "a", ttl=_SHORT_TTL) is True
        remaining = await kv_store.ttl("lock")
        assert remaining is not None and 0 < remaining <= _SHORT_TTL
        assert await kv_store.add("lock", "b", ttl=_SHORT_TTL) is False
        await asyncio.sleep(_PAST_SHORT_TTL)
        assert await kv_store.add("lock", "c") is True
        assert await kv_store.get("lock") == "c"
        assert await kv_store.ttl("lock") is None

    @pytest.mark.asyncio
    async def test_add_of_a_stored_none_is_refused(self, kv_store: KVStorageProtocol) -> None:
        await kv_store.set("k", None)
        assert await kv_store.add("k", 1) is False
        assert await kv_store.get("k", default="absent") is None

    @pytest.mark.asyncio
    async def test_exactly_one_of_concurrent_adds_wins(self, kv_store: KVStorageProtocol) -> None:
        results = await asyncio.gather(*(kv_store.add("lock", i) for i in range(50)))
        assert results.count(True) == 1
        assert await kv_store.get("lock") == results.index(True)

    @pytest.mark.asyncio
    async def test_add_refuses_bad_input_before_writing(self, kv_store: KVStorageProtocol) -> None:
        with pytest.raises(TypeError, match="'k'"):
            await kv_store.add("k", object())
        with pytest.raises(ValueError, match="ttl"):
            await kv_store.add("k", 1, ttl=0)
        with pytest.raises(InvalidKeyError):
            await kv_store.add("", 1)
        assert await kv_store.exists("k") is False

    @pytest.mark.asyncio
    async def test_touch_resets_the_ttl_of_a_live_key(self, kv_store: KVStorageProtocol) -> None:
        await kv_store.set("s", {"user": 1}, ttl=_SHORT_TTL)
        assert await kv_store.touch("s", 60) is True
        await asyncio.sleep(_PAST_SHORT_TTL)
        assert await kv_store.get("s") == {"user": 1}
        remaining = await kv_store.ttl("s")
        assert remaining is not None and 59 < remaining <= 60

    @pytest.mark.asyncio
    async def test_touch_can_shorten_and_gives_a_ttl_to_a_key_without(
        self, kv_store: KVStorageProtocol
    ) -> None:
        await kv_store.set("s", 1)
        assert await kv_store.touch("s", _SHORT_TTL) is True
        remaining = await kv_store.ttl("s")
        assert remaining is not None and remaining <= _SHORT_TTL
        await asyncio.sleep(_PAST_SHORT_TTL)
        assert await kv_store.exists("s") is False

    @pytest.mark.asyncio
    async def test_touch_of_a_missing_or_expired_key_is_false(
        self, kv_store: KVStorageProtocol
    ) -> None:
        assert await kv_store.touch("missing", 60) is False
        assert await kv_store.exists("missing") is False
        await kv_store.set("s", 1, ttl=_SHORT_TTL)
        await asyncio.sleep(_PAST_SHORT_TTL)
        assert await kv_store.touch("s", 60) is False
        assert await kv_store.exists("s") is False

    @pytest.mark.asyncio
    @pytest.mark.parametrize("ttl", [None, 0, -1, float("nan"), "60", True])
    async def test_touch_refuses_a_bad_ttl(self, kv_store: KVStorageProtocol, ttl: Any) -> None:
        await kv_store.set("s", 1, ttl=60)
        with pytest.raises((TypeError, ValueError), match="ttl"):
            await kv_store.touch("s", ttl)
        remaining = await kv_store.ttl("s")
        assert remaining is not None and 59 < remaining <= 60

    @pytest.mark.asyncio
    async def test_delete_many(self, kv_store: KVStorageProtocol) -> None:
        await kv_store.set_many({"a": 1, "b": 2, "c": 3})
        await kv_store.set("gone", 4, ttl=_SHORT_TTL)
        await asyncio.sleep(_PAST_SHORT_TTL)
        assert await kv_store.delete_many(["a", "c", "a", "missing", "gone"]) == 2
        assert await kv_store.keys() == ["b"]
        assert await kv_store.delete_many([]) == 0
        assert await kv_store.delete_many(iter(["b"])) == 1
        assert await kv_store.keys() == []

    @pytest.mark.asyncio
    async def test_delete_many_checks_every_key_first(self, kv_store: KVStorageProtocol) -> None:
        await kv_store.set("a", 1)
        with pytest.raises(InvalidKeyError):
            await kv_store.delete_many(["a", ""])
        with pytest.raises(TypeError):
            await kv_store.delete_many("a")
        assert await kv_store.get("a") == 1

    @pytest.mark.asyncio
    async def test_closed_store_refuses_the_session_operations(
        self, kv_store: KVStorageProtocol
    ) -> None:
        await kv_store.aclose()
        for call in (kv_store.add("k", 1), kv_store.touch("k", 1), kv_store.delete_many(["k"])):
            with pytest.raises(StoreClosedError, match="closed"):
                await call
