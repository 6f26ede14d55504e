"""The mapping of obstore's exceptions to the core's error codes, with safe details.

obstore raises one exception class per ``object_store`` error kind; the message holds
the request's method and URL and the server's error document (S3's ``<Code>`` and
``<Message>``, and for a signature error its ``StringToSign`` and ``AWSAccessKeyId``).
Only the kind, the status, the S3 code and its one-line message are kept, and every
configured secret is scrubbed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from obstore.exceptions import (
    AlreadyExistsError,
    BaseError,
    GenericError,
    InvalidPathError,
    NotFoundError,
    NotModifiedError,
    NotSupportedError,
    PermissionDeniedError,
    PreconditionError,
    UnauthenticatedError,
)

from lexigram.storage.errors import ErrorCode

__all__ = ["obstore_code", "s3_code", "safe_detail"]

_STATUS = re.compile(r"status code: (\d{3})")
_S3_CODE = re.compile(r"<Code>([^<]{1,64})</Code>")
_S3_MESSAGE = re.compile(r"<Message>([^<]{0,200})</Message>")
_METHOD = re.compile(r"Error performing (GET|PUT|POST|HEAD|DELETE)\b")

_PERMISSION = frozenset(
    {
        "AccessDenied",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "AllAccessDisabled",
    }
)
_CORRUPTED = frozenset({"BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch"})
#: what a transport failure (no answer from the server) says in obstore's message.
_TRANSPORT = (
    "error sending request",
    "connection",
    "timed out",
    "timeout",
    "error decoding response body",
    "request or response body error",
    "incomplete",
    "reset",
    "broken pipe",
)


def s3_code(exc: BaseException) -> str:
    """S3's error code in an obstore exception's message ('' if none)."""
    found = _S3_CODE.search(str(exc))
    return found.group(1) if found else ""


def _status(text: str) -> int:
    found = _STATUS.search(text)
    return int(found.group(1)) if found else 0


#: obstore raises Python's FileNotFoundError for object_store's NotFound (the stubs name
#: NotFoundError, which it does not raise).
_NOT_FOUND = (NotFoundError, FileNotFoundError)


def obstore_code(exc: BaseException) -> ErrorCode | None:
    """The error code of an obstore exception; None if it is not one."""
    if not isinstance(exc, (BaseError, *_NOT_FOUND)):
        return None
    text = str(exc)
    code = s3_code(exc)
    if code == "NoSuchBucket":
        return ErrorCode.BUCKET_NOT_FOUND
    if isinstance(exc, _NOT_FOUND):
        return ErrorCode.NOT_FOUND
    if isinstance(exc, AlreadyExistsError):
        return ErrorCode.ALREADY_EXISTS
    if isinstance(exc, PreconditionError):
        return ErrorCode.FAILED_PRECONDITION
    if isinstance(exc, NotModifiedError):
        return ErrorCode.NOT_MODIFIED
    if isinstance(exc, PermissionDeniedError | UnauthenticatedError) or code in _PERMISSION:
        return ErrorCode.PERMISSION_DENIED
    if isinstance(exc, NotSupportedError):
        return ErrorCode.NOT_SUPPORTED
    if isinstance(exc, InvalidPathError):
        return ErrorCode.INVALID_KEY
    if code in _CORRUPTED or code.startswith("XAmzContentChecksum"):
        return ErrorCode.DATA_CORRUPTED
    status = _status(text)
    if code == "InvalidRange" or status == 416:
        return ErrorCode.INVALID_RANGE
    if status in (401, 403):
        return ErrorCode.PERMISSION_DENIED
    if status == 404:
        return ErrorCode.NOT_FOUND
    if status == 412:
        return ErrorCode.FAILED_PRECONDITION
    if status == 501:
        return ErrorCode.NOT_SUPPORTED
    if status == 429 or status >= 500:
        return ErrorCode.UNAVAILABLE
    if 400 <= status < 500:
        return ErrorCode.INVALID_ARGUMENT
    if isinstance(exc, GenericError):
        lowered = text.lower()
        if any(sign in lowered for sign in _TRANSPORT):
            return ErrorCode.UNAVAILABLE
    return ErrorCode.UNKNOWN


def safe_detail(exc: BaseException, secrets: Iterable[str] = ()) -> str:
    """A one-line description of an obstore exception with no signing material and
    no secret: its kind, the request's method, the HTTP status, S3's code and message
    (the core also redacts the driver's secrets from it)."""
    text = str(exc)
    status = _status(text)
    code = s3_code(exc)
    method = _METHOD.search(text)
    parts = [type(exc).__name__]
    if code:
        parts.append(code)
    if status:
        parts.append(f"(HTTP {status})")
    if method:
        parts.append(f"from {method.group(1)}")
    detail = " ".join(parts)
    message = _S3_MESSAGE.search(text)
    if message:
        detail += f": {message.group(1).strip()}"
    elif not status:
        # no answer from the server: obstore's first line says what failed
        first = text.split("\n", 1)[0]
        first = first.split(" Debug source:", 1)[0]
        detail += f": {first}"
    detail = " ".join(detail.split())
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        detail = detail.replace(secret, "***")
    if len(detail) > 300:
        detail = detail[:300] + "..."
    return detail
