"""Azure driver vs the raw async SDK, side by side against Azurite (issue 7).

    python benchmarks/run.py azure_blob [--quick]

(Not named ``azure.py``: the runner puts benchmarks/ on sys.path, where a module
``azure`` would shadow the Azure SDK's ``azure`` namespace package.)

Needs the driver (``pip install -e packages/lexigram-storage-azure``) and Azurite
(``npm ci --prefix tests-integration/azurite``); Azurite is started on a free 127.0.0.1
port and stopped at the end. Client CPU is this process's CPU time (Azurite is another
process), so it is the client's cost per operation that is compared.

Cases (targets from the issue):

* small objects (1 KiB): upload, download, info — ops/s ``>= 0.95x`` and client CPU per
  op ``<= 1.05x`` the raw ``azure.storage.blob.aio`` calls doing the same requests
  (``upload_blob``, ``download_blob().readall()``, ``get_blob_properties``);
* a 256 MiB streamed upload (async iterator of 1 MiB pieces) vs ``upload_blob`` of the
  same iterator with the same block size (8 MiB) and concurrency (4), and a 256 MiB
  streamed download, ``stream(chunk_size=4 MiB)`` vs ``download_blob().chunks()`` with
  the same 4 MiB chunk size (so both make the same requests and yield the same
  chunks): MiB/s ``>= 0.95x``, CPU ``<= 1.05x``; an extra "info" row shows the CPU of
  ``stream(chunk_size=1 MiB)``, where the driver re-slices the SDK's 4 MiB chunks;
* peak RSS growth of our streamed transfers ``<= block_size x max_concurrency + 32 MiB``.

Small operations alternate ours and the baseline call by call (totals are reported);
the 256 MiB transfers alternate round by round (each side's best round is reported).
"""

from __future__ import annotations

import gc
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from _measure import Usage
from lexigram.storage import BlobStore
from lexigram.storage.azure import StorageAzureConfig
from lexigram.storage.azure.driver import AzureBlobDriver
from lexigram.storage.testing.servers import ServerProcess, http_ready

ROOT = Path(__file__).resolve().parent.parent
AZURITE_DIR = ROOT / "tests-integration" / "azurite"
ACCOUNT = "devstoreaccount1"
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
MIB = 1024 * 1024
BLOCK = 8 * MIB
CONCURRENCY = 4


def _row(
    case: str, ours: float, baseline: float, unit: str, target: str, **extra: Any
) -> dict[str, Any]:
    return {
        "case": case,
        "ours": round(ours, 3),
        "baseline": round(baseline, 3),
        "unit": unit,
        "ratio": round(ours / baseline, 3) if baseline else float("inf"),
        "target": target,
        "extra": extra,
    }


