"""Translating redis-py's exceptions into lexigram-storage's typed errors."""

from __future__ import annotations

import asyncio

from lexigram.storage.errors import (
    PermissionDeniedError,
    StorageError,
    StorageUnavailableError,
)
from lexigram.storage.secrets import Redactor
from redis import exceptions as rx

__all__ = ["TRANSIENT", "translate"]

#: failures of the connection, not of the command: retried for idempotent operations.
TRANSIENT: tuple[type[BaseException], ...] = (
    rx.ConnectionError,
    rx.TimeoutError,
    rx.BusyLoadingError,
    OSError,
    asyncio.TimeoutError,
)


def translate(
    exc: BaseException, *, where: str, operation: str, key: str | None, redactor: Redactor
) -> StorageError:
    """The typed error for ``exc``, raised by ``operation`` (of ``key``) on server ``where``.

    The message passes through ``redactor``, so no credential reaches it.
    """
    what = f"{operation} of KV key {key!r}" if key is not None else operation
    detail = redactor.redact(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, rx.AuthenticationError) or (
        isinstance(exc, rx.ResponseError) and str(exc).startswith(("NOPERM", "NOAUTH", "WRONGPASS"))
    ):
        return PermissionDeniedError(
            f"{what} was refused by Redis at {where} ({detail}): check the username and "
            "password (and the user's ACL permissions) in the kv config",
            driver="redis",
            key=key,
            operation=operation,
        )
    if isinstance(exc, TRANSIENT):
        return StorageUnavailableError(
            f"{what} failed: Redis at {where} is unavailable ({detail}). This is usually "
            "transient (the server restarted, the network dropped); retry later",
            driver="redis",
            key=key,
            operation=operation,
        )
    return StorageError(
        f"{what} failed on Redis at {where} ({detail})",
        driver="redis",
        key=key,
        operation=operation,
    )
