"""S3-specific behaviour against moto: encryption, multipart, presigned URLs, errors."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
import pytest_asyncio

from lexigram.storage import (
    BlobStore,
    BucketNotFoundError,
    InvalidArgumentError,
    PermissionDeniedError,
    StorageConfig,
    StorageProvider,
    StorageUnavailableError,
)
from lexigram.storage.config.converter import structure_at
from lexigram.storage.s3 import StorageS3Config
from lexigram.storage.s3.driver import S3Driver
from lexigram.storage.testing.servers import ServerProcess, free_port, http_ready

from .conftest import ACCESS_KEY, REGION, SECRET_KEY, r2_settings, raw_client, s3_settings

MIB = 1024 * 1024


def make_store(endpoint: str, bucket: str, name: str = "s3-test", **extra: Any) -> BlobStore:
    config = structure_at(s3_settings(endpoint, bucket, **extra), StorageS3Config, "$.s3")
    return BlobStore(S3Driver.from_config(config), name=name)


@pytest_asyncio.fixture
async def store(moto_endpoint: str, bucket: str) -> AsyncIterator[BlobStore]:
    s = make_store(moto_endpoint, bucket, part_size=5 * MIB, multipart_threshold=5 * MIB)
    yield s
    await s.close()


def payload(size: int, seed: int = 1) -> bytes:
    block = bytes((i * 7 + seed) % 256 for i in range(65536))
    return (block * (size // len(block) + 1))[:size]


async def pieces(data: bytes, piece: int, fail_after: int | None = None) -> AsyncIterator[bytes]:
    for n, offset in enumerate(range(0, len(data), piece)):
        if fail_after is not None and n >= fail_after:
            raise RuntimeError("source failed")
        await asyncio.sleep(0)
        yield data[offset : offset + piece]


async def open_uploads(client: Any, bucket: str) -> list[Any]:
    resp = await client.list_multipart_uploads(Bucket=bucket)
    return list(resp.get("Uploads", []))


# -- transfers ------------------------------------------------------------------------------


async def test_streamed_upload_goes_multipart(
    store: BlobStore, s3_client: Any, bucket: str
) -> None:
    data = payload(12 * MIB + 17)
    info = await store.upload("big/stream.bin", pieces(data, 1 * MIB))
    assert info.size == len(data)
    head = await s3_client.head_object(Bucket=bucket, Key="big/stream.bin")
    # a multipart ETag ends with -<number of parts>
    assert head["ETag"].strip('"').endswith("-3")
    assert await store.download("big/stream.bin") == data
    assert await open_uploads(s3_client, bucket) == []


async def test_small_stream_is_a_single_put(store: BlobStore, s3_client: Any, bucket: str) -> None:
    data = payload(3 * MIB)
    await store.upload("small.bin", pieces(data, 256 * 1024))
    head = await s3_client.head_object(Bucket=bucket, Key="small.bin")
    assert "-" not in head["ETag"]
    assert await store.download("small.bin") == data


async def test_in_memory_body_over_threshold_goes_multipart(
    store: BlobStore, s3_client: Any, bucket: str
) -> None:
    data = payload(11 * MIB)
    await store.upload("mem.bin", memoryview(data))
    head = await s3_client.head_object(Bucket=bucket, Key="mem.bin")
    assert head["ETag"].strip('"').endswith("-3")
    assert await store.download("mem.bin") == data
    assert (
        await store.download("mem.bin", range=(5 * MIB - 3, 10 * MIB + 5))
        == data[5 * MIB - 3 : 10 * MIB + 5]
    )


async def test_failed_multipart_is_aborted(store: BlobStore, s3_client: Any, bucket: str) -> None:
    with pytest.raises(RuntimeError, match="source failed"):
        await store.upload("fail.bin", pieces(payload(20 * MIB), 1 * MIB, fail_after=12))
    assert await open_uploads(s3_client, bucket) == []
    assert not await store.exists("fail.bin")


async def test_cancelled_multipart_is_aborted(
    store: BlobStore, s3_client: Any, bucket: str
) -> None:
    started = asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield payload(5 * MIB)
        started.set()
        await asyncio.Event().wait()  # never ends: the upload is cancelled here
        yield b""

    task = asyncio.create_task(store.upload("cancel.bin", slow()))
    await started.wait()
    await asyncio.sleep(0.2)
    assert len(await open_uploads(s3_client, bucket)) == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(50):  # the abort is shielded; let it land
        if not await open_uploads(s3_client, bucket):
            break
        await asyncio.sleep(0.05)
    assert await open_uploads(s3_client, bucket) == []


async def test_parallel_ranged_download(moto_endpoint: str, bucket: str, s3_client: Any) -> None:
    data = payload(23 * MIB + 5)
    await s3_client.put_object(Bucket=bucket, Key="ranged.bin", Body=data)
    store = make_store(moto_endpoint, bucket, part_size=5 * MIB, max_concurrency=3)
    try:
        assert await store.download("ranged.bin") == data
        assert await store.download("ranged.bin", range=(7, None)) == data[7:]
        assert (
            await store.download("ranged.bin", range=(6 * MIB, 17 * MIB))
            == data[6 * MIB : 17 * MIB]
        )
        chunks = [c async for c in store.stream("ranged.bin", chunk_size=100_000)]
        assert max(len(c) for c in chunks) <= 100_000
        assert b"".join(chunks) == data
        # download_into: the parts written in place, whole or a range across parts
        buffer = bytearray(len(data) + 3)
        assert await store.download_into("ranged.bin", buffer) == len(data)
        assert buffer[: len(data)] == data and buffer[len(data) :] == b"\0\0\0"
        view = memoryview(bytearray(11 * MIB))
        span = (6 * MIB, 17 * MIB)
        assert await store.download_into("ranged.bin", view, range=span) == 11 * MIB
        assert view == data[6 * MIB : 17 * MIB]
        with pytest.raises(InvalidArgumentError) as caught:
            await store.download_into("ranged.bin", bytearray(len(data) - 1))
        assert str(len(data)) in str(caught.value) and "ranged.bin" in str(caught.value)
    finally:
        await store.close()


async def test_create_mode_on_multipart(store: BlobStore, s3_client: Any, bucket: str) -> None:
    data = payload(11 * MIB)
    await store.upload("once.bin", pieces(data, MIB), mode="create")
    from lexigram.storage import BlobExistsError

    with pytest.raises(BlobExistsError):
        await store.upload("once.bin", pieces(payload(11 * MIB, seed=9), MIB), mode="create")
    assert await store.download("once.bin") == data
    assert await open_uploads(s3_client, bucket) == []


# -- encryption -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encryption", "expected"),
    [
        ({"enabled": True, "type": "AES256"}, "AES256"),
        ({"enabled": True, "type": "aws:kms", "kms_key_id": "alias/lexigram-test"}, "aws:kms"),
    ],
)
async def test_encryption_on_every_write(
    moto_endpoint: str, bucket: str, s3_client: Any, encryption: dict[str, Any], expected: str
) -> None:
    store = make_store(
        moto_endpoint,
        bucket,
        encryption=encryption,
        part_size=5 * MIB,
        multipart_threshold=5 * MIB,
    )
    try:
        await store.upload("enc/single", b"secret bytes")
        await store.upload("enc/multi", pieces(payload(11 * MIB), MIB))
        await store.copy("enc/single", "enc/copied")
        for key in ("enc/single", "enc/multi", "enc/copied"):
            head = await s3_client.head_object(Bucket=bucket, Key=key)
            assert head.get("ServerSideEncryption") == expected, key
            if expected == "aws:kms":
                assert "lexigram-test" in head.get("SSEKMSKeyId", ""), key
    finally:
        await store.close()


async def test_no_encryption_header_when_disabled(
    store: BlobStore, s3_client: Any, bucket: str
) -> None:
    await store.upload("plain", b"x")
    head = await s3_client.head_object(Bucket=bucket, Key="plain")
    assert head.get("ServerSideEncryption") in (None, "AES256")  # moto may report a default
    assert "SSEKMSKeyId" not in head


# -- copy, delete_many, listing ----------------------------------------------------------------


async def test_copy_keeps_type_and_metadata(store: BlobStore, s3_client: Any, bucket: str) -> None:
    await store.upload("c/src.json", b"{}", metadata={"owner": "7"})
    await store.copy("c/src.json", "c/dst.json")
    info = await store.info("c/dst.json")
    assert info.content_type == "application/json"
    assert dict(info.metadata) == {"owner": "7"}


async def test_delete_many_batches_over_1000(store: BlobStore, s3_client: Any, bucket: str) -> None:
    keys = [f"many/{i:05d}" for i in range(1203)]
    gate = asyncio.Semaphore(32)

    async def put(k: str) -> None:
        async with gate:
            await s3_client.put_object(Bucket=bucket, Key=k, Body=b"")

    await asyncio.gather(*(put(k) for k in keys))
    calls: list[int] = []
    driver = store.driver
    original = driver.delete_many

    async def counting(batch: Any) -> Any:
        calls.append(len(batch))
        return await original(batch)

    driver.delete_many = counting  # type: ignore[method-assign]
    await store.delete_many([*keys, "many/absent"])
    assert calls == [1000, 204]
    assert [i async for i in store.list("many/")] == []


async def test_list_with_delimiter_merges_prefixes(store: BlobStore) -> None:
    for key in ("d/a", "d/b/1", "d/b/2", "d/c", "d/d/x", "d/e"):
        await store.upload(key, b"1")
    got = [(i.path, i.is_prefix) async for i in store.list("d/", delimiter="/")]
    assert got == [
        ("d/a", False),
        ("d/b/", True),
        ("d/c", False),
        ("d/d/", True),
        ("d/e", False),
    ]


# -- URLs -------------------------------------------------------------------------------------


def _sigv4_check(url: str, method: str, secret: str, region: str) -> None:
    """Recompute a presigned URL's SigV4 signature with the secret key (moto does not)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    params = dict(query)
    assert params["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    signature = params.pop("X-Amz-Signature")
    signed_headers = params["X-Amz-SignedHeaders"]
    assert signed_headers == "host"
    canonical_query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(params.items())
    )
    canonical = "\n".join(
        [
            method,
            parts.path,
            canonical_query,
            f"host:{parts.netloc}\n",
            signed_headers,
            "UNSIGNED-PAYLOAD",
        ]
    )
    amz_date = params["X-Amz-Date"]
    scope = params["X-Amz-Credential"].split("/", 1)[1]
    date, scope_region, service, _ = scope.split("/")
    assert scope_region == region and service == "s3"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = f"AWS4{secret}".encode()
    for part in (date, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, signature), "SigV4 signature does not verify"


