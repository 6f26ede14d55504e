"""What the redis backend does on the server: namespaces, glob escaping, JSON text,
millisecond TTLs, 64-bit counters. Checked with a bare redis.asyncio client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from lexigram.storage.errors import InvalidArgumentError, StorageError
from lexigram.storage.redis.store import RedisKVStorage


@pytest.fixture
async def raw(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


async def test_values_are_json_text_under_the_prefix(
    store: RedisKVStorage, raw: aioredis.Redis, prefix: str
) -> None:
    await store.set("user:1", {"name": "é", "roles": ["a"]})
    await store.increment("n", 5)
    assert await raw.get(f"{prefix}user:1") == '{"name":"\\u00e9","roles":["a"]}'
    assert await raw.get(f"{prefix}n") == "5"
    assert await raw.exists("user:1") == 0


async def test_ttl_is_set_to_the_millisecond(
    store: RedisKVStorage, raw: aioredis.Redis, prefix: str
) -> None:
    await store.set("k", 1, ttl=1.5)
    assert 1400 < await raw.pttl(f"{prefix}k") <= 1500
    await store.set_many({"a": 1}, ttl=2.25)
    assert 2150 < await raw.pttl(f"{prefix}a") <= 2250
    assert await store.touch("a", 0.75)
    assert 650 < await raw.pttl(f"{prefix}a") <= 750
    assert await store.add("b", 1, ttl=3.125)
    assert 3025 < await raw.pttl(f"{prefix}b") <= 3125


async def test_clear_removes_only_this_stores_namespace(
    redis_url: str, raw: aioredis.Redis, prefix: str
) -> None:
    # a prefix with glob characters must not match its look-alikes
    mine = RedisKVStorage(redis_url, prefix=f"{prefix}app[1]*:")
    lookalike = RedisKVStorage(redis_url, prefix=f"{prefix}app1x:")
    neighbour = RedisKVStorage(redis_url, prefix=f"{prefix}other:")
    try:
        await mine.set_many({"a": 1, "b": 2})
        await lookalike.set("a", 3)
        await neighbour.set("a", 4)
        await raw.set(f"{prefix}bare", "5")
        await mine.clear()
        assert await mine.keys() == []
        assert await lookalike.get("a") == 3
        assert await neighbour.get("a") == 4
        assert await raw.get(f"{prefix}bare") == "5"
        assert await lookalike.keys() == ["a"]
    finally:
        for store in (mine, lookalike, neighbour):
            await store.aclose()


async def test_keys_treats_glob_characters_in_the_prefix_literally(
    store: RedisKVStorage,
) -> None:
    keys = ["a*b", "a*c", "aXb", "[x]1", "[x]2", "x1", "?q", "zq", "\\z", "\\\\z", "a?"]
    await store.set_many(dict.fromkeys(keys, 1))
    assert await store.keys("a*") == ["a*b", "a*c"]
    assert await store.keys("[x]") == ["[x]1", "[x]2"]
    assert await store.keys("?") == ["?q"]
    assert await store.keys("\\") == sorted(["\\z", "\\\\z"])
    assert await store.keys("\\\\") == ["\\\\z"]
    assert await store.keys("a?") == ["a?"]
    assert await store.keys() == sorted(keys)


async def test_keys_and_clear_walk_more_than_one_scan_page(store: RedisKVStorage) -> None:
    await store.set_many({f"k{i:05d}": i for i in range(2500)})
    assert len(await store.keys("k")) == 2500
    await store.clear()
    assert await store.keys() == []


async def test_increment_is_64_bit_and_refuses_to_overflow(store: RedisKVStorage) -> None:
    await store.set("max", 2**63 - 1)
    with pytest.raises(InvalidArgumentError, match="'max'"):
        await store.increment("max")
    assert await store.get("max") == 2**63 - 1
    await store.set("big", 2**70)
    with pytest.raises(InvalidArgumentError, match="'big'"):
        await store.increment("big")
    assert await store.get("big") == 2**70
    with pytest.raises(InvalidArgumentError, match="64-bit"):
        await store.increment("n", 2**63)
    assert await store.exists("n") is False
    assert await store.increment("min", -(2**63)) == -(2**63)


async def test_a_value_that_is_not_json_is_a_typed_error(
    store: RedisKVStorage, raw: aioredis.Redis, prefix: str
) -> None:
    await raw.set(f"{prefix}foreign", "not json")
    with pytest.raises(StorageError, match=r"'foreign'.*not JSON"):
        await store.get("foreign")
    with pytest.raises(StorageError, match=r"'foreign'.*not JSON"):
        await store.increment("foreign")
    assert await raw.get(f"{prefix}foreign") == "not json"


async def test_a_key_of_another_type_is_a_typed_error(
    store: RedisKVStorage, raw: aioredis.Redis, prefix: str
) -> None:
    await raw.rpush(f"{prefix}list", "x")
    with pytest.raises(StorageError, match=r"'list'.*WRONGTYPE"):
        await store.get("list")


async def test_set_many_is_one_transaction(
    store: RedisKVStorage, raw: aioredis.Redis, prefix: str
) -> None:
    # MULTI/EXEC: a WATCHing client sees the keys change together, and the monitor
    # of the command stream shows one transaction
    async with raw.monitor() as monitor:
        await store.set_many({"a": 1, "b": 2})
        commands = []
        async for event in monitor.listen():
            commands.append(event["command"].split()[0].upper())
            if commands[-1] == "EXEC":
                break
    assert commands[-4:] == ["MULTI", "SET", "SET", "EXEC"]
    assert await raw.mget(f"{prefix}a", f"{prefix}b") == ["1", "2"]
