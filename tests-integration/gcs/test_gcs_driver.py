"""GCS-specific behaviour against fake-gcs-server: CMEK on the wire, resumable uploads,
signed URLs (verified with the key's public half), errors, health, loopback-only traffic."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from lexigram.storage import (
    BlobNotFoundError,
    BlobStore,
    BucketNotFoundError,
    StorageConfig,
    StorageProvider,
    StorageUnavailableError,
)
from lexigram.storage.testing.servers import ServerProcess, free_port

from .conftest import Requests, make_driver

pytestmark = pytest.mark.integration

KMS = "projects/p/locations/eu/keyRings/ring/cryptoKeys/key1"
CHUNK = 256 * 1024


def _query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


class _Pieces:
    def __init__(self, data: bytes, piece: int, fail_after: int | None = None) -> None:
        self.data, self.piece, self.fail_after = data, piece, fail_after

    def __aiter__(self) -> Any:
        return self._gen()

    async def _gen(self) -> Any:
        for n, offset in enumerate(range(0, len(self.data), self.piece)):
            if self.fail_after is not None and n >= self.fail_after:
                raise RuntimeError("source failed")
            await asyncio.sleep(0)
            yield self.data[offset : offset + self.piece]


@pytest.fixture
def traced(fake_gcs: ServerProcess, bucket: str, requests_seen: Requests) -> BlobStore:
    driver = make_driver(
        fake_gcs.url,
        bucket,
        trace=requests_seen,
        kms_key_name=KMS,
        chunk_size=CHUNK,
        resumable_threshold=CHUNK,
    )
    return BlobStore(driver, name="traced")


async def test_trace_sees_every_request_and_only_loopback(
    traced: BlobStore, requests_seen: Requests
) -> None:
    await traced.upload("a.txt", b"x")
    await traced.download("a.txt")
    await traced.close()
    assert [m for m, _ in requests_seen.sent] == ["POST", "GET"]
    assert set(requests_seen.hosts) == {"127.0.0.1"}


async def test_kms_key_on_every_write(traced: BlobStore, requests_seen: Requests) -> None:
    big = bytes(range(256)) * (3 * CHUNK // 256 + 7)
    await traced.upload("simple.bin", b"small")
    await traced.upload("meta.bin", b"small", metadata={"owner": "me"})
    await traced.upload("create.bin", b"small", mode="create")
    await traced.upload("resumable.bin", big)
    await traced.upload("streamed.bin", _Pieces(big, 100_000))
    await traced.copy("simple.bin", "copied.bin")
    assert await traced.download("streamed.bin") == big
    await traced.close()
    writes = [(m, u) for m, u in requests_seen.sent if m in ("POST", "PUT", "PATCH")]
    starts = [u for m, u in writes if "/upload/storage/v1/" in u and "upload_id" not in u]
    rewrites = [u for m, u in writes if "/rewriteTo/" in u]
    chunks = [u for m, u in writes if "upload_id" in u]
    assert len(starts) == 5 and len(rewrites) == 1 and chunks
    for url in starts:
        assert _query(url)["kmsKeyName"] == KMS, url
    assert _query(rewrites[0])["destinationKmsKeyName"] == KMS
    # every chunk belongs to a session opened with the key
    assert {_query(u)["upload_id"] for u in chunks} and all(
        _query(u).get("uploadType") == "resumable" for u in chunks
    )
    # Single-request uploads are multipart: the object resource carries the body's md5Hash.
    assert {_query(u)["uploadType"] for u in starts} == {"multipart", "resumable"}


async def test_resumable_upload_sends_chunks_of_chunk_size(
    fake_gcs: ServerProcess, bucket: str
) -> None:
    seen: list[tuple[str, int | None]] = []
    import aiohttp

    trace = aiohttp.TraceConfig()

    async def on_start(session: Any, ctx: Any, params: aiohttp.TraceRequestStartParams) -> None:
        if "upload_id" in str(params.url):
            seen.append((params.headers.get("Content-Range", ""), None))

    trace.on_request_start.append(on_start)
    driver = make_driver(fake_gcs.url, bucket, chunk_size=CHUNK, resumable_threshold=CHUNK)
    driver._trace_configs = [trace]
    store = BlobStore(driver)
    data = hashlib.sha256(b"seed").digest() * (5 * CHUNK // 32 + 3)  # 5 chunks + 96 bytes
    info = await store.upload("big/file.bin", _Pieces(data, 10_000), content_type="text/plain")
    assert info.size == len(data)
    spans = [s for s, _ in seen]
    assert spans[:5] == [f"bytes {i * CHUNK}-{(i + 1) * CHUNK - 1}/*" for i in range(5)]
    assert spans[5:] == [f"bytes {5 * CHUNK}-{len(data) - 1}/{len(data)}"]
    meta = await store.info("big/file.bin")
    assert meta.content_type == "text/plain" and meta.size == len(data)
    chunks = [c async for c in store.stream("big/file.bin", chunk_size=100_000)]
    assert max(len(c) for c in chunks) <= 100_000 and b"".join(chunks) == data
    part = await store.download("big/file.bin", range=(CHUNK - 5, CHUNK + 5))
    assert part == data[CHUNK - 5 : CHUNK + 5]
    await store.close()


async def test_body_ending_on_a_chunk_boundary(traced: BlobStore, requests_seen: Requests) -> None:
    data = bytes(range(256)) * (2 * CHUNK // 256)  # exactly two chunks
    total = len(data)

    def spans() -> list[str]:
        return [u for m, u in requests_seen.sent if m == "PUT" and "upload_id" in u]

    # A stream of unknown size: two chunks, then the empty request naming the total.
    await traced.upload("edge.bin", _Pieces(data, 50_000))
    assert len(spans()) == 3
    assert await traced.download("edge.bin") == data
    assert (await traced.info("edge.bin")).size == total
    # Known size (a body in memory, sent as zero-copy slices; a stream with its size): the
    # second chunk is the last one and names the total, so two requests.
    for name, body, size in (
        ("edge2.bin", data, None),
        ("edge3.bin", _Pieces(data, 50_000), total),
    ):
        requests_seen.sent.clear()
        await traced.upload(name, body, size=size)
        assert len(spans()) == 2, name
        assert await traced.download(name) == data
    # A declared size that the stream overruns: the chunk where the size ends is not taken
    # for the last one, and all the bytes arrive.
    requests_seen.sent.clear()
    longer = data + b"tail"
    await traced.upload("edge4.bin", _Pieces(longer, 50_000), size=total)
    assert len(spans()) == 3
    assert await traced.download("edge4.bin") == longer
    await traced.close()


async def test_failed_resumable_upload_cancels_the_session(
    traced: BlobStore, requests_seen: Requests
) -> None:
    with pytest.raises(RuntimeError, match="source failed"):
        await traced.upload("never.bin", _Pieces(b"z" * (4 * CHUNK), CHUNK, fail_after=2))
    assert not await traced.exists("never.bin")
    assert any(m == "DELETE" and "upload_id" in u for m, u in requests_seen.sent)
    await traced.close()


async def test_create_mode_sends_if_generation_match(
    traced: BlobStore, requests_seen: Requests
) -> None:
    await traced.upload("c/small", b"x", mode="create")
    await traced.upload("c/large", b"y" * (2 * CHUNK + 1), mode="create")
    starts = [u for m, u in requests_seen.sent if m == "POST" and "/upload/" in u]
    assert [_query(u).get("ifGenerationMatch") for u in starts] == ["0", "0"]
    assert [_query(u)["uploadType"] for u in starts] == ["multipart", "resumable"]
    await traced.close()


async def test_listing_pages_with_page_token(
    fake_gcs: ServerProcess, bucket: str, requests_seen: Requests
) -> None:
    store = BlobStore(make_driver(fake_gcs.url, bucket, trace=requests_seen))
    keys = [f"p/{i:04d}" for i in range(1003)]
    gate = asyncio.Semaphore(32)

    async def put(k: str) -> None:
        async with gate:
            await store.upload(k, b"")

    await asyncio.gather(*(put(k) for k in keys))
    assert [i.path async for i in store.list("p/")] == keys
    lists = [u for m, u in requests_seen.sent if m == "GET" and u.split("?")[0].endswith("/o")]
    assert len(lists) == 2 and "pageToken" in _query(lists[1])
    await store.close()


async def test_copy_is_server_side(traced: BlobStore, requests_seen: Requests) -> None:
    await traced.upload("src", b"abc", metadata={"k": "v"}, content_type="text/csv")
    requests_seen.sent.clear()
    await traced.copy("src", "dst")
    assert len(requests_seen.sent) == 1 and "/rewriteTo/" in requests_seen.sent[0][1]
    info = await traced.info("dst")
    assert (info.content_type, dict(info.metadata)) == ("text/csv", {"k": "v"})
    await traced.close()


def _verify_v4(url: str, method: str, public_key: Any, headers: dict[str, str]) -> None:
    """Rebuild the canonical request from the URL as GCS does and check the signature."""
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    signature = bytes.fromhex(params.pop("X-Goog-Signature"))
    query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in sorted(params.items()))
    signed = params["X-Goog-SignedHeaders"].split(";")
    all_headers = {"host": parts.netloc, **{k.lower(): v for k, v in headers.items()}}
    assert sorted(all_headers) == signed
    canonical = "\n".join(
        [
            method,
            parts.path,
            query,
            "".join(f"{k}:{all_headers[k]}\n" for k in signed),
            ";".join(signed),
            "UNSIGNED-PAYLOAD",
        ]
    )
    scope = params["X-Goog-Credential"].split("/", 1)[1]
    to_sign = "\n".join(
        [
            "GOOG4-RSA-SHA256",
            params["X-Goog-Date"],
            scope,
            hashlib.sha256(canonical.encode()).hexdigest(),
        ]
    )
    public_key.verify(signature, to_sign.encode(), padding.PKCS1v15(), hashes.SHA256())


async def test_signed_urls_verify_with_the_public_key(
    store: BlobStore, service_account: dict[str, Any], fake_gcs: ServerProcess
) -> None:
    key = "dir/a file+ü.txt"
    await store.upload(key, b"signed")
    get = await store.get_presigned_url(
        key, timedelta(minutes=10), content_disposition="attachment; filename=x.txt"
    )
    put = await store.get_presigned_url(
        key, timedelta(hours=2), method="PUT", content_type="text/plain"
    )
    pk = service_account["public_key"]
    _verify_v4(get, "GET", pk, {})
    _verify_v4(put, "PUT", pk, {"content-type": "text/plain"})
    for url, expires in ((get, "600"), (put, "7200")):
        q = _query(url)
        assert q["X-Goog-Expires"] == expires
        assert q["X-Goog-Credential"].startswith(service_account["email"] + "/")
        assert q["X-Goog-Algorithm"] == "GOOG4-RSA-SHA256"
        assert urlsplit(url).path == f"/{store.driver.config.bucket}/" + quote(  # type: ignore[attr-defined]
            key, safe="/~"
        )
        assert url.startswith(fake_gcs.url)
    # a tampered URL does not verify: the test can fail
    with pytest.raises(InvalidSignature):
        _verify_v4(get.replace("X-Goog-Expires=600", "X-Goog-Expires=6000"), "GET", pk, {})
    with pytest.raises(InvalidSignature):
        _verify_v4(put, "PUT", pk, {"content-type": "image/png"})


async def test_presign_without_credentials_is_not_supported(
    fake_gcs: ServerProcess, bucket: str
) -> None:
    from lexigram.storage import NotSupportedError

    store = BlobStore(make_driver(fake_gcs.url, bucket))
    with pytest.raises(NotSupportedError, match="credentials_path"):
        await store.get_presigned_url("k")
    await store.close()


async def test_missing_bucket(fake_gcs: ServerProcess) -> None:
    store = BlobStore(make_driver(fake_gcs.url, "no-such-bucket-xyz"), name="nb")
    for call in (
        store.upload("k", b"x"),
        store.upload("k", _Pieces(b"x" * (3 * CHUNK), CHUNK)),
    ):
        with pytest.raises(BucketNotFoundError, match="no-such-bucket-xyz"):
            await call
    with pytest.raises(BucketNotFoundError, match="no-such-bucket-xyz"):
        [i async for i in store.list("")]
    status = await store.health_check()
    assert not status.healthy and "no-such-bucket-xyz" in status.detail
    # the emulator answers a plain 404 for objects of a missing bucket
    with pytest.raises(BlobNotFoundError):
        await store.download("k")
    await store.close()


async def test_unreachable_endpoint_is_unavailable_and_unhealthy() -> None:
    port = free_port()  # nothing listens there
    store = BlobStore(make_driver(f"http://127.0.0.1:{port}", "b"), name="down")
    with pytest.raises(StorageUnavailableError) as caught:
        await store.download("k")
    assert "after 3 attempts" in str(caught.value)
    status = await store.health_check(timeout=5)
    assert not status.healthy and status.detail
    await store.close()


async def test_credentials_are_used_when_not_anonymous(
    fake_gcs: ServerProcess, bucket: str, service_account: dict[str, Any], tmp_path: Any
) -> None:
    """With anonymous=False the driver signs a JWT with the key, trades it for a token at
    the key's token_uri (a stub on 127.0.0.1 here) and sends it as a Bearer token."""
    import json

    import aiohttp
    from aiohttp import web

    grants: list[str] = []

    async def token(request: web.Request) -> web.Response:
        form = await request.post()
        grants.append(str(form.get("grant_type")))
        return web.json_response({"access_token": "tok-123", "expires_in": 3600})

    app = web.Application()
    app.router.add_post("/token", token)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        data = {**service_account["data"], "token_uri": f"http://127.0.0.1:{port}/token"}
        path = Path(tmp_path) / "sa-token.json"
        await asyncio.to_thread(path.write_text, json.dumps(data))
        auth: list[str | None] = []
        seen = Requests()

        async def on_start(session: Any, ctx: Any, params: aiohttp.TraceRequestStartParams) -> None:
            if params.url.port == fake_gcs.port:
                auth.append(params.headers.get("Authorization"))

        seen.trace.on_request_start.append(on_start)
        driver = make_driver(
            fake_gcs.url, bucket, trace=seen, anonymous=False, credentials_path=str(path)
        )
        store = BlobStore(driver)
        await store.upload("k", b"v")
        assert await store.download("k") == b"v"
        await store.close()
    finally:
        await runner.cleanup()
    assert grants == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    assert auth == ["Bearer tok-123", "Bearer tok-123"]
    assert set(seen.hosts) == {"127.0.0.1"}


