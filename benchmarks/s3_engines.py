"""The S3 driver's ``engine: obstore`` beside raw obstore and raw aiobotocore (issue 22.1):
``python benchmarks/run.py s3_engines [--quick]``.

Server: s3rver on a free 127.0.0.1 port in its own process (see ``benchmarks/s3.py``;
``npm ci --prefix benchmarks/s3rver`` once), so this process's CPU time
(``time.process_time``, every thread, obstore's Rust runtime included) is the client's.
Ours and the baselines run side by side in one process against the same server, in
alternating blocks of the same operations (``interleaved``); ratios are medians of the
paired blocks.

Cases and targets (ours = a store with ``engine: obstore``):

1. 4 KiB PUT and GET at concurrency 1 and 64: client CPU per op <= 1.15x raw obstore
   (``obstore.put_async`` / ``get_async`` + ``bytes_async`` on an ``S3Store`` with the
   same settings), ops/s at concurrency 64 >= 0.9x raw obstore. ``checksums: false`` is
   the like-for-like row (raw obstore checks nothing); the default ``checksums: true``
   (MD5 compared with the ETag) is an info row, and raw aiobotocore's figures beside
   both, for reference.
2. Listing 10,000 keys (each contender reads every entry's key): client CPU <= 1.2x raw
   obstore's ``list`` (aiobotocore's paginator for reference).
3. 256 MiB streamed upload (multipart): the client's peak memory growth <= part size x
   concurrency + 32 MiB; throughput vs raw obstore's streamed ``put_async`` (info).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import attrs

from _measure import Usage, interleaved
from lexigram.storage import BlobStore
from lexigram.storage.s3 import StorageS3Config
from lexigram.storage.s3.driver import S3Driver
from lexigram.storage.s3.obstore_engine import ObstoreS3Driver
from s3 import KEY, MIB, _row, s3rver


def _s3store(driver: ObstoreS3Driver) -> Any:
    """A raw obstore S3Store with exactly the settings of ours."""
    from obstore.store import S3Store

    kwargs = driver.store_kwargs()
    return S3Store(
        kwargs["bucket"],
        config=kwargs["config"],
        client_options=kwargs["client_options"],
        retry_config=kwargs["retry_config"],
    )


async def _small_ops(
    store: BlobStore, checked: BlobStore, obs: Any, raw: Any, bucket: str, n: int, rounds: int
) -> list[dict[str, Any]]:
    import obstore

    body = bytes(range(256)) * 16  # 4 KiB
    rows: list[dict[str, Any]] = []
    for conc in (1, 64):

        async def ours_put(i: int) -> None:
            await store.upload(f"small/{i}.bin", body)

        async def checked_put(i: int) -> None:
            await checked.upload(f"small/{i}.bin", body)

        async def obs_put(i: int) -> None:
            await obstore.put_async(
                obs, f"small/{i}.bin", body, attributes={"Content-Type": "application/octet-stream"}
            )

        async def raw_put(i: int) -> None:
            await raw.put_object(
                Bucket=bucket,
                Key=f"small/{i}.bin",
                Body=body,
                ContentType="application/octet-stream",
            )

        async def ours_get(i: int) -> None:
            await store.download(f"small/{i}.bin")

        async def checked_get(i: int) -> None:
            await checked.download(f"small/{i}.bin")

        async def obs_get(i: int) -> None:
            result = await obstore.get_async(obs, f"small/{i}.bin")
            bytes(await result.bytes_async())

        async def raw_get(i: int) -> None:
            resp = await raw.get_object(Bucket=bucket, Key=f"small/{i}.bin")
            async with resp["Body"] as stream:
                await stream.read()

        for verb, ours_op, checked_op, obs_op, raw_op in (
            ("PUT", ours_put, checked_put, obs_put, raw_put),
            ("GET", ours_get, checked_get, obs_get, raw_get),
        ):
            best = await interleaved(
                n,
                conc,
                rounds,
                {"ours": ours_op, "obstore": obs_op, "checked": checked_op, "aiobotocore": raw_op},
            )
            case = f"{n} x 4 KiB {verb}, concurrency {conc}"
            rows.append(
                _row(
                    f"{case}: engine obstore (checksums: false), client CPU vs raw obstore",
                    best.cpu_ms["ours"],
                    best.cpu_ms["obstore"],
                    "CPU s/1k ops",
                    "<= 1.15x",
                    ratio=best.cpu_ratio("ours", "obstore"),
                    vs_aiobotocore=round(best.cpu_ratio("ours", "aiobotocore"), 3),
                )
            )
            rows.append(
                _row(
                    f"{case}: engine obstore (checksums: false), ops/s vs raw obstore",
                    best.ops_s["ours"],
                    best.ops_s["obstore"],
                    "ops/s",
                    ">= 0.9x" if conc > 1 else "info",
                    ratio=best.ops_ratio("ours", "obstore"),
                    vs_aiobotocore=round(best.ops_ratio("ours", "aiobotocore"), 3),
                )
            )
            rows.append(
                _row(
                    f"{case}: engine obstore, checksums: true (default), client CPU vs raw obstore",
                    best.cpu_ms["checked"],
                    best.cpu_ms["obstore"],
                    "CPU s/1k ops",
                    "info",
                    ratio=best.cpu_ratio("checked", "obstore"),
                    ops_s_ratio=round(best.ops_ratio("checked", "obstore"), 3),
                )
            )
            rows.append(
                _row(
                    f"{case}: raw obstore vs raw aiobotocore, client CPU (reference)",
                    best.cpu_ms["obstore"],
                    best.cpu_ms["aiobotocore"],
                    "CPU s/1k ops",
                    "info",
                    ratio=best.cpu_ratio("obstore", "aiobotocore"),
                    ops_s_ratio=round(best.ops_ratio("obstore", "aiobotocore"), 3),
                )
            )
    return rows


async def _listing(
    store: BlobStore, obs: Any, raw: Any, bucket: str, count: int, rounds: int
) -> list[dict[str, Any]]:
    import obstore

    gate = asyncio.Semaphore(64)

    async def put(i: int) -> None:
        async with gate:
            await raw.put_object(Bucket=bucket, Key=f"list/{i:06d}", Body=b"")

    await asyncio.gather(*(put(i) for i in range(count)))

    async def ours() -> None:
        keys = [info.path async for info in store.list("list/")]
        assert len(keys) == count

    async def raw_obstore() -> None:
        # each entry's key read, as any listing's consumer does
        keys = [
            meta["path"]
            async for page in obstore.list(obs, "list", chunk_size=1000)
            for meta in page
        ]
        assert len(keys) == count

    async def aiobotocore() -> None:
        keys = [
            o["Key"]
            async for page in raw.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix="list/"
            )
            for o in page.get("Contents", ())
        ]
        assert len(keys) == count

    contenders = {"ours": ours, "obstore": raw_obstore, "aiobotocore": aiobotocore}
    cpu: dict[str, list[float]] = {name: [] for name in contenders}
    order = list(contenders.items())
    for r in range(rounds):
        shift = r % len(order)
        for name, fn in order[shift:] + order[:shift]:
            cpu0 = time.process_time()
            await fn()
            cpu[name].append(time.process_time() - cpu0)
    best = {name: min(values) for name, values in cpu.items()}
    return [
        _row(
            f"list {count} keys: engine obstore, client CPU vs raw obstore",
            best["ours"] * 1000,
            best["obstore"] * 1000,
            "CPU ms",
            "<= 1.2x",
            vs_aiobotocore=round(best["ours"] / best["aiobotocore"], 3),
            aiobotocore_cpu_ms=round(best["aiobotocore"] * 1000, 1),
        )
    ]


async def _source(total: int, piece: int = MIB) -> AsyncIterator[bytes]:
    chunk = bytes(range(256)) * (piece // 256)
    sent = 0
    while sent < total:
        n = min(piece, total - sent)
        yield chunk if n == piece else chunk[:n]
        sent += n


async def _upload(
    store: BlobStore, obs: Any, total: int, part_size: int, concurrency: int, rounds: int
) -> list[dict[str, Any]]:
    import obstore

    mib = total / MIB
    bound_kib = (part_size * concurrency + 32 * MIB) // 1024
    speed = {"ours": 0.0, "obstore": 0.0}
    mem = {"ours": 0, "obstore": 0}
    for _ in range(rounds):
        with Usage() as usage:
            info = await store.upload("big/ours.bin", _source(total))
        assert info.size == total
        speed["ours"] = max(speed["ours"], mib / usage.wall_s)
        mem["ours"] = max(mem["ours"], usage.peak_growth_kib or 0)
        with Usage() as usage:
            await obstore.put_async(
                obs,
                "big/obstore.bin",
                _source(total),
                chunk_size=part_size,
                max_concurrency=concurrency,
            )
        speed["obstore"] = max(speed["obstore"], mib / usage.wall_s)
        mem["obstore"] = max(mem["obstore"], usage.peak_growth_kib or 0)
    return [
        _row(
            f"{mib:.0f} MiB streamed upload: engine obstore, peak memory growth",
            float(mem["ours"]),
            float(bound_kib),
            "KiB",
            "<= 1.0x",
            bound="part_size x concurrency + 32 MiB",
            raw_obstore_kib=mem["obstore"],
        ),
        _row(
            f"{mib:.0f} MiB streamed upload: engine obstore vs raw obstore",
            speed["ours"],
            speed["obstore"],
            "MiB/s",
            "info",
        ),
    ]


async def run(quick: bool) -> list[dict[str, Any]]:
    from aiobotocore.session import AioSession

    n_small = 400 if quick else 3000
    total = 32 * MIB if quick else 256 * MIB
    n_list = 2000 if quick else 10_000
    rounds = 2 if quick else 3
    part_size, concurrency = 8 * MIB, 8
    bucket = "bench-engines"
    with s3rver() as server:
        config = StorageS3Config(
            bucket=bucket,
            endpoint_url=server.url,
            access_key=KEY,
            secret_key=KEY,
            addressing_style="path",
            part_size=part_size,
            max_concurrency=concurrency,
            engine="obstore",
            checksums=False,
        )
        driver = ObstoreS3Driver.from_config(config)
        store = BlobStore(driver, name="bench-obstore")
        checked = BlobStore(
            ObstoreS3Driver.from_config(attrs.evolve(config, checksums=True)), name="checked"
        )
        obs = _s3store(driver)
        sdk = S3Driver.from_config(attrs.evolve(config, engine="sdk"))
        async with AioSession().create_client("s3", **sdk.client_kwargs()) as raw:
            await raw.create_bucket(Bucket=bucket)
            await store.upload("warmup", b"x")  # opens ours' clients
            await checked.upload("warmup", b"x")
            rows = await _small_ops(store, checked, obs, raw, bucket, n_small, rounds)
            rows += await _listing(store, obs, raw, bucket, n_list, rounds)
            rows += await _upload(store, obs, total, part_size, concurrency, rounds)
        await store.close()
        await checked.close()
        await sdk.close()
    return rows
