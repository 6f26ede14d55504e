"""Resumable uploads in chunks of ``chunk_size``: bounded memory for any body size.

Protocol (https://cloud.google.com/storage/docs/performing-resumable-uploads): a POST
opens an upload session (its URI comes back in ``Location``), each chunk is a PUT with
``Content-Range: bytes a-b/*`` answered by ``308``, the last one names the total size and
is answered with the object resource (a body that ends on a chunk boundary is
completed by an empty request naming the total). The object appears only when the last
chunk arrives, so a body that fails midway leaves the old object as it was; the session
is then cancelled with a DELETE. The chunks are sent by the core's part pump
(:mod:`lexigram.storage.transfer`).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import aiohttp
from gcloud.aio.auth import AioSession

from lexigram.storage.errors import DriverError, ErrorCode
from lexigram.storage.gcs.errors import classify_gcs
from lexigram.storage.integrity import RunningDigest, b64
from lexigram.storage.retry import RetryPolicy
from lexigram.storage.transfer import Part, upload_parts

__all__ = ["multipart_related", "resumable_upload"]

Chunk = bytes | bytearray | memoryview
#: tries per chunk of a resumable upload (transient failures resume where the server
#: stopped; the core does not retry streamed uploads as a whole).
CHUNK_RETRY = RetryPolicy(attempts=4, base_delay=0.4)


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


class _Session:
    """The requests of one resumable upload session, run by the core's part pump (one
    chunk at a time): a PUT per chunk, a status query before a chunk sent again, the
    empty final request, the DELETE that cancels the session."""

    def __init__(
        self,
        session: AioSession,
        uri: str,
        auth: Callable[[], Awaitable[dict[str, str]]],
        content_type: str,
        chunk_size: int,
        timeout: Any,
        checksum: RunningDigest | None,
    ) -> None:
        self.session = session
        self.uri = uri
        self.auth = auth
        self.content_type = content_type
        self.chunk_size = chunk_size
        self.timeout = timeout
        self.checksum = checksum
        #: the object resource, once a last chunk completed the upload
        self.result: dict[str, Any] | None = None

    async def _put(self, data: Chunk, span: str, final: bool = False) -> aiohttp.ClientResponse:
        # Content-Type on each request: GCS takes it from the session, fake-gcs-server
        # from the last request.
        headers = {**await self.auth(), "Content-Range": span, "Content-Type": self.content_type}
        if final and self.checksum is not None:
            headers["X-Goog-Hash"] = f"crc32c={b64(await self.checksum.digest())}"
        body: Any = data
        if len(data) > _PIECE:
            # aiohttp warns on (and writes in one go) raw bodies over 1 MiB: hand it the
            # chunk in pieces instead, with its length, so it is neither copied nor chunked.
            headers["Content-Length"] = str(len(data))
            body = _pieces(data)
        return await self.session.request(
            "PUT",
            self.uri,
            headers=headers,
            data=body,
            timeout=self.timeout,
            allow_redirects=False,  # 308 means "resume incomplete" here
        )

    async def send(self, part: Part[tuple[Chunk, bool]]) -> None:
        """Send one chunk (bytes ``part.offset..``); the last one names the total. Sent
        again (``part.attempt > 1``): ask the server how much it kept, then the rest.
        The chunk is hashed by the time this returns (its buffer may then be reused)."""
        try:
            await self._send(part)
        finally:
            if self.checksum is not None:
                await self.checksum.settled()

    async def _send(self, part: Part[tuple[Chunk, bool]]) -> None:
        data, last = part.data
        view = data if isinstance(data, memoryview) else memoryview(data)
        offset, n = part.offset, view.nbytes
        skip = 0
        if part.attempt == 1:
            if self.checksum is not None:
                # fed once, on the first send (core's RunningDigest: at once, or in a
                # worker thread beside the PUT)
                await self.checksum.feed(view)
        else:
            status = await self._put(b"", "bytes */*")
            if status.status in (200, 201):
                if last:
                    self.result = await status.json(content_type=None)
                    return  # the upload completed after all
                status.release()
                raise DriverError(
                    ErrorCode.UNAVAILABLE,
                    f"resumable upload of the chunk at {offset} got HTTP {status.status} to "
                    "its status query, not 308: the session ended before its last chunk",
                )
            kept = _next_byte(status.headers.get("Range", ""))
            status.release()
            if not last and kept == offset + n:
                return  # the whole chunk had arrived
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
        reply = await self._put(view[skip:], span, final=last)
        if last:
            self.result = await reply.json(content_type=None)
            return
        persisted = reply.headers.get("Range", "")
        reply.release()
        if reply.status != 308:
            raise DriverError(
                ErrorCode.UNAVAILABLE,
                f"resumable upload of the chunk at {offset} got HTTP {reply.status}, not 308",
            )
        if persisted and not persisted.endswith(f"-{offset + n - 1}"):
            raise DriverError(
                ErrorCode.UNAVAILABLE,
                f"the server kept {persisted!r} of the upload, not up to {offset + n - 1}",
            )

    async def finish(self, total: int) -> dict[str, Any]:
        """The object resource: from the last chunk, or, for a body that ended on a chunk
        boundary, from an empty request naming the total size."""
        if self.result is not None:
            return self.result
        reply = await self._put(b"", f"bytes */{total}", final=True)
        result: dict[str, Any] = await reply.json(content_type=None)
        return result

    async def abort(self) -> None:
        """Cancel the session: nothing half-written is left behind."""
        gone = await self.session.request(
            "DELETE",
            self.uri,
            headers=await self.auth(),
            auto_raise_for_status=False,
            timeout=self.timeout,
        )
        gone.release()


def _transient(exc: BaseException) -> bool:
    """A chunk is sent again after a transient failure of its request (not after an
    answer this module found wrong)."""
    return not isinstance(exc, DriverError) and classify_gcs(exc) is ErrorCode.UNAVAILABLE


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
    chunks: AsyncIterable[Chunk],
    timeout: Any,
    checksum: RunningDigest | None = None,
) -> dict[str, Any]:
    """Upload every chunk of ``chunks`` in one resumable session; return the object
    resource.

    ``checksum``: a running CRC32C (core's), fed every chunk once as it is sent (in a
    worker thread beside the send when the checksum releases the GIL; the next chunk is
    read only once it is hashed); the last request
    carries its digest as ``X-Goog-Hash``, so GCS refuses an upload whose bytes differ
    (the caller compares it with the resource's ``crc32c`` too).

    Every chunk but the last is exactly ``chunk_size`` bytes (a multiple of 256 KiB); a
    shorter chunk is the last one. If the body ends on a chunk boundary, an empty request
    (``Content-Range: bytes */total``) completes the upload. The chunks go through the
    core's part pump one at a time (a resumable session takes them in order): a chunk
    whose request failed transiently is resumed after the backoff of ``CHUNK_RETRY``; on
    any failure or cancellation the session is cancelled.
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
    upload = _Session(session, session_uri, auth, content_type, chunk_size, timeout, checksum)
    total = 0

    async def marked() -> AsyncIterator[tuple[Chunk, bool]]:
        """Each chunk, and whether it is the last: a short one is; a full one where the
        declared size ends is if the stream agrees (nothing follows; the one read to see
        is the next chunk, in the other buffer of the ring)."""
        nonlocal total
        source = aiter(chunks)
        chunk = await anext(source, None)
        while chunk is not None:
            n = len(chunk)
            following: Chunk | None = None
            if n < chunk_size:
                last = True
            elif size is not None and total + n == size:
                following = await anext(source, None)
                last = following is None
            else:
                last = False
            total += n
            yield chunk, last
            chunk = following if following is not None or last else await anext(source, None)

    async def commit(_: list[None]) -> dict[str, Any]:
        return await upload.finish(total)

    return await upload_parts(
        upload,
        marked(),
        concurrency=1,
        commit=commit,
        retry=CHUNK_RETRY,
        retryable=_transient,
        size_of=lambda item: len(item[0]),
    )
