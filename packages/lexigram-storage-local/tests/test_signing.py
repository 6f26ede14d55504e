"""HMAC-signed URLs: get_url, get_presigned_url and verify_presigned_url."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest

from lexigram.storage import BlobStore, InvalidArgumentError, StorageConfig, StorageProvider
from lexigram.storage.local.config import StorageLocalConfig
from lexigram.storage.local.driver import LocalDriver
from lexigram.storage.local.signing import (
    ExpiredSignatureError,
    InvalidSignatureError,
    verify_presigned_url,
)

from .conftest import BASE_URL, SIGNING_KEY


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


async def test_get_url(store: BlobStore, tmp_path: Path) -> None:
    assert await store.get_url("a dir/ü.txt") == BASE_URL + "/a%20dir/%C3%BC.txt"
    async with BlobStore(LocalDriver(StorageLocalConfig(root_dir=str(tmp_path / "x")))) as plain:
        url = await plain.get_url("a dir/f.txt")
    assert url == (tmp_path / "x" / "a dir" / "f.txt").as_uri()


@pytest.mark.parametrize("method", ["GET", "PUT"])
async def test_round_trip(store: BlobStore, method: str) -> None:
    key = "dir/with space/ü+?.txt"
    url = await store.get_presigned_url(key, timedelta(minutes=5), method=method)
    assert url.startswith(BASE_URL + "/dir/with%20space/")
    assert SIGNING_KEY not in url
    grant = verify_presigned_url(url, SIGNING_KEY, method=method, base_url=BASE_URL)
    assert (grant.key, grant.method) == (key, method)
    assert time.time() + 290 < grant.expires <= time.time() + 301


async def test_tampering_is_refused(store: BlobStore) -> None:
    url = await store.get_presigned_url("a.txt", timedelta(minutes=5))
    grant = verify_presigned_url(url, SIGNING_KEY, base_url=BASE_URL)
    tampered = [
        url.replace("/a.txt", "/b.txt"),
        _with_query(url, expires=str(grant.expires + 3600)),
        _with_query(url, method="PUT"),
        _with_query(url, signature="0" * 64),
        _with_query(url, content_disposition="attachment"),
        url.split("?")[0],
    ]
    for bad in tampered:
        with pytest.raises(InvalidSignatureError) as caught:
            verify_presigned_url(bad, SIGNING_KEY, base_url=BASE_URL)
        assert SIGNING_KEY not in str(caught.value)
    with pytest.raises(InvalidSignatureError) as wrong_key:
        verify_presigned_url(url, "another-key-of-32-characters-xxxxxx", base_url=BASE_URL)
    assert wrong_key.value.reason == "signature"
    with pytest.raises(InvalidSignatureError) as other_method:
        verify_presigned_url(url, SIGNING_KEY, method="PUT", base_url=BASE_URL)
    assert other_method.value.reason == "method"
    assert verify_presigned_url(url, SIGNING_KEY, method="HEAD", base_url=BASE_URL).key == "a.txt"


async def test_expiry(store: BlobStore) -> None:
    url = await store.get_presigned_url("a.txt", timedelta(seconds=30))
    grant = verify_presigned_url(url, SIGNING_KEY, base_url=BASE_URL)
    verify_presigned_url(url, SIGNING_KEY, base_url=BASE_URL, now=grant.expires - 1)
    with pytest.raises(ExpiredSignatureError) as caught:
        verify_presigned_url(url, SIGNING_KEY, base_url=BASE_URL, now=grant.expires)
    assert caught.value.reason == "expired"
    assert isinstance(caught.value, PermissionError)
    with pytest.raises(InvalidArgumentError):
        await store.get_presigned_url("a.txt", timedelta(days=8))


async def test_put_url_signs_content_type(store: BlobStore) -> None:
    url = await store.get_presigned_url("up.bin", method="PUT", content_type="image/png")
    grant = verify_presigned_url(url, SIGNING_KEY, method="PUT", base_url=BASE_URL)
    assert grant.content_type == "image/png"
    with pytest.raises(InvalidSignatureError):
        verify_presigned_url(
            _with_query(url, content_type="text/html"), SIGNING_KEY, method="PUT", base_url=BASE_URL
        )


def test_url_outside_base_path_is_refused() -> None:
    with pytest.raises(InvalidSignatureError):
        verify_presigned_url(
            "http://127.0.0.1/other/a?expires=1&method=GET&signature=x",
            SIGNING_KEY,
            base_url=BASE_URL,
        )


async def test_relative_urls_of_a_path_only_base_url(tmp_path: Path) -> None:
    local = {"root_dir": str(tmp_path), "base_url": "/files", "signing_key": SIGNING_KEY}
    config = StorageConfig.from_dict({"default_driver": "local", "drivers": {"local": local}})
    async with StorageProvider(config=config) as provider:
        url = await provider.store().get_presigned_url("a/b.txt", timedelta(minutes=5))
    assert url.startswith("/files/a/b.txt?expires=") and "://" not in url
    grant = verify_presigned_url(url, SIGNING_KEY, base_url="/files")
    assert (grant.key, grant.method) == ("a/b.txt", "GET")
    # what is signed is the key and the query, not a host: absolute forms verify too
    assert verify_presigned_url("https://h.test" + url, SIGNING_KEY, base_url="/files")
    assert verify_presigned_url(url, SIGNING_KEY, base_url="https://h.test/files")
    for bad in (url.replace("/b.txt", "/c.txt"), _with_query(url, method="PUT")):
        with pytest.raises(InvalidSignatureError):
            verify_presigned_url(bad, SIGNING_KEY, base_url="/files")
    with pytest.raises(InvalidSignatureError):  # not below base_url
        verify_presigned_url(url.replace("/files/", "/other/"), SIGNING_KEY, base_url="/files")


async def test_expires_only_in_canonical_bounded_form(store: BlobStore) -> None:
    url = await store.get_presigned_url("a.txt", timedelta(minutes=5))
    expires = str(verify_presigned_url(url, SIGNING_KEY, base_url=BASE_URL).expires)
    for spelling in ("0" + expires, "+" + expires, " " + expires, expires + " ", "9" * 5000, "-1"):
        with pytest.raises(InvalidSignatureError) as caught:
            verify_presigned_url(_with_query(url, expires=spelling), SIGNING_KEY, base_url=BASE_URL)
        assert caught.value.reason == "malformed"
    with pytest.raises(InvalidSignatureError) as caught:
        verify_presigned_url(url + "&x=1" * 50, SIGNING_KEY, base_url=BASE_URL)
    assert caught.value.reason == "malformed"
    with pytest.raises(InvalidSignatureError) as caught:  # not UTF-8 once decoded
        verify_presigned_url(url.replace("/a.txt", "/%ff.txt"), SIGNING_KEY, base_url=BASE_URL)
    assert caught.value.reason == "malformed"
