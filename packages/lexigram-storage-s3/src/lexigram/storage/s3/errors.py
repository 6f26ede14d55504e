"""The S3 driver's error table: how botocore / aiobotocore / aiohttp exceptions map to
the core's error codes, which of them botocore has already retried, and the safe
one-line description of each (the driver's ``classify`` / ``is_retryable`` /
``describe``; the core redacts secrets and builds the message)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import aiohttp
from aiobotocore.response import AioReadTimeoutError  # type: ignore[import-untyped]
from botocore.exceptions import (  # type: ignore[import-untyped]
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    FlexibleChecksumError,
    HTTPClientError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
    ReadTimeoutError,
    ResponseStreamingError,
)

from lexigram.storage.errors import DriverError, ErrorCode

__all__ = [
    "client_error_code",
    "code_for",
    "delete_failures",
    "retried_by_sdk",
    "safe_detail",
]

_NOT_FOUND = frozenset({"NoSuchKey", "NotFound", "404", "NoSuchVersion"})
_PERMISSION = frozenset(
    {
        "AccessDenied",
        "403",
        "Forbidden",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AllAccessDisabled",
        "ExpiredToken",
        "InvalidToken",
        "InvalidSecurity",
        "AccountProblem",
        "Unauthorized",
        "401",
    }
)
_UNAVAILABLE = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "TooManyRequests",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "ServiceUnavailable",
        "503",
        "500",
        "502",
        "504",
    }
)
_INVALID_RANGE = frozenset({"InvalidRange", "416"})
_PRECONDITION = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict"})

#: errors botocore does not retry itself (raised while reading a response body).
_BODY_ERRORS: tuple[type[BaseException], ...] = (
    ResponseStreamingError,
    AioReadTimeoutError,
    aiohttp.ClientPayloadError,
)


def client_error_code(exc: ClientError) -> tuple[str, int]:
    """The S3 error code and HTTP status of a ClientError."""
    response: dict[str, Any] = getattr(exc, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", "") or "")
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return code, status


def code_for(exc: BaseException) -> ErrorCode | None:
    """The error code of an SDK exception; None if it is not one this mapping knows."""
    if isinstance(exc, ClientError):
        code, status = client_error_code(exc)
        if code == "NoSuchBucket":
            return ErrorCode.BUCKET_NOT_FOUND
        if code in ("304", "NotModified") or status == 304:
            return ErrorCode.NOT_MODIFIED  # a GET / HEAD If-None-Match the object matched
        if code in _NOT_FOUND or status == 404:
            return ErrorCode.NOT_FOUND
        if code in _PRECONDITION or status == 412:
            return ErrorCode.FAILED_PRECONDITION
        if code in _PERMISSION or status in (401, 403):
            return ErrorCode.PERMISSION_DENIED
        if code in _INVALID_RANGE or status == 416:
            return ErrorCode.INVALID_RANGE
        if code == "NotImplemented" or status == 501:
            return ErrorCode.NOT_SUPPORTED
        if code in _UNAVAILABLE or status == 429 or status >= 500:
            return ErrorCode.UNAVAILABLE
        if code in ("BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch") or code.startswith(
            "XAmzContentChecksum"
        ):
            return ErrorCode.DATA_CORRUPTED
        if 400 <= status < 500:
            return ErrorCode.INVALID_ARGUMENT
        return ErrorCode.UNKNOWN
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return ErrorCode.PERMISSION_DENIED
    if isinstance(exc, ParamValidationError):
        return ErrorCode.INVALID_ARGUMENT
    if isinstance(exc, FlexibleChecksumError):
        return ErrorCode.DATA_CORRUPTED  # a body did not match its x-amz-checksum-*
    if isinstance(
        exc,
        EndpointConnectionError
        | ConnectTimeoutError
        | ReadTimeoutError
        | ConnectionClosedError
        | HTTPClientError
        | aiohttp.ClientError,
    ):
        return ErrorCode.UNAVAILABLE
    if isinstance(exc, BotoCoreError):
        return ErrorCode.UNKNOWN
    return None


def safe_detail(exc: BaseException) -> str | None:
    """A one-line description of an SDK exception with no signing material (None: not an
    SDK exception).

    For a ClientError only the error code, the HTTP status, the operation and the
    server's one-line message are kept (never the response body's ``StringToSign``,
    ``CanonicalRequest``, ``AWSAccessKeyId`` or headers); the core then redacts every
    secret of the driver.
    """
    if isinstance(exc, ClientError):
        code, status = client_error_code(exc)
        message = str(exc.response.get("Error", {}).get("Message", "") or "").strip()
        op = getattr(exc, "operation_name", "") or "request"
        text = f"{code or 'error'} (HTTP {status}) from {op}"
        if message:
            text += f": {message}"
    elif code_for(exc) is not None:
        text = f"{type(exc).__name__}: {exc}".strip()
    else:
        return None
    return " ".join(text.split())


def retried_by_sdk(exc: BaseException) -> bool:
    """Whether botocore has already retried the request that failed with ``exc`` (its
    standard retry mode): every SDK exception but one raised while reading a response
    body, which botocore does not retry (those the core retries)."""
    return code_for(exc) is not None and not isinstance(exc, _BODY_ERRORS)


def delete_failures(errors: Iterable[Mapping[str, Any]]) -> dict[str, BaseException]:
    """The per-key ``Errors`` of a DeleteObjects answer as {key: DriverError}; a key that
    was already absent is not a failure."""
    failures: dict[str, BaseException] = {}
    for err in errors:
        code = str(err.get("Code", "") or "")
        if code == "NoSuchKey":
            continue
        message = str(err.get("Message", "") or "")
        probe = ClientError({"Error": {"Code": code, "Message": message}}, "DeleteObjects")
        mapped = code_for(probe) or ErrorCode.UNKNOWN
        failures[str(err.get("Key", ""))] = DriverError(
            mapped, f"{code or 'error'}: {message}" if message else code or "error"
        )
    return failures
