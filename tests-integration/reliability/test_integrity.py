"""Issue 9, item 3: end-to-end integrity. A byte flipped in transit, by the fault proxy
between the driver and its real server, is detected on upload and on download, on every
cloud driver, with checksums on by default.

Uploads: the previous object stays intact (the server refused the altered body) or the
driver repaired the altered object it detected (the emulator stored it without checking):
what is stored afterwards is exactly v1 or exactly v2, never the altered bytes.
Downloads: ``IntegrityError`` (``ErrorCode.DATA_CORRUPTED``), never wrong bytes, for whole
objects; what is and is not checked for ranges is pinned down per driver.

Each test checks through ``proxy.stats`` that the flip was really injected, and a control
test shows that with ``checksums: false`` the same flip goes through unnoticed, so it is
the checksums that catch it.
"""

from __future__ import annotations

import base64
import json
import os
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import aiohttp
import google_crc32c
import pytest

from lexigram.storage import (
    BlobStore,
    ErrorCode,
    IntegrityError,
    StorageConfig,
    StorageError,
    StorageProvider,
)
from lexigram.storage.gcs.config import StorageGCSConfig
from lexigram.storage.gcs.driver import GCSDriver
from lexigram.storage.testing.faults import Fault, FaultProxy
from lexigram.storage.testing.servers import ServerProcess, http_ready

from .conftest import S3_ACCESS_KEY, S3_SECRET_KEY, Backend, _s3_bucket
from .report import Figures

Record = Callable[..., Figures]

KIB = 1024
MIB = 1024 * KIB
#: a small body: one request, headers (< 2 KiB) well before the flipped byte.
SMALL = 64 * KIB
FLIP_AT = 30_000

#: what each server does with an altered upload body: "refused" (it checks the checksum
#: sent and answers an error; the old object stays) or "repaired" (the emulator stored
#: the altered bytes; the driver saw the checksum it reports differ and wrote the body again,
#: on condition that the object was still the altered one). S3 and R2 run on moto with
#: the CRC32C check S3 does (tests-integration/moto_checked.py). The obstore engine sends
#: no checksum with its single PutObject (object_store has no call for it): moto stores the
#: altered body, and the driver repairs it by the ETag's MD5.
SINGLE_UPLOAD = {
    "s3": "refused",
    "r2": "refused",
    "gcs": "repaired",
    "azure": "refused",
    "s3-obstore": "repaired",
    "r2-obstore": "repaired",
}
#: a multipart / chunked / block upload with one part altered: s3 and r2 send a refused
#: part again (nothing of it is visible before the upload completes).
PARTS_UPLOAD = {"s3": "repaired", "r2": "repaired", "gcs": "repaired", "azure": "refused"}
#: a streamed body (an async iterator, never held whole): s3 and r2 send a refused part
#: again; Azure refuses the block; the GCS emulator keeps an altered
#: resumable upload, which the driver can only delete (a stream cannot be sent again).
STREAM_UPLOAD = {"s3": "repaired", "r2": "repaired", "gcs": "deleted", "azure": "refused"}
#: every attempt altered: the server refuses each; or the emulator stores each, the
#: driver's two repairs fail too, and it deletes the altered object (the obstore engine's
#: PutObject carries no checksum for moto to refuse).
ALWAYS_ALTERED = {
    "s3": "refused",
    "r2": "refused",
    "gcs": "deleted",
    "azure": "refused",
    "s3-obstore": "deleted",
    "r2-obstore": "deleted",
}
#: why v1 is gone in the "deleted" cases (docs/reliability.md, "When the server does not
#: check"): the emulator stored the altered body over it unchecked, and the driver, unable
#: to send the body again, deleted the altered object. A real service refuses the body.
EMULATOR_LOSS = "emulator stored an altered body unchecked; the driver deleted it"


