"""Resumable uploads in chunks of ``chunk_size``: bounded memory for any body size.

Protocol (https://cloud.google.com/storage/docs/performing-resumable-uploads): a POST
opens an upload session (its URI comes back in ``Location``), each chunk is a PUT with
``Content-Range: bytes a-b/*`` answered by ``308``, the last one names the total size and
is answered with the object resource (a body that ends on a chunk boundary is
completed by an empty request naming the total). The object appears only when the last
chunk arrives, so a body that fails midway leaves the old object as it was; the session
is then cancelled with a DELETE.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import aiohttp
from gcloud.aio.auth import AioSession

from lexigram.storage.errors import DriverError, ErrorCode
from lexigram.storage.gcs.errors import classify_gcs
from lexigram.storage.integrity import RunningDigest, b64

__all__ = ["multipart_related", "resumable_upload"]

Chunk = bytes | bytearray | memoryview
#: tries per chunk of a resumable upload (transient failures resume where the server
#: stopped; the core does not retry streamed uploads itself).
CHUNK_ATTEMPTS = 4


def multipart_related(
    resource: Mapping[str, Any], data: Chunk, content_type: str
) -> tuple[bytes, str]:
    """The body and ``Content-Type`` of a single-request multipart upload
    (``uploadType=multipart``): the object resource as JSON, then the media. One copy
    of ``data``; the boundary is random, so the data cannot end a part early by chance."""
    if "\r" in content_type or "\n" in content_type:
        raise DriverError(ErrorCode.INVALID_ARGUMENT, "a content type cannot hold a line break")
    boundary = f"lexigram-{os.urandom(16).hex()}"
    head = (
        f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n"
        f"{json.dumps(resource)}\r\n--{boundary}\r\nContent-Type: {content_type}\r\n\r\n"
    ).encode()
    body = b"".join((head, data, f"\r\n--{boundary}--\r\n".encode()))
    return body, f"multipart/related; boundary={boundary}"


#: largest piece of a chunk written to the socket at once.
_PIECE = 256 * 1024


async def _pieces(data: Chunk) -> AsyncIterator[memoryview]:
    view = data if isinstance(data, memoryview) else memoryview(data)
    for offset in range(0, view.nbytes, _PIECE):
        yield view[offset : offset + _PIECE]


def _next_byte(persisted: str) -> int:
    """The first byte the server still needs, from a 308's ``Range: bytes=0-N``."""
    if not persisted:
        return 0
    return int(persisted.rsplit("-", 1)[1]) + 1


