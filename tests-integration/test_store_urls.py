"""Stores from URLs for every shipped driver, against the real servers on 127.0.0.1:
moto (s3://), fake-gcs-server (gs://), Azurite (az://), the local disk (file://); and the
blocking API over the local driver and moto."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import pytest
import pytest_asyncio

from lexigram.storage import BlobNotFoundError, BucketNotFoundError, ConfigError, open_store
from lexigram.storage import sync as blocking
from lexigram.storage.config.model import structure_driver_settings
from lexigram.storage.testing.servers import ServerProcess
from lexigram.storage.urls import StoreURL, parse_store_url

from .azure_setup import create_container
from .canary import AZURE_ACCOUNT_KEY, URL_ACCESS_KEY, URL_SECRET_KEY

AZURITE_ACCOUNT = "devstoreaccount1"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("memory://", StoreURL("memory", {}, "")),
        ("memory://scratch/area", StoreURL("memory", {}, "scratch/area/")),
        ("file:///srv/data", StoreURL("local", {"root_dir": "/srv/data"}, "")),
        ("file://localhost/srv/data", StoreURL("local", {"root_dir": "/srv/data"}, "")),
        ("file:relative/dir", StoreURL("local", {"root_dir": "relative/dir"}, "")),
        ("file:./data?fsync=off", StoreURL("local", {"root_dir": "./data", "fsync": "off"}, "")),
        (
            "s3://photos/2024/raw/?region=eu-west-1",
            StoreURL("s3", {"bucket": "photos", "region": "eu-west-1"}, "2024/raw/"),
        ),
        (
            "s3://b?encryption.enabled=true&encryption.type=aws:kms",
            StoreURL(
                "s3", {"bucket": "b", "encryption": {"enabled": "true", "type": "aws:kms"}}, ""
            ),
        ),
        ("r2://media", StoreURL("r2", {"bucket": "media"}, "")),
        ("gs://bkt/p", StoreURL("gcs", {"bucket": "bkt"}, "p/")),
        ("gcs://bkt", StoreURL("gcs", {"bucket": "bkt"}, "")),
        (
            "az://box/in/here?account_name=acct",
            StoreURL("azure", {"container": "box", "account_name": "acct"}, "in/here/"),
        ),
        ("azure://box", StoreURL("azure", {"container": "box"}, "")),
        ("S3://b/a%20b", StoreURL("s3", {"bucket": "b"}, "a b/")),
    ],
)
def test_urls_parse_into_driver_settings_and_prefix(url: str, expected: StoreURL) -> None:
    assert parse_store_url(url) == expected
    driver, settings, prefix = parse_store_url(url)  # a plain tuple for the CLI to reuse
    assert (driver, settings, prefix) == tuple(expected)


def test_query_values_are_structured_by_the_drivers_config_class() -> None:
    parsed = parse_store_url(
        "s3://b?verify_ssl=false&max_concurrency=3&read_timeout=2.5&addressing_style=path"
        "&encryption.enabled=yes"
    )
    config = structure_driver_settings(parsed.driver, parsed.settings, "url")
    assert config.verify_ssl is False
    assert config.max_concurrency == 3
    assert config.read_timeout == 2.5
    assert config.addressing_style == "path"
    assert config.encryption.enabled is True


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("s3://b?verify_ssl=nope", "url.verify_ssl"),
        ("s3://b?part_size=1024", "url.part_size"),
        ("s3://b?addressing_style=sideways", "must be one of"),
        ("gs://b?anonymous=perhaps", "url.anonymous"),
        ("az://c?account_name=a&use_default_credential=2", "url.use_default_credential"),
        ("file:///tmp/x?fsync=sometimes", "url.fsync"),
    ],
)
def test_bad_values_are_config_errors_naming_the_parameter(url: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        open_store(url)
    assert words in str(caught.value)


def test_an_unknown_parameter_names_the_nearest_valid_one() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_store_url(f"s3://b?secret_access_key={URL_SECRET_KEY}")
    message = str(caught.value)
    assert "'secret_access_key'" in message and "did you mean 'secret_key'?" in message
    assert URL_SECRET_KEY not in message
    with pytest.raises(ConfigError) as caught:
        parse_store_url("gs://b?endpoint=http://127.0.0.1:1")
    assert "did you mean 'endpoint_url'?" in str(caught.value)


# -- against the servers ------------------------------------------------------------------


async def _exercise(url: str, root_url: str) -> None:
    """Upload under the URL's prefix; the root store sees the prefixed keys."""
    async with open_store(url) as store:
        await store.upload("a.txt", b"alpha")
        await store.upload("dir/b.txt", b"beta")
        assert [i.path async for i in store.list()] == ["a.txt", "dir/b.txt"]
        assert [(i.path, i.is_prefix) async for i in store.list(delimiter="/")] == [
            ("a.txt", False),
            ("dir/", True),
        ]
        assert (await store.info("dir/b.txt")).path == "dir/b.txt"
        assert await store.download("a.txt") == b"alpha"
        await store.copy("a.txt", "c.txt")
        await store.delete_many(["a.txt"])
        with pytest.raises(BlobNotFoundError):
            await store.download("a.txt")
    async with open_store(root_url) as root:
        assert [i.path async for i in root.list()] == ["in/here/c.txt", "in/here/dir/b.txt"]
        assert await root.download("in/here/c.txt") == b"alpha"


