"""The S3 driver's checksum helpers and the mapping of checksum errors."""

from __future__ import annotations

import asyncio
import base64
import hashlib

from botocore.exceptions import ClientError, FlexibleChecksumError  # type: ignore[import-untyped]

from lexigram.storage.errors import ErrorCode
from lexigram.storage.s3.config import StorageR2Config, StorageS3Config
from lexigram.storage.s3.errors import code_for
from lexigram.storage.s3.integrity import (
    THREAD_MIN,
    RunningMD5,
    content_md5,
    etag_md5,
    md5_b64,
    md5_in_order,
    md5_of,
    sdk_verified,
)
from lexigram.storage.s3.settings import resolve

BODY = b"the quick brown fox"
DIGEST = hashlib.md5(BODY).digest()


def test_content_md5_and_its_header_text() -> None:
    assert content_md5(BODY) == DIGEST
    assert content_md5(memoryview(bytearray(BODY))) == DIGEST
    assert base64.b64decode(md5_b64(DIGEST)) == DIGEST


def test_a_plain_etag_is_the_md5() -> None:
    assert etag_md5({"ETag": f'"{DIGEST.hex()}"'}) == DIGEST
    assert etag_md5({"ETag": DIGEST.hex().upper()}) == DIGEST


def test_etags_that_are_not_the_body_md5_are_not_used() -> None:
    assert etag_md5({"ETag": f'"{DIGEST.hex()}-3"'}) is None  # multipart
    assert etag_md5({"ETag": f'"{DIGEST.hex()}"', "ServerSideEncryption": "aws:kms"}) is None
    assert etag_md5({"ETag": f'"{DIGEST.hex()}"', "SSECustomerAlgorithm": "AES256"}) is None
    assert etag_md5({"ETag": '"0x8DC1234"'}) is None
    assert etag_md5({}) is None
    # SSE-S3 keeps MD5 ETags
    assert etag_md5({"ETag": f'"{DIGEST.hex()}"', "ServerSideEncryption": "AES256"}) == DIGEST


def test_sdk_verified_only_for_full_object_checksums_botocore_computes() -> None:
    assert sdk_verified({"ChecksumCRC32": "AAAAAA=="})
    assert sdk_verified({"ChecksumSHA256": "x" * 44})
    assert not sdk_verified({"ChecksumCRC32": "AAAAAA==-3"})  # composite, multipart
    assert not sdk_verified({"ChecksumCRC64NVME": "AAAAAAAAAAA="})
    assert not sdk_verified({})


def test_checksum_failures_map_to_data_corrupted() -> None:
    assert code_for(FlexibleChecksumError(error_msg="mismatch")) is ErrorCode.DATA_CORRUPTED
    for code in ("BadDigest", "InvalidDigest", "XAmzContentChecksumMismatch"):
        err = ClientError(
            {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": 400}}, "PutObject"
        )
        assert code_for(err) is ErrorCode.DATA_CORRUPTED, code


def test_checksums_are_on_by_default_and_can_be_turned_off() -> None:
    assert resolve(StorageS3Config(bucket="b")).checksums is True
    assert resolve(StorageR2Config(bucket="b")).checksums is True
    assert resolve(StorageS3Config(bucket="b", checksums=False)).checksums is False


def test_client_config_follows_the_setting() -> None:
    from lexigram.storage.s3.driver import S3Driver

    on = S3Driver(resolve(StorageS3Config(bucket="b"))).client_config()
    off = S3Driver(resolve(StorageS3Config(bucket="b", checksums=False))).client_config()
    assert on.request_checksum_calculation == "when_supported"
    assert on.response_checksum_validation == "when_supported"
    assert off.request_checksum_calculation == "when_required"
    assert off.response_checksum_validation == "when_required"


async def test_md5_of_small_and_large_bodies() -> None:
    small, large = b"x" * 100, bytes(range(256)) * (THREAD_MIN // 256 + 3)
    assert await md5_of(small) == hashlib.md5(small).digest()
    # large ones are hashed in a worker thread: same digest, any buffer type
    assert await md5_of(memoryview(bytearray(large))) == hashlib.md5(large).digest()


async def test_running_md5_keeps_the_order_of_small_and_large_chunks() -> None:
    chunks = [b"a" * 10, bytes(range(256)) * 4096, b"b" * 1000, bytes(range(256)) * 8192, b""]
    running = RunningMD5()
    for chunk in chunks:
        await running.feed(chunk)
    assert await running.digest() == hashlib.md5(b"".join(chunks)).digest()


async def test_md5_in_order_hashes_parts_in_their_order_whatever_order_they_arrive_in() -> None:
    # each part is the list of pieces it arrived in; small parts are hashed on the loop,
    # large ones (over THREAD_MIN) in a worker thread
    parts = [[bytes([i]) * (THREAD_MIN // 2 + i), bytes([i + 7]) * (i + 1)] for i in range(4)]
    parts.append([memoryview(bytearray(b"m" * (THREAD_MIN + 9)))])
    loop = asyncio.get_running_loop()
    arrived: list[asyncio.Future[list[bytes | memoryview]]] = [loop.create_future() for _ in parts]
    hashing = asyncio.ensure_future(md5_in_order(arrived))
    for i in (3, 1, 4, 0, 2):  # the ranged GETs finish out of order
        arrived[i].set_result(list(parts[i]))
        await asyncio.sleep(0)
    whole = b"".join(bytes(piece) for part in parts for piece in part)
    assert await hashing == hashlib.md5(whole).digest()
    reverse = b"".join(bytes(piece) for part in reversed(parts) for piece in part)
    assert await hashing != hashlib.md5(reverse).digest()
