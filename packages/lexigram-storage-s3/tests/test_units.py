"""Pure logic of the S3 driver: URLs, part planning, error mapping, body wrapping."""

from __future__ import annotations

import io
from typing import Any

import pytest
from botocore.exceptions import (  # type: ignore[import-untyped]
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    ResponseStreamingError,
)

from lexigram.storage import BlobStore, PermissionDeniedError
from lexigram.storage.errors import DriverError, ErrorCode
from lexigram.storage.s3 import StorageR2Config, StorageS3Config
from lexigram.storage.s3.driver import R2Driver, S3Driver
from lexigram.storage.s3.errors import code_for, delete_failures, safe_detail
from lexigram.storage.s3.transfer import (
    MAX_PARTS,
    ViewReader,
    part_size_for,
)
from lexigram.storage.s3.urls import effective_style, object_url

MIB = 1024 * 1024
GIB = 1024 * MIB


def client_error(code: str, status: int, message: str = "msg", op: str = "GetObject") -> Any:
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        op,
    )


# -- URLs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("style", "bucket", "endpoint", "expected"),
    [
        ("auto", "photos", None, "virtual"),
        ("auto", "my.dotted.bucket", None, "path"),
        ("auto", "photos", "http://127.0.0.1:9000", "path"),
        ("auto", "photos", "http://localhost:9000", "path"),
        ("auto", "photos", "https://nyc3.digitaloceanspaces.com", "virtual"),
        ("path", "photos", None, "path"),
        ("virtual", "photos", "http://127.0.0.1:9000", "virtual"),
    ],
)
def test_effective_style(style: str, bucket: str, endpoint: str | None, expected: str) -> None:
    assert effective_style(style, bucket, endpoint) == expected


def test_object_urls() -> None:
    assert (
        object_url(
            "a b/c+d.txt", bucket="p", region="us-east-1", endpoint_url=None, style="virtual"
        )
        == "https://p.s3.amazonaws.com/a%20b/c%2Bd.txt"
    )
    assert (
        object_url("k", bucket="p", region="eu-west-1", endpoint_url=None, style="path")
        == "https://s3.eu-west-1.amazonaws.com/p/k"
    )
    assert (
        object_url(
            "k/é", bucket="p", region="x", endpoint_url="http://127.0.0.1:9000", style="path"
        )
        == "http://127.0.0.1:9000/p/k/%C3%A9"
    )
    assert (
        object_url(
            "k", bucket="p", region="x", endpoint_url="https://nyc3.example.test", style="virtual"
        )
        == "https://p.nyc3.example.test/k"
    )


async def test_get_url_uses_public_url_first() -> None:
    driver = S3Driver.from_config(
        StorageS3Config(bucket="p", public_url="https://cdn.example.test/base")
    )
    store = BlobStore(driver)
    assert await store.get_url("x y.png") == "https://cdn.example.test/base/x%20y.png"
    bare = BlobStore(S3Driver.from_config(StorageS3Config(bucket="pics", region="eu-west-1")))
    assert await bare.get_url("x y.png") == "https://pics.s3.eu-west-1.amazonaws.com/x%20y.png"


def test_r2_driver_is_the_s3_driver_with_region_auto() -> None:
    driver = S3Driver.from_config(
        StorageR2Config(
            bucket="b",
            access_key="a" * 32,
            secret_key="s" * 64,
            endpoint_url="https://acct.r2.cloudflarestorage.com/",
        )
    )
    assert isinstance(driver, R2Driver) and driver.name == "r2"
    assert driver.settings.region == "auto"
    assert driver.native_url("k") == "https://acct.r2.cloudflarestorage.com/b/k"
    assert "s" * 64 not in repr(driver) and "s" * 64 not in repr(driver.settings)


