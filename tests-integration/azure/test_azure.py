"""Azure-specific behaviour against Azurite: block uploads, create mode, SAS URLs,
listing pages, copy, batch-delete fallback, bad input and secrets, config and registry."""

from __future__ import annotations

import asyncio
import base64
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

from lexigram.storage import (
    BlobExistsError,
    BlobStore,
    BucketNotFoundError,
    PermissionDeniedError,
    StorageConfig,
    StorageError,
    StorageProvider,
    StorageUnavailableError,
)
from lexigram.storage.azure.driver import AzureBlobDriver
from lexigram.storage.azure.sas import blob_sas
from lexigram.storage.driver import PresignRequest
from lexigram.storage.errors import DriverError, ErrorCode
from lexigram.storage.testing.servers import free_port

pytestmark = pytest.mark.integration

KIB = 1024
BLOCK = 64 * KIB
CANARY_KEY = base64.b64encode(b"canary-secret-key-" + b"z" * 46).decode()


class Boom(Exception):
    pass


async def pieces(data: bytes, size: int, fail_after: int | None = None) -> AsyncIterator[bytes]:
    for n, offset in enumerate(range(0, len(data), size)):
        if fail_after is not None and n >= fail_after:
            raise Boom("source failed")
        await asyncio.sleep(0)
        yield data[offset : offset + size]


def payload(size: int) -> bytes:
    return bytes(i % 251 for i in range(size))


def small_blocks(make_config: Callable[..., Any], **extra: Any) -> BlobStore:
    config = make_config(block_size=BLOCK, single_put_threshold=BLOCK, max_concurrency=3, **extra)
    return BlobStore(AzureBlobDriver(config), name="blocks")


# -- block uploads ------------------------------------------------------------------------


async def test_streamed_upload_is_staged_in_blocks(
    make_config: Callable[..., Any], raw_service: Any, container: str
) -> None:
    data = payload(10 * BLOCK + 123)
    async with small_blocks(make_config) as store:
        info = await store.upload("big.bin", pieces(data, 10_000), metadata={"k": "v"})
        assert info.size == len(data)
        assert await store.download("big.bin") == data
        head = await store.info("big.bin")
        assert head.metadata == {"k": "v"}
        assert head.content_type == "application/octet-stream"
    blob = raw_service.get_blob_client(container, "big.bin")
    committed, uncommitted = await blob.get_block_list("all")
    assert len(committed) == 11 and not uncommitted
    assert [b.size for b in committed] == [BLOCK] * 10 + [123]


async def test_in_memory_body_above_threshold_uses_blocks(
    make_config: Callable[..., Any], raw_service: Any, container: str
) -> None:
    data = payload(3 * BLOCK)
    async with small_blocks(make_config) as store:
        await store.upload("mem.bin", data)
        assert await store.download("mem.bin") == data
    committed, _ = await raw_service.get_blob_client(container, "mem.bin").get_block_list("all")
    assert len(committed) == 3


async def test_small_body_is_one_put(
    make_config: Callable[..., Any], raw_service: Any, container: str
) -> None:
    async with small_blocks(make_config) as store:
        await store.upload("small.bin", pieces(b"x" * 1000, 100))
    committed, _ = await raw_service.get_blob_client(container, "small.bin").get_block_list("all")
    # A Put Blob has no block list (a one-block commit would list one block).
    assert committed == []


async def test_failed_block_upload_leaves_nothing_visible(
    make_config: Callable[..., Any], raw_service: Any, container: str
) -> None:
    data = payload(20 * BLOCK)
    async with small_blocks(make_config) as store:
        await store.upload("keep.bin", b"old content")
        # 10 KB pieces: fail after ~8 blocks were read and (partly) staged.
        with pytest.raises(Boom):
            await store.upload("keep.bin", pieces(data, 10_000, fail_after=55))
        with pytest.raises(Boom):
            await store.upload("fresh.bin", pieces(data, 10_000, fail_after=55))
        assert await store.download("keep.bin") == b"old content"
        assert not await store.exists("fresh.bin")
        assert [i.path async for i in store.list("")] == ["keep.bin"]
        listed = [
            b.name
            async for b in raw_service.get_container_client(container).list_blobs(
                include=["uncommittedblobs"]
            )
        ]
        # The blocks really were staged (so the test exercised staging), yet stay invisible.
        assert "fresh.bin" in listed
        # Create mode still works on a key that only has uncommitted blocks (Azurite
        # refuses If-None-Match: * on Put Blob there; the driver commits a block list).
        await store.upload("fresh.bin", b"small", mode="create")
        assert await store.download("fresh.bin") == b"small"
        with pytest.raises(BlobExistsError):
            await store.upload("fresh.bin", b"again", mode="create")
    _, uncommitted = await raw_service.get_blob_client(container, "keep.bin").get_block_list("all")
    assert len(uncommitted) >= 3