async def resumable_upload(
    session: AioSession,
    *,
    url: str,
    auth: Callable[[], Awaitable[dict[str, str]]],
    name: str,
    resource: Mapping[str, Any],
    params: Mapping[str, str],
    content_type: str,
    size: int | None,
    chunk_size: int,
    first: Chunk,
    rest: AsyncIterator[Chunk],
    timeout: Any,
    checksum: RunningDigest | None = None,
) -> dict[str, Any]:
    """Upload ``first`` then every chunk of ``rest``; return the object resource.

    ``checksum``: a running CRC32C, fed every chunk once (in a worker thread, while it is
    sent: the next chunk is read only once it is hashed); the last request
    carries its digest as ``X-Goog-Hash``, so GCS refuses an upload whose bytes differ
    (the caller compares it with the resource's ``crc32c`` too).

    Every chunk but the last is exactly ``chunk_size`` bytes (a multiple of 256 KiB); a
    shorter chunk is the last one. If the body ends on a chunk boundary, an empty request
    (``Content-Range: bytes */total``) completes the upload. One chunk is held at a time.
    """
    payload = json.dumps({**resource, "name": name})
    headers = {
        **await auth(),
        "Content-Type": "application/json; charset=UTF-8",
        "X-Upload-Content-Type": content_type,
    }
    if size is not None:
        headers["X-Upload-Content-Length"] = str(size)
    reply = await session.post(
        url,
        headers=headers,
        data=payload,
        params={**params, "uploadType": "resumable", "name": name},
        timeout=timeout,
    )
    session_uri = reply.headers.get("Location")
    reply.release()
    if not session_uri:
        raise DriverError(ErrorCode.UNKNOWN, "the resumable upload session has no Location")

    async def send(data: Chunk, span: str, final: bool = False) -> aiohttp.ClientResponse:
        # Content-Type on each request: GCS takes it from the session, fake-gcs-server
        # from the last request.
        put_headers = {**await auth(), "Content-Range": span, "Content-Type": content_type}
        if final and checksum is not None:
            put_headers["X-Goog-Hash"] = f"crc32c={b64(await checksum.digest())}"
        body: Any = data
        if len(data) > _PIECE:
            # aiohttp warns on (and writes in one go) raw bodies over 1 MiB: hand it the
            # chunk in pieces instead, with its length, so it is neither copied nor chunked.
            put_headers["Content-Length"] = str(len(data))
            body = _pieces(data)
        return await session.request(
            "PUT",
            session_uri,
            headers=put_headers,
            data=body,
            timeout=timeout,
            allow_redirects=False,  # 308 means "resume incomplete" here
        )

    async def send_chunk(block: Chunk, offset: int, last: bool) -> aiohttp.ClientResponse:
        """Send ``block`` (bytes ``offset..``); on a transient failure ask the server
        how much it kept and send the rest again, up to ``CHUNK_ATTEMPTS`` times."""
        view = block if isinstance(block, memoryview) else memoryview(block)
        n = view.nbytes
        skip = 0
        attempt = 0
        while True:
            attempt += 1
            try:
                if attempt > 1:
                    # Ask how much the server kept, then send the rest.
                    status = await send(b"", "bytes */*")
                    if status.status in (200, 201):
                        return status  # the upload completed after all
                    kept = _next_byte(status.headers.get("Range", ""))
                    if not last and kept == offset + n:
                        return status  # the whole chunk had arrived: a 308 like any other
                    status.release()
                    if not offset <= kept <= offset + n:
                        raise DriverError(
                            ErrorCode.UNAVAILABLE,
                            f"cannot resume the upload: the server kept {kept} bytes, this "
                            f"chunk starts at {offset}",
                        )
                    skip = kept - offset
                start = offset + skip
                if not last:
                    span = f"bytes {start}-{offset + n - 1}/*"
                elif start < offset + n:
                    span = f"bytes {start}-{offset + n - 1}/{offset + n}"
                else:
                    span = f"bytes */{offset + n}"
                return await send(view[skip:], span, final=last)
            except DriverError:
                raise
            except Exception as exc:
                if attempt >= CHUNK_ATTEMPTS or classify_gcs(exc) is not ErrorCode.UNAVAILABLE:
                    raise
                await asyncio.sleep(random.uniform(0, 0.2 * 2**attempt))

    # The next chunk is read while the current one is sent.
    ahead: asyncio.Future[Chunk | None] = asyncio.ensure_future(anext(rest, None))
    try:
        offset = 0
        block: Chunk = first
        while True:
            n = len(block)
            if n == chunk_size and size is not None and offset + n == size:
                # The declared size ends here. If the stream agrees (nothing follows), this
                # is the last chunk: sent with the total, no empty request to complete.
                following = await ahead
                last = not following
                ahead = _ready(following)
            else:
                last = n < chunk_size
            if checksum is not None:
                await checksum.feed(block)
            if last:
                reply = await send_chunk(block, offset, last=True)
                result: dict[str, Any] = await reply.json(content_type=None)
                return result
            reply = await send_chunk(block, offset, last=False)
            if reply.status != 308:
                reply.release()
                raise DriverError(
                    ErrorCode.UNAVAILABLE,
                    f"resumable upload of the chunk at {offset} got HTTP {reply.status}, not 308",
                )
            persisted = reply.headers.get("Range", "")
            reply.release()
            if persisted and not persisted.endswith(f"-{offset + n - 1}"):
                raise DriverError(
                    ErrorCode.UNAVAILABLE,
                    f"the server kept {persisted!r} of the upload, not up to {offset + n - 1}",
                )
            offset += n
            if checksum is not None:
                await checksum.settled()  # before its buffer is filled again
            upcoming = await ahead
            if upcoming is None:
                break
            block = upcoming
            ahead = asyncio.ensure_future(anext(rest, None))
        # The body ended on a chunk boundary: complete the upload with its total size.
        reply = await send_chunk(b"", offset, last=True)
        done: dict[str, Any] = await reply.json(content_type=None)
        return done
    except BaseException:
        await _settle(ahead)
        # Cancel the session (best effort): nothing half-written is left behind.
        with contextlib.suppress(Exception):
            gone = await session.request(
                "DELETE",
                session_uri,
                headers=await auth(),
                auto_raise_for_status=False,
                timeout=timeout,
            )
            gone.release()
        raise
    finally:
        await _settle(ahead)


def _ready(value: Chunk | None) -> asyncio.Future[Chunk | None]:
    """A future already holding ``value`` (a read-ahead chunk put back)."""
    future: asyncio.Future[Chunk | None] = asyncio.get_running_loop().create_future()
    future.set_result(value)
    return future


async def _settle(ahead: asyncio.Future[Chunk | None]) -> None:
    """Stop a read-ahead that is no longer wanted, and collect its outcome."""
    if not ahead.done():
        ahead.cancel()
    await asyncio.gather(ahead, return_exceptions=True)