def test_client_settings() -> None:
    driver = S3Driver.from_config(
        StorageS3Config(
            bucket="b",
            max_attempts=5,
            connect_timeout=2,
            read_timeout=7,
            max_pool_connections=33,
            access_key="AKIA1",
            secret_key="sec",
        )
    )
    cfg = driver.client_config()
    assert cfg.signature_version == "s3v4"
    assert cfg.retries == {"max_attempts": 5, "mode": "standard"}
    assert (cfg.connect_timeout, cfg.read_timeout, cfg.max_pool_connections) == (2, 7, 33)
    kwargs = driver.client_kwargs()
    assert kwargs["aws_access_key_id"] == "AKIA1"
    chain = S3Driver.from_config(StorageS3Config(bucket="b")).client_kwargs()
    assert "aws_access_key_id" not in chain  # the default AWS credential chain


# -- transfers --------------------------------------------------------------------------------


def test_part_size_grows_past_ten_thousand_parts() -> None:
    assert part_size_for(None, 8 * MIB) == 8 * MIB
    assert part_size_for(80 * GIB, 8 * MIB) == 9 * MIB
    assert part_size_for(5 * 1024 * GIB, 8 * MIB) == 525 * MIB
    size = 1234 * GIB + 7
    part = part_size_for(size, 8 * MIB)
    assert -(-size // part) <= MAX_PARTS and part % MIB == 0


def test_view_reader_serves_slices_without_copying() -> None:
    data = bytearray(b"0123456789")
    reader = ViewReader(memoryview(data)[2:8])
    assert isinstance(reader, io.BytesIO)
    first = reader.read(4)
    assert isinstance(first, memoryview) and first.obj is data
    assert bytes(first) == b"2345"
    assert bytes(reader.read()) == b"67"
    assert reader.read(3).nbytes == 0
    assert reader.seek(0, io.SEEK_END) == 6
    reader.seek(1)
    assert reader.tell() == 1 and len(reader) == 5
    buf = bytearray(3)
    assert reader.readinto(buf) == 3 and buf == b"345"
    assert reader.getbuffer().nbytes == 6


# -- error mapping ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("NoSuchKey", 404, ErrorCode.NOT_FOUND),
        ("404", 404, ErrorCode.NOT_FOUND),
        ("NoSuchBucket", 404, ErrorCode.BUCKET_NOT_FOUND),
        ("PreconditionFailed", 412, ErrorCode.FAILED_PRECONDITION),
        ("AccessDenied", 403, ErrorCode.PERMISSION_DENIED),
        ("InvalidAccessKeyId", 403, ErrorCode.PERMISSION_DENIED),
        ("SignatureDoesNotMatch", 403, ErrorCode.PERMISSION_DENIED),
        ("InvalidRange", 416, ErrorCode.INVALID_RANGE),
        ("SlowDown", 503, ErrorCode.UNAVAILABLE),
        ("Throttling", 400, ErrorCode.UNAVAILABLE),
        ("RequestTimeout", 400, ErrorCode.UNAVAILABLE),
        ("InternalError", 500, ErrorCode.UNAVAILABLE),
        ("Whatever", 502, ErrorCode.UNAVAILABLE),
        ("InvalidArgument", 400, ErrorCode.INVALID_ARGUMENT),
        ("BadDigest", 400, ErrorCode.DATA_CORRUPTED),
        ("NotImplemented", 501, ErrorCode.NOT_SUPPORTED),
    ],
)
def test_client_error_mapping(code: str, status: int, expected: ErrorCode) -> None:
    assert code_for(client_error(code, status)) is expected


