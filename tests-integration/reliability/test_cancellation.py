"""Cancellation at every await point (issue 9, item 7).

Each operation runs as a task that is cancelled after ``k`` event-loop iterations
(``await asyncio.sleep(0)`` ``k`` times, then ``task.cancel()``), for ``k`` swept from 0 up
to the point where the operation completes before the cancel arrives. The first
``DENSE`` points are all tried (every await point of the operation's start); beyond them
the sweep strides so that about ``STRIDED`` more points spread over the rest of the
operation, as long as one undisturbed run took (if the operation is slower this time,
``k`` doubles until it completes). After every cancel:

- the key holds its previous body or the complete new one, never anything else, and the
  bucket lists nothing but that key;
- nothing is left on the server: S3/R2 no multipart upload in progress, local no temp
  file under the root. Azure: blocks a cancelled upload staged stay uncommitted (never
  part of the blob, not listed) until the next upload of the key commits its own list,
  which discards them: counted, and checked to be gone after the completed upload that
  ends each sweep;
- the store's connections (counted on the client side of a pass-through proxy, so only
  the store under test is seen) stay bounded across the sweep, and after ``close()`` none
  is left established.

A cancelled operation must raise :class:`asyncio.CancelledError` (or complete, if the
cancel came too late); any other outcome fails the test.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import attrs
import psutil
import pytest

from lexigram.storage import BlobStore, StorageConfig, StorageProvider
from lexigram.storage.testing.faults import FaultProxy

from ..s3.conftest import RAW_ACCESS_KEY, RAW_SECRET_KEY
from .conftest import AZURE_ACCOUNT, AZURE_KEY, Backend

KIB = 1024
MIB = 1024 * KIB
#: every k in 0 .. DENSE-1 is tried; then about STRIDED points over the rest.
DENSE = 8
STRIDED = 5
#: a sweep that has not seen the operation complete after this many points fails.
MAX_POINTS = 60
#: connections the store under test may hold open at once (its pools are set to 4).
POOL = 4
OLD = b"the previous body " * 64
SMALL = 64 * KIB
PIECE = 64 * KIB

#: Transfer tuning per driver so that the "parts" body goes multipart / resumable /
#: block-staged in a few parts, and pools are small enough to bound.
TUNING: dict[str, dict[str, Any]] = {
    "s3": {
        "multipart_threshold": 5 * MIB,
        "part_size": 5 * MIB,
        "max_concurrency": 2,
        "max_pool_connections": POOL,
    },
    "gcs": {
        "resumable_threshold": 256 * KIB,
        "chunk_size": 256 * KIB,
        "max_concurrency": 2,
        "max_connections": POOL,
    },
    "azure": {"single_put_threshold": MIB, "block_size": MIB, "max_concurrency": 2},
}
TUNING["r2"] = TUNING["s3"]
#: bytes of the multipart body: two (S3/R2) or three parts, the last one short.
PARTS_SIZE = {
    "s3": 5 * MIB + 256 * KIB,
    "r2": 5 * MIB + 256 * KIB,
    "gcs": 640 * KIB,
    "azure": 2 * MIB + 512 * KIB,
    "local": 2 * MIB + 512 * KIB,
    "memory": 2 * MIB + 512 * KIB,
}
OPERATIONS = [
    "upload_bytes",
    "upload_parts",
    "upload_stream",
    "download",
    "download_into",
    "stream",
]

Leftovers = Callable[[str], Awaitable[list[str]]]


@attrs.define
class Target:
    """The store under test, the truth beside it and what to look for after a cancel."""

    driver: str
    store: BlobStore
    truth: BlobStore
    leftovers: Leftovers
    #: Azure: blocks a cancelled upload staged. They are never part of the object (the
    #: content check sees to that), and the next upload of the key discards them; the
    #: service itself drops uncommitted blocks after a week. Counted, checked at the end.
    staged: Leftovers | None
    #: established client connections of the store under test (None: no network).
    connections: Callable[[], int] | None
    close: Callable[[], Awaitable[None]]


@attrs.define
class Sweep:
    points: int = 0
    cancelled: int = 0
    completed_anyway: int = 0
    kept_old: int = 0
    got_new: int = 0
    max_connections: int = 0
    in_flight: int = 0
    staged: int = 0
    iterations: int = 0
    seconds: float = 0.0


def _established_to(port: int) -> int:
    return sum(
        1
        for conn in psutil.Process().net_connections(kind="tcp")
        if conn.raddr and conn.raddr.port == port and conn.status == psutil.CONN_ESTABLISHED
    )


async def _no_multipart_uploads(backend: Backend, stack: AsyncExitStack) -> Leftovers:
    """Multipart uploads in progress in the bucket (raw SDK, straight to the server)."""
    from aiobotocore.session import get_session
    from botocore.config import Config

    client = await stack.enter_async_context(
        get_session().create_client(
            "s3",
            endpoint_url=backend.server.url,
            region_name="us-east-1",
            aws_access_key_id=RAW_ACCESS_KEY,  # the raw client's own, not a canary
            aws_secret_access_key=RAW_SECRET_KEY,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )
    )

    async def check(key: str) -> list[str]:
        # The abort of a cancelled upload may still be on its way: give it a moment.
        for _ in range(100):
            reply = await client.list_multipart_uploads(Bucket=backend.bucket)
            found = [f"multipart upload {u['UploadId']}" for u in reply.get("Uploads", [])]
            if not found:
                return []
            await asyncio.sleep(0.05)
        return found

    return check


async def _uncommitted_blocks(backend: Backend, stack: AsyncExitStack) -> Leftovers:
    """Uncommitted blocks staged on the blob (raw SDK, straight to the server)."""
    from azure.core.exceptions import ResourceNotFoundError
    from azure.storage.blob.aio import BlobServiceClient

    connection = (
        f"DefaultEndpointsProtocol=http;AccountName={AZURE_ACCOUNT};AccountKey={AZURE_KEY};"
        f"BlobEndpoint={backend.server.url}/{AZURE_ACCOUNT};"
    )
    service = await stack.enter_async_context(BlobServiceClient.from_connection_string(connection))

    async def check(key: str) -> list[str]:
        blob = service.get_blob_client(backend.bucket, key)
        try:
            _, uncommitted = await blob.get_block_list("uncommitted")
        except ResourceNotFoundError:
            return []
        return [f"uncommitted block {b.id}" for b in uncommitted]

    return check


async def _nothing(key: str) -> list[str]:
    return []


def _temp_files(root: Path) -> Leftovers:
    async def check(key: str) -> list[str]:
        return [
            os.path.join(folder, name)
            for folder, dirs, names in os.walk(root)
            for name in (*dirs, *names)
            if name.startswith(".lexigram-tmp")
        ]

    return check


async def _cloud_target(backend: Backend, stack: AsyncExitStack) -> Target:
    proxy: FaultProxy = backend.proxy()  # no faults: only to see this store's connections
    store = backend.store(via=proxy, **TUNING[backend.driver])
    leftovers: Leftovers = _nothing
    staged: Leftovers | None = None
    if backend.driver in ("s3", "r2"):
        leftovers = await _no_multipart_uploads(backend, stack)
    elif backend.driver == "azure":
        staged = await _uncommitted_blocks(backend, stack)
    # gcs: fake-gcs-server cannot list resumable sessions; the listing check covers it

    async def close() -> None:
        await store.close()

    return Target(
        driver=backend.driver,
        store=store,
        truth=backend.store(),
        leftovers=leftovers,
        staged=staged,
        connections=lambda: _established_to(proxy.port),
        close=close,
    )


def _local_target(driver: str, root: Path) -> tuple[Target, StorageProvider]:
    settings: dict[str, Any] = {"root_dir": str(root)} if driver == "local" else {}
    provider = StorageProvider(config=StorageConfig.from_dict({"drivers": {driver: settings}}))
    store = provider.store()
    target = Target(
        driver=driver,
        store=store,
        truth=store,
        leftovers=_temp_files(root) if driver == "local" else _nothing,
        staged=None,
        connections=None,
        close=provider.close,
    )
    return target, provider


async def _pieces(body: bytes) -> AsyncIterator[bytes]:
    for offset in range(0, len(body), PIECE):
        await asyncio.sleep(0)
        yield body[offset : offset + PIECE]


def _operation(target: Target, name: str, key: str, new: bytes) -> Callable[[], Awaitable[object]]:
    store = target.store
    if name in ("upload_bytes", "upload_parts"):
        return lambda: store.upload(key, new)
    if name == "upload_stream":
        return lambda: store.upload(key, _pieces(new))
    if name == "download":

        async def download() -> None:
            assert await store.download(key) == new

        return download
    if name == "download_into":

        async def download_into() -> None:
            buffer = bytearray(len(new))
            assert await store.download_into(key, buffer) == len(new)
            assert buffer == new

        return download_into

    async def stream() -> None:
        # A plain ``async for`` whose body awaits too: the cancel lands inside the stream
        # or in the body (the stream then waits at a yield, closed when collected).
        got = bytearray()
        async for chunk in store.stream(key, chunk_size=PIECE):
            got += chunk
            await asyncio.sleep(0)
        assert got == new

    return stream


async def _iterations(run: Callable[[], Awaitable[object]]) -> int:
    """How many loop iterations the operation takes when left alone."""
    task = asyncio.ensure_future(run())
    n = 0
    while not task.done():
        await asyncio.sleep(0)
        n += 1
    task.result()
    return n


async def _cancel_after(
    run: Callable[[], Awaitable[object]], k: int, target: Target, sweep: Sweep
) -> bool:
    """Start ``run``, cancel it after ``k`` loop iterations; True if it was cancelled."""
    task = asyncio.ensure_future(run())
    for _ in range(k):
        await asyncio.sleep(0)
    if task.done():
        task.result()
        return False
    if target.connections is not None:  # in flight, at the moment of the cancel
        sweep.in_flight = max(sweep.in_flight, target.connections())
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        return True
    return False  # the cancel came after its last await: it completed


def _points(n: int) -> list[int]:
    stride = max(1, (n - DENSE) // STRIDED)
    return sorted({*range(DENSE), *range(DENSE, n + 1, stride)})


async def _check_after(target: Target, key: str, allowed: tuple[bytes, ...], sweep: Sweep) -> None:
    body = await target.truth.download(key)
    assert body in allowed, f"{key} holds {len(body)} bytes, neither the old nor the new body"
    if body == OLD:
        sweep.kept_old += 1
    else:
        sweep.got_new += 1
    listed = [info.path async for info in target.truth.list("")]
    assert listed == [key], f"the bucket holds more than the key: {listed}"
    assert await target.leftovers(key) == []
    if target.staged is not None:
        sweep.staged = max(sweep.staged, len(await target.staged(key)))
    if target.connections is not None:
        open_now = target.connections()
        sweep.max_connections = max(sweep.max_connections, open_now)
        assert open_now <= POOL, f"{open_now} connections open (pool: {POOL})"


async def _sweep(target: Target, operation: str) -> Sweep:
    key = f"cancel/{operation}-{uuid.uuid4().hex[:8]}.bin"
    size = SMALL if operation == "upload_bytes" else PARTS_SIZE[target.driver]
    new = secrets.token_bytes(size)
    writes = operation.startswith("upload")
    await target.truth.upload(key, OLD if writes else new)
    run = _operation(target, operation, key, new)
    allowed = (OLD, new) if writes else (new,)

    sweep = Sweep()
    sweep.iterations = await _iterations(run)
    if writes:
        await target.truth.upload(key, OLD)
    points = _points(sweep.iterations)
    k = 0
    while True:
        if sweep.points < len(points):
            k = points[sweep.points]
        else:  # slower than the measured run: double k until it completes
            k *= 2
        sweep.points += 1
        assert sweep.points <= MAX_POINTS, f"{operation} never completed before the cancel"
        cancelled = await _cancel_after(run, k, target, sweep)
        await _check_after(target, key, allowed, sweep)
        if writes and (await target.truth.download(key)) != OLD:
            await target.truth.upload(key, OLD)
        if not cancelled:
            sweep.completed_anyway += 1
            if k >= sweep.iterations:
                break
        else:
            sweep.cancelled += 1
    # at least the cancel before the first step (k = 0) landed; usually most of them
    assert sweep.cancelled > 0, sweep
    if target.staged is not None:  # the sweep ended on a completed operation
        assert await target.staged(key) == [], "a completed upload left staged blocks"
    await target.truth.delete(key)
    return sweep


async def _run_all(target: Target, figures: dict[str, Sweep]) -> None:
    for operation in OPERATIONS:
        started = time.perf_counter()
        figures[operation] = await _sweep(target, operation)
        figures[operation].seconds = time.perf_counter() - started


def _report(driver: str, figures: dict[str, Sweep]) -> str:
    return "; ".join(
        f"{driver} {op}: {s.points} points ({s.cancelled} cancelled, {s.completed_anyway} "
        f"completed) over {s.iterations} iterations, old kept {s.kept_old}, new {s.got_new}, "
        f"connections at cancel {s.in_flight}, after {s.max_connections}, "
        f"most blocks left staged {s.staged}, {s.seconds:.1f} s"
        for op, s in figures.items()
    )


async def test_cancelled_transfers_leave_nothing_behind(backend: Backend) -> None:
    figures: dict[str, Sweep] = {}
    async with AsyncExitStack() as stack:
        target = await _cloud_target(backend, stack)
        await _run_all(target, figures)
    assert target.connections is not None
    # the count is live: connections were seen while operations were in flight
    assert 0 < max(s.in_flight for s in figures.values()) <= POOL
    await target.close()
    for _ in range(100):  # the close is done; the sockets may take a moment to go
        if target.connections() == 0:
            break
        await asyncio.sleep(0.05)
    assert target.connections() == 0, "connections left open after close()"
    print(_report(backend.driver, figures))


@pytest.mark.parametrize("driver", ["local", "memory"])
async def test_cancelled_transfers_leave_nothing_behind_locally(
    driver: str, tmp_path: Path
) -> None:
    target, provider = _local_target(driver, tmp_path / "root")
    fds_before = psutil.Process().num_fds()
    figures: dict[str, Sweep] = {}
    try:
        await _run_all(target, figures)
    finally:
        await provider.close()
    assert psutil.Process().num_fds() <= fds_before, "file descriptors left open"
    print(_report(driver, figures))