async def test_cancelled_block_upload_leaves_old_blob(make_config: Callable[..., Any]) -> None:
    gate = asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        for _ in range(4):
            yield b"n" * BLOCK
        gate.set()
        await asyncio.sleep(3600)
        yield b"never"

    async with small_blocks(make_config) as store:
        await store.upload("c.bin", b"before")
        task = asyncio.create_task(store.upload("c.bin", slow()))
        await gate.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await store.download("c.bin") == b"before"


async def test_create_mode_with_blocks(make_config: Callable[..., Any]) -> None:
    data = payload(4 * BLOCK)
    async with small_blocks(make_config) as store:
        await store.upload("once.bin", pieces(data, 50_000), mode="create")
        with pytest.raises(BlobExistsError):
            await store.upload("once.bin", pieces(b"y" * len(data), 50_000), mode="create")
        assert await store.download("once.bin") == data


async def test_create_mode_commit_is_conditional(
    make_config: Callable[..., Any], raw_service: Any, container: str
) -> None:
    """The blob appears while the blocks are staged: the early check passed, so only the
    conditional commit (If-None-Match: *) can refuse it."""
    written = asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        for n in range(6):
            if n == 3:
                await raw_service.get_blob_client(container, "race.bin").upload_blob(
                    b"other", overwrite=True
                )
                written.set()
            yield b"r" * BLOCK

    async with small_blocks(make_config) as store:
        with pytest.raises(BlobExistsError):
            await store.upload("race.bin", body(), mode="create")
        assert written.is_set()
        assert await store.download("race.bin") == b"other"


# -- SAS URLs -----------------------------------------------------------------------------


def _fetch(url: str, *, method: str = "GET", data: bytes | None = None) -> tuple[int, bytes]:
    assert url.startswith("http://127.0.0.1:")
    headers = {"x-ms-blob-type": "BlockBlob"} if method == "PUT" else {}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _tamper(url: str, name: str, change: Callable[[str], str]) -> str:
    parts = urlsplit(url)
    query = [(k, change(v) if k == name else v) for k, v in parse_qsl(parts.query)]
    return urlunsplit(parts._replace(query=urlencode(query)))


async def test_presigned_get_and_put_are_verified(make_config: Callable[..., Any]) -> None:
    async with BlobStore(AzureBlobDriver(make_config())) as store:
        await store.upload("signed/a file.txt", b"secret payload")
        url = await store.get_presigned_url("signed/a file.txt", timedelta(minutes=5))
        assert await asyncio.to_thread(_fetch, url) == (200, b"secret payload")

        put = await store.get_presigned_url("signed/up.bin", timedelta(minutes=5), method="PUT")
        status, _ = await asyncio.to_thread(_fetch, put, method="PUT", data=b"via sas")
        assert status == 201
        assert await store.download("signed/up.bin") == b"via sas"

        # A read-only URL cannot write; a write URL cannot read.
        assert (await asyncio.to_thread(_fetch, url, method="PUT", data=b"x"))[0] == 403
        assert (await asyncio.to_thread(_fetch, put))[0] == 403
        # Tampered: the signature, or the permissions it signs.
        bad_sig = _tamper(url, "sig", lambda s: ("A" if s[0] != "A" else "B") + s[1:])
        assert (await asyncio.to_thread(_fetch, bad_sig))[0] == 403
        widened = _tamper(url, "sp", lambda _: "rw")
        assert (await asyncio.to_thread(_fetch, widened, method="PUT", data=b"x"))[0] == 403
        other_key = url.replace("a%20file.txt", "up.bin")
        assert (await asyncio.to_thread(_fetch, other_key))[0] == 403
        assert await store.download("signed/a file.txt") == b"secret payload"


