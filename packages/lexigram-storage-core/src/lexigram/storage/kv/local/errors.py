"""The errors and the warning of :class:`~lexigram.storage.kv.LocalStorage`'s log.

Also the one translation of an ``OSError`` (a full disk, a permission) into the typed
error a caller sees: :func:`os_failure`.
"""

from __future__ import annotations

import errno

from lexigram.storage.errors import (
    IntegrityError,
    PermissionDeniedError,
    StorageError,
    StorageUnavailableError,
)

__all__ = [
    "REPAIR_HINT",
    "KVLogCorruptedError",
    "KVLogRecoveryWarning",
    "KVLogTruncatedError",
    "LogFormatError",
    "errno_name",
    "os_failure",
]

REPAIR_HINT = (
    "Run `await LocalStorage.repair(path)` (or `lexigram.storage.kv.local.repair_log(path)`) "
    "with every process using the store stopped: it keeps a copy of the file, cuts the log "
    "at the first bad record and reports what was dropped"
)


class KVLogRecoveryWarning(RuntimeWarning):
    """A KV log had a torn last record (a writer died mid-write); it was cut off."""


class LogFormatError(StorageError):
    """The log was written in a format this version cannot read; nothing is skipped."""


class KVLogCorruptedError(IntegrityError):
    """A KV log holds a damaged record, or records are missing; nothing was loaded past it.

    ``path`` is the log file, ``offset`` the byte where the damage starts. The store stays
    unopened (every call raises this again) until the log is repaired: see
    :func:`lexigram.storage.kv.local.repair_log`.
    """

    def __init__(self, message: str, *, path: str, offset: int) -> None:
        super().__init__(message, operation="kv")
        self.path = path
        self.offset = offset


class KVLogTruncatedError(KVLogCorruptedError):
    """The log ends before the last record ``<log>.lock`` says was committed.

    Whole records were cut off the end (a truncated copy, a restored older file, a
    power cut with ``fsync=False``): acknowledged writes are missing.
    """


def errno_name(exc: OSError) -> str:
    """``ENOSPC``-style name of the error's errno (``OSError`` when it has none)."""
    return errno.errorcode.get(exc.errno or 0, "OSError")


def os_failure(exc: OSError, *, path: str, what: str, key: str | None = None) -> StorageError:
    """The typed error for ``exc`` raised while doing ``what`` on the log at ``path``.

    ``PermissionDeniedError`` for ``EACCES``/``EPERM``/``EROFS``, else
    ``StorageUnavailableError`` (a full disk, an I/O error: retry once fixed). The caller
    chains ``exc`` (``raise ... from exc``) and says in ``what`` whether anything was
    written.
    """
    reason = f"{errno_name(exc)}: {exc.strerror or exc}"
    message = f"LocalStorage({path!r}): {what} ({reason})"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return PermissionDeniedError(
            f"{message}; give this process write access to the log, its directory and "
            "the '.lock' file beside it",
            key=key,
            operation="kv",
        )
    hint = "free disk space" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else "fix the cause"
    return StorageUnavailableError(f"{message}; {hint} and retry", key=key, operation="kv")
