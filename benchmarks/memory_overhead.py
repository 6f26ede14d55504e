"""Per-operation cost of the memory driver through BlobStore vs in-memory peers (issue 22.4).

For 4 KiB objects, ``upload`` (store the bytes, get the object's info back), ``download``
(the bytes) and ``info`` (size, ETag, ...) on

- ours: ``BlobStore(MemoryDriver())``, every policy on (key rules, body and metadata
  checks, content-type guess, error mapping);
- obstore's ``MemoryStore`` (Rust ``object_store``) through its async API:
  ``put_async``, ``get_async`` + ``bytes_async``, ``head_async``;
- fsspec's ``MemoryFileSystem`` through fsspec's async API: wrapped in
  ``AsyncFileSystemWrapper`` (fsspec's own sync-to-async adapter), awaiting
  ``_pipe_file``, ``_cat_file``, ``_info`` — each call runs the sync method in a worker
  thread (``asyncio.to_thread``), which is how fsspec offers this filesystem to async code.

The peers' uploads return less than ours (obstore: the ETag; fsspec: nothing, where ours
returns the whole ``BlobInfo``); they are not asked for more. fsspec's ``info`` lists the
key's directory to find it, so its cost grows with the keys beside it (all keys here
share one prefix, as in a bucket).

Target: ours <= 1.0x the faster of the two peers, per operation. Info rows, no target:
fsspec's sync API called straight from a coroutine in the same loop (no thread: what an
async program could do with a sync in-memory filesystem), and a bare ``async def``
wrapper over a dict that returns the same ``BlobInfo`` (no policy at all: the floor).

Contenders run side by side in alternating blocks of the same operations
(:func:`_measure.interleaved`, concurrency 1); per-op figures are wall microseconds of
all blocks, the ratio is the median over paired blocks (the CPU ratio is in ``extra``).
"""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import fsspec
import obstore
from fsspec.implementations.memory import MemoryFileSystem
from obstore.store import MemoryStore

from _measure import interleaved
from lexigram.storage import BlobInfo, BlobStore
from lexigram.storage.memory import MemoryDriver

_etag = itertools.count(1)
Op = Callable[[int], Awaitable[Any]]


class BareDict:
    """What one would write by hand: an async def wrapper over a dict, no policy."""

    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, BlobInfo]] = {}

    async def upload(self, path: str, data: bytes, *, content_type: str = "image/jpeg") -> BlobInfo:
        info = BlobInfo(
            path=path,
            size=len(data),
            content_type=content_type,
            last_modified=datetime.now(UTC),
            etag=f'"{next(_etag):x}"',
            metadata={},
        )
        self.objects[path] = (bytes(data), info)
        return info

    async def download(self, path: str) -> bytes:
        return self.objects[path][0]

    async def info(self, path: str) -> BlobInfo:
        return self.objects[path][1]


def _contenders(keys: list[str], data: bytes) -> dict[str, dict[str, Op]]:
    """Per operation, per contender: ``op(i)`` on ``keys[i]``."""
    ours = BlobStore(MemoryDriver(), name="bench")
    ob = MemoryStore()
    # fsspec's sync-to-async adapter (fsspec >= 2024.12; imported here, so that the module
    # imports with the oldest fsspec the fsspec extra allows)
    from fsspec.implementations.asyn_wrapper import AsyncFileSystemWrapper

    sync_fs = MemoryFileSystem()
    afs = AsyncFileSystemWrapper(sync_fs, asynchronous=True)
    # MemoryFileSystem's store is shared by every instance: a root of our own
    root = f"/lexigram-bench-{secrets.token_hex(4)}"
    fs_keys = [f"{root}/{k}" for k in keys]
    bare = BareDict()

    async def ob_get(i: int) -> Any:
        result = await obstore.get_async(ob, keys[i])
        return await result.bytes_async()

    async def fs_sync_put(i: int) -> Any:
        sync_fs.pipe_file(fs_keys[i], data)

    async def fs_sync_get(i: int) -> Any:
        return sync_fs.cat_file(fs_keys[i])

    async def fs_sync_info(i: int) -> Any:
        return sync_fs.info(fs_keys[i])

    return {
        "upload 4 KiB": {
            "ours": lambda i: ours.upload(keys[i], data),
            "obstore": lambda i: obstore.put_async(ob, keys[i], data),
            "fsspec": lambda i: afs._pipe_file(fs_keys[i], data),
            "fsspec_sync": fs_sync_put,
            "bare": lambda i: bare.upload(keys[i], data),
        },
        "download 4 KiB": {
            "ours": lambda i: ours.download(keys[i]),
            "obstore": ob_get,
            "fsspec": lambda i: afs._cat_file(fs_keys[i]),
            "fsspec_sync": fs_sync_get,
            "bare": lambda i: bare.download(keys[i]),
        },
        "info": {
            "ours": lambda i: ours.info(keys[i]),
            "obstore": lambda i: obstore.head_async(ob, keys[i]),
            "fsspec": lambda i: afs._info(fs_keys[i]),
            "fsspec_sync": fs_sync_info,
            "bare": lambda i: bare.info(keys[i]),
        },
    }


def _us(ops_s: float) -> float:
    return round(1e6 / ops_s, 3)


async def run(quick: bool) -> list[dict[str, Any]]:
    # fsspec's memory filesystem finds a file's info by listing its directory: the more
    # keys, the slower its info (one directory here, as a bucket prefix would be)
    n = 1_000 if quick else 4_000
    rounds = 2 if quick else 3
    data = os.urandom(4096)
    keys = [f"avatars/user-{i:06d}.jpg" for i in range(n)]
    cases = _contenders(keys, data)
    rows: list[dict[str, Any]] = []
    for case, ops in cases.items():
        paired = await interleaved(n, 1, rounds, ops)
        us = {name: _us(paired.ops_s[name]) for name in ops}
        peer = min(("obstore", "fsspec"), key=lambda name: us[name])
        versions = {"obstore": obstore.__version__, "fsspec": fsspec.__version__}
        rows.append(
            {
                "case": f"{case} vs the faster peer ({peer})",
                "ours": us["ours"],
                "baseline": us[peer],
                "unit": "us/op",
                # ours / peer time per op = peer / ours ops/s: median of the paired blocks
                "ratio": round(paired.ops_ratio(peer, "ours"), 3),
                "target": "<= 1.0x",
                "extra": {
                    "us_per_op": us,
                    "cpu_ratio_vs_peer": round(paired.cpu_ratio("ours", peer), 3),
                    "ops": n * rounds,
                    "fsspec_async_via": "AsyncFileSystemWrapper (asyncio.to_thread per call)",
                    **versions,
                },
            }
        )
        other = "fsspec" if peer == "obstore" else "obstore"
        for name, label in (
            (other, f"vs the slower peer ({other})"),
            ("fsspec_sync", "vs fsspec's sync API called in the loop (no thread)"),
            ("bare", "vs a bare async dict wrapper (no policy: the floor)"),
        ):
            rows.append(
                {
                    "case": f"{case} {label}",
                    "ours": us["ours"],
                    "baseline": us[name],
                    "unit": "us/op",
                    "ratio": round(paired.ops_ratio(name, "ours"), 3),
                    "target": "info",
                    "extra": {"cpu_ratio": round(paired.cpu_ratio("ours", name), 3)},
                }
            )
    return rows