async def _pieces(total: int, piece: int = MIB) -> AsyncIterator[bytes]:
    chunk = bytes(range(256)) * (piece // 256)
    sent = 0
    while sent < total:
        n = min(piece, total - sent)
        yield chunk[:n]
        sent += n


async def _small(
    ours: Callable[[int], Awaitable[object]],
    raw: Callable[[int], Awaitable[object]],
    n: int,
    rounds: int,
) -> tuple[tuple[float, float], tuple[float, float]]:
    """((ops/s, CPU us/op) ours, (ops/s, CPU us/op) raw), interleaved op by op.

    The two sides alternate call by call (ours first on even calls, raw first on odd
    ones), so a change in machine load or in Azurite's speed hits both alike; each
    side's numbers are totals over every timed call.
    """
    await ours(0)
    await raw(0)
    wall = {True: 0.0, False: 0.0}
    cpu = {True: 0.0, False: 0.0}
    clock, cpu_clock = time.perf_counter, time.process_time
    for _ in range(rounds):
        gc.collect()
        for i in range(n):
            order = ((ours, True), (raw, False)) if i % 2 == 0 else ((raw, False), (ours, True))
            for op, side in order:
                c0, w0 = cpu_clock(), clock()
                await op(i)
                wall[side] += clock() - w0
                cpu[side] += cpu_clock() - c0
    total = n * rounds
    return (
        (total / wall[True], cpu[True] / total * 1e6),
        (total / wall[False], cpu[False] / total * 1e6),
    )


async def run(quick: bool) -> list[dict[str, Any]]:
    from azure.core.credentials import AzureNamedKeyCredential
    from azure.storage.blob import ContentSettings
    from azure.storage.blob.aio import BlobServiceClient

    n = 100 if quick else 250
    rounds = 3 if quick else 8
    big = 256 * MIB
    big_rounds = 2 if quick else 4
    server = ServerProcess(
        "azurite",
        [
            str(AZURITE_DIR / "node_modules" / ".bin" / "azurite-blob"),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            "{port}",
            "--inMemoryPersistence",
            "--skipApiVersionCheck",
            "--disableTelemetry",
            "--silent",
        ],
        ready=http_ready("/", any_status=True),
        cwd=AZURITE_DIR,
    )
    rows: list[dict[str, Any]] = []
    with server:
        endpoint = f"{server.url}/{ACCOUNT}"
        container = f"bench{uuid.uuid4().hex[:12]}"
        raw_service = BlobServiceClient(
            endpoint,
            credential=AzureNamedKeyCredential(ACCOUNT, KEY),
            max_single_get_size=4 * MIB,
            max_chunk_get_size=4 * MIB,
            max_single_put_size=BLOCK,
            max_block_size=BLOCK,
        )
        await raw_service.create_container(container)
        raw = raw_service.get_container_client(container)
        config = StorageAzureConfig(
            account_name=ACCOUNT,
            account_key=KEY,
            container=container,
            endpoint_url=endpoint,
            block_size=BLOCK,
            max_concurrency=CONCURRENCY,
        )
        store = BlobStore(AzureBlobDriver(config), name="bench")
        small = b"x" * 1024
        settings = ContentSettings(content_type="application/octet-stream")
        try:
            # -- small objects ------------------------------------------------------------
            async def ours_up(i: int) -> object:
                return await store.upload(f"ours/{i % 50}", small)

            async def raw_up(i: int) -> object:
                return await raw.get_blob_client(f"raw/{i % 50}").upload_blob(
                    small,
                    length=len(small),
                    overwrite=True,
                    content_settings=settings,
                    metadata={},
                    max_concurrency=1,
                )

            async def ours_down(i: int) -> object:
                return await store.download(f"ours/{i % 50}")

            async def raw_down(i: int) -> object:
                downloader = await raw.get_blob_client(f"raw/{i % 50}").download_blob(
                    max_concurrency=1
                )
                return await downloader.readall()

            async def ours_info(i: int) -> object:
                return await store.info(f"ours/{i % 50}")

            async def raw_info(i: int) -> object:
                return await raw.get_blob_client(f"raw/{i % 50}").get_blob_properties()

            for i in range(50):
                await ours_up(i)
                await raw_up(i)
            for name, ours_op, raw_op in (
                ("upload 1 KiB", ours_up, raw_up),
                ("download 1 KiB", ours_down, raw_down),
                ("info", ours_info, raw_info),
            ):
                (o_rate, o_cpu), (r_rate, r_cpu) = await _small(ours_op, raw_op, n, rounds)
                rows.append(_row(f"{name}: ops/s", o_rate, r_rate, "ops/s", ">= 0.95x", n=n))
                rows.append(_row(f"{name}: CPU/op", o_cpu, r_cpu, "us CPU/op", "<= 1.05x", n=n))

            # -- 256 MiB streamed ---------------------------------------------------------
            best: dict[str, dict[str, float]] = {}

            def keep(label: str, usage: Usage) -> None:
                mib_s = big / MIB / usage.wall_s
                cur = best.setdefault(label, {"mib_s": 0.0, "cpu_s": float("inf"), "peak_kib": 0.0})
                cur["mib_s"] = max(cur["mib_s"], mib_s)
                cur["cpu_s"] = min(cur["cpu_s"], usage.cpu_s)
                cur["peak_kib"] = max(cur["peak_kib"], float(usage.peak_growth_kib or 0))

            # Warm-up (not measured): one 64 MiB transfer per side, so that the allocator's
            # first-use growth is not counted as the transfer's memory.
            await store.upload("warm-ours", _pieces(64 * MIB))
            await raw.get_blob_client("warm-raw").upload_blob(
                _pieces(64 * MIB), overwrite=True, max_concurrency=CONCURRENCY
            )
            for r in range(big_rounds):
                for side in ("ours", "raw") if r % 2 == 0 else ("raw", "ours"):
                    key = f"big-{side}"
                    with Usage() as usage:
                        if side == "ours":
                            await store.upload(key, _pieces(big))
                        else:
                            await raw.get_blob_client(key).upload_blob(
                                _pieces(big),
                                overwrite=True,
                                content_settings=settings,
                                max_concurrency=CONCURRENCY,
                            )
                    keep(f"up-{side}", usage)
                    with Usage() as usage:
                        got = 0
                        if side == "ours":
                            async for chunk in store.stream(key, chunk_size=4 * MIB):
                                got += len(chunk)
                        else:
                            downloader = await raw.get_blob_client(key).download_blob(
                                max_concurrency=1
                            )
                            async for chunk in downloader.chunks():
                                got += len(chunk)
                    assert got == big, (side, got)
                    keep(f"down-{side}", usage)
                    if side == "ours":
                        # Smaller chunks than the SDK's 4 MiB: each one is a slice copy.
                        with Usage() as usage:
                            async for chunk in store.stream(key, chunk_size=MIB):
                                got -= len(chunk)
                        assert got == 0
                        keep("down-ours-1mib", usage)
                    await raw.delete_blob(key)
            limit_mib = BLOCK * CONCURRENCY / MIB + 32
            for direction, label in (("up", "upload"), ("down", "download")):
                o, b = best[f"{direction}-ours"], best[f"{direction}-raw"]
                rows.append(
                    _row(
                        f"{label} 256 MiB streamed: MiB/s",
                        o["mib_s"],
                        b["mib_s"],
                        "MiB/s",
                        ">= 0.95x",
                    )
                )
                rows.append(
                    _row(
                        f"{label} 256 MiB streamed: CPU",
                        o["cpu_s"],
                        b["cpu_s"],
                        "CPU s",
                        "<= 1.05x",
                    )
                )
                if direction == "down":
                    small_chunks = best["down-ours-1mib"]
                    rows.append(
                        _row(
                            "download 256 MiB streamed, chunk_size=1 MiB: CPU",
                            small_chunks["cpu_s"],
                            b["cpu_s"],
                            "CPU s",
                            "info",
                            note="ours re-slices the SDK's 4 MiB chunks; baseline yields 4 MiB",
                        )
                    )
                rows.append(
                    _row(
                        f"{label} 256 MiB streamed: peak RSS growth vs limit",
                        o["peak_kib"] / 1024,
                        limit_mib,
                        "MiB",
                        "<= 1.0x",
                        raw_sdk_peak_mib=round(b["peak_kib"] / 1024, 1),
                        limit="block_size x max_concurrency + 32 MiB",
                    )
                )
        finally:
            await store.close()
            await raw_service.delete_container(container)
            await raw_service.close()
    return rows