async def test_expired_presigned_url_is_refused(
    make_config: Callable[..., Any], container: str
) -> None:
    async with BlobStore(AzureBlobDriver(make_config())) as store:
        await store.upload("old.txt", b"x")
        fresh = await store.get_presigned_url("old.txt", timedelta(minutes=5))
        assert (await asyncio.to_thread(_fetch, fresh))[0] == 200
        driver = store.driver
        assert isinstance(driver, AzureBlobDriver)
        token = blob_sas(
            account_name="devstoreaccount1",
            container=container,
            key="old.txt",
            request=PresignRequest(method="GET", expires_in=timedelta(minutes=1)),
            account_key=make_config().account_key,
            now=datetime.now(UTC) - timedelta(hours=1),
        )
        status, body = await asyncio.to_thread(_fetch, f"{driver.native_url('old.txt')}?{token}")
        assert status == 403, body


async def test_presign_needs_a_signing_key(
    make_config: Callable[..., Any], raw_service: Any
) -> None:
    from lexigram.storage import NotSupportedError

    config = make_config(account_key=None, sas_token="sv=2020-08-04&ss=b&sig=abc")
    async with BlobStore(AzureBlobDriver(config)) as store:
        with pytest.raises(NotSupportedError) as caught:
            await store.get_presigned_url("k")
        assert "account_key" in str(caught.value)


# -- listing, copy, delete_many -----------------------------------------------------------


async def test_listing_across_small_pages(make_config: Callable[..., Any]) -> None:
    names = ["a.txt", "b/1", "b/2", "b/c/3", "b-c", "c/1", "c/2", "d", "é", "z/1", "~"]
    async with BlobStore(AzureBlobDriver(make_config(list_page_size=2))) as store:
        for name in names:
            await store.upload("p/" + name, b"x")
        flat = [i.path async for i in store.list("p/")]
        assert flat == sorted("p/" + n for n in names)
        rolled = [(i.path, i.is_prefix) async for i in store.list("p/", delimiter="/")]
        assert rolled == [
            ("p/a.txt", False),
            ("p/b-c", False),
            ("p/b/", True),
            ("p/c/", True),
            ("p/d", False),
            ("p/z/", True),
            ("p/~", False),
            ("p/é", False),
        ]


async def test_server_side_copy_keeps_properties(make_config: Callable[..., Any]) -> None:
    async with BlobStore(AzureBlobDriver(make_config())) as store:
        data = payload(3 * 1024 * 1024)
        await store.upload("src.dat", data, content_type="image/png", metadata={"a": "1"})
        await store.copy("src.dat", "dst/copy.dat")
        info = await store.info("dst/copy.dat")
        assert (info.content_type, dict(info.metadata), info.size) == (
            "image/png",
            {"a": "1"},
            len(data),
        )
        assert await store.download("dst/copy.dat") == data
        await store.move("dst/copy.dat", "moved.dat")
        assert not await store.exists("dst/copy.dat")
        assert await store.download("moved.dat") == data


async def test_delete_many_falls_back_when_batches_fail(make_config: Callable[..., Any]) -> None:
    """Azurite 3.35 answers a Blob Batch with a single part: the driver detects it,
    deletes key by key, and does not try batches on this endpoint again."""
    driver = AzureBlobDriver(make_config())
    async with BlobStore(driver) as store:
        keys = [f"bulk/{i:03d}" for i in range(40)]
        await asyncio.gather(*(store.upload(k, b"x") for k in keys))
        await store.upload("keep", b"x")
        assert driver.batch_delete_supported is None
        await store.delete_many([*keys[:20], "bulk/missing"])
        assert driver.batch_delete_supported is False
        await store.delete_many(keys[20:])
        assert [i.path async for i in store.list("")] == ["keep"]


async def test_batch_delete_is_really_refused_by_azurite(make_config: Callable[..., Any]) -> None:
    """Pins the emulator gap the fallback exists for: if a future Azurite answers batches,
    this fails and the batch path can then be tested for real."""
    driver = AzureBlobDriver(make_config())
    async with BlobStore(driver) as store:
        await store.upload("x1", b"x")
        await store.upload("x2", b"x")
        with pytest.raises(DriverError) as caught:
            await driver._delete_batch(["x1", "x2"])
        assert caught.value.code is ErrorCode.NOT_SUPPORTED
        assert "batch delete answered 1 parts for 2 keys" in str(caught.value)