def expected_of(table: dict[str, str], backend: Backend) -> str:
    """A table's entry for this driver and engine (``s3-obstore``), else for the driver
    (the obstore engine hands multipart uploads and streams to the SDK engine)."""
    return table.get(backend.label, table[backend.driver])


#: ranged reads whose bytes are checked: Azure sends the MD5 of every range it serves;
#: S3 and GCS checksums cover whole objects only.
RANGE_CHECKED = {"azure"}

#: settings that make a body of a few MiB go in several parts / chunks / blocks.
PARTS: dict[str, dict[str, Any]] = {
    "s3": {"multipart_threshold": 5 * MIB, "part_size": 5 * MIB},
    "r2": {"multipart_threshold": 5 * MIB, "part_size": 5 * MIB},
    "gcs": {"chunk_size": 256 * KIB, "resumable_threshold": 256 * KIB},
    "azure": {"single_put_threshold": 1 * MIB, "block_size": 1 * MIB, "max_concurrency": 1},
}
#: a body size that is several parts under PARTS.
PARTS_SIZE = {"s3": 11 * MIB, "r2": 11 * MIB, "gcs": 1 * MIB + 1000, "azure": 3 * MIB + 1000}


def flipping(backend: Backend, direction: str, at_byte: int = FLIP_AT, **rule: Any) -> FaultProxy:
    proxy = backend.proxy()
    proxy.add(Fault.FLIP, direction=direction, at_byte=at_byte, limit=1, **rule)
    return proxy


def flips(proxy: FaultProxy) -> int:
    return proxy.stats.faults.get("flip", 0)


async def stored(backend: Backend, key: str) -> bytes | None:
    """What the server really holds under ``key`` (read directly, not through a proxy)."""
    direct = backend.store()
    if not await direct.exists(key):
        return None
    return await direct.download(key)


async def upload_through_flip(
    store: BlobStore, key: str, data: Any
) -> tuple[str, BaseException | None]:
    try:
        await store.upload(key, data)
    except StorageError as exc:
        return "error", exc
    return "ok", None


def record(
    figures: Record,
    backend: Backend,
    test: str,
    proxy: FaultProxy,
    *,
    exc: BaseException | None = None,
    corrupted: int = 0,
    lost: int = 0,
    outcome: str,
    documented_loss: str = "",
) -> None:
    """One row of the reliability figures: one operation, its flip, what came of it."""
    figures(
        driver=backend.label,
        test=f"integrity: {test}",
        operations=1,
        faults=flips(proxy),
        failures=Counter({type(exc).__name__: 1} if exc is not None else {}),
        corrupted=corrupted,
        lost=lost,
        notes={"outcome": outcome},
        documented_loss=documented_loss,
    )


def assert_integrity_error(exc: BaseException | None) -> None:
    assert isinstance(exc, IntegrityError), repr(exc)
    assert exc.code is ErrorCode.DATA_CORRUPTED


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


# -- uploads ---------------------------------------------------------------------------


async def test_single_request_upload_altered_in_transit(backend: Backend, figures: Record) -> None:
    key = "integrity/single.bin"
    v1, v2 = os.urandom(SMALL), os.urandom(SMALL)
    await backend.store().upload(key, v1)
    proxy = flipping(backend, "request")
    outcome, exc = await upload_through_flip(
        backend.store(via=proxy, retry={"attempts": 1}), key, v2
    )
    await check_upload(figures, backend, "single upload", proxy, key, outcome, exc, v1, v2)


async def check_upload(
    figures: Record,
    backend: Backend,
    case: str,
    proxy: FaultProxy,
    key: str,
    outcome: str,
    exc: BaseException | None,
    v1: bytes,
    v2: bytes,
) -> None:
    """One flip struck; the server refused the body (v1 kept, ``IntegrityError``) or the
    driver repaired it (v2 stored), as this driver's server is expected to do."""
    assert flips(proxy) == 1
    after = await stored(backend, key)
    expected = expected_of(SINGLE_UPLOAD if case == "single upload" else PARTS_UPLOAD, backend)
    record(
        figures,
        backend,
        case,
        proxy,
        exc=exc,
        corrupted=int(after not in (v1, v2)),
        outcome=f"{expected}, stored {'v1' if after == v1 else 'v2'}",
    )
    if expected == "refused":
        assert outcome == "error"
        assert_integrity_error(exc)
        assert after == v1
    else:
        assert outcome == "ok", exc
        assert after == v2


