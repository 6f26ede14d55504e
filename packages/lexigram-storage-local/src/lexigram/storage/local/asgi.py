"""A small ASGI app that serves and accepts files through presigned URLs.

Serve it at the store's ``base_url`` (any ASGI server: uvicorn, hypercorn, or mounted in
a framework) and the URLs of ``get_presigned_url`` work the way S3's do::

    from lexigram.storage.local.asgi import create_app
    app = create_app(StorageLocalConfig(root_dir="./data", base_url="http://127.0.0.1:8000",
                                        signing_key=KEY))
    # uvicorn module:app --host 127.0.0.1 --port 8000

* ``GET`` / ``HEAD`` with a GET URL: the object, streamed, with ``Content-Type``,
  ``Content-Length``, ``ETag``, ``Last-Modified`` (and ``Content-Disposition`` when the
  URL was signed with one); one ``Range: bytes=a-b`` is honoured (206).
* ``PUT`` with a PUT URL: the request body is streamed into the store (bounded memory);
  the content type is the signed one (a request with another ``Content-Type`` is
  refused), else the request's, else guessed from the key.
* Tampered, malformed or expired URL, or a URL of another method: ``403``. Missing
  object: ``404``. Other methods: ``405``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from lexigram.storage.errors import (
    BlobNotFoundError,
    InvalidArgumentError,
    StorageError,
)
from lexigram.storage.local.config import StorageLocalConfig
from lexigram.storage.local.signing import InvalidSignatureError, verify_query
from lexigram.storage.store import BlobStore

__all__ = ["ASGIApp", "create_app"]

logger = logging.getLogger("lexigram.storage.local.asgi")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class _Disconnected(Exception):
    pass


def create_app(
    store: BlobStore | StorageLocalConfig,
    *,
    signing_key: str | None = None,
    base_path: str | None = None,
    chunk_size: int = 1024 * 1024,
) -> ASGIApp:
    """An ASGI app over ``store`` (a :class:`BlobStore` of any driver, or a local config
    from which one is built and closed at lifespan shutdown).

    ``signing_key`` defaults to the local config's; ``base_path`` (the URL path the app
    is served under) to the path of its ``base_url``.
    """
    owned = isinstance(store, StorageLocalConfig)
    if isinstance(store, StorageLocalConfig):
        from lexigram.storage.local.driver import LocalDriver

        config: StorageLocalConfig | None = store
        blobs = BlobStore(LocalDriver(store), name="local")
    else:
        blobs = store
        config = getattr(blobs.driver, "config", None)
        if not isinstance(config, StorageLocalConfig):
            config = None
    key_material = signing_key or (config.signing_key if config else None)
    if not key_material:
        raise ValueError("create_app needs a signing_key (or a local config that has one)")
    if base_path is None:
        base_path = urlsplit(config.base_url).path if config and config.base_url else ""
    prefix = base_path.rstrip("/")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send, blobs if owned else None)
            return
        if scope["type"] != "http":
            return
        raw = scope.get("raw_path")
        path = unquote(raw.decode("latin-1")) if raw else scope["path"]
        root_path = scope.get("root_path", "")
        if root_path and path.startswith(root_path + "/"):
            path = path[len(root_path) :]
        if prefix:
            if not path.startswith(prefix + "/"):
                await _text(send, 404, "not found")
                return
            path = path[len(prefix) :]
        key = path[1:] if path.startswith("/") else path
        method = scope["method"].upper()
        if method not in ("GET", "HEAD", "PUT"):
            await _text(send, 405, "method not allowed", [(b"allow", b"GET, HEAD, PUT")])
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        try:
            grant = verify_query(key, query, key_material, method=method)
        except InvalidSignatureError as exc:
            await _text(send, 403, f"forbidden: {exc.reason}")
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            if method == "PUT":
                await _put(blobs, key, grant.content_type, headers, receive, send)
            else:
                await _get(blobs, key, grant.content_disposition, headers, method, chunk_size, send)
        except BlobNotFoundError:
            await _text(send, 404, "not found")
        except InvalidArgumentError as exc:
            await _text(send, 400, f"bad request: {type(exc).__name__}")
        except _Disconnected:
            return
        except StorageError:
            logger.exception("storage error serving %r", key)
            await _text(send, 500, "storage error")

    return app


async def _lifespan(receive: Receive, send: Send, owned: BlobStore | None) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if owned is not None:
                await owned.close()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _text(
    send: Send, status: int, text: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = text.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                *(extra or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _get(
    blobs: BlobStore,
    key: str,
    disposition: str | None,
    headers: dict[str, str],
    method: str,
    chunk_size: int,
    send: Send,
) -> None:
    info = await blobs.info(key)
    status = 200
    start, end = 0, info.size
    out = [
        (b"content-type", (info.content_type or "application/octet-stream").encode("latin-1")),
        (b"accept-ranges", b"bytes"),
    ]
    if info.etag:
        out.append((b"etag", info.etag.encode("latin-1")))
    if info.last_modified is not None:
        out.append((b"last-modified", format_datetime(info.last_modified, usegmt=True).encode()))
    if disposition:
        out.append((b"content-disposition", disposition.encode("latin-1")))
    wanted = _RANGE.fullmatch(headers.get("range", "").strip())
    if wanted and (wanted.group(1) or wanted.group(2)):
        first, last = wanted.group(1), wanted.group(2)
        if first:
            start = int(first)
            end = min(info.size, int(last) + 1) if last else info.size
        else:  # suffix range: the last N bytes
            start = max(0, info.size - int(last))
        if start >= info.size or start >= end:
            await _text(
                send,
                416,
                "range not satisfiable",
                [(b"content-range", f"bytes */{info.size}".encode())],
            )
            return
        status = 206
        out.append((b"content-range", f"bytes {start}-{end - 1}/{info.size}".encode()))
    out.append((b"content-length", str(end - start).encode()))
    await send({"type": "http.response.start", "status": status, "headers": out})
    if method == "HEAD" or end == start:
        await send({"type": "http.response.body", "body": b""})
        return
    async for chunk in blobs.stream(key, chunk_size=chunk_size, range=(start, end)):
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def _put(
    blobs: BlobStore,
    key: str,
    signed_type: str | None,
    headers: dict[str, str],
    receive: Receive,
    send: Send,
) -> None:
    sent_type = headers.get("content-type")
    if signed_type is not None and sent_type is not None and sent_type != signed_type:
        await _text(send, 403, "forbidden: content-type differs from the signed one")
        return

    async def body() -> AsyncIterator[bytes]:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected()
            chunk = message.get("body", b"")
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                return

    info = await blobs.upload(key, body(), content_type=signed_type or sent_type)
    out = [(b"content-length", b"0")]
    if info.etag:
        out.append((b"etag", info.etag.encode("latin-1")))
    await send({"type": "http.response.start", "status": 200, "headers": out})
    await send({"type": "http.response.body", "body": b""})
