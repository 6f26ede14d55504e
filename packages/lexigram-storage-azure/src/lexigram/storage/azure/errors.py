"""The Azure driver's error table: how the SDK's errors map to :class:`ErrorCode`, and
their safe one-line descriptions (the driver's ``classify`` / ``describe``; the core
redacts secrets and builds the message).

Azure answers with an HTTP status and an ``x-ms-error-code`` (``BlobNotFound``,
``ContainerNotFound``...); the SDK raises ``azure.core.exceptions.HttpResponseError``
subclasses carrying both. Their messages can hold response headers and signature
details, so the detail this module builds keeps only the error code, the status and the
first line of the service's message, with secrets and URL query strings removed.
"""

from __future__ import annotations

from collections.abc import Iterable

import aiohttp

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    IncompleteReadError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from lexigram.storage.errors import DriverError, ErrorCode
from lexigram.storage.secrets import without_url_queries

__all__ = ["already_exists", "classify_azure", "describe", "is_sdk_error", "safe_detail"]

_NOT_FOUND = frozenset({"BlobNotFound", "CannotVerifyCopySource", "ResourceNotFound"})
_EXISTS = frozenset({"BlobAlreadyExists"})
_CONTAINER_MISSING = frozenset({"ContainerNotFound", "ContainerBeingDeleted"})
_DENIED = frozenset(
    {
        "AuthenticationFailed",
        "AuthorizationFailure",
        "AuthorizationPermissionMismatch",
        "AuthorizationProtocolMismatch",
        "AuthorizationResourceTypeMismatch",
        "AuthorizationServiceMismatch",
        "AuthorizationSourceIPMismatch",
        "InsufficientAccountPermissions",
        "AccountIsDisabled",
        "NoAuthenticationInformation",
        "InvalidAuthenticationInfo",
    }
)
_RANGE = frozenset({"InvalidRange"})
_UNAVAILABLE = frozenset({"ServerBusy", "OperationTimedOut", "InternalError"})
#: the service found that a body did not match its Content-MD5 / CRC64.
_CORRUPTED = frozenset({"Md5Mismatch", "Crc64Mismatch", "InvalidMd5"})
#: what the SDK says when a download's bytes do not match the service's checksum.
_SDK_MISMATCH = ("MD5 mismatch", "CRC64 mismatch")


def is_sdk_error(exc: BaseException) -> bool:
    """Whether ``exc`` comes from the Azure SDK or its HTTP transport."""
    return isinstance(exc, AzureError | aiohttp.ClientError)


def _error_code(exc: HttpResponseError) -> str:
    code = getattr(exc, "error_code", None)
    if code:
        return str(getattr(code, "value", code))  # StorageErrorCode is a str enum
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is not None:
        value = headers.get("x-ms-error-code")
        if value:
            return str(value)
    return ""


def _md5_refused(exc: HttpResponseError) -> bool:
    """Azurite refuses a body that fails its Content-MD5 as ``InvalidOperation``
    ("Provided contentMD5 doesn't match."); Azure itself says ``Md5Mismatch``."""
    message = str(getattr(exc, "reason", "") or "") + str(getattr(exc, "message", "") or "")
    return "contentmd5" in message.lower()


