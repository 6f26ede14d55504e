"""S3 stores the HTTP headers natively and binds them to presigned PUT URLs (moto)."""

from __future__ import annotations

import asyncio
import gzip
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from lexigram.storage import BlobStore

from .test_s3_driver import _http
from .test_s3_driver import store as store  # the fixture

HEADERS = {
    "cache_control": "public, max-age=600",
    "content_disposition": 'attachment; filename="r.csv"',
    "content_encoding": "gzip",
    "content_language": "nl",
}


async def test_headers_are_the_objects_own(store: BlobStore, s3_client: Any, bucket: str) -> None:
    data = gzip.compress(b"a,b\n" * 1000)
    await store.upload("h/r.csv", data, content_type="text/csv", **HEADERS)
    raw = await s3_client.head_object(Bucket=bucket, Key="h/r.csv")
    assert raw["CacheControl"] == HEADERS["cache_control"]
    assert raw["ContentDisposition"] == HEADERS["content_disposition"]
    assert raw["ContentEncoding"] == "gzip"
    assert raw["ContentLanguage"] == "nl"
    # a plain HTTP GET of the object carries them, and the bytes are the stored ones
    url = await store.get_presigned_url("h/r.csv", timedelta(minutes=5))
    status, headers, body = await asyncio.to_thread(_http, url)
    assert status == 200 and body == data
    lowered = {k.lower(): v for k, v in headers.items()}
    assert lowered["cache-control"] == HEADERS["cache_control"]
    assert lowered["content-encoding"] == "gzip"


async def test_presigned_put_signs_the_headers(store: BlobStore) -> None:
    url = await store.get_presigned_url(
        "h/up.txt", timedelta(minutes=5), "PUT", content_type="text/plain", **HEADERS
    )
    signed = dict(parse_qsl(urlsplit(url).query))["X-Amz-SignedHeaders"].split(";")
    for header in ("cache-control", "content-disposition", "content-encoding", "content-language"):
        assert header in signed
    sent = {
        "Content-Type": "text/plain",
        "Cache-Control": HEADERS["cache_control"],
        "Content-Disposition": HEADERS["content_disposition"],
        "Content-Encoding": "gzip",
        "Content-Language": "nl",
    }
    body = gzip.compress(b"hello")
    status, _, _ = await asyncio.to_thread(_http, url, "PUT", body, **sent)
    assert status == 200
    info = await store.info("h/up.txt")
    assert (info.cache_control, info.content_encoding, info.content_language) == (
        HEADERS["cache_control"],
        "gzip",
        "nl",
    )
    assert await store.download("h/up.txt") == body
