"""How operating-system errors map to :class:`~lexigram.storage.errors.ErrorCode`.

The core builds the user-facing error; its message carries ``strerror`` (the OS reason,
e.g. "No space left on device") and the exception is chained as ``__cause__``.
"""

from __future__ import annotations

import errno

from lexigram.storage.errors import DriverError, ErrorCode

__all__ = ["ERRNO_CODES", "classify_os_error", "symlink_refused"]

#: errno → code. Anything else is UNKNOWN (with the OS reason in the message).
ERRNO_CODES: dict[int, ErrorCode] = {
    errno.ENOENT: ErrorCode.NOT_FOUND,
    errno.ENOTDIR: ErrorCode.NOT_FOUND,
    errno.EEXIST: ErrorCode.ALREADY_EXISTS,
    errno.EACCES: ErrorCode.PERMISSION_DENIED,
    errno.EPERM: ErrorCode.PERMISSION_DENIED,
    errno.ELOOP: ErrorCode.PERMISSION_DENIED,  # a symlink we refused to follow
    errno.ENAMETOOLONG: ErrorCode.INVALID_ARGUMENT,
    errno.EISDIR: ErrorCode.INVALID_ARGUMENT,
    errno.EINVAL: ErrorCode.INVALID_ARGUMENT,
    # Transient: too many open files, interrupted, busy. Retried by the core.
    errno.EMFILE: ErrorCode.UNAVAILABLE,
    errno.ENFILE: ErrorCode.UNAVAILABLE,
    errno.EAGAIN: ErrorCode.UNAVAILABLE,
    errno.EINTR: ErrorCode.UNAVAILABLE,
    errno.EBUSY: ErrorCode.UNAVAILABLE,
    # Not transient, no better code: a full disk, a read-only filesystem, a file too
    # large, an I/O error, a quota — UNKNOWN (plain StorageError) with the OS reason.
    errno.ENOSPC: ErrorCode.UNKNOWN,
    errno.EROFS: ErrorCode.UNKNOWN,
    errno.EFBIG: ErrorCode.UNKNOWN,
    errno.EIO: ErrorCode.UNKNOWN,
    errno.EDQUOT: ErrorCode.UNKNOWN,
}


def classify_os_error(exc: OSError) -> ErrorCode:
    if exc.errno is None:
        return ErrorCode.UNKNOWN
    return ERRNO_CODES.get(exc.errno, ErrorCode.UNKNOWN)


def symlink_refused(path: str) -> DriverError:
    """The error of a symbolic link met below the root (never followed)."""
    return DriverError(
        ErrorCode.PERMISSION_DENIED,
        f"{path!r} is a symbolic link; the local driver never follows links "
        "(a key cannot reach outside root_dir)",
    )
