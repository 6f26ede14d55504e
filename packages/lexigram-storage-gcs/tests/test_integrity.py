"""The GCS driver's checksum helpers and the mapping of refused hashes."""

from __future__ import annotations

import base64
import json

import aiohttp
import google_crc32c
import pytest
from multidict import CIMultiDict

from lexigram.storage.errors import DriverError, ErrorCode
from lexigram.storage.gcs.config import StorageGCSConfig
from lexigram.storage.gcs.errors import classify_gcs
from lexigram.storage.gcs.integrity import response_crc32c
from lexigram.storage.gcs.transfer import multipart_related
from lexigram.storage.integrity import CRC32C, b64

BODY = b"the quick brown fox"
DIGEST = int(google_crc32c.value(BODY)).to_bytes(4, "big")
B64 = base64.b64encode(DIGEST).decode()
MD5 = "XrY7u+Ae7tCTyyK7j1rNww=="


def test_core_crc32c_is_the_one_gcs_writes() -> None:
    for data in (BODY, bytearray(BODY), memoryview(BODY)):
        assert CRC32C.now(data) == DIGEST
    assert b64(DIGEST) == B64


def test_response_crc32c_from_one_or_several_x_goog_hash_headers() -> None:
    one = CIMultiDict({"x-goog-hash": f"crc32c={B64},md5={MD5}"})
    assert response_crc32c(one) == DIGEST
    several = CIMultiDict([("x-goog-hash", f"md5={MD5}"), ("x-goog-hash", f"crc32c={B64}")])
    assert response_crc32c(several) == DIGEST
    assert response_crc32c({"x-goog-hash": f"crc32c={B64}"}) == DIGEST  # a plain mapping


def test_no_crc32c_to_check_against() -> None:
    assert response_crc32c(CIMultiDict()) is None
    assert response_crc32c(CIMultiDict({"x-goog-hash": f"md5={MD5}"})) is None
    assert response_crc32c(CIMultiDict({"x-goog-hash": "crc32c=not base64!"})) is None
    assert response_crc32c(CIMultiDict({"x-goog-hash": f"crc32c={MD5}"})) is None  # 16 bytes
    # decompressive transcoding: the body is not the stored bytes
    gz = CIMultiDict({"x-goog-hash": f"crc32c={B64}", "x-goog-stored-content-encoding": "gzip"})
    assert response_crc32c(gz) is None
    enc = CIMultiDict({"x-goog-hash": f"crc32c={B64}", "Content-Encoding": "gzip"})
    assert response_crc32c(enc) is None


def test_multipart_related_body() -> None:
    resource = {"name": "k", "contentType": "text/plain", "crc32c": B64}
    body, content_type = multipart_related(resource, memoryview(BODY), "text/plain")
    assert content_type.startswith("multipart/related; boundary=")
    boundary = content_type.split("boundary=", 1)[1].encode()
    parts = body.split(b"--" + boundary)
    assert parts[0] == b"" and parts[-1] == b"--\r\n"
    meta_head, meta = parts[1].split(b"\r\n\r\n", 1)
    assert b"Content-Type: application/json" in meta_head
    assert json.loads(meta) == resource
    media_head, media = parts[2].split(b"\r\n\r\n", 1)
    assert b"Content-Type: text/plain" in media_head
    assert media == BODY + b"\r\n"
    # a fresh boundary every time
    assert multipart_related(resource, BODY, "text/plain")[1] != content_type


def test_multipart_refuses_a_line_break_in_the_content_type() -> None:
    with pytest.raises(DriverError) as caught:
        multipart_related({}, BODY, "text/plain\r\nX-Evil: 1")
    assert caught.value.code is ErrorCode.INVALID_ARGUMENT


def _refused(message: str, status: int = 400) -> aiohttp.ClientResponseError:
    return aiohttp.ClientResponseError(None, (), status=status, message=message)  # type: ignore[arg-type]


def test_a_refused_hash_is_data_corrupted() -> None:
    msg = 'Bad Request: Provided MD5 hash "x" doesn\'t match calculated MD5 hash "y".'
    assert classify_gcs(_refused(msg)) is ErrorCode.DATA_CORRUPTED
    assert classify_gcs(_refused("Bad Request: crc32c mismatch")) is ErrorCode.DATA_CORRUPTED
    assert classify_gcs(_refused("Bad Request: Invalid argument")) is ErrorCode.INVALID_ARGUMENT


def test_checksums_on_by_default() -> None:
    assert StorageGCSConfig(bucket="b").checksums is True
    assert StorageGCSConfig(bucket="b", checksums=False).checksums is False
