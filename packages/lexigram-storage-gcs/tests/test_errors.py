"""Error mapping of aiohttp / GCS replies (no network: exceptions are built here)."""

from __future__ import annotations

import aiohttp
import pytest
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from lexigram.storage.errors import DriverError, ErrorCode
from lexigram.storage.gcs.config import StorageGCSConfig
from lexigram.storage.gcs.driver import GCSDriver
from lexigram.storage.gcs.errors import bucket_missing


def _reply(status: int, message: str = "x") -> aiohttp.ClientResponseError:
    info = aiohttp.RequestInfo(
        URL("http://127.0.0.1/storage/v1/b/b/o/k"),
        "GET",
        CIMultiDictProxy(CIMultiDict()),
        URL("http://127.0.0.1/storage/v1/b/b/o/k"),
    )
    return aiohttp.ClientResponseError(info, (), status=status, message=message)


DRIVER = GCSDriver(StorageGCSConfig(bucket="b"))


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, ErrorCode.INVALID_ARGUMENT),
        (401, ErrorCode.PERMISSION_DENIED),
        (403, ErrorCode.PERMISSION_DENIED),
        (404, ErrorCode.NOT_FOUND),
        (408, ErrorCode.UNAVAILABLE),
        (412, ErrorCode.FAILED_PRECONDITION),
        (416, ErrorCode.INVALID_RANGE),
        (429, ErrorCode.UNAVAILABLE),
        (500, ErrorCode.UNAVAILABLE),
        (503, ErrorCode.UNAVAILABLE),
        (418, ErrorCode.UNKNOWN),
    ],
)
def test_http_status(status: int, code: ErrorCode) -> None:
    assert DRIVER.classify(_reply(status)) is code


@pytest.mark.parametrize(
    "exc",
    [
        aiohttp.ClientConnectionError("refused"),
        aiohttp.ServerDisconnectedError(),
        aiohttp.ClientPayloadError("cut short"),
        TimeoutError(),
        ConnectionResetError(),
    ],
)
def test_transport_failures_are_unavailable(exc: BaseException) -> None:
    code = DRIVER.classify(exc)
    assert code is ErrorCode.UNAVAILABLE
    assert DRIVER.is_retryable(exc, code)


def test_driver_errors_and_others() -> None:
    assert DRIVER.classify(DriverError(ErrorCode.ALREADY_EXISTS)) is ErrorCode.ALREADY_EXISTS
    assert DRIVER.classify(ValueError("x")) is ErrorCode.UNKNOWN


def test_bucket_missing_message() -> None:
    assert bucket_missing(_reply(404, "Not Found: The specified bucket does not exist."))
    assert not bucket_missing(_reply(404, "Not Found: No such object: b/k"))
    assert not bucket_missing(_reply(403, "bucket"))


def test_a_missing_bucket_is_described_by_its_name() -> None:
    exc = _reply(404, "Not Found: The specified bucket does not exist.")
    assert DRIVER.classify(exc) is ErrorCode.BUCKET_NOT_FOUND
    assert "'b'" in DRIVER.describe(exc)


def test_an_http_error_is_described_by_its_status_and_reason_only() -> None:
    exc = _reply(403, "Forbidden: <Error>the body, which may be long</Error>")
    assert DRIVER.describe(exc) == "HTTP 403 Forbidden"
    assert DRIVER.describe(ValueError("x")) == "ValueError: x"