async def test_multipart_upload_with_one_part_altered(backend: Backend, figures: Record) -> None:
    key = "integrity/parts.bin"
    size = PARTS_SIZE[backend.driver]
    v1, v2 = os.urandom(SMALL), os.urandom(size)
    await backend.store().upload(key, v1)
    # Flip a byte 200 KiB into the first exchange long enough: inside a part's body.
    proxy = flipping(backend, "request", at_byte=200 * KIB, per="exchange")
    store = backend.store(via=proxy, retry={"attempts": 1}, **PARTS[backend.driver])
    outcome, exc = await upload_through_flip(store, key, v2)
    await check_upload(figures, backend, "multipart upload", proxy, key, outcome, exc, v1, v2)


async def test_streamed_upload_with_one_part_altered(backend: Backend, figures: Record) -> None:
    key = "integrity/stream.bin"
    size = PARTS_SIZE[backend.driver]
    v1, v2 = os.urandom(SMALL), os.urandom(size)
    await backend.store().upload(key, v1)
    proxy = flipping(backend, "request", at_byte=200 * KIB, per="exchange")
    store = backend.store(via=proxy, retry={"attempts": 1}, **PARTS[backend.driver])
    outcome, exc = await upload_through_flip(store, key, _chunks(v2, 64 * KIB))
    assert flips(proxy) == 1
    after = await stored(backend, key)
    expected = expected_of(STREAM_UPLOAD, backend)
    held = {v1: "v1", v2: "v2", None: "nothing"}.get(after, "altered bytes")
    record(
        figures,
        backend,
        "streamed upload",
        proxy,
        exc=exc,
        corrupted=int(held == "altered bytes"),
        # the GCS emulator case: v1 was replaced by the altered upload, which was deleted
        lost=int(held == "nothing"),
        outcome=f"{expected}, stored {held}",
        documented_loss=EMULATOR_LOSS if expected == "deleted" else "",
    )
    if expected == "repaired":
        assert outcome == "ok", exc
        assert after == v2
    else:
        assert outcome == "error"
        assert_integrity_error(exc)
        # refused: the old object is intact; deleted: the altered one is gone.
        assert after == (v1 if expected == "refused" else None)


async def test_upload_altered_on_every_attempt(backend: Backend, figures: Record) -> None:
    """Every request body altered: the repairs of the emulator case fail too, and then the
    altered object is deleted rather than left readable."""
    key = "integrity/always.bin"
    v1, v2 = os.urandom(SMALL), os.urandom(SMALL)
    await backend.store().upload(key, v1)
    proxy = backend.proxy()
    proxy.add(Fault.FLIP, direction="request", at_byte=FLIP_AT, per="exchange")
    outcome, exc = await upload_through_flip(
        backend.store(via=proxy, retry={"attempts": 1}), key, v2
    )
    after = await stored(backend, key)
    expected = expected_of(ALWAYS_ALTERED, backend)
    held = {v1: "v1", v2: "v2", None: "nothing"}.get(after, "altered bytes")
    record(
        figures,
        backend,
        "single upload, every attempt altered",
        proxy,
        exc=exc,
        corrupted=int(held == "altered bytes"),
        lost=int(held == "nothing"),
        outcome=f"{expected}, stored {held}",
        documented_loss=EMULATOR_LOSS if expected == "deleted" else "",
    )
    assert outcome == "error"
    assert_integrity_error(exc)
    if expected == "refused":
        assert flips(proxy) == 1
        assert after == v1
    else:
        assert flips(proxy) == 3  # the upload and its two repairs
        assert after is None


