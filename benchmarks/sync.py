"""Per-operation cost of the blocking API (``lexigram.storage.sync``) against the async API
it wraps, on the memory and local drivers, 4 KiB objects.

``ours`` is a call of a :class:`~lexigram.storage.sync.SyncBlobStore` method from a plain
thread (the coroutine runs on the provider's loop thread and the caller waits for it);
``baseline`` is ``await`` of the same method of the same kind of store on the caller's own
event loop. The difference is the cost of crossing threads twice per call (a
``run_coroutine_threadsafe`` hand-off and a wake-up), ``extra.overhead_us``. On the
memory driver, whose operations take a few microseconds, that hop dominates the ratio; on
the local driver (a file system call or several per operation) it is a small share.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import tempfile
from collections.abc import Awaitable, Callable
from typing import Any

from _measure import time_async, time_sync
from lexigram.storage import StorageConfig, StorageProvider
from lexigram.storage.sync import SyncStorageProvider

OPS = ("upload", "download", "info")


def _configs(root: str) -> dict[str, dict[str, Any]]:
    return {
        "memory": {"drivers": {"memory": {}}},
        "local": {"drivers": {"local": {"root_dir": root, "fsync": False}}},
    }


def _sync_case(settings: dict[str, Any], op: str, keys: list[str], data: bytes, n: int) -> float:
    with SyncStorageProvider(StorageConfig.from_dict(settings)) as provider:
        store = provider.store()
        for key in keys:
            store.upload(key, data)
        it = itertools.cycle(keys)
        call: Callable[[], object] = {
            "upload": lambda: store.upload(next(it), data),
            "download": lambda: store.download(next(it)),
            "info": lambda: store.info(next(it)),
        }[op]
        return time_sync(call, n, rounds=1, warmup=50).per_op_us


async def _async_case(
    settings: dict[str, Any], op: str, keys: list[str], data: bytes, n: int
) -> float:
    async with StorageProvider(StorageConfig.from_dict(settings)) as provider:
        store = provider.store()
        for key in keys:
            await store.upload(key, data)
        it = itertools.cycle(keys)
        call: Callable[[], Awaitable[object]] = {
            "upload": lambda: store.upload(next(it), data),
            "download": lambda: store.download(next(it)),
            "info": lambda: store.info(next(it)),
        }[op]
        return (await time_async(call, n, rounds=1, warmup=50)).per_op_us


def run(quick: bool) -> list[dict[str, Any]]:
    n = 300 if quick else 3_000
    rounds = 2 if quick else 5
    data = os.urandom(4096)
    keys = [f"bench/obj-{i:05d}.bin" for i in range(200)]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="lexigram-sync-bench-") as tmp:
        for driver, settings in _configs(tmp).items():
            for op in OPS:
                best_sync = best_async = float("inf")
                for _ in range(rounds):  # interleaved, so drift in load hits both alike
                    best_async = min(
                        best_async, asyncio.run(_async_case(settings, op, keys, data, n))
                    )
                    best_sync = min(best_sync, _sync_case(settings, op, keys, data, n))
                rows.append(
                    {
                        "case": f"{driver}: {op} 4 KiB (sync vs async)",
                        "ours": round(best_sync, 3),
                        "baseline": round(best_async, 3),
                        "unit": "us/op",
                        "ratio": round(best_sync / best_async, 3),
                        "target": "info",
                        "extra": {"overhead_us": round(best_sync - best_async, 3)},
                    }
                )
    return rows
