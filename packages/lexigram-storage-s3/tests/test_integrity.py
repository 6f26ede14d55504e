"""The S3 driver's checksum helpers and the mapping of checksum errors."""

from __future__ import annotations

import base64
import hashlib

import pytest
from botocore.exceptions import ClientError, FlexibleChecksumError  # type: ignore[import-untyped]

from lexigram.storage.errors import ErrorCode
from lexigram.storage.integrity import CRC32C, MD5
from lexigram.storage.s3.config import StorageR2Config, StorageS3Config
from lexigram.storage.s3.errors import code_for
from lexigram.storage.s3.integrity import answer_shows, checksum_args, etag_md5, expected_of
from lexigram.storage.s3.settings import resolve

BODY = b"the quick brown fox"
DIGEST = hashlib.md5(BODY).digest()


CRC = CRC32C.now(BODY)
CRC_B64 = base64.b64encode(CRC).decode()


def test_one_crc32c_sent_with_its_algorithm() -> None:
    assert checksum_args(CRC) == {"ChecksumAlgorithm": "CRC32C", "ChecksumCRC32C": CRC_B64}


def test_an_answer_shows_the_bytes_sent_by_its_crc32c() -> None:
    assert answer_shows({"ChecksumCRC32C": CRC_B64}, CRC)
    assert answer_shows({}, CRC)  # cannot tell
    assert not answer_shows({"ChecksumCRC32C": "AAAAAA=="}, CRC)


def test_a_whole_object_read_is_checked_against_its_full_object_crc32c() -> None:
    expected = expected_of({"ChecksumCRC32C": CRC_B64, "ETag": f'"{DIGEST.hex()}"'})
    assert expected is not None
    assert (expected.checksum, expected.digest) == (CRC32C, CRC)
    assert "CRC32C" in expected.source
    full = expected_of({"ChecksumCRC32C": CRC_B64, "ChecksumType": "FULL_OBJECT"})
    assert full is not None and full.digest == CRC


def test_without_a_full_object_crc32c_the_plain_md5_etag() -> None:
    etag = f'"{DIGEST.hex()}"'
    for resp in (
        {"ETag": etag},
        {"ETag": etag, "ChecksumCRC32C": f"{CRC_B64}-3"},  # composite (multipart)
        {"ETag": etag, "ChecksumCRC32C": CRC_B64, "ChecksumType": "COMPOSITE"},
        {"ETag": etag, "ChecksumCRC32C": "not base64!"},
    ):
        expected = expected_of(resp)
        assert expected is not None
        assert (expected.checksum, expected.digest) == (MD5, DIGEST), resp
    assert expected_of({"ETag": f'"{DIGEST.hex()}-2"', "ChecksumCRC32C": f"{CRC_B64}-2"}) is None
    assert expected_of({}) is None


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


def test_client_config_computes_no_checksum_of_its_own() -> None:
    from lexigram.storage.s3.driver import S3Driver

    on = S3Driver(resolve(StorageS3Config(bucket="b"))).client_config()
    off = S3Driver(resolve(StorageS3Config(bucket="b", checksums=False))).client_config()
    # botocore's own checksums (a CRC32 of every body) stay off: the driver computes
    # and checks one CRC32C itself, only when checksums are on.
    for config in (on, off):
        assert config.request_checksum_calculation == "when_required"
        assert config.response_checksum_validation == "when_required"


class _Captured(Exception):
    """Raised in before-send: the request is looked at, never sent."""


async def _headers_sent(checksums: bool, operation: str, **params: object) -> dict[str, str]:
    """The headers botocore would send for one request of a driver's client over HTTPS
    (to a loopback port; stopped before sending)."""
    from lexigram.storage.s3.driver import S3Driver

    config = StorageS3Config(
        bucket="b",
        endpoint_url="https://127.0.0.1:9",
        access_key="AKIDEXAMPLE",
        secret_key="secret",
        checksums=checksums,
    )
    driver = S3Driver(resolve(config))
    seen: dict[str, str] = {}

    def before_send(request: object, **_: object) -> None:
        headers = request.headers  # type: ignore[attr-defined]
        seen.update(
            {k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in headers.items()}
        )
        raise _Captured

    try:
        client = await driver._s3()
        client.meta.events.register("before-send.s3", before_send)
        args: dict[str, object] = {"Bucket": "b", "Key": "k", "Body": BODY, **params}
        if checksums:
            args.update(checksum_args(CRC))
        with pytest.raises(_Captured):
            await getattr(client, operation)(**args)
    finally:
        await driver.close()
    return seen


async def test_over_https_the_crc32c_spares_the_sha256_of_the_body() -> None:
    """With the CRC32C header, botocore signs the request without hashing the body
    (UNSIGNED-PAYLOAD, as with Content-MD5), and adds no checksum of its own."""
    body_sha256 = hashlib.sha256(BODY).hexdigest()
    for operation, params in (
        ("put_object", {}),
        ("upload_part", {"UploadId": "u", "PartNumber": 1}),
    ):
        on = await _headers_sent(True, operation, **params)
        assert on["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD", operation
        assert on["x-amz-checksum-crc32c"] == CRC_B64
        assert [h for h in on if h.startswith("x-amz-checksum-")] == ["x-amz-checksum-crc32c"]
        assert "content-md5" not in on
        off = await _headers_sent(False, operation, **params)
        assert off["x-amz-content-sha256"] == body_sha256, operation
        assert not [h for h in off if h.startswith("x-amz-checksum-") or h == "content-md5"]
