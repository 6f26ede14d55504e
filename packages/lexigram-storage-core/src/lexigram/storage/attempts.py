"""How :class:`~lexigram.storage.store.BlobStore` makes its driver calls: transient
failures retried by its :class:`~lexigram.storage.retry.RetryPolicy` (the driver's
``is_retryable`` is the one retry signal), errors mapped, every operation told to the hooks.

``_failed`` is the one retry policy, used by ``_run`` (a whole call under the policy) and
by the loops ``stream``, ``upload``, ``download`` and ``info`` write out themselves (an
extra coroutine per call would cost more than the rest of a memory-driver read).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from time import perf_counter
from typing import TYPE_CHECKING, Any, TypeVar

from lexigram.storage.body import UploadBody
from lexigram.storage.driver import BlobDriver
from lexigram.storage.errors import DriverError, ErrorCode, StorageError
from lexigram.storage.info import BlobInfo
from lexigram.storage.instrumentation import Hook, OperationEvent
from lexigram.storage.retry import RetryPolicy

__all__ = ["Attempts", "missing_fails", "moved"]

logger = logging.getLogger("lexigram.storage")

T = TypeVar("T")


class Attempts:
    """The part of :class:`~lexigram.storage.store.BlobStore` that runs driver calls."""

    __slots__ = ()

    name: str
    _driver: BlobDriver
    _retry: RetryPolicy
    _hooks: list[Hook]

    if TYPE_CHECKING:

        def _error(
            self, operation: str, exc: BaseException, key: str | None, *, attempts: int = 1
        ) -> StorageError: ...

        def _cause(self, exc: BaseException) -> BaseException: ...

    async def _run(
        self,
        operation: str,
        key: str | None,
        call: Callable[[], Awaitable[T]],
        *,
        retryable: bool = False,
        restart: Callable[[], Any] | None = None,
        body: UploadBody | None = None,
        empty_range: bool = False,
        empty: object = b"",
        if_match: str | None = None,
    ) -> T:
        """Call, retrying transient failures, mapping errors, emitting hooks: the policy of
        one operation. (``upload``, ``download`` and ``info`` write this loop out.)"""
        started = perf_counter() if self._hooks else 0.0
        attempt = 1
        while True:
            try:
                result = await call()
                break
            except Exception as exc:
                if await self._failed(
                    operation,
                    key,
                    missing_fails(self._driver, exc, if_match),
                    attempt,
                    started,
                    retryable=retryable,
                    restart=restart,
                    body=body,
                    empty_range=empty_range,
                ):
                    result = empty  # type: ignore[assignment]  # a range past the end reads nothing
                    break
                attempt += 1
        if self._hooks:
            self._emit(
                operation, key, started, None, attempts=attempt, nbytes=moved(operation, result)
            )
        return result

    async def _failed(
        self,
        operation: str,
        key: str | None,
        exc: Exception,
        attempt: int,
        started: float,
        *,
        retryable: bool = False,
        restart: Callable[[], Any] | None = None,
        body: UploadBody | None = None,
        empty_range: bool = False,
        nbytes: int | None = None,
    ) -> bool:
        """The retry policy, once for every operation, after attempt number ``attempt``
        raised ``exc``: return ``False`` after the backoff when the call is to be made
        again (``retryable`` and a transient failure; ``restart`` rewinds its body first),
        ``True`` when ``exc`` is a range past the end that reads as nothing
        (``empty_range``); else raise the mapped error, told to the hooks."""
        if body is not None and body.source_error is not None:
            raise body.source_error from None  # the caller's own data failed
        code = self._driver.classify(exc)
        if empty_range and code is ErrorCode.INVALID_RANGE:
            return True
        if retryable and attempt < self._retry.attempts and self._driver.is_retryable(exc, code):
            logger.debug(
                "retrying %s of %r on backend %r after %s (attempt %d)",
                operation,
                key,
                self.name,
                type(exc).__name__,
                attempt,
            )
            if restart is not None:
                restart()
            await asyncio.sleep(self._retry.delay(attempt))
            return False
        err = self._error(operation, exc, key, attempts=attempt)
        self._emit(operation, key, started, err, attempts=attempt, nbytes=nbytes)
        raise err from self._cause(exc)  # redacted when a secret shows in its chain

    def _emit(
        self,
        operation: str,
        key: str | None,
        started: float,
        error: StorageError | None,
        *,
        attempts: int = 1,
        nbytes: int | None = None,
    ) -> None:
        if not self._hooks:
            return
        event = OperationEvent(
            backend=self.name,
            driver=self._driver.name,
            operation=operation,
            key=key,
            duration_s=perf_counter() - started,
            error=error,
            attempts=attempts,
            nbytes=nbytes,
            location=self._driver.location,
        )
        for hook in self._hooks:
            try:
                hook(event)
            except Exception:
                logger.exception("instrumentation hook %r failed", hook)


def moved(operation: str, result: object) -> int | None:
    """The bytes an operation read or wrote, for the hooks (``None``: it moves none)."""
    if operation == "upload" and isinstance(result, BlobInfo):
        return result.size
    if operation == "download":
        if isinstance(result, bytes):
            return len(result)
        if isinstance(result, int):  # download_into
            return result
    return None


def missing_fails(driver: BlobDriver, exc: Exception, if_match: str | None) -> Exception:
    """A missing key fails a read's ``if_match`` (S3 and GCS answer 404, Azure 412)."""
    if if_match is not None and driver.classify(exc) is ErrorCode.NOT_FOUND:
        failed = DriverError(ErrorCode.FAILED_PRECONDITION, "the key does not exist")
        failed.__cause__ = exc
        return failed
    return exc
