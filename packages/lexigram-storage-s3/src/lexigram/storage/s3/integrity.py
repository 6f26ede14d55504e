"""End-to-end checksums of the S3 driver: Content-MD5 on writes, ETags and the
response's own checksums on reads.

What is checked (``checksums: true``, the default):

- every PutObject and UploadPart carries ``Content-MD5`` (and botocore's default CRC32):
  S3, R2 and MinIO refuse a body that does not match (``BadDigest``), so nothing altered
  is stored;
- the ETag the server answers is compared with that MD5 where an ETag is the body's MD5
  (not under SSE-KMS or SSE-C, not for a multipart object): this catches a server that
  does not check Content-MD5 itself;
- downloads of whole objects: botocore checks the stored full-object checksum
  (``ChecksumMode=ENABLED``); where the server sent none, the MD5 of the bytes received
  is compared with a plain-MD5 ETag.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any

__all__ = [
    "THREAD_MIN",
    "RunningMD5",
    "content_md5",
    "etag_md5",
    "etag_shows",
    "md5_b64",
    "md5_in_order",
    "md5_of",
    "sdk_verified",
]

#: full-object checksums botocore verifies by itself (without the CRT extra).
_SDK_CHECKED = ("ChecksumCRC32", "ChecksumSHA1", "ChecksumSHA256")


def content_md5(data: bytes | bytearray | memoryview) -> bytes:
    """The MD5 digest of ``data``."""
    return hashlib.md5(data, usedforsecurity=False).digest()


#: bodies at least this large are hashed in a worker thread (hashlib releases the GIL), so
#: the MD5 of a large part runs beside the event loop and the other transfers instead of
#: stopping them for milliseconds.
THREAD_MIN = 1024 * 1024


async def md5_of(data: bytes | bytearray | memoryview) -> bytes:
    """:func:`content_md5`, off the event loop for large bodies."""
    if len(data) < THREAD_MIN:
        return content_md5(data)
    return await asyncio.get_running_loop().run_in_executor(None, content_md5, data)


class RunningMD5:
    """The MD5 of a stream, fed in order.

    A chunk of up to :data:`THREAD_MIN` is hashed at once, on the event loop (about 2 ms
    for 1 MiB: the cost of one botocore request, and cheaper than the hand-over to a
    thread, measured with ``benchmarks/s3.py``); a larger one in a worker thread while
    the next one is being received: :meth:`feed` then waits only for the previous
    chunk's hash.
    """

    __slots__ = ("_hasher", "_pending")

    def __init__(self) -> None:
        self._hasher = hashlib.md5(usedforsecurity=False)
        self._pending: asyncio.Future[None] | None = None

    async def feed(self, chunk: bytes) -> None:
        await self.feed_all((chunk,), len(chunk))

    async def feed_all(self, chunks: Sequence[bytes | memoryview], size: int) -> None:
        """Feed ``chunks`` (``size`` bytes in all) in their order."""
        if self._pending is not None:
            await self._pending
            self._pending = None
        if size <= THREAD_MIN:
            update = self._hasher.update
            for chunk in chunks:
                update(chunk)
        else:
            loop = asyncio.get_running_loop()
            self._pending = loop.run_in_executor(None, _update_all, self._hasher, chunks)

    async def digest(self) -> bytes:
        if self._pending is not None:
            await self._pending
            self._pending = None
        return self._hasher.digest()


def _update_all(hasher: Any, chunks: Sequence[bytes | memoryview]) -> None:
    for chunk in chunks:
        hasher.update(chunk)


async def md5_in_order(parts: Sequence[Awaitable[Sequence[bytes | memoryview]]]) -> bytes:
    """The MD5 of the concatenated ``parts`` (each a list of chunks), each part hashed
    (see :class:`RunningMD5`) as soon as it and every part before it have arrived."""
    hasher = RunningMD5()
    for part in parts:
        chunks = await part
        await hasher.feed_all(chunks, sum(map(len, chunks)))
    return await hasher.digest()


def md5_b64(digest: bytes) -> str:
    """A digest as the base64 text of a ``Content-MD5`` header."""
    return base64.b64encode(digest).decode("ascii")


def etag_md5(resp: Mapping[str, Any]) -> bytes | None:
    """The MD5 digest an S3 answer's ETag stands for, or None where the ETag is not the
    body's MD5: a multipart object (``"...-N"``), SSE-KMS or SSE-C encryption, or a
    server whose ETags are something else."""
    if resp.get("ServerSideEncryption") == "aws:kms" or resp.get("SSECustomerAlgorithm"):
        return None
    etag = resp.get("ETag")
    if not isinstance(etag, str):
        return None
    etag = etag.strip().strip('"')
    if len(etag) != 32:
        return None
    try:
        digest = bytes.fromhex(etag)
    except ValueError:
        return None
    return digest if len(digest) == 16 else None


def etag_shows(resp: Mapping[str, Any], digest: bytes) -> bool:
    """Whether an upload's answer shows the bytes whose MD5 is ``digest`` were stored:
    its ETag is that MD5, or it is no MD5 at all (then it cannot tell, see
    :func:`etag_md5`)."""
    stored = etag_md5(resp)
    return stored is None or stored == digest


def sdk_verified(resp: Mapping[str, Any]) -> bool:
    """Whether botocore checks this GetObject body itself: the answer carries a
    full-object checksum of an algorithm botocore computes (a composite checksum of a
    multipart object, ``"...-N"``, is not checked)."""
    for name in _SDK_CHECKED:
        value = resp.get(name)
        if value and "-" not in str(value):
            return True
    return False