def classify_azure(exc: BaseException, *, create: bool = False) -> ErrorCode | None:
    """The code of an SDK error, or None when ``exc`` is not one.

    ``create``: the request was a create-only write, where 409 and 412 mean the
    key already exists.
    """
    if isinstance(exc, HttpResponseError):
        code = _error_code(exc)
        status = exc.status_code or 0
        if status == 304:
            return ErrorCode.NOT_MODIFIED  # a read If-None-Match the blob matched
        if code in _CONTAINER_MISSING:
            return ErrorCode.BUCKET_NOT_FOUND
        if code in _CORRUPTED or (status == 400 and _md5_refused(exc)):
            return ErrorCode.DATA_CORRUPTED
        if code in _EXISTS or (create and status in (409, 412)):
            return ErrorCode.ALREADY_EXISTS
        if code in _NOT_FOUND or status == 404 or isinstance(exc, ResourceNotFoundError):
            return ErrorCode.NOT_FOUND
        if code in _RANGE or status == 416:
            return ErrorCode.INVALID_RANGE
        if code in _DENIED or status in (401, 403) or isinstance(exc, ClientAuthenticationError):
            return ErrorCode.PERMISSION_DENIED
        if status == 412 or code == "ConditionNotMet" or isinstance(exc, ResourceModifiedError):
            return ErrorCode.FAILED_PRECONDITION
        if code in _UNAVAILABLE or status in (408, 429) or status >= 500:
            return ErrorCode.UNAVAILABLE
        if status == 409 or isinstance(exc, ResourceExistsError):
            return ErrorCode.FAILED_PRECONDITION
        if 400 <= status < 500:
            return ErrorCode.INVALID_ARGUMENT
        if status == 0 and isinstance(exc, ServiceResponseError | IncompleteReadError):
            # no reply status: the connection failed, or the body was cut short
            return ErrorCode.UNAVAILABLE
        return ErrorCode.UNKNOWN
    if isinstance(exc, ClientAuthenticationError):
        return ErrorCode.PERMISSION_DENIED
    if isinstance(exc, ServiceRequestError | ServiceResponseError | aiohttp.ClientError):
        return ErrorCode.UNAVAILABLE
    if isinstance(exc, AzureError):
        if str(getattr(exc, "message", "") or exc).startswith(_SDK_MISMATCH):
            return ErrorCode.DATA_CORRUPTED
        return ErrorCode.UNKNOWN
    return None


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` without URL query strings (SAS signatures) and without any secret."""
    text = without_url_queries(text)
    for secret in sorted((s for s in secrets if len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def safe_detail(exc: BaseException, secrets: Iterable[str] = ()) -> str:
    """A short description of an SDK error that holds no secret and no header dump."""
    if isinstance(exc, HttpResponseError):
        code = _error_code(exc) or "error"
        status = exc.status_code
        reason = getattr(exc, "reason", None) or ""
        message = str(getattr(exc, "message", "") or "")
        first = message.strip().splitlines()[0].strip().rstrip(".") if message.strip() else ""
        if first.startswith(("Operation returned an invalid status", "(")):
            first = ""  # the SDK's own wrapper text: the code and status say it all
        head = f"Azure {code} (HTTP {status}{' ' + reason if reason else ''})"
        text = f"{head}: {first[:200]}" if first else head
    else:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        text = f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__
    return scrub(text, secrets)


def describe(exc: BaseException, *, container: str) -> str | None:
    """The one-line detail of an SDK error in the user's message (``None`` for anything
    else): :func:`safe_detail`, with what to do for a missing container or refused
    credentials."""
    code = classify_azure(exc)
    if code is None:
        return None
    detail = safe_detail(exc)
    if code is ErrorCode.BUCKET_NOT_FOUND:
        detail = f"container {container!r} does not exist ({detail}); create it first"
    elif code is ErrorCode.PERMISSION_DENIED:
        detail += "; check account_key / sas_token / connection_string and the permissions"
    return detail


def already_exists(exc: BaseException) -> DriverError | None:
    """For a failed create-only write: ``ALREADY_EXISTS`` when the service said the key
    exists (409 / 412 there), else ``None``."""
    if classify_azure(exc, create=True) is not ErrorCode.ALREADY_EXISTS:
        return None
    return DriverError(ErrorCode.ALREADY_EXISTS, safe_detail(exc))


def block_list_lost(exc: BaseException) -> bool:
    """Whether ``exc`` is a Put Block List refused because its staged blocks are gone
    (``InvalidBlockList``): another upload of the key committed meanwhile, and a commit
    discards every uncommitted block of the blob."""
    return isinstance(exc, HttpResponseError) and _error_code(exc) == "InvalidBlockList"