@pytest_asyncio.fixture
async def s3_bucket(
    moto_server: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[str]:
    """A fresh bucket on moto; credentials only in the environment, as boto reads them."""
    from aiobotocore.session import AioSession

    name = f"url-{uuid.uuid4().hex[:16]}"
    session = AioSession()
    async with session.create_client(
        "s3",
        region_name="us-east-1",
        endpoint_url=moto_server.url,
        aws_access_key_id="AKIATESTRAWSDKCLIENT",  # moto shares buckets between keys
        aws_secret_access_key="raw-sdk-client-secret-never-given-to-a-driver",
    ) as client:
        await client.create_bucket(Bucket=name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", URL_ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", URL_SECRET_KEY)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    return name


async def test_s3_url_against_moto(s3_bucket: str, moto_server: ServerProcess) -> None:
    query = f"endpoint_url={quote(moto_server.url, safe='')}&addressing_style=path&region=us-east-1"
    await _exercise(f"s3://{s3_bucket}/in/here?{query}", f"s3://{s3_bucket}?{query}")
    async with open_store(f"s3://{s3_bucket}/in/here?{query}") as store:
        signed = await store.get_presigned_url("c.txt")
        assert f"/{s3_bucket}/in/here/c.txt?" in signed
        assert (await store.get_url("c.txt")).endswith(f"/{s3_bucket}/in/here/c.txt")


async def test_s3_url_errors_never_show_the_secret(
    s3_bucket: str, moto_server: ServerProcess
) -> None:
    url = (
        f"s3://missing-{s3_bucket}?endpoint_url={moto_server.url}&addressing_style=path"
        f"&access_key={URL_ACCESS_KEY}&secret_key={URL_SECRET_KEY}"
    )
    store = open_store(url)
    assert URL_SECRET_KEY not in repr(store)
    with pytest.raises(BucketNotFoundError) as caught:
        await store.upload("k", b"1")
    assert URL_SECRET_KEY not in str(caught.value)
    await store.close()


def test_blocking_store_from_an_s3_url(s3_bucket: str, moto_server: ServerProcess) -> None:
    url = f"s3://{s3_bucket}/sync?endpoint_url={moto_server.url}&addressing_style=path"
    with blocking.open_store(url) as store:
        store.upload("x.bin", b"\x00" * 1000)
        assert store.download("x.bin", range=(0, 10)) == b"\x00" * 10
        assert [i.path for i in store.list()] == ["x.bin"]
        with pytest.raises(BlobNotFoundError):
            store.info("nope")


async def test_gs_url_against_fake_gcs(
    fake_gcs: ServerProcess, new_gcs_bucket: Callable[[], str]
) -> None:
    bucket = new_gcs_bucket()
    query = f"endpoint_url={fake_gcs.url}&anonymous=true"
    await _exercise(f"gs://{bucket}/in/here?{query}", f"gs://{bucket}?{query}")


async def test_az_url_against_azurite(azurite: ServerProcess) -> None:
    endpoint = f"{azurite.url}/{AZURITE_ACCOUNT}"
    container = f"u{uuid.uuid4().hex[:20]}"
    create_container(
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
        f"AccountKey={AZURE_ACCOUNT_KEY};BlobEndpoint={endpoint};",
        container,
    )
    # the key holds '/', '+' and '=': percent-encoded in the query, as any URL value
    query = (
        f"account_name={AZURITE_ACCOUNT}&account_key={quote(AZURE_ACCOUNT_KEY, safe='')}"
        f"&endpoint_url={quote(endpoint, safe='')}"
    )
    await _exercise(f"az://{container}/in/here?{query}", f"az://{container}?{query}")
    with pytest.raises(ConfigError) as caught:
        open_store(f"az://{container}?{query}&max_retries=lots")
    assert "url.max_retries" in str(caught.value)
    assert AZURE_ACCOUNT_KEY not in str(caught.value)
    assert quote(AZURE_ACCOUNT_KEY, safe="") not in str(caught.value)


async def test_file_url_against_the_local_disk(tmp_path: Path) -> None:
    root = tmp_path / "data"
    # a file: URL's path is all directory (no prefix): the store lives in root/in/here
    await _exercise(f"file://{root}/in/here?fsync=no", f"file://{root}")
    assert (root / "in" / "here" / "c.txt").read_bytes() == b"alpha"
    async with open_store(f"file:{root}/in/here") as store:
        assert await store.download("c.txt") == b"alpha"


def test_blocking_provider_over_the_local_disk_from_many_threads(tmp_path: Path) -> None:
    config = {"drivers": {"local": {"root_dir": str(tmp_path), "fsync": False}}}
    with blocking.SyncStorageProvider.from_dict(config) as provider:
        store = provider.store()

        def work(n: int) -> list[bytes]:
            got = []
            for i in range(10):
                store.upload(f"w{n}/{i}", bytes([n]) * (1000 + i))
                got.append(store.download(f"w{n}/{i}"))
            return got

        with ThreadPoolExecutor(max_workers=6) as pool:
            results = list(pool.map(work, range(12)))
        for n, got in enumerate(results):
            assert got == [bytes([n]) * (1000 + i) for i in range(10)]
        assert len(list(store.list())) == 120
    assert (tmp_path / "w3" / "9").read_bytes() == bytes([3]) * 1009
