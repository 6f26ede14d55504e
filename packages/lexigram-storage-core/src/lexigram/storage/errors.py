"""The error hierarchy and the fixed set of error codes.

One root, :class:`StorageError`. Drivers never build these by hand: they raise
:class:`DriverError` (or let their SDK's exception through) and supply a mapping to
:class:`ErrorCode`; the core builds the typed, user-facing error from the code and
chains the driver's exception as ``__cause__`` (see ``lexigram.storage.driver``).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

__all__ = [
    "ERROR_CLASSES",
    "BlobExistsError",
    "BlobNotFoundError",
    "BucketNotFoundError",
    "ConfigError",
    "DeleteManyError",
    "DriverError",
    "DriverNotFoundError",
    "ErrorCode",
    "InsecureConfigError",
    "IntegrityError",
    "InvalidArgumentError",
    "InvalidKeyError",
    "NotModifiedError",
    "NotSupportedError",
    "PermissionDeniedError",
    "PreconditionFailedError",
    "StorageError",
    "StorageUnavailableError",
    "StoreClosedError",
    "SyncInEventLoopError",
]


class ErrorCode(enum.Enum):
    """What went wrong, independent of the backend. Each driver maps its SDK's errors here."""

    UNKNOWN = "unknown"
    NOT_FOUND = "not_found"
    ALREADY_EXISTS = "already_exists"
    FAILED_PRECONDITION = "failed_precondition"
    PERMISSION_DENIED = "permission_denied"
    INVALID_ARGUMENT = "invalid_argument"
    INVALID_KEY = "invalid_key"
    INVALID_RANGE = "invalid_range"
    NOT_SUPPORTED = "not_supported"
    UNAVAILABLE = "unavailable"
    BUCKET_NOT_FOUND = "bucket_not_found"
    DATA_CORRUPTED = "data_corrupted"
    NOT_MODIFIED = "not_modified"


class StorageError(Exception):
    """Root of every error raised by lexigram-storage.

    ``backend`` is the backend's name in the config, ``driver`` the driver's name,
    ``key`` the object key concerned (when there is one), ``code`` the :class:`ErrorCode`.
    """

    code: ErrorCode = ErrorCode.UNKNOWN

    def __init__(
        self,
        message: str,
        *,
        backend: str | None = None,
        driver: str | None = None,
        key: str | None = None,
        operation: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.backend = backend
        self.driver = driver
        self.key = key
        self.operation = operation

    def __str__(self) -> str:
        return self.message


class BlobNotFoundError(StorageError, FileNotFoundError):
    """The object does not exist."""

    code = ErrorCode.NOT_FOUND

    def __str__(self) -> str:  # FileNotFoundError's own __str__ would print errno fields
        return self.message


class BlobExistsError(StorageError, FileExistsError):
    """``mode="create"`` was asked and the key already exists."""

    code = ErrorCode.ALREADY_EXISTS

    def __str__(self) -> str:
        return self.message


class PreconditionFailedError(StorageError):
    """A conditional request's condition did not hold (HTTP 412)."""

    code = ErrorCode.FAILED_PRECONDITION


class NotModifiedError(StorageError):
    """A read with ``if_none_match=etag`` found the object still at that ETag (HTTP 304):
    the copy the caller holds is current, so nothing was read."""

    code = ErrorCode.NOT_MODIFIED


class PermissionDeniedError(StorageError, PermissionError):
    """The credentials are wrong or lack the permission for this operation."""

    code = ErrorCode.PERMISSION_DENIED

    def __str__(self) -> str:
        return self.message


class InvalidArgumentError(StorageError, ValueError):
    """An argument is not acceptable (a range, metadata, an expiry...)."""

    code = ErrorCode.INVALID_ARGUMENT


class InvalidKeyError(InvalidArgumentError):
    """The object key breaks the key rules (see ``lexigram.storage.keys``), or a limit of
    the backend (a driver reports those with ``ErrorCode.INVALID_KEY``)."""

    code = ErrorCode.INVALID_KEY


class NotSupportedError(StorageError, NotImplementedError):
    """The driver cannot do this operation; never a silent downgrade."""

    code = ErrorCode.NOT_SUPPORTED


class StorageUnavailableError(StorageError):
    """A transient failure: throttling, timeouts, 5xx, refused connections. Retried first."""

    code = ErrorCode.UNAVAILABLE


class BucketNotFoundError(StorageError):
    """The bucket / container / root the backend is configured with does not exist."""

    code = ErrorCode.BUCKET_NOT_FOUND


class IntegrityError(StorageError):
    """The bytes received do not match the checksum the backend or the client computed."""

    code = ErrorCode.DATA_CORRUPTED


class StoreClosedError(StorageError, RuntimeError):
    """The store (or provider) was closed and cannot be used any more."""


class SyncInEventLoopError(StorageError, RuntimeError):
    """A blocking (``lexigram.storage.sync``) method was called from a thread that runs an
    event loop: it would block that loop (and could deadlock it). Use the async API there."""


class DeleteManyError(StorageError):
    """Some keys of a ``delete_many`` could not be deleted.

    ``failures`` maps each such key to its typed error; ``deleted`` lists the keys
    that were deleted (or were already absent).
    """

    def __init__(
        self,
        message: str,
        *,
        failures: Mapping[str, StorageError],
        deleted: list[str],
        backend: str | None = None,
        driver: str | None = None,
    ) -> None:
        super().__init__(message, backend=backend, driver=driver, operation="delete_many")
        self.failures = dict(failures)
        self.deleted = deleted


class ConfigError(StorageError, ValueError):
    """The configuration is invalid; the message names the path (``@ $.storage...``)."""


class InsecureConfigError(ConfigError):
    """``validate_production_security`` found placeholder or demo credentials in production."""

    def __init__(self, message: str, *, findings: list[str]) -> None:
        super().__init__(message)
        self.findings = findings


class DriverNotFoundError(ConfigError, LookupError):
    """No driver of that name is installed (or its entry point failed to load).

    A :class:`ConfigError` too: the config names a driver this installation lacks."""


class DriverError(Exception):
    """Raised *by drivers* to report a condition with a known :class:`ErrorCode`.

    Not user-facing: the core turns it into the matching :class:`StorageError`
    subclass, with ``detail`` appended to the message. ``detail`` must never contain
    a secret.
    """

    def __init__(self, code: ErrorCode, detail: str = "") -> None:
        super().__init__(detail or code.value)
        self.code = code
        self.detail = detail


ERROR_CLASSES: dict[ErrorCode, type[StorageError]] = {
    ErrorCode.UNKNOWN: StorageError,
    ErrorCode.NOT_FOUND: BlobNotFoundError,
    ErrorCode.ALREADY_EXISTS: BlobExistsError,
    ErrorCode.FAILED_PRECONDITION: PreconditionFailedError,
    ErrorCode.PERMISSION_DENIED: PermissionDeniedError,
    ErrorCode.INVALID_ARGUMENT: InvalidArgumentError,
    ErrorCode.INVALID_KEY: InvalidKeyError,
    ErrorCode.INVALID_RANGE: InvalidArgumentError,
    ErrorCode.NOT_SUPPORTED: NotSupportedError,
    ErrorCode.UNAVAILABLE: StorageUnavailableError,
    ErrorCode.BUCKET_NOT_FOUND: BucketNotFoundError,
    ErrorCode.DATA_CORRUPTED: IntegrityError,
    ErrorCode.NOT_MODIFIED: NotModifiedError,
}
