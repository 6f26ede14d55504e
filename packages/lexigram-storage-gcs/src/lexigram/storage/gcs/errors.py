"""The GCS driver's error table: how Google Cloud Storage's errors (as aiohttp raises
them) map to :class:`ErrorCode`, and their safe one-line descriptions (the driver's
``classify`` / ``describe``; the core redacts secrets and builds the message)."""

from __future__ import annotations

import asyncio

import aiohttp

from lexigram.storage.errors import ErrorCode

__all__ = ["bucket_missing", "classify_gcs", "raise_for_status", "safe_detail", "status_of"]

_BY_STATUS: dict[int, ErrorCode] = {
    400: ErrorCode.INVALID_ARGUMENT,
    401: ErrorCode.PERMISSION_DENIED,
    403: ErrorCode.PERMISSION_DENIED,
    404: ErrorCode.NOT_FOUND,
    408: ErrorCode.UNAVAILABLE,
    409: ErrorCode.ALREADY_EXISTS,
    412: ErrorCode.FAILED_PRECONDITION,
    416: ErrorCode.INVALID_RANGE,
    429: ErrorCode.UNAVAILABLE,
}


def status_of(exc: BaseException) -> int | None:
    """The HTTP status of a failed request, or None if it is not an HTTP reply."""
    return exc.status if isinstance(exc, aiohttp.ClientResponseError) else None


async def raise_for_status(reply: aiohttp.ClientResponse) -> None:
    """Raise for an HTTP error reply as gcloud-aio's session does: a
    ``ClientResponseError`` whose message holds the reason and Google's error text (which
    :func:`bucket_missing` and :func:`classify_gcs` read); the reply is released."""
    if reply.status < 400:
        return
    try:
        text = await reply.text(errors="replace")
    finally:
        reply.release()
    raise aiohttp.ClientResponseError(
        reply.request_info,
        reply.history,
        status=reply.status,
        message=f"{reply.reason}: {text}",
        headers=reply.headers,
    )


def bucket_missing(exc: BaseException) -> bool:
    """Whether a 404 says that the bucket (not the object) is missing.

    GCS answers ``The specified bucket does not exist.``; fake-gcs-server says only
    ``Not Found`` for both, so on the emulator only bucket-level calls can tell.
    """
    return status_of(exc) == 404 and "bucket" in str(getattr(exc, "message", "")).lower()


def _hash_refused(exc: aiohttp.ClientResponseError) -> bool:
    """GCS refuses an upload whose bytes fail the MD5 / CRC32C given with it with a 400
    saying the hashes do not match."""
    message = str(exc.message).lower()
    return ("md5" in message or "crc32c" in message or "hash" in message) and ("match" in message)


def classify_gcs(exc: BaseException) -> ErrorCode | None:
    """The code of an SDK / aiohttp exception; None for anything else."""
    if isinstance(exc, aiohttp.ClientResponseError):
        if bucket_missing(exc):
            return ErrorCode.BUCKET_NOT_FOUND
        if exc.status == 400 and _hash_refused(exc):
            return ErrorCode.DATA_CORRUPTED
        code = _BY_STATUS.get(exc.status)
        if code is not None:
            return code
        if exc.status >= 500:
            return ErrorCode.UNAVAILABLE
        return ErrorCode.UNKNOWN
    if isinstance(exc, aiohttp.ClientError | asyncio.TimeoutError):
        # connection refused / reset, payload cut short, server disconnected, timeouts
        return ErrorCode.UNAVAILABLE
    return None


def safe_detail(exc: BaseException) -> str | None:
    """``HTTP <status> <reason>`` of an HTTP error reply (never its URL, headers or body);
    None for anything else."""
    if not isinstance(exc, aiohttp.ClientResponseError):
        return None
    # aiohttp's message holds "Reason: <body>"; keep the reason only (the body may be long).
    reason = str(exc.message).split(":", 1)[0]
    return f"HTTP {exc.status} {reason}".strip()
