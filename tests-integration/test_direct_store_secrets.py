"""Stores built directly over a driver (``BlobStore(S3Driver(...))``, no provider, no
redactor given) hide the driver's secrets as well as the provider's stores do: the core
takes them from the driver (``BlobDriver.secrets()``) and redacts every message it
writes; an exception whose text shows one is not chained as it is.

Each driver gets a secret in its config and is made to fail for real, through its SDK,
against a server on 127.0.0.1: wrong or refused credentials (for S3, a server that
answers like AWS's ``SignatureDoesNotMatch``: echoing the access key id and the signed
request with its session token, and here the secret key too), a missing bucket or
container, a missing key. No secret may show in the error's message, its repr, its
traceback, any exception it chains, or any log record (the root logger at DEBUG).
"""

from __future__ import annotations

import json
import logging
import re
import traceback
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web

from lexigram.storage import BlobStore, StorageError
from lexigram.storage.errors import BucketNotFoundError, PermissionDeniedError
from lexigram.storage.testing.servers import ServerProcess

from . import canary

S3_ACCESS = "AKIADIRECTSTORECANARY"
S3_SECRET = "direct-store-s3-secret-canary-0123456789"
S3_TOKEN = "direct-store-s3-session-token-canary-" + "x" * 30
AZURE_WRONG_KEY = "ZGlyZWN0LXN0b3JlLXdyb25nLWF6dXJlLWtleS1jYW5hcnktMDEyMzQ1Njc4OWFiY2RlZg=="
AZURE_SAS = (
    "sv=2021-08-06&ss=b&srt=sco&sp=rwdlac&se=2030-01-01T00:00:00Z&spr=http"
    "&sig=directStoreSasSignatureCanary0123456789abcdef"
)
LOCAL_SIGNING_KEY = "direct-store-local-signing-key-canary-0123"
for _name, _value in {
    "direct s3 access key": S3_ACCESS,
    "direct s3 secret key": S3_SECRET,
    "direct s3 session token": S3_TOKEN,
    "direct azure wrong key": AZURE_WRONG_KEY,
    "direct azure sas token": AZURE_SAS,
    "direct local signing key": LOCAL_SIGNING_KEY,
}.items():
    canary.register(_name, _value)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        yield link
        link = link.__cause__ or link.__context__


def assert_hidden(exc: BaseException, secrets: list[str], where: str) -> None:
    texts = ["".join(traceback.format_exception(exc))]
    texts += [f"{link}\n{link!r}\n{getattr(link, '__dict__', {})!r}" for link in _chain(exc)]
    for text in texts:
        for secret in secrets:
            assert secret not in text, f"{where}: a secret shows in {text[:2000]}"


def assert_no_record_shows(caplog: pytest.LogCaptureFixture, secrets: list[str]) -> None:
    assert caplog.records, "no log record at all: the root logger is not at DEBUG"
    for record in caplog.records:
        text = "\n".join(
            str(part) for part in (record.getMessage(), record.exc_text) if part is not None
        )
        for secret in secrets:
            assert secret not in text, f"a record of {record.name} shows a secret: {text[:500]}"


async def _listing(store: BlobStore) -> list[str]:
    return [entry.path async for entry in store.list("")]


async def _fails(store: BlobStore, call: Any, secrets: list[str], where: str) -> StorageError:
    with pytest.raises(StorageError) as caught:
        await call
    assert_hidden(caught.value, secrets, where)
    assert type(caught.value).__name__ in repr(caught.value)
    return caught.value


# -- S3 ----------------------------------------------------------------------------------