# -- downloads -------------------------------------------------------------------------


async def test_full_download_altered_in_transit(backend: Backend, figures: Record) -> None:
    key = "integrity/get.bin"
    data = os.urandom(SMALL)
    await backend.store().upload(key, data)
    proxy = flipping(backend, "response")
    with pytest.raises(IntegrityError) as caught:
        await backend.store(via=proxy, retry={"attempts": 1}).download(key)
    assert flips(proxy) == 1
    assert caught.value.code is ErrorCode.DATA_CORRUPTED
    record(figures, backend, "download", proxy, exc=caught.value, outcome="detected")
    assert await backend.store().download(key) == data  # the object itself is fine


@pytest.mark.parametrize("call", ["download", "download_into"])
async def test_large_download_altered_in_transit(
    backend: Backend, figures: Record, call: str
) -> None:
    """Several MiB: S3 reads it with parallel ranged GETs (checked against the ETag's
    MD5; ``download_into`` writes the parts in place), Azure in ranges of 4 MiB (each
    checked), GCS in one response (x-goog-hash)."""
    key = "integrity/large.bin"
    data = os.urandom(11 * MIB)
    s3 = backend.driver in ("s3", "r2")
    # One PutObject for S3 (so its ETag is the MD5), whatever the reader's part size.
    writer = backend.store(multipart_threshold=16 * MIB) if s3 else backend.store()
    await writer.upload(key, data)
    proxy = flipping(backend, "response", at_byte=3 * MIB, per="exchange")
    extra = {"part_size": 5 * MIB} if s3 else {}
    reader = backend.store(via=proxy, retry={"attempts": 1}, **extra)
    with pytest.raises(IntegrityError) as caught:
        if call == "download":
            await reader.download(key)
        else:
            await reader.download_into(key, bytearray(len(data)))
    assert flips(proxy) == 1
    record(figures, backend, f"11 MiB {call}", proxy, exc=caught.value, outcome="detected")


async def test_streamed_download_altered_in_transit(backend: Backend, figures: Record) -> None:
    key = "integrity/stream-get.bin"
    data = os.urandom(SMALL)
    await backend.store().upload(key, data)
    proxy = flipping(backend, "response")
    received = bytearray()
    with pytest.raises(IntegrityError) as caught:
        async for chunk in backend.store(via=proxy, retry={"attempts": 1}).stream(
            key, chunk_size=8 * KIB
        ):
            received += chunk
    assert flips(proxy) == 1
    record(figures, backend, "stream", proxy, exc=caught.value, outcome="detected before the end")
    # The stream never completes with the altered bytes: it ends with the error.
    assert bytes(received) != data


async def test_ranged_download_altered_in_transit(backend: Backend, figures: Record) -> None:
    key = "integrity/range.bin"
    data = os.urandom(SMALL)
    await backend.store().upload(key, data)
    proxy = flipping(backend, "response")
    store = backend.store(via=proxy, retry={"attempts": 1})
    if backend.driver in RANGE_CHECKED:
        with pytest.raises(IntegrityError) as caught:
            await store.download(key, range=(1000, SMALL - 1000))
        assert flips(proxy) == 1
        record(figures, backend, "ranged download", proxy, exc=caught.value, outcome="detected")
        return
    # Not checked (documented): S3 and GCS give no checksum of an arbitrary range.
    got = await store.download(key, range=(1000, SMALL - 1000))
    assert flips(proxy) == 1
    want = data[1000 : SMALL - 1000]
    assert len(got) == len(want)
    assert sum(a != b for a, b in zip(got, want, strict=True)) == 1
    record(
        figures, backend, "ranged download", proxy, corrupted=1, outcome="not checked (documented)"
    )


# -- control ---------------------------------------------------------------------------


