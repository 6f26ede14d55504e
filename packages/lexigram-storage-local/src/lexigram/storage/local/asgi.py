"""A small ASGI app that serves and accepts files through presigned URLs.

Serve it at the store's ``base_url`` (any ASGI server: uvicorn, hypercorn, or mounted in
a framework, also under a ``root_path``; a path-only ``base_url`` such as ``/files``
gives relative URLs) and the URLs of ``get_presigned_url`` work the way S3's do::

    from lexigram.storage.local.asgi import create_app
    app = create_app(StorageLocalConfig(root_dir="./data", base_url="http://127.0.0.1:8000",
                                        signing_key=KEY))
    # uvicorn module:app --host 127.0.0.1 --port 8000

* ``GET`` / ``HEAD`` with a GET URL: the object, streamed, with ``Content-Type``,
  ``Content-Length``, ``ETag``, ``Last-Modified`` (and ``Content-Disposition`` when the
  URL was signed with one); one ``Range: bytes=a-b`` is honoured (206; one beyond the
  object or with a position larger than any file: 416; several ranges or an unparsable
  one: ignored, 200), as are ``If-Range``, ``If-None-Match`` and ``If-Modified-Since``
  (304). On a local store every header and every byte of a response come from one
  opened file, so a GET racing an overwrite is wholly old or wholly new.
* ``PUT`` with a PUT URL: the request body is streamed into the store (bounded memory);
  the content type is the signed one (a request with another ``Content-Type`` is
  refused), else the request's, else guessed from the key.
* ``POST`` of a ``multipart/form-data`` form made with ``get_presigned_post`` (its
  fields first, the file last as ``file``): the file is streamed into the store (``204``);
  a form over the policy's ``max_size`` is refused with ``413``, one with another
  content type, for another key or with an altered or expired policy with ``403``, a
  malformed one with ``400``, and nothing is stored (needs the ``post`` extra).
* Tampered, malformed or expired URL, or a URL of another method: ``403``. Missing
  object: ``404``. Other methods: ``405``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from email.utils import format_datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from lexigram.storage.errors import (
    BlobNotFoundError,
    InvalidArgumentError,
    StorageError,
)
from lexigram.storage.local.config import StorageLocalConfig
from lexigram.storage.local.http_headers import (
    Unsatisfiable,
    byte_range,
    header_value,
    not_modified,
)
from lexigram.storage.local.object_headers import sent_headers, stored_headers, unsigned_header
from lexigram.storage.local.signing import (
    InvalidSignatureError,
    SignedRequest,
    parse_query,
    verify_query,
)
from lexigram.storage.local.version import open_version
from lexigram.storage.store import BlobStore

__all__ = ["ASGIApp", "create_app"]

logger = logging.getLogger("lexigram.storage.local.asgi")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


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
        key = _key_of(scope, prefix)
        if key is None:
            await _text(send, 404, "not found")
            return
        method = scope["method"].upper()
        if method == "POST":
            await _post(blobs, key, key_material, scope, receive, send)
            return
        if method not in ("GET", "HEAD", "PUT"):
            await _text(send, 405, "method not allowed", [(b"allow", b"GET, HEAD, PUT, POST")])
            return
        try:
            query = parse_query(scope.get("query_string", b"").decode("latin-1"))
            grant = verify_query(key, query, key_material, method=method)
        except InvalidSignatureError as exc:
            await _text(send, 403, f"forbidden: {exc.reason}")
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            if method == "PUT":
                await _put(blobs, key, grant, headers, receive, send)
            else:
                await _get(
                    blobs,
                    key,
                    grant.content_disposition,
                    headers,
                    method,
                    chunk_size,
                    send,
                    grant.content_type,
                )
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


def _key_of(scope: Scope, prefix: str) -> str | None:
    """The key a request names: its path below ``prefix`` (the path of ``base_url``), or
    None when it is not below it. The app may be served at the site's root (the path
    holds ``prefix``) or mounted under ``root_path`` (a framework's mount, a proxy's
    ``--root-path``), whose servers give the path with or without ``root_path``."""
    raw = scope.get("raw_path")
    path = unquote(raw.decode("latin-1")) if raw else scope["path"]
    root_path = scope.get("root_path", "")
    full = path
    if root_path and not (path == root_path or path.startswith(root_path + "/")):
        full = root_path + path  # given relative to the mount
    inner = full[len(root_path) :] if root_path else full
    if not prefix:
        rest = inner
    elif full.startswith(prefix + "/"):
        rest = full[len(prefix) :]  # served at base_url's path, or mounted at it
    elif inner.startswith(prefix + "/"):
        rest = inner[len(prefix) :]  # mounted at root_path, base_url's path below it
    else:
        return None
    return rest[1:] if rest.startswith("/") else rest


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
    signed_type: str | None = None,
) -> None:
    # Everything said about the object and every byte sent come from one opened version.
    async with await open_version(blobs, key) as version:
        info = version.info
        validators: list[str] = []
        # a content type stored by other means than this app may not be a header value
        content_type = header_value(info.content_type or "") or b"application/octet-stream"
        if signed_type:
            # the URL's signed override of the response's type (as S3's response-content-type)
            content_type = header_value(signed_type) or content_type
        out = [(b"content-type", content_type), (b"accept-ranges", b"bytes")]
        out.extend(stored_headers(info, skip_disposition=bool(disposition)))
        if info.etag:
            out.append((b"etag", info.etag.encode("latin-1")))
            validators.append(info.etag)
        if info.last_modified is not None:
            modified = format_datetime(info.last_modified, usegmt=True)
            out.append((b"last-modified", modified.encode()))
            validators.append(modified)
        if not_modified(headers, etag=info.etag, last_modified=info.last_modified):
            await send({"type": "http.response.start", "status": 304, "headers": out[1:]})
            await send({"type": "http.response.body", "body": b""})
            return
        if disposition:
            # the local driver signs only valid ones; another signer's is checked here
            signed = header_value(disposition)
            if signed is None:
                raise InvalidArgumentError(
                    f"the presigned URL for {key!r} has a content_disposition that is not "
                    "a valid header value",
                    key=key,
                )
            out.append((b"content-disposition", signed))
        status, start, end = 200, 0, info.size
        wanted = byte_range(
            headers.get("range"),
            info.size,
            if_range=headers.get("if-range"),
            validators=tuple(validators),
        )
        if isinstance(wanted, Unsatisfiable):
            await _text(
                send,
                416,
                "range not satisfiable",
                [(b"content-range", f"bytes */{info.size}".encode())],
            )
            return
        if wanted is not None:
            status, (start, end) = 206, wanted
            out.append((b"content-range", f"bytes {start}-{end - 1}/{info.size}".encode()))
        out.append((b"content-length", str(end - start).encode()))
        await send({"type": "http.response.start", "status": status, "headers": out})
        if method == "HEAD" or end == start:
            await send({"type": "http.response.body", "body": b""})
            return
        try:
            async for chunk in version.chunks(start, end, chunk_size):
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except StorageError:
            # The status line is gone: end without completing the body, so the server
            # closes the connection and the client sees a short response, not a whole one.
            logger.exception("storage error while sending %r; response cut short", key)
            return
        await send({"type": "http.response.body", "body": b""})


async def _put(
    blobs: BlobStore,
    key: str,
    grant: SignedRequest,
    headers: dict[str, str],
    receive: Receive,
    send: Send,
) -> None:
    signed_type = grant.content_type
    sent_type = headers.get("content-type")
    if signed_type is not None and sent_type is not None and sent_type != signed_type:
        await _text(send, 403, "forbidden: content-type differs from the signed one")
        return
    refused = unsigned_header(grant, headers)
    if refused is not None:
        await _text(send, 403, f"forbidden: {refused} differs from the signed one")
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

    info = await blobs.upload(
        key, body(), content_type=signed_type or sent_type, **sent_headers(headers)
    )
    out = [(b"content-length", b"0")]
    if info.etag:
        out.append((b"etag", info.etag.encode("latin-1")))
    await send({"type": "http.response.start", "status": 200, "headers": out})
    await send({"type": "http.response.body", "body": b""})


async def _post(
    blobs: BlobStore, key: str, signing_key: str, scope: Scope, receive: Receive, send: Send
) -> None:
    from lexigram.storage.local.form_upload import ClientGone, FormRefused, receive_form

    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    try:
        etag = await receive_form(blobs, key, signing_key, headers.get("content-type", ""), receive)
    except FormRefused as exc:
        await _text(send, exc.status, exc.reason)
        return
    except ClientGone:
        return
    except InvalidArgumentError as exc:  # InvalidKeyError too
        await _text(send, 400, f"bad request: {type(exc).__name__}")
        return
    except StorageError:
        logger.exception("storage error receiving a form upload of %r", key)
        await _text(send, 500, "storage error")
        return
    out = [(b"content-length", b"0")]
    if etag:
        out.append((b"etag", etag.encode("latin-1")))
    await send({"type": "http.response.start", "status": 204, "headers": out})
    await send({"type": "http.response.body", "body": b""})