@pytest_asyncio.fixture
async def echoing_s3() -> AsyncIterator[str]:
    """An S3 endpoint on 127.0.0.1 that refuses every request as AWS refuses a bad
    signature, echoing what it was sent (and the secret key, the worst case)."""

    async def refuse(request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        found = re.search(r"Credential=([^/,]+)", auth)
        token = request.headers.get("X-Amz-Security-Token", "")
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SignatureDoesNotMatch</Code>'
            "<Message>The request signature we calculated does not match the signature you "
            f"provided. Check your key ({S3_SECRET}) and signing method.</Message>"
            f"<AWSAccessKeyId>{found.group(1) if found else ''}</AWSAccessKeyId>"
            "<StringToSign>AWS4-HMAC-SHA256\n20260101T000000Z</StringToSign>"
            f"<CanonicalRequest>{request.method}\n{request.path}\n\n"
            f"x-amz-security-token:{token}</CanonicalRequest>"
            "<RequestId>1</RequestId></Error>"
        )
        return web.Response(status=403, body=body.encode(), content_type="application/xml")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", refuse)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def _s3_store(endpoint: str, bucket: str) -> BlobStore:
    from lexigram.storage.s3 import StorageS3Config
    from lexigram.storage.s3.driver import S3Driver

    config = StorageS3Config(
        bucket=bucket,
        region="us-east-1",
        endpoint_url=endpoint,
        access_key=S3_ACCESS,
        secret_key=S3_SECRET,
        session_token=S3_TOKEN,
        addressing_style="path",
    )
    return BlobStore(S3Driver.from_config(config), name="direct-s3")


