"""InMemoryKVStorage specifics: reclaiming expired keys, the sweeper's lifecycle."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Callable

import pytest

from lexigram.storage.kv import InMemoryKVStorage


async def _wait_until(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` for up to five seconds (no timing is asserted)."""
    for _ in range(250):
        if condition():
            return
        await asyncio.sleep(0.02)


async def test_expired_keys_are_reclaimed_without_a_reader() -> None:
    async with InMemoryKVStorage(sweep_interval=0.05) as store:
        await store.set_many({f"k{i}": i for i in range(1000)}, ttl=0.1)
        await store.set("keep", 1)
        await _wait_until(lambda: len(store._values) == 1)
        assert list(store._values) == ["keep"]
        await _wait_until(lambda: not store._sweeper.running)
        assert not store._sweeper.running  # nothing left to expire: the task stopped


async def test_overwritten_ttls_do_not_grow_the_heap_without_bound() -> None:
    async with InMemoryKVStorage(sweep_interval=0.02) as store:
        for _ in range(200):
            await store.set("k", 1, ttl=60)
        await store.set("short", 1, ttl=0.01)
        await _wait_until(lambda: len(store._expiries) <= 2)
        assert len(store._expiries) <= 2


async def test_no_sweeper_task_without_ttls() -> None:
    async with InMemoryKVStorage() as store:
        await store.set("k", 1)
        assert not store._sweeper.running


async def test_close_stops_the_sweeper() -> None:
    store = InMemoryKVStorage()
    await store.set("k", 1, ttl=60)
    assert store._sweeper.running
    await store.aclose()
    assert not store._sweeper.running
    assert "closed" in repr(store)


async def test_a_dropped_store_is_garbage_collected_despite_its_sweeper() -> None:
    store = InMemoryKVStorage(sweep_interval=0.01)
    await store.set("k", 1, ttl=60)
    ref = weakref.ref(store)
    del store
    gc.collect()
    assert ref() is None
    await asyncio.sleep(0.05)  # the task notices and ends


def test_usable_before_a_loop_runs_and_sweeper_starts_later() -> None:
    store = InMemoryKVStorage()

    async def main() -> object:
        await store.set("k", 1, ttl=60)
        running = store._sweeper.running
        await store.aclose()
        return running

    assert asyncio.run(main()) is True


def test_sweep_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="sweep_interval"):
        InMemoryKVStorage(sweep_interval=0)