def _http(url: str, method: str = "GET", data: bytes | None = None, **headers: str) -> Any:
    assert url.startswith("http://127.0.0.1:")
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as reply:
        return reply.status, dict(reply.headers), reply.read()


async def test_presigned_get_is_signed_and_works(store: BlobStore) -> None:
    await store.upload("p/file name.txt", b"presigned body")
    url = await store.get_presigned_url(
        "p/file name.txt",
        timedelta(minutes=5),
        content_disposition='attachment; filename="x.txt"',
        content_type="text/x-custom",
    )
    params = dict(parse_qsl(urlsplit(url).query))
    assert params["X-Amz-Expires"] == "300"
    assert params["response-content-disposition"] == 'attachment; filename="x.txt"'
    assert ACCESS_KEY in params["X-Amz-Credential"]
    assert SECRET_KEY not in url
    _sigv4_check(url, "GET", SECRET_KEY, REGION)
    status, _headers, body = await asyncio.to_thread(_http, url)
    assert status == 200 and body == b"presigned body"
    # moto ignores response-content-* overrides (real S3 applies them); the parameters
    # are in the URL and covered by the signature verified above.
    assert params["response-content-type"] == "text/x-custom"


async def test_presigned_signature_check_rejects_a_wrong_secret(store: BlobStore) -> None:
    url = await store.get_presigned_url("p/x", timedelta(minutes=1))
    with pytest.raises(AssertionError, match="does not verify"):
        _sigv4_check(url, "GET", "not-the-secret-key", REGION)