async def test_a_direct_s3_store_hides_its_secrets(
    echoing_s3: str, moto_server: ServerProcess, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = [S3_ACCESS, S3_SECRET, S3_TOKEN]
    refused = _s3_store(echoing_s3, "photos")
    try:
        for where, call in (
            ("download", refused.download("a.txt")),
            ("upload", refused.upload("a.txt", b"a")),
            ("list", _listing(refused)),
            ("info", refused.info("a.txt")),
        ):
            err = await _fails(refused, call, secrets, f"s3 refused: {where}")
            assert isinstance(err, PermissionDeniedError), err
        # the server's own words are kept, the secret in them is not
        assert "SignatureDoesNotMatch (HTTP 403) from GetObject" in str(
            await _fails(refused, refused.download("a.txt"), secrets, "s3 refused")
        )
        assert "***" in str(await _fails(refused, refused.download("b"), secrets, "s3 refused"))
        health = await refused.health_check()
        assert not health.healthy and all(s not in health.detail for s in secrets)
    finally:
        await refused.close()

    missing = _s3_store(moto_server.url, f"missing-{uuid.uuid4().hex[:12]}")
    try:
        for where, call in (
            ("download", missing.download("a.txt")),
            ("info", missing.info("a.txt")),
            ("list", _listing(missing)),
        ):
            err = await _fails(missing, call, secrets, f"s3 missing bucket: {where}")
            assert isinstance(err, BucketNotFoundError), err
            assert "does not exist" in str(err)
    finally:
        await missing.close()
    assert_no_record_shows(caplog, secrets)


# -- Azure ---------------------------------------------------------------------------------


async def test_a_direct_azure_store_hides_its_secrets(
    azurite: ServerProcess, caplog: pytest.LogCaptureFixture
) -> None:
    from lexigram.storage.azure import StorageAzureConfig
    from lexigram.storage.azure.driver import AzureBlobDriver

    caplog.set_level(logging.DEBUG)
    endpoint = f"{azurite.url}/devstoreaccount1"
    secrets = [AZURE_WRONG_KEY, AZURE_SAS, AZURE_SAS.rsplit("sig=", 1)[1]]
    configs = {
        "wrong key": StorageAzureConfig(
            account_name="devstoreaccount1",
            account_key=AZURE_WRONG_KEY,
            container="photos",
            endpoint_url=endpoint,
            max_retries=0,
        ),
        "bad sas token": StorageAzureConfig(
            account_name="devstoreaccount1",
            sas_token=AZURE_SAS,
            container="photos",
            endpoint_url=endpoint,
            max_retries=0,
        ),
        "missing container": StorageAzureConfig(
            account_name="devstoreaccount1",
            account_key=canary.AZURE_ACCOUNT_KEY,
            container=f"missing{uuid.uuid4().hex[:12]}",
            endpoint_url=endpoint,
            max_retries=0,
        ),
    }
    for case, config in configs.items():
        store = BlobStore(AzureBlobDriver(config), name="direct-azure")
        try:
            for where, call in (
                ("download", store.download("a.txt")),
                ("upload", store.upload("a.txt", b"a")),
                ("info", store.info("a.txt")),
                ("list", _listing(store)),
            ):
                err = await _fails(store, call, secrets, f"azure {case}: {where}")
                expected = (
                    BucketNotFoundError if case == "missing container" else PermissionDeniedError
                )
                assert isinstance(err, expected), err
        finally:
            await store.close()
    assert_no_record_shows(caplog, secrets)


# -- GCS -------------------------------------------------------------------------------------


async def test_a_direct_gcs_store_hides_its_secrets(
    fake_gcs: ServerProcess,
    service_account: dict[str, Any],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from lexigram.storage.gcs.config import StorageGCSConfig
    from lexigram.storage.gcs.driver import GCSDriver

    caplog.set_level(logging.DEBUG)
    data = service_account["data"]
    pem_lines = [
        line
        for line in data["private_key"].splitlines()
        if len(line) >= 16 and not line.startswith("-----")
    ]
    secrets = [data["private_key_id"], *pem_lines]
    # a real key whose token endpoint answers 404: every request fails to authenticate
    key_file = tmp_path / "sa.json"
    key_file.write_text(json.dumps({**data, "token_uri": f"{fake_gcs.url}/token"}))
    keyed = BlobStore(
        GCSDriver(
            StorageGCSConfig(
                bucket="photos",
                endpoint_url=fake_gcs.url,
                credentials_path=str(key_file),
                anonymous=False,
            )
        ),
        name="direct-gcs",
    )
    try:
        for where, call in (
            ("download", keyed.download("a.txt")),
            ("upload", keyed.upload("a.txt", b"a")),
            ("info", keyed.info("a.txt")),
        ):
            await _fails(keyed, call, secrets, f"gcs keyed: {where}")
        # once the key file is read, the driver names its secrets
        assert set(secrets) <= set(keyed.driver.secrets())
    finally:
        await keyed.close()

    missing = BlobStore(
        GCSDriver(
            StorageGCSConfig(bucket=f"missing-{uuid.uuid4().hex[:12]}", endpoint_url=fake_gcs.url)
        ),
        name="direct-gcs",
    )
    try:
        for where, call in (
            ("upload", missing.upload("a.txt", b"a")),
            ("list", _listing(missing)),
        ):
            err = await _fails(missing, call, secrets, f"gcs missing bucket: {where}")
            assert isinstance(err, BucketNotFoundError), err
    finally:
        await missing.close()
    assert_no_record_shows(caplog, secrets)


# -- local -----------------------------------------------------------------------------------


async def test_a_direct_local_store_hides_its_secrets(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from lexigram.storage.local.config import StorageLocalConfig
    from lexigram.storage.local.driver import LocalDriver

    caplog.set_level(logging.DEBUG)
    secrets = [LOCAL_SIGNING_KEY]
    driver = LocalDriver(
        StorageLocalConfig(
            root_dir=str(tmp_path),
            signing_key=LOCAL_SIGNING_KEY,
            base_url="http://127.0.0.1:9/files",
        )
    )
    assert LOCAL_SIGNING_KEY in driver.secrets()
    store = BlobStore(driver, name="direct-local")
    try:
        await store.upload("file", b"a")
        await _fails(store, store.download("missing.txt"), secrets, "local: missing key")
        await _fails(store, store.info("missing.txt"), secrets, "local: missing key")
        await _fails(store, store.copy("missing.txt", "b.txt"), secrets, "local: copy")
    finally:
        await store.close()
    assert_no_record_shows(caplog, secrets)
