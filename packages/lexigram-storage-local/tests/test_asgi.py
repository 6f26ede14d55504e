"""The ASGI app serves and accepts files through signed URLs, driven in-process by a
minimal ASGI client (plain dicts and async callables, no web framework)."""

from __future__ import annotations

from collections.abc import MutableMapping
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import attrs
import pytest

from lexigram.storage import BlobStore
from lexigram.storage.local.asgi import ASGIApp, create_app

from .conftest import SIGNING_KEY

Message = MutableMapping[str, Any]


@attrs.define
class Response:
    status: int
    headers: dict[str, str]
    chunks: list[bytes]

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)


async def exchange(
    app: ASGIApp,
    method: str,
    url: str,
    *,
    body: list[bytes] | None = None,
    headers: dict[str, str] | None = None,
    disconnect: bool = False,
) -> Response | None:
    parts = urlsplit(url)
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": parts.path,
        "raw_path": parts.path.encode(),
        "query_string": parts.query.encode(),
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
    }
    pieces = list(body or [b""])
    sent: list[Message] = []

    async def receive() -> Message:
        if pieces:
            chunk = pieces.pop(0)
            more = bool(pieces) or disconnect  # a disconnecting client promises more
            return {"type": "http.request", "body": chunk, "more_body": more}
        if disconnect:
            return {"type": "http.disconnect"}
        raise AssertionError("the app read past the end of the body")

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    if not sent:
        return None
    start = sent[0]
    assert start["type"] == "http.response.start"
    assert all(m["type"] == "http.response.body" for m in sent[1:])
    assert not sent[-1].get("more_body", False)
    return Response(
        start["status"],
        {k.decode(): v.decode() for k, v in start["headers"]},
        [m.get("body", b"") for m in sent[1:]],
    )


async def request(app: ASGIApp, method: str, url: str, **kwargs: Any) -> Response:
    got = await exchange(app, method, url, **kwargs)
    assert got is not None, "the app sent no response"
    return got


@pytest.fixture
def app(store: BlobStore) -> ASGIApp:
    return create_app(store, chunk_size=64 * 1024)


async def test_get_streams_the_object(app: ASGIApp, store: BlobStore) -> None:
    data = bytes(range(256)) * 1000
    await store.upload("dir/file.bin", data, content_type="image/png")
    url = await store.get_presigned_url(
        "dir/file.bin", content_disposition='attachment; filename="f.png"'
    )
    got = await request(app, "GET", url)
    assert got.status == 200 and got.body == data
    assert len(got.chunks) > 2  # streamed in pieces
    assert got.headers["content-type"] == "image/png"
    assert got.headers["content-length"] == str(len(data))
    assert got.headers["content-disposition"] == 'attachment; filename="f.png"'
    assert got.headers["etag"] == (await store.info("dir/file.bin")).etag
    head = await request(app, "HEAD", url)
    assert (head.status, head.body) == (200, b"")
    ranged = await request(app, "GET", url, headers={"Range": "bytes=10-19"})
    assert (ranged.status, ranged.body) == (206, data[10:20])
    assert ranged.headers["content-range"] == f"bytes 10-19/{len(data)}"
    suffix = await request(app, "GET", url, headers={"Range": "bytes=-5"})
    assert suffix.body == data[-5:]
    beyond = await request(app, "GET", url, headers={"Range": f"bytes={len(data)}-"})
    assert beyond.status == 416


async def test_refusals(app: ASGIApp, store: BlobStore) -> None:
    await store.upload("k.txt", b"secret data")
    url = await store.get_presigned_url("k.txt", timedelta(minutes=1))
    for bad in [
        url.replace("/k.txt", "/other.txt"),
        url.replace("signature=", "signature=0"),
        url.replace("method=GET", "method=PUT"),
        url.split("?")[0],
    ]:
        got = await request(app, "GET", bad)
        assert got.status == 403, bad
        assert b"secret" not in got.body
    assert (await request(app, "PUT", url, body=[b"x"])).status == 403  # a GET URL
    assert (await request(app, "DELETE", url)).status == 405
    missing = await store.get_presigned_url("nope.txt")
    assert (await request(app, "GET", missing)).status == 404


async def test_expired_url_is_refused(app: ASGIApp, store: BlobStore) -> None:
    await store.upload("k.txt", b"x")
    url = await store.get_presigned_url("k.txt", timedelta(seconds=1))
    from lexigram.storage.local.signing import signed_url

    expired = signed_url(
        "http://127.0.0.1:8765/files", SIGNING_KEY, key="k.txt", method="GET", expires=1000
    )
    assert (await request(app, "GET", expired)).status == 403
    assert (await request(app, "GET", url)).status == 200


async def test_put_streams_into_the_store(app: ASGIApp, store: BlobStore) -> None:
    url = await store.get_presigned_url("up/new.png", method="PUT", content_type="image/png")
    pieces = [bytes([i]) * 100_000 for i in range(10)]
    got = await request(app, "PUT", url, body=pieces, headers={"Content-Type": "image/png"})
    assert got.status == 200
    assert await store.download("up/new.png") == b"".join(pieces)
    assert (await store.info("up/new.png")).content_type == "image/png"
    assert got.headers["etag"] == (await store.info("up/new.png")).etag
    wrong_type = await request(app, "PUT", url, body=[b"x"], headers={"Content-Type": "text/html"})
    assert wrong_type.status == 403
    assert await store.download("up/new.png") == b"".join(pieces)


async def test_put_cut_short_keeps_old_content(app: ASGIApp, store: BlobStore, root: Path) -> None:
    await store.upload("doc", b"old")
    url = await store.get_presigned_url("doc", method="PUT")
    # the client disconnects midway: no response, nothing stored
    assert await exchange(app, "PUT", url, body=[b"new" * 1000], disconnect=True) is None
    assert await store.download("doc") == b"old"
    assert [p for p in root.rglob("*") if "tmp" in p.name] == []  # noqa: ASYNC240


async def test_app_from_config(tmp_path: Path) -> None:
    from lexigram.storage.local.config import StorageLocalConfig
    from lexigram.storage.local.signing import signed_url

    config = StorageLocalConfig(
        root_dir=str(tmp_path), base_url="http://127.0.0.1:1/base", signing_key=SIGNING_KEY
    )
    app = create_app(config)
    (tmp_path / "f.txt").write_bytes(b"hi")
    url = signed_url(
        "http://127.0.0.1:1/base", SIGNING_KEY, key="f.txt", method="GET", expires=2**40
    )
    got = await request(app, "GET", url)
    assert (got.status, got.body, got.headers["content-type"]) == (200, b"hi", "text/plain")
    assert (await request(app, "GET", url.replace("/base/", "/"))).status == 404
    messages: list[Message] = []
    inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]

    async def receive() -> Message:
        return inbox.pop(0)

    async def send(message: Message) -> None:
        messages.append(message)

    await app({"type": "lifespan"}, receive, send)
    assert [m["type"] for m in messages] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]
    with pytest.raises(ValueError, match="signing_key"):
        create_app(StorageLocalConfig(root_dir=str(tmp_path)))