async def test_token_endpoint_down_is_unavailable(
    fake_gcs: ServerProcess, bucket: str, service_account: dict[str, Any]
) -> None:
    """The fixture's key points token_uri at 127.0.0.1:9 (nothing listens): the failure is
    reported, and still nothing leaves loopback."""
    seen = Requests()
    driver = make_driver(
        fake_gcs.url,
        bucket,
        trace=seen,
        anonymous=False,
        credentials_path=service_account["path"],
    )
    store = BlobStore(driver)
    status = await store.health_check(timeout=2)
    assert not status.healthy
    assert any(u.startswith("http://127.0.0.1:9/token") for _, u in seen.sent)
    assert set(seen.hosts) == {"127.0.0.1"}
    await store.close()


async def test_provider_from_config(fake_gcs: ServerProcess, bucket: str) -> None:
    config = StorageConfig.from_dict(
        {
            "default_driver": "gcs",
            "drivers": {"gcs": {"bucket": bucket, "endpoint_url": fake_gcs.url}},
        }
    )
    async with StorageProvider(config) as provider:
        store = provider.store()
        await store.upload("x/y.json", b"{}")
        assert (await store.info("x/y.json")).content_type == "application/json"
        assert (await provider.health_check())["gcs"].healthy
        url = await store.get_url("x/y.json")
        assert url.startswith(fake_gcs.url) and "x%2Fy.json" in url


