"""KV store benchmarks (issue 3): ``python benchmarks/run.py kv [--quick]``.

Cases and targets:

1. ``LocalStorage.set`` per-op cost with 100,000 keys stored vs with 1,000 (target
   <= 1.5x): the log is append-only, so a set must not cost more in a bigger store.
   Measured with ``fsync=True`` (the default; the fdatasync dominates) and with
   ``fsync=False`` (the CPU path alone, where growth would show). The number is the
   mean over a run of sequential overwrites of random existing keys, so it includes
   compactions that fall in the run (amortised), not just the median.
2. 64 concurrent setters vs one sequential setter, ``fsync=True``: throughput in
   sets/s (target >= 8x), from group commit sharing one write + one fdatasync per batch.
3. ``InMemoryKVStorage`` get and set vs a bare async dict wrapper that gives the same
   copy-in/copy-out guarantee the cheapest way (store ``json.dumps``, return
   ``json.loads``): target <= 2x, i.e. validation, TTL and closed-state bookkeeping
   at most double the cost. Rows against a raw dict wrapper that copies nothing are
   printed for information (target "info").
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from _measure import row as _row
from _measure import time_async
from lexigram.storage.kv import InMemoryKVStorage, LocalStorage

VALUE = {"user": "42", "roles": ["reader"], "n": 0}


async def _populate(store: LocalStorage, n: int) -> None:
    chunk = 1000
    for start in range(0, n, chunk):
        await store.set_many(
            {f"key:{i:07d}": dict(VALUE, n=i) for i in range(start, min(n, start + chunk))}
        )


async def _set_costs(
    directory: Path, sizes: tuple[int, int], ops: int, fsync: bool
) -> tuple[list[float], list[dict[str, int]]]:
    """Mean microseconds per sequential ``set`` (overwrites of random existing keys).

    The two stores are measured in alternating chunks of 500 sets, so drift in the
    machine's speed (other tenants, CPU frequency) hits both sizes alike.
    """
    stores = [LocalStorage(directory / f"set-{n}-{fsync}.jsonl", fsync=fsync) for n in sizes]
    rngs = [random.Random(n) for n in sizes]
    elapsed = [0.0, 0.0]
    try:
        for store, n in zip(stores, sizes, strict=True):
            await _populate(store, n)
        chunk = 500
        for done in range(-chunk, ops, chunk):  # the first chunk warms up
            for i, (store, n, rng) in enumerate(zip(stores, sizes, rngs, strict=True)):
                keys = [f"key:{rng.randrange(n):07d}" for _ in range(chunk)]
                start = time.perf_counter()
                for j, key in enumerate(keys):
                    await store.set(key, dict(VALUE, n=j))
                if done >= 0:
                    elapsed[i] += time.perf_counter() - start
        stats = [await store.stats() for store in stores]
    finally:
        for store in stores:
            await store.aclose()
    return [e / ops * 1e6 for e in elapsed], stats


async def _group_commit(directory: Path, rounds: int) -> tuple[float, float, dict[str, int]]:
    """Sets/s of 64 concurrent setters and of one sequential setter (fsync on).

    Measured in alternating rounds (64 sequential sets, then 64 tasks x 4 sets), so the
    disk's changing fsync latency (shared machine) hits both sides alike.
    """
    async with LocalStorage(directory / "group-commit.jsonl") as store:
        await _populate(store, 1000)

        async def writer(w: int, count: int) -> None:
            for i in range(count):
                await store.set(f"key:{(w * 16 + i) % 1000:07d}", dict(VALUE, n=i))

        await writer(0, 20)  # warm up
        before = await store.stats()
        seq_time = conc_time = 0.0
        seq_sets = conc_sets = 0
        for _ in range(rounds):
            start = time.perf_counter()
            await writer(0, 64)
            seq_time += time.perf_counter() - start
            seq_sets += 64
            start = time.perf_counter()
            await asyncio.gather(*(writer(w, 4) for w in range(64)))
            conc_time += time.perf_counter() - start
            conc_sets += 256
        after = await store.stats()
    batches = after["commit_batches"] - before["commit_batches"] - seq_sets
    extra = {
        "concurrent_sets": conc_sets,
        "concurrent_batches": batches,
        "sequential_sets": seq_sets,
    }
    return conc_sets / conc_time, seq_sets / seq_time, extra


class _Store(Protocol):
    async def set(self, key: str, value: object) -> None: ...
    async def get(self, key: str) -> Any: ...


def _set(store: _Store, key: Callable[[], str]) -> Callable[[], Awaitable[object]]:
    """``store.set(next key, VALUE)`` as a call returning the coroutine (no extra layer)."""
    return lambda: store.set(key(), VALUE)


def _get(store: _Store, key: Callable[[], str]) -> Callable[[], Awaitable[object]]:
    return lambda: store.get(key())


class _JsonDictWrapper:
    """The baseline: a bare async dict wrapper with the same copy-in/copy-out guarantee."""

    def __init__(self) -> None:
        self._data: dict[str, str] = {}

    async def set(self, key: str, value: object) -> None:
        self._data[key] = json.dumps(value)

    async def get(self, key: str) -> Any:
        text = self._data.get(key)
        return None if text is None else json.loads(text)


class _RawDictWrapper:
    """A bare async dict wrapper that copies nothing (for information only)."""

    def __init__(self) -> None:
        self._data: dict[str, object] = {}

    async def set(self, key: str, value: object) -> None:
        self._data[key] = value

    async def get(self, key: str) -> Any:
        return self._data.get(key)


async def _memory_rows(quick: bool) -> list[dict[str, Any]]:
    n, rounds = (2000, 3) if quick else (20000, 7)
    ours = InMemoryKVStorage()
    json_wrapper = _JsonDictWrapper()
    raw = _RawDictWrapper()
    keys = [f"session:{i}" for i in range(1000)]
    for store in (ours, json_wrapper, raw):
        for k in keys:
            await store.set(k, VALUE)
    counter = iter(range(10**9))

    def key() -> str:
        return keys[next(counter) % 1000]

    results: dict[str, dict[str, float]] = {}
    contenders: list[tuple[str, _Store]] = [("ours", ours), ("json", json_wrapper), ("raw", raw)]
    for name, contender in contenders:
        set_t = await time_async(_set(contender, key), n, rounds=rounds)
        get_t = await time_async(_get(contender, key), n, rounds=rounds)
        results[name] = {"set": set_t.per_op_us, "get": get_t.per_op_us}
    await ours.aclose()
    rows = []
    for op in ("set", "get"):
        rows.append(
            _row(
                f"memory {op} vs json-copying dict wrapper",
                results["ours"][op],
                results["json"][op],
                "us/op",
                "<= 2x",
            )
        )
    for op in ("set", "get"):
        rows.append(
            _row(
                f"memory {op} vs raw dict wrapper (no copies)",
                results["ours"][op],
                results["raw"][op],
                "us/op",
                "info",
            )
        )
    return rows


async def run(quick: bool) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    directory = Path(tempfile.mkdtemp(prefix="lexigram-kv-bench-"))
    try:
        big = 20_000 if quick else 100_000
        for fsync, ops in ((True, 500 if quick else 3000), (False, 1000 if quick else 120_000)):
            (small_us, big_us), (small_stats, big_stats) = await _set_costs(
                directory, (1000, big), ops, fsync
            )
            rows.append(
                _row(
                    f"local set, {big:,} vs 1,000 keys (fsync={'on' if fsync else 'off'})",
                    big_us,
                    small_us,
                    "us/op",
                    "<= 1.5x",
                    ops=ops,
                    compactions_small=small_stats["compactions"],
                    compactions_big=big_stats["compactions"],
                )
            )
        conc, seq, extra = await _group_commit(directory, 3 if quick else 20)
        rows.append(
            _row(
                "local set throughput, 64 concurrent vs 1 sequential setter",
                conc,
                seq,
                "sets/s",
                ">= 8x",
                **extra,
            )
        )
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    rows += await _memory_rows(quick)
    return rows