async def test_presigned_put_works(store: BlobStore) -> None:
    url = await store.get_presigned_url("p/put.bin", timedelta(minutes=5), method="PUT")
    _sigv4_check(url, "PUT", SECRET_KEY, REGION)
    status, _, _ = await asyncio.to_thread(
        _http, url, "PUT", b"uploaded via url", **{"Content-Type": "application/octet-stream"}
    )
    assert status == 200
    assert await store.download("p/put.bin") == b"uploaded via url"


async def test_get_url_path_style_and_public_url(
    moto_endpoint: str, bucket: str, s3_client: Any
) -> None:
    store = make_store(moto_endpoint, bucket)
    cdn = make_store(moto_endpoint, bucket, public_url="https://cdn.example.test/assets")
    try:
        assert await store.get_url("a b/c.txt") == f"{moto_endpoint}/{bucket}/a%20b/c.txt"
        await store.upload("a b/c.txt", b"public")
        # the URL is unsigned: it serves the object once the object is public
        await s3_client.put_object_acl(Bucket=bucket, Key="a b/c.txt", ACL="public-read")
        _status, _, body = await asyncio.to_thread(_http, await store.get_url("a b/c.txt"))
        assert body == b"public"
        assert await cdn.get_url("a b/c.txt") == "https://cdn.example.test/assets/a%20b/c.txt"
    finally:
        await store.close()
        await cdn.close()


# -- bad input ------------------------------------------------------------------------------


