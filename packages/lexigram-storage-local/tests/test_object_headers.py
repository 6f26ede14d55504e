"""The local driver's HTTP headers: kept in the sidecar, served by the ASGI app, bound
to presigned PUT URLs."""

from __future__ import annotations

import gzip
from datetime import timedelta

from lexigram.storage import BlobStore
from lexigram.storage.local.asgi import ASGIApp, create_app
from lexigram.storage.local.signing import verify_presigned_url

from .conftest import SIGNING_KEY
from .test_asgi import request

HEADERS = {
    "cache_control": "public, max-age=60",
    "content_disposition": 'attachment; filename="a.txt"',
    "content_encoding": "gzip",
    "content_language": "fr",
}


def _app(store: BlobStore) -> ASGIApp:
    return create_app(store, chunk_size=64 * 1024)


async def test_get_serves_the_stored_headers(store: BlobStore) -> None:
    app = _app(store)
    data = gzip.compress(b"bonjour " * 100)
    await store.upload("h/a.txt", data, content_type="text/plain", **HEADERS)
    got = await request(app, "GET", await store.get_presigned_url("h/a.txt"))
    assert got.status == 200 and got.body == data  # the stored bytes, not decompressed
    assert got.headers["cache-control"] == "public, max-age=60"
    assert got.headers["content-disposition"] == 'attachment; filename="a.txt"'
    assert got.headers["content-encoding"] == "gzip"
    assert got.headers["content-language"] == "fr"
    # a disposition signed into the URL wins over the stored one
    url = await store.get_presigned_url("h/a.txt", content_disposition="inline")
    got = await request(app, "GET", url)
    assert got.headers["content-disposition"] == "inline"
    assert got.headers["cache-control"] == "public, max-age=60"
    plain = await store.upload("h/plain.txt", b"x")
    assert plain.cache_control is None
    got = await request(app, "GET", await store.get_presigned_url("h/plain.txt"))
    assert "cache-control" not in got.headers and "content-encoding" not in got.headers


async def test_headers_survive_reopening_the_store(store: BlobStore) -> None:
    await store.upload("h/kept.txt", b"x", **HEADERS)
    again = BlobStore(type(store.driver)(store.driver.config), name="again")  # type: ignore[call-arg]
    try:
        info = await again.info("h/kept.txt")
    finally:
        await again.close()
    assert info.cache_control == HEADERS["cache_control"]
    assert info.content_language == "fr"


async def test_presigned_put_binds_the_headers(store: BlobStore) -> None:
    app = _app(store)
    url = await store.get_presigned_url(
        "up/page.html",
        timedelta(minutes=5),
        "PUT",
        cache_control="no-cache",
        content_encoding="gzip",
        content_language="en",
    )
    grant = verify_presigned_url(
        url, SIGNING_KEY, method="PUT", base_url=store.driver.public_base_url
    )
    assert (grant.cache_control, grant.content_encoding) == ("no-cache", "gzip")
    body = gzip.compress(b"<p>hi</p>")
    # the uploader must send each bound header, as signed
    missing = await request(app, "PUT", url, body=[body], headers={"Cache-Control": "no-cache"})
    assert missing.status == 403
    wrong = {"Cache-Control": "max-age=1", "Content-Encoding": "gzip", "Content-Language": "en"}
    assert (await request(app, "PUT", url, body=[body], headers=wrong)).status == 403
    assert not await store.exists("up/page.html")
    sent = {"Cache-Control": "no-cache", "Content-Encoding": "gzip", "Content-Language": "en"}
    assert (await request(app, "PUT", url, body=[body], headers=sent)).status == 200
    info = await store.info("up/page.html")
    assert (info.cache_control, info.content_encoding, info.content_language) == (
        "no-cache",
        "gzip",
        "en",
    )
    assert await store.download("up/page.html") == body
    # the bound header cannot be dropped from, or changed in, the URL
    for bad in (url.replace("cache_control=no-cache&", ""), url.replace("no-cache", "no-store")):
        assert (await request(app, "PUT", bad, body=[b"x"], headers=sent)).status == 403


async def test_put_stores_headers_sent_and_refuses_bad_ones(store: BlobStore) -> None:
    app = _app(store)
    url = await store.get_presigned_url("up/x.txt", method="PUT")
    ok = await request(app, "PUT", url, body=[b"x"], headers={"Cache-Control": "max-age=5"})
    assert ok.status == 200
    assert (await store.info("up/x.txt")).cache_control == "max-age=5"
    bad = await request(app, "PUT", url, body=[b"y"], headers={"Content-Language": "\x01"})
    assert bad.status == 400
    assert await store.download("up/x.txt") == b"x"