# -- bad input, secrets, errors -----------------------------------------------------------


async def test_missing_container_names_it(make_config: Callable[..., Any]) -> None:
    async with BlobStore(AzureBlobDriver(make_config(container="no-such-container"))) as store:
        for call in (
            store.upload("k", b"x"),
            store.download("k"),
            store.info("k"),
            store.exists("k"),
        ):
            with pytest.raises(BucketNotFoundError) as caught:
                await call
            assert "no-such-container" in str(caught.value)
        with pytest.raises(BucketNotFoundError):
            await store.delete("k")
        with pytest.raises(BucketNotFoundError):
            [i async for i in store.list("")]
        status = await store.health_check()
        assert not status.healthy
        assert "no-such-container" in status.detail


async def test_bad_account_key_is_permission_denied_without_the_key(
    make_config: Callable[..., Any],
) -> None:
    config = make_config(account_key=CANARY_KEY)
    driver = AzureBlobDriver(config)
    async with BlobStore(driver) as store:
        errors: list[BaseException] = []
        for call in (store.upload("k", b"x"), store.download("k"), store.info("k")):
            with pytest.raises(PermissionDeniedError) as caught:
                await call
            errors.append(caught.value)
        status = await store.health_check()
        assert not status.healthy
        url = await store.get_presigned_url("k")
    for err in errors:
        texts = [str(err), repr(err), str(err.__cause__), repr(err.__cause__)]
        assert all(CANARY_KEY not in t for t in texts), texts
        assert "account_key" in str(err)
    for text in (status.detail, repr(config), repr(driver), repr(store), url):
        assert CANARY_KEY not in text


async def test_canary_connection_string_never_shown(endpoint: str, container: str) -> None:
    conn = (
        f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={CANARY_KEY};"
        f"BlobEndpoint={endpoint};"
    )
    config = StorageConfig.from_dict(
        {
            "default_driver": "azure",
            "drivers": {"azure": {"connection_string": conn, "container": container}},
        }
    )
    provider = StorageProvider(config=config)
    async with provider:
        store = provider.store()
        with pytest.raises(PermissionDeniedError) as caught:
            await store.upload("k", b"x")
        health = await provider.health_check()
    for text in (str(caught.value), repr(provider), repr(store), str(health)):
        assert CANARY_KEY not in text


async def test_provider_with_connection_string(connection_string: str, container: str) -> None:
    provider = StorageProvider(
        config=StorageConfig.from_dict(
            {
                "backends": [
                    {
                        "name": "files",
                        "primary": True,
                        "driver": "azure",
                        "azure": {"connection_string": connection_string, "container": container},
                    }
                ]
            }
        )
    )
    async with provider:
        store = provider.store("files")
        await store.upload("via/provider.txt", b"hello")
        assert await store.download("via/provider.txt") == b"hello"
        assert (await provider.health_check())["files"].healthy
        assert (await store.get_url("via/provider.txt")).endswith(f"/{container}/via/provider.txt")


async def test_public_url(make_config: Callable[..., Any]) -> None:
    config = make_config(public_url="https://cdn.example.test/files/")
    async with BlobStore(AzureBlobDriver(config)) as store:
        assert await store.get_url("a b/c.txt") == "https://cdn.example.test/files/a%20b/c.txt"


async def test_unreachable_endpoint_is_unavailable(make_config: Callable[..., Any]) -> None:
    from lexigram.storage.retry import RetryPolicy

    config = make_config(
        endpoint_url=f"http://127.0.0.1:{free_port()}/devstoreaccount1",
        max_retries=0,
        connect_timeout=2,
    )
    store = BlobStore(AzureBlobDriver(config), retry=RetryPolicy(attempts=2, base_delay=0))
    async with store:
        with pytest.raises(StorageUnavailableError) as caught:
            await store.download("k")
        assert isinstance(caught.value, StorageError)
        assert "after 2 attempts" in str(caught.value)
        assert not (await store.health_check(timeout=5)).healthy


async def test_close_releases_the_session(make_config: Callable[..., Any]) -> None:
    driver = AzureBlobDriver(make_config())
    store = BlobStore(driver)
    await store.upload("k", b"x")
    service = driver._service
    assert service is not None
    await store.close()
    assert driver._service is None
    transport = service._pipeline._transport  # the SDK's aiohttp transport
    assert transport.session is None or transport.session.closed