async def test_missing_bucket(moto_endpoint: str) -> None:
    store = make_store(moto_endpoint, "lexi-no-such-bucket-here")
    try:
        for op in (store.download("k"), store.info("k"), store.upload("k", b"x")):
            with pytest.raises(BucketNotFoundError) as caught:
                await op
            assert "lexi-no-such-bucket-here" in str(caught.value)
            assert "s3" in str(caught.value)
        listing = store.list("")
        with pytest.raises(BucketNotFoundError):
            await anext(listing)
        status = await store.health_check()
        assert not status.healthy
        assert "lexi-no-such-bucket-here" in status.detail
    finally:
        await store.close()


async def test_health_check_healthy(store: BlobStore) -> None:
    status = await store.health_check()
    assert status.healthy, status.detail


async def test_refused_endpoint_is_unavailable_after_retries(bucket: str) -> None:
    port = free_port()  # nothing listens there
    store = make_store(
        f"http://127.0.0.1:{port}", bucket, max_attempts=2, connect_timeout=1, read_timeout=1
    )
    try:
        # Bounded: the configured attempts, then the error; a hang would trip the guard
        # (a deadlock detector, not a speed measurement).
        with pytest.raises(StorageUnavailableError) as caught:
            await asyncio.wait_for(store.download("k"), timeout=120)
        assert "EndpointConnectionError" in str(caught.value) or "connect" in str(caught.value)
        assert SECRET_KEY not in str(caught.value)
        status = await store.health_check(timeout=20)
        assert not status.healthy
    finally:
        await store.close()


@pytest.fixture(scope="session")
def moto_auth_server() -> Iterator[ServerProcess]:
    """A second moto that enforces IAM auth from the first request on: any key that is
    not an IAM user of moto's is refused (InvalidAccessKeyId)."""
    server = ServerProcess(
        "moto-auth",
        ["moto_server", "-H", "127.0.0.1", "-p", "{port}"],
        ready=http_ready("/moto-api/"),
        env={"INITIAL_NO_AUTH_ACTION_COUNT": "0"},
    )
    with server:
        yield server


async def test_wrong_credentials_are_permission_denied_without_secrets(
    moto_auth_server: ServerProcess,
) -> None:
    canary_secret = "CANARY-secret-3f9a1c77e0b24d5e"
    canary_key = "AKIACANARY0000000001"
    settings = s3_settings(moto_auth_server.url, "lexi-auth-bucket")
    settings.update(access_key=canary_key, secret_key=canary_secret)
    config = StorageConfig.from_dict({"default_driver": "s3", "drivers": {"s3": settings}})
    async with StorageProvider(config=config) as provider:
        store = provider.store()
        with pytest.raises(PermissionDeniedError) as caught:
            await store.upload("k", b"x")
        text = str(caught.value)
        assert canary_secret not in text and canary_key not in text
        assert "InvalidAccessKeyId" in text or "403" in text
        with pytest.raises(PermissionDeniedError) as caught_read:
            await store.download("k")
        assert canary_secret not in str(caught_read.value)
        assert canary_secret not in repr(store.driver)
        assert canary_secret not in repr(config)
        status = await store.health_check()
        assert not status.healthy
        assert canary_secret not in status.detail and canary_key not in status.detail


async def test_r2_through_the_provider(moto_endpoint: str, bucket: str) -> None:
    config = StorageConfig.from_dict(
        {"default_driver": "r2", "drivers": {"r2": r2_settings(moto_endpoint, bucket)}}
    )
    async with StorageProvider(config=config) as provider:
        store = provider.store()
        assert store.driver_name == "r2"
        await store.upload("r2/k.txt", b"on r2")
        assert await store.download("r2/k.txt") == b"on r2"
        url = await store.get_presigned_url("r2/k.txt", timedelta(minutes=1))
        _sigv4_check(url, "GET", SECRET_KEY, "auto")
        status = await store.health_check()
        assert status.healthy, status.detail


async def test_default_credential_chain_from_environment(
    moto_endpoint: str, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    config = structure_at(
        {"bucket": bucket, "endpoint_url": moto_endpoint, "addressing_style": "path"},
        StorageS3Config,
        "$.s3",
    )
    store = BlobStore(S3Driver.from_config(config), name="chain")
    try:
        await store.upload("chain.txt", b"via env")
        url = await store.get_presigned_url("chain.txt", timedelta(minutes=1))
        _sigv4_check(url, "GET", SECRET_KEY, REGION)
    finally:
        await store.close()


async def test_raw_client_sees_what_the_store_wrote(
    store: BlobStore, bucket: str, moto_endpoint: str
) -> None:
    await store.upload("raw.txt", b"abc", metadata={"owner": "1"})
    async with raw_client(moto_endpoint) as client:
        obj = await client.get_object(Bucket=bucket, Key="raw.txt")
        assert await obj["Body"].read() == b"abc"
        assert obj["ContentType"] == "text/plain"
        assert obj["Metadata"] == {"owner": "1"}
