"""End-to-end checksums of the S3 driver: what S3's requests and answers carry (the
checksums themselves, the check of a stream and the repair policy: core's
:mod:`lexigram.storage.integrity`).

What is checked (``checksums: true``, the default), with one checksum, CRC32C (computed
in C at several GB/s, over ten times faster than MD5), computed once per byte:

- every PutObject and UploadPart carries ``x-amz-checksum-crc32c``, computed by the
  driver (botocore's own default CRC32 is turned off): S3, R2 and MinIO refuse a body
  that does not match (``BadDigest``), so nothing altered is stored. A multipart object
  gets S3's composite CRC32C (the checksum of its parts' checksums, ``"...-N"``);
- the CRC32C an upload's answer reports is compared with the one sent: this catches a
  server that computes it from what it stored without refusing a mismatch;
- downloads of whole objects (``x-amz-checksum-mode: ENABLED``) are hashed as the bytes
  arrive and compared, at the end, with the object's stored full-object CRC32C; an
  object without one (written by another client without checksums) with a plain-MD5
  ETag, hashed the same way. A multipart object's composite checksum covers its parts,
  not the bytes as read: such a read is not checked, nor is a range of an object.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from aiobotocore import httpchecksum  # type: ignore[import-untyped]

from lexigram.storage.integrity import CRC32C, MD5, Expected, b64

__all__ = [
    "SENT_CHECKSUM_EVENTS",
    "answer_shows",
    "checksum_args",
    "declare_sent_checksum",
    "etag_md5",
    "etag_shows",
    "expected_of",
]

#: the bodies through which botocore checks a download itself (aiohttp's, httpx's).
_SDK_CHECKED: tuple[type, ...] = tuple(
    cls
    for cls in (
        getattr(httpchecksum, "AioStreamingChecksumBody", None),
        getattr(httpchecksum, "AioHttpxStreamingChecksumBody", None),
    )
    if isinstance(cls, type)
)

#: what a whole-object read's bytes are checked against.
_STORED_CRC32C = "the object's stored CRC32C (x-amz-checksum-crc32c)"
_ETAG_MD5 = "the object's MD5 (its ETag)"


def checksum_args(digest: bytes) -> dict[str, str]:
    """The PutObject / UploadPart parameters that send the body's CRC32C: the header
    S3 checks the body against, and the algorithm it records for later reads."""
    return {"ChecksumAlgorithm": "CRC32C", "ChecksumCRC32C": b64(digest)}


#: the botocore events on which :func:`declare_sent_checksum` is registered.
SENT_CHECKSUM_EVENTS = ("before-call.s3.PutObject", "before-call.s3.UploadPart")

_HEADER = "x-amz-checksum-crc32c"


def declare_sent_checksum(params: dict[str, Any], **_: Any) -> None:
    """Tell botocore that a request carries its body's CRC32C in a header (the driver
    computed it), as if botocore had computed it: then over HTTPS botocore does not hash
    the whole body again with SHA-256 to sign it (as with ``Content-MD5``), and computes
    no checksum of its own. ``params``: the request dict of a ``before-call`` event."""
    if _HEADER not in params.get("headers", {}):
        return
    checksum = params["context"].setdefault("checksum", {})
    checksum.setdefault(
        "request_algorithm", {"algorithm": "crc32c", "in": "header", "name": _HEADER}
    )


def answer_shows(resp: Mapping[str, Any], digest: bytes) -> bool:
    """Whether an upload's answer shows the bytes whose CRC32C is ``digest`` were
    stored: the CRC32C it reports is that one, or it reports none (it cannot tell)."""
    reported = resp.get("ChecksumCRC32C")
    return not reported or reported == b64(digest)


def etag_shows(resp: Mapping[str, Any], digest: bytes) -> bool:
    """Whether an upload's answer shows the bytes whose MD5 is ``digest`` were stored:
    its ETag is that MD5, or it is no MD5 at all (then it cannot tell, see
    :func:`etag_md5`). For the obstore engine, which cannot send a checksum."""
    stored = etag_md5(resp)
    return stored is None or stored == digest


def expected_of(resp: Mapping[str, Any]) -> Expected | None:
    """What the body of a whole-object GetObject answer must hash to, or None where it
    is not checked here: botocore checks it itself (a checksum it computes, read
    through its own checksumming body), or the answer gives no full-object checksum."""
    if isinstance(resp.get("Body"), _SDK_CHECKED):
        return None
    crc = _full_object(resp.get("ChecksumCRC32C"), resp.get("ChecksumType"))
    if crc is not None:
        return Expected(CRC32C, crc, _STORED_CRC32C)
    md5 = etag_md5(resp)
    return None if md5 is None else Expected(MD5, md5, _ETAG_MD5)


def _full_object(value: Any, kind: Any) -> bytes | None:
    """A full-object checksum's digest; None for none, or for a composite one."""
    if not isinstance(value, str) or "-" in value or kind == "COMPOSITE":
        return None
    try:
        digest = base64.b64decode(value, validate=True)
    except binascii.Error:
        return None
    return digest if len(digest) == 4 else None


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