class _FlakyProxy:
    """A reverse proxy on 127.0.0.1 in front of fake-gcs-server that fails chosen
    resumable-upload chunk requests with a 503, before or after forwarding them.

    It also answers GCS's status query (``PUT`` with ``Content-Range: bytes */*``) from
    the ranges fake-gcs-server acknowledged: the emulator itself treats that query as
    "finish the upload now" (and appends a resent chunk instead of placing it at its
    offset), so without this the emulator could not show how GCS resumes."""

    def __init__(self, upstream: str, fail: dict[int, str]) -> None:
        self.upstream = upstream
        self.fail = fail  # chunk request number (1-based) -> "drop" | "after"
        self.chunk_requests = 0
        self.spans: list[str] = []
        self.acked = ""  # the Range of the last 308 from upstream

    async def handle(self, request: Any) -> Any:
        from aiohttp import web

        body = await request.read()
        is_chunk = request.method == "PUT" and "upload_id" in request.query_string
        mode = None
        if is_chunk:
            self.spans.append(request.headers.get("Content-Range", ""))
            if body:
                self.chunk_requests += 1
                mode = self.fail.pop(self.chunk_requests, None)
        if is_chunk and not body and request.headers.get("Content-Range") == "bytes */*":
            return web.Response(status=308, headers={"Range": self.acked} if self.acked else {})
        if mode == "drop":
            return web.Response(status=503, text="try again")
        headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
        async with self.client.request(
            request.method,
            self.upstream + request.path_qs,
            headers=headers,
            data=body,
            allow_redirects=False,
        ) as reply:
            data = await reply.read()
            if reply.status == 308:
                self.acked = reply.headers.get("Range", "")
            out = {
                k: v
                for k, v in reply.headers.items()
                if k.lower() not in ("content-length", "transfer-encoding", "content-encoding")
            }
        if mode == "after":
            return web.Response(status=503, text="lost reply")
        return web.Response(status=reply.status, body=data, headers=out)

    async def __aenter__(self) -> str:
        import aiohttp
        from aiohttp import web

        self.client = aiohttp.ClientSession(auto_decompress=False)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        port = free_port()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc: object) -> None:
        await self.runner.cleanup()
        await self.client.close()


@pytest.mark.parametrize("mode", ["drop", "after"])
async def test_resumable_chunk_is_resent_after_a_transient_failure(
    fake_gcs: ServerProcess, bucket: str, mode: str
) -> None:
    proxy = _FlakyProxy(fake_gcs.url, {2: mode})
    data = hashlib.sha256(b"retry").digest() * (3 * CHUNK // 32 + 100)
    async with proxy as endpoint:
        store = BlobStore(
            make_driver(endpoint, bucket, chunk_size=CHUNK, resumable_threshold=CHUNK)
        )
        info = await store.upload("retried.bin", _Pieces(data, 65_536))
        assert info.size == len(data)
        assert await store.download("retried.bin") == data
        await store.close()
    assert "bytes */*" in proxy.spans  # the driver asked how much the server kept
    resent = [s for s in proxy.spans if s.startswith(f"bytes {CHUNK}-")]
    assert len(resent) == (2 if mode == "drop" else 1), proxy.spans