def test_other_sdk_errors() -> None:
    assert code_for(EndpointConnectionError(endpoint_url="http://x")) is ErrorCode.UNAVAILABLE
    assert code_for(NoCredentialsError()) is ErrorCode.PERMISSION_DENIED
    assert code_for(ValueError("x")) is None
    driver = S3Driver.from_config(StorageS3Config(bucket="b"))
    # botocore does not retry a body cut short: the core does
    streaming = ResponseStreamingError(error="cut")
    assert driver.is_retryable(streaming, driver.classify(streaming))
    # botocore retried the request itself: the core does not again
    request_level = EndpointConnectionError(endpoint_url="http://x")
    assert driver.classify(request_level) is ErrorCode.UNAVAILABLE
    assert not driver.is_retryable(request_level, ErrorCode.UNAVAILABLE)
    throttled = client_error("SlowDown", 503)
    assert not driver.is_retryable(throttled, driver.classify(throttled))
    # the driver's own transient errors (a ranged part cut short) are the core's to retry
    short = DriverError(ErrorCode.UNAVAILABLE, "a ranged read returned 1 of 2 bytes")
    assert driver.is_retryable(short, driver.classify(short))


def test_safe_detail_drops_signing_material_and_secrets() -> None:
    secret = "CANARY/secret+key=0123456789"
    exc = ClientError(
        {
            "Error": {
                "Code": "SignatureDoesNotMatch",
                "Message": f"The request signature does not match; key {secret}",
                "AWSAccessKeyId": "AKIACANARY",
                "StringToSign": "AWS4-HMAC-SHA256\n20260101T000000Z\nscope\nhash",
                "CanonicalRequest": "GET\n/b/k\n\nhost:x",
            },
            "ResponseMetadata": {"HTTPStatusCode": 403},
        },
        "PutObject",
    )
    detail = safe_detail(exc)
    assert detail is not None
    assert "SignatureDoesNotMatch (HTTP 403) from PutObject" in detail
    for leak in ("AKIACANARY", "StringToSign", "AWS4-HMAC-SHA256", "CanonicalRequest"):
        assert leak not in detail
    assert safe_detail(ValueError("not an SDK error")) is None
    # what the server echoed is the core's to redact, with every secret of the driver
    driver = S3Driver.from_config(
        StorageS3Config(bucket="b", access_key="AKIACANARY", secret_key=secret)
    )
    assert set(driver.secrets()) == {"AKIACANARY", secret}
    assert driver.describe(exc) == detail


async def test_store_message_from_a_wrapped_error_names_no_secret() -> None:
    secret = "CANARY-secret-for-message-test"
    driver = S3Driver.from_config(
        StorageS3Config(bucket="b", access_key="AKIACANARY2", secret_key=secret)
    )

    answer = "denied"

    async def fail(key: str) -> Any:
        raise client_error("AccessDenied", 403, answer, "HeadObject")

    driver.head = fail  # type: ignore[method-assign]
    store = BlobStore(driver, name="unit")  # built directly: no redactor given
    with pytest.raises(PermissionDeniedError) as caught:
        await store.info("k")
    assert "AccessDenied (HTTP 403) from HeadObject: denied" in str(caught.value)
    # nothing to hide: the SDK's own exception is the cause
    assert isinstance(caught.value.__cause__, ClientError)

    answer = f"denied for {secret}"  # a server that echoes the secret
    with pytest.raises(PermissionDeniedError) as caught:
        await store.info("k")
    assert secret not in str(caught.value)
    assert "AccessDenied (HTTP 403) from HeadObject: denied for ***" in str(caught.value)
    # the cause that showed it is replaced by its redacted description
    cause = caught.value.__cause__
    assert isinstance(cause, DriverError) and cause.code is ErrorCode.PERMISSION_DENIED
    assert secret not in f"{cause}{cause!r}{vars(cause)!r}" and cause.__cause__ is None


def test_delete_failures_by_key() -> None:
    failures = delete_failures(
        [
            {"Key": "a", "Code": "AccessDenied", "Message": "Access Denied"},
            {"Key": "b", "Code": "NoSuchKey", "Message": "gone"},
            {"Key": "c", "Code": "InternalError", "Message": "try again"},
        ]
    )
    assert set(failures) == {"a", "c"}
    assert failures["a"].code is ErrorCode.PERMISSION_DENIED  # type: ignore[attr-defined]
    assert failures["c"].code is ErrorCode.UNAVAILABLE  # type: ignore[attr-defined]
    assert "Access Denied" in str(failures["a"])