async def test_without_checksums_the_same_flip_goes_unnoticed(
    backend: Backend, figures: Record
) -> None:
    """The control: with ``checksums: false`` the flipped download is returned as it is,
    so what catches it in the tests above is the checksums."""
    key = "integrity/control.bin"
    data = os.urandom(SMALL)
    await backend.store().upload(key, data)
    proxy = flipping(backend, "response")
    got = await backend.store(via=proxy, retry={"attempts": 1}, checksums=False).download(key)
    assert flips(proxy) == 1
    assert len(got) == len(data)
    assert sum(a != b for a, b in zip(got, data, strict=True)) == 1
    record(
        figures,
        backend,
        "control, checksums off",
        proxy,
        corrupted=1,
        outcome="unnoticed (control)",
    )


# -- what GCS itself would check ---------------------------------------------------------


class _Wire:
    """The headers and bodies a GCS driver's aiohttp session sends."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], bytearray]] = []
        self.trace = aiohttp.TraceConfig()
        self.trace.on_request_start.append(self._start)
        self.trace.on_request_chunk_sent.append(self._chunk)

    async def _start(self, session: Any, ctx: Any, params: aiohttp.TraceRequestStartParams) -> None:
        self.requests.append((params.method, str(params.url), dict(params.headers), bytearray()))

    async def _chunk(
        self, session: Any, ctx: Any, params: aiohttp.TraceRequestChunkSentParams
    ) -> None:
        self.requests[-1][3].extend(params.chunk)


async def test_gcs_sends_the_crc32c_that_gcs_checks(
    fake_gcs: ServerProcess, new_gcs_bucket: Callable[[], str]
) -> None:
    """fake-gcs-server checks no hash, so what the real service would check is asserted
    on the wire: the multipart resource's ``crc32c`` and the last resumable request's
    ``X-Goog-Hash`` are the CRC32C of the body, and only the last request carries one."""
    wire = _Wire()
    config = StorageGCSConfig(
        bucket=new_gcs_bucket(),
        endpoint_url=fake_gcs.url,
        chunk_size=256 * KIB,
        resumable_threshold=256 * KIB,
    )
    store = BlobStore(GCSDriver(config, trace_configs=[wire.trace]))
    small, large = os.urandom(SMALL), os.urandom(MIB + 1000)
    try:
        await store.upload("wire/small.bin", small)
        await store.upload("wire/large.bin", _chunks(large, 64 * KIB))
    finally:
        await store.close()
    posts = [r for r in wire.requests if r[0] == "POST"]
    multipart = next(r for r in posts if "uploadType=multipart" in r[1])
    boundary = multipart[2]["Content-Type"].split("boundary=", 1)[1].encode()
    meta = bytes(multipart[3]).split(b"--" + boundary)[1].split(b"\r\n\r\n", 1)[1]
    assert json.loads(meta)["crc32c"] == _b64_crc32c(small)
    puts = [r for r in wire.requests if r[0] == "PUT"]
    assert len(puts) == 5  # four 256 KiB chunks and the rest
    assert [("X-Goog-Hash" in r[2]) for r in puts] == [False] * 4 + [True]
    assert puts[-1][2]["X-Goog-Hash"] == f"crc32c={_b64_crc32c(large)}"


def _b64_crc32c(data: bytes) -> str:
    return base64.b64encode(int(google_crc32c.value(data)).to_bytes(4, "big")).decode()


async def test_s3_sends_one_crc32c_that_s3_checks(moto_server: ServerProcess) -> None:
    """What S3 checks is asserted on the wire: every PutObject and UploadPart carries
    ``x-amz-checksum-crc32c``, the CRC32C of its own body, which S3 refuses when it
    differs, and no second checksum (no Content-MD5, no botocore CRC32, no trailer)."""
    config = StorageConfig.from_dict(
        {
            "drivers": {
                "s3": {
                    "bucket": _s3_bucket(moto_server),
                    "endpoint_url": moto_server.url,
                    "access_key": S3_ACCESS_KEY,
                    "secret_key": S3_SECRET_KEY,
                    "addressing_style": "path",
                    "multipart_threshold": 5 * MIB,
                    "part_size": 5 * MIB,
                }
            }
        }
    )
    seen: list[tuple[str, dict[str, str], str]] = []

    def before_send(request: Any, **_: Any) -> None:
        body = request.body
        data = body if isinstance(body, bytes) else bytes(body.getbuffer())
        headers = {
            k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()
        }
        seen.append((request.url, headers, _b64_crc32c(data)))

    async with StorageProvider(config=config) as provider:
        store = provider.store()
        client = await store.driver._s3()  # type: ignore[attr-defined]
        for operation in ("PutObject", "UploadPart"):
            client.meta.events.register(f"before-send.s3.{operation}", before_send)
        await store.upload("wire/small.bin", os.urandom(SMALL))
        await store.upload("wire/parts.bin", os.urandom(11 * MIB))
    parts = [s for s in seen if "uploadId=" in s[0]]
    assert len(seen) == 4 and len(parts) == 3
    for _, headers, actual in seen:
        assert headers["x-amz-checksum-crc32c"] == actual
        checksums = sorted(h for h in headers if h.startswith("x-amz-checksum-"))
        assert checksums == ["x-amz-checksum-crc32c"]
        assert "content-md5" not in headers
        assert "x-amz-trailer" not in headers


@pytest.fixture(scope="module")
def unchecking_moto() -> Iterator[ServerProcess]:
    """moto as it is: it stores x-amz-checksum-crc32c without checking it."""
    server = ServerProcess(
        "moto-unchecked",
        ["moto_server", "-H", "127.0.0.1", "-p", "{port}"],
        ready=http_ready("/moto-api/"),
    )
    with server:
        yield server


async def test_s3_server_that_does_not_check_the_crc32c(unchecking_moto: ServerProcess) -> None:
    """A server that stores an altered body with the client's CRC32C, unchecked (plain
    moto): the upload cannot tell, but the stored checksum is the client's, so every
    checked read of the altered object raises IntegrityError, never returns its bytes."""
    bucket = _s3_bucket(unchecking_moto)
    proxy = FaultProxy(upstream_port=unchecking_moto.port).start()
    proxy.add(Fault.FLIP, direction="request", at_byte=FLIP_AT, limit=1)

    def settings(url: str, **extra: Any) -> dict[str, Any]:
        return {
            "bucket": bucket,
            "endpoint_url": url,
            "access_key": S3_ACCESS_KEY,
            "secret_key": S3_SECRET_KEY,
            "addressing_style": "path",
            **extra,
        }

    data = os.urandom(SMALL)
    config = StorageConfig.from_dict(
        {
            "backends": [
                {"name": "via", "driver": "s3", "primary": True, "s3": settings(proxy.url)},
                {"name": "direct", "driver": "s3", "s3": settings(unchecking_moto.url)},
                {
                    "name": "unchecked",
                    "driver": "s3",
                    "s3": settings(unchecking_moto.url, checksums=False),
                },
            ]
        }
    )
    try:
        async with StorageProvider(config=config) as provider:
            await provider.store("via").upload("altered.bin", data)  # stored unchecked
            assert flips(proxy) == 1
            stored_bytes = await provider.store("unchecked").download("altered.bin")
            assert stored_bytes != data and len(stored_bytes) == len(data)
            direct = provider.store("direct")
            with pytest.raises(IntegrityError):
                await direct.download("altered.bin")
            with pytest.raises(IntegrityError):
                async for _ in direct.stream("altered.bin"):
                    pass
            with pytest.raises(IntegrityError):
                await direct.download_into("altered.bin", bytearray(SMALL))
    finally:
        proxy.stop()
