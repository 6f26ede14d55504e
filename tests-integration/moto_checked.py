"""moto's S3 server, checking ``x-amz-checksum-crc32c`` as S3 does.

moto 5.2 stores the checksum a PutObject or UploadPart carries without checking it
against the body (and computes CRC32C with CRC32 unless the ``crc32c`` package is
installed). S3, R2 and MinIO refuse a body that does not match its checksum with
``400 BadDigest``, and the S3 driver relies on that (it sends one CRC32C and no
Content-MD5). Run as ``python moto_checked.py -H 127.0.0.1 -p PORT`` with the
interpreter moto is installed in: it adds that check, then starts ``moto_server``.
"""

from __future__ import annotations

import base64
import sys
from typing import Any

import google_crc32c
from moto.s3 import models, responses
from moto.s3.exceptions import S3ClientError


class BadDigest(S3ClientError):
    code = "BadDigest"

    def __init__(self, algorithm: str) -> None:
        super().__init__(
            "BadDigest", f"The {algorithm} you specified did not match the calculated checksum."
        )


def _crc32c(data: bytes) -> bytes:
    return int(google_crc32c.value(bytes(data))).to_bytes(4, "big")


def _check(response: Any) -> None:
    """Refuse the request when its body does not match its x-amz-checksum-crc32c."""
    sent = response.headers.get("x-amz-checksum-crc32c")
    if sent is None:
        return
    if base64.b64encode(_crc32c(response.body or b"")).decode() != sent.strip():
        raise BadDigest("CRC32C")


def _checked(method: Any) -> Any:
    def handler(self: Any, *args: Any, **kwargs: Any) -> Any:
        _check(self)
        return method(self, *args, **kwargs)

    return handler


_compute = models.compute_checksum


def _compute_checksum(body: bytes, algorithm: str, encode_base64: bool = True) -> bytes:
    """moto's checksum of a stored body, with a real CRC32C."""
    if algorithm != "CRC32C":
        return _compute(body, algorithm, encode_base64)
    digest = _crc32c(body)
    return base64.b64encode(digest) if encode_base64 else digest


responses.S3Response.put_object = _checked(responses.S3Response.put_object)
responses.S3Response.upload_part = _checked(responses.S3Response.upload_part)
models.compute_checksum = _compute_checksum
responses.compute_checksum = _compute_checksum

if __name__ == "__main__":
    from moto.server import main

    main(sys.argv[1:])
