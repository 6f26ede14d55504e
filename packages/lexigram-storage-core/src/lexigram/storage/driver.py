"""The driver SPI: the few primitive operations a backend implements.

Applications never call a driver directly: :class:`~lexigram.storage.store.BlobStore`
wraps one and adds all policy once — key validation, argument checks, capability
checks, error mapping, defaults, progress, hooks and the closed state. Each method
below says what the core guarantees before calling it and what the driver must do.

Rules for driver authors:

* Never validate keys; the core has done it. Keys arrive exactly as the user gave them.
* Never build a user-facing error, and never wrap the SDK's exceptions. Let them
  propagate: the core calls :meth:`BlobDriver.classify` (its :class:`ErrorCode`),
  :meth:`BlobDriver.is_retryable` and :meth:`BlobDriver.describe` (the detail of the
  message), redacts every value of :meth:`BlobDriver.secrets` from what it shows, and
  raises the typed error with your exception as ``__cause__``. Raise
  :class:`~lexigram.storage.errors.DriverError` (a code and a detail) only for what the
  SDK does not say itself (a create that lost its race, a checksum that failed...).
* Never re-implement a default: if the backend has no native way to do something,
  leave the base-class method alone (or declare it in :class:`Capabilities`) and the
  core supplies it (download = join(stream), move = copy + delete, delete_many =
  bounded-concurrency deletes, delimiter listing = collapse of a flat listing).
* A driver is created synchronously and cheaply by its factory; open network clients
  lazily on first use and release them in :meth:`BlobDriver.close`.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any, ClassVar, Generic, Literal, TypeVar

import attrs

from lexigram.storage.body import UploadBody
from lexigram.storage.conditions import Conditions
from lexigram.storage.errors import DriverError, ErrorCode
from lexigram.storage.headers import NO_HEADERS, HttpHeaders
from lexigram.storage.info import BlobInfo
from lexigram.storage.presigned_post import PostPolicyRequest, PresignedPost
from lexigram.storage.transfer import RangeRead, read_ranges, read_ranges_into

__all__ = [
    "BlobDriver",
    "Capabilities",
    "DriverSpec",
    "PresignRequest",
    "buffer_too_small",
    "classify_builtin",
    "describe_builtin",
]

ConfigT = TypeVar("ConfigT")


@attrs.frozen(kw_only=True)
class Capabilities:
    """What a driver can do natively. The core raises ``NotSupportedError`` naming the
    driver and operation for anything a driver cannot do and the core cannot emulate."""

    #: ``upload(mode="create")`` is atomic (conditional put / exclusive create).
    create_only: bool = True
    #: ``copy`` happens inside the backend (otherwise the core streams through the client).
    server_side_copy: bool = True
    #: the driver's ``move`` is native and atomic (otherwise the core does copy + delete).
    native_move: bool = False
    #: ``list(delimiter=...)`` is native (otherwise the core collapses a flat listing).
    native_delimiter: bool = True
    #: methods ``get_presigned_url`` accepts; empty: not supported.
    presign_methods: frozenset[str] = frozenset({"GET", "PUT"})
    #: longest expiry a presigned URL may have.
    max_presign_expiry: timedelta = timedelta(days=7)
    #: the driver has a URL of its own for an object (``native_url``).
    native_urls: bool = True
    #: keys per ``delete_many`` call to the driver (the core splits larger requests).
    delete_batch_size: int = 1000
    #: user metadata is stored and returned.
    metadata: bool = True
    #: characters the backend would change in a key (Azure turns ``\\`` into ``/``); the
    #: core refuses keys holding them with ``InvalidKeyError``, so no key is ever aliased.
    forbidden_key_chars: str = ""
    #: ``put`` stores the HTTP headers it is given (``headers=``) and ``head``/``copy``
    #: return and keep them; otherwise uploads that set one raise ``NotSupportedError``.
    http_headers: bool = False
    #: the HTTP headers a presigned PUT URL can bind (the uploader must send them).
    presign_put_headers: frozenset[str] = frozenset()
    #: ``get_presigned_post`` (browser form uploads with a signed policy) is supported.
    presign_post: bool = False
    #: ``upload(if_match=)`` and ``delete(if_match=)`` are atomic compare-and-set (the
    #: driver's ``put``/``delete`` take ``if_match``); otherwise ``NotSupportedError``.
    conditional_write: bool = False
    #: reads take ``if_match``/``if_none_match`` atomically (the driver's ``stream``,
    #: ``read``, ``read_into`` and ``head`` take ``conditions``); otherwise the core
    #: checks ``info`` itself and refuses the other reads with ``NotSupportedError``.
    conditional_read: bool = False
    #: the driver's ``list`` takes ``start_after`` and starts there (otherwise the core
    #: skips the keys up to it).
    native_start_after: bool = False


@attrs.frozen(kw_only=True)
class PresignRequest:
    """Arguments of a presigned URL, validated by the core."""

    method: str
    expires_in: timedelta
    content_type: str | None = None
    content_disposition: str | None = None
    #: for PUT: headers the URL is signed with, so the uploader must send them (only
    #: those in ``capabilities.presign_put_headers`` reach the driver).
    cache_control: str | None = None
    content_encoding: str | None = None
    content_language: str | None = None

    @property
    def headers(self) -> HttpHeaders:
        """The four object headers of the request (content type aside)."""
        return HttpHeaders(
            cache_control=self.cache_control,
            content_disposition=self.content_disposition,
            content_encoding=self.content_encoding,
            content_language=self.content_language,
        )


class BlobDriver(abc.ABC):
    """Base class of every driver. Subclass it and implement the abstract methods."""

    #: the driver's registered name ("s3", "gcs", ...); set by subclasses.
    name: ClassVar[str] = ""
    #: what the driver can do natively.
    capabilities: ClassVar[Capabilities] = Capabilities()
    #: deletes in flight at once in the default :meth:`delete_many`.
    delete_concurrency: int = 16
    #: bytes per ranged read of the default parallel :meth:`read` / :meth:`read_into`
    #: (over :meth:`read_range`); 0: no parallel reads.
    read_part_size: int = 0
    #: ranged reads in flight at once in a parallel read.
    read_concurrency: int = 4

    # -- description ------------------------------------------------------------------

    @property
    def location(self) -> str:
        """Where the data lives, for messages: e.g. ``bucket 'photos'``. No secrets."""
        return self.name

    @property
    def public_base_url(self) -> str | None:
        """``public_url`` / ``base_url`` from the config, if any. The core joins keys to it."""
        return None

    # -- writing ------------------------------------------------------------------------

    @abc.abstractmethod
    async def put(
        self,
        key: str,
        body: UploadBody,
        *,
        content_type: str,
        metadata: Mapping[str, str],
        create_only: bool,
        headers: HttpHeaders = NO_HEADERS,
        if_match: str | None = None,
    ) -> BlobInfo:
        """Store ``body`` under ``key`` and return its info.

        ``headers``: the HTTP headers to store with the object (passed only when one is
        set and ``capabilities.http_headers`` is true; values are already checked).

        Core guarantees: ``key`` is valid, ``content_type`` is set, ``metadata`` keys and
        values are valid, ``create_only`` is only true if ``capabilities.create_only``.
        Driver must: make the write atomic — a reader sees the old object or the whole
        new one, never part; if the body raises or the task is cancelled midway, leave
        the old object as it was and nothing half-written behind (abort multipart uploads,
        remove temp files); with ``create_only`` fail with ``ALREADY_EXISTS`` if the key
        exists, atomically. Consume the body with bounded memory. ``if_match`` (only
        passed if ``capabilities.conditional_write``; normalised, unquoted): replace the
        object only if its ETag is that, atomically; ``FAILED_PRECONDITION`` otherwise,
        also when the key does not exist.
        """

    # -- reading ------------------------------------------------------------------------

    @abc.abstractmethod
    def stream(
        self,
        key: str,
        *,
        start: int,
        end: int | None,
        chunk_size: int,
        conditions: Conditions | None = None,
    ) -> AsyncIterator[bytes]:
        """Yield the bytes ``[start, end)`` of the object (``end=None``: to its end).

        Core guarantees: ``0 <= start``, ``end is None or end > start``. Driver must:
        raise ``NOT_FOUND`` (on the first iteration at the latest) if the key does not
        exist; raise ``INVALID_RANGE`` if ``start`` is at or past the end of a non-empty
        object (the core turns that into an empty result), or return nothing; keep
        memory bounded by about ``chunk_size``; raise (never end early) if the
        connection is cut short. ``conditions`` (only passed if
        ``capabilities.conditional_read``): checked against the object read, atomically
        (``FAILED_PRECONDITION`` / ``NOT_MODIFIED``) — here and in ``read``,
        ``read_into`` and ``head``.
        """

    async def read(
        self, key: str, *, start: int, end: int | None, conditions: Conditions | None = None
    ) -> bytes:
        """The bytes ``[start, end)`` in one piece. Default: join :meth:`stream`.

        With ``read_part_size`` set (and :meth:`read_range` implemented), the default is a
        parallel ranged read (:func:`lexigram.storage.transfer.read_ranges`). Override
        when the backend has a faster whole-object read.
        """
        if self.read_part_size > 0:
            return await read_ranges(self, key, start=start, end=end, conditions=conditions)
        more = {} if conditions is None else {"conditions": conditions}
        parts = [
            chunk
            async for chunk in self.stream(key, start=start, end=end, chunk_size=1 << 20, **more)
        ]
        return b"".join(parts)

    async def read_into(
        self,
        key: str,
        buffer: memoryview,
        *,
        start: int,
        end: int | None,
        conditions: Conditions | None = None,
    ) -> int:
        """Write the bytes ``[start, end)`` into ``buffer`` from its offset 0 and return
        how many were written. Default: copy :meth:`stream` into it.

        Core guarantees: as for :meth:`stream`, and ``buffer`` is a writable, flat
        memoryview of unsigned bytes. Driver must: raise ``INVALID_ARGUMENT`` naming the
        size needed when the bytes do not fit (the core may retry the whole call, so
        writing again from offset 0 must be safe). With ``read_part_size`` set (and
        :meth:`read_range` implemented), the default is a parallel ranged read writing each
        part in place (:func:`lexigram.storage.transfer.read_ranges_into`).
        """
        if self.read_part_size > 0:
            return await read_ranges_into(
                self, key, buffer, start=start, end=end, conditions=conditions
            )
        pos = 0
        room = buffer.nbytes
        more = {} if conditions is None else {"conditions": conditions}
        async for chunk in self.stream(key, start=start, end=end, chunk_size=1 << 20, **more):
            n = len(chunk)
            if pos + n > room:
                raise DriverError(ErrorCode.INVALID_ARGUMENT, buffer_too_small(room, pos + n))
            buffer[pos : pos + n] = chunk
            pos += n
        return pos

    async def read_range(
        self,
        key: str,
        *,
        start: int,
        end: int,
        conditions: Conditions | None = None,
        into: memoryview | None = None,
    ) -> RangeRead:
        """The range-read primitive of parallel reads: the bytes ``[start, end)`` (fewer
        when the object ends first) with the object's total size and ETag, from one request.

        ``into`` (a ``download_into``): room for the bytes (``end - start`` of it) in the
        caller's buffer; a driver that can write them there does so and returns
        ``RangeRead(into[:n], ...)``, otherwise the core copies its bytes there.

        Core guarantees: ``0 <= start < end``. Driver must: raise ``NOT_FOUND`` for a
        missing key, ``INVALID_RANGE`` if ``start`` is at or past the end of a non-empty
        object (or return no bytes), check ``conditions`` as :meth:`stream` does. Only
        called when ``read_part_size`` is set.
        """
        raise DriverError(ErrorCode.NOT_SUPPORTED, "read_range")

    async def check_whole(self, first: RangeRead, data: memoryview) -> None:
        """Check a whole object read by parallel ranged reads against the digest its
        first answer carried (``first.checksum``, set by :meth:`read_range`); raise
        ``DATA_CORRUPTED`` if they differ. Default: nothing to check."""
        return None

    @abc.abstractmethod
    async def head(self, key: str, *, conditions: Conditions | None = None) -> BlobInfo:
        """Info of one object; ``NOT_FOUND`` if it does not exist."""

    async def exists(self, key: str) -> bool:
        """Default: :meth:`head` and map not-found to False."""
        try:
            await self.head(key)
        except Exception as exc:
            if self.classify(exc) is ErrorCode.NOT_FOUND:
                return False
            raise
        return True

    @abc.abstractmethod
    def list(
        self, prefix: str, *, delimiter: str | None, start_after: str | None = None
    ) -> AsyncIterator[BlobInfo]:
        """Every object whose key starts with ``prefix``, in lexicographic order of key
        (code-point order, the same as UTF-8 byte order), pagination hidden.

        With ``delimiter`` (only called so if ``capabilities.native_delimiter``): keys
        holding the delimiter after the prefix are rolled up into one entry per common
        prefix (``BlobInfo(path=common_prefix, size=0, is_prefix=True)``), merged into
        the same order. ``start_after`` (only passed if ``capabilities.native_start_after``):
        begin with the keys after it (the core drops any entry not strictly after it, so
        an inclusive start is fine). Fetch pages lazily: the core stops early.
        """

    # -- deleting -----------------------------------------------------------------------

    @abc.abstractmethod
    async def delete(self, key: str, *, if_match: str | None = None) -> None:
        """Delete ``key``. A missing key is not an error: return normally.

        ``if_match`` (only passed if ``capabilities.conditional_write``): delete only if
        the ETag is that, atomically; else (also for a missing key) ``FAILED_PRECONDITION``.
        """

    async def delete_many(self, keys: Sequence[str]) -> Mapping[str, BaseException]:
        """Delete up to ``capabilities.delete_batch_size`` keys; return the failures by key.

        Default: concurrent :meth:`delete` calls (at most ``delete_concurrency`` at a time).
        Override with the backend's batch call. Missing keys are not failures.
        """
        failures: dict[str, BaseException] = {}
        gate = asyncio.Semaphore(max(1, self.delete_concurrency))

        async def one(key: str) -> None:
            async with gate:
                try:
                    await self.delete(key)
                except Exception as exc:
                    failures[key] = exc

        await asyncio.gather(*(one(k) for k in keys))
        return failures

    # -- copying ------------------------------------------------------------------------

    async def copy(self, src: str, dst: str) -> None:
        """Server-side copy (only called if ``capabilities.server_side_copy``).

        Core guarantees ``src != dst``. ``NOT_FOUND`` if ``src`` is missing. Content type,
        metadata and HTTP headers are copied with the bytes.
        """
        raise DriverError(ErrorCode.NOT_SUPPORTED, "copy")

    async def move(self, src: str, dst: str) -> None:
        """Native atomic rename (only called if ``capabilities.native_move``)."""
        raise DriverError(ErrorCode.NOT_SUPPORTED, "move")

    # -- URLs ---------------------------------------------------------------------------

    def native_url(self, key: str) -> str:
        """The backend's own URL of the object (only if ``capabilities.native_urls``)."""
        raise DriverError(ErrorCode.NOT_SUPPORTED, "native_url")

    async def presign(self, key: str, request: PresignRequest) -> str:
        """A presigned URL (only called for a method in ``capabilities.presign_methods``,
        with ``expires_in`` within ``capabilities.max_presign_expiry``)."""
        raise DriverError(ErrorCode.NOT_SUPPORTED, "presign")

    # -- health and lifecycle -----------------------------------------------------------

    @abc.abstractmethod
    async def ping(self) -> None:
        """A cheap real round trip that proves the backend and its bucket are usable.

        Raise on failure (``BUCKET_NOT_FOUND`` if the bucket is missing). The core times
        it, bounds it with a timeout and never lets it raise to the caller.
        """

    async def close(self) -> None:  # noqa: B027 - optional hook, default does nothing
        """Release clients and connection pools. Called once by the core."""

    # -- error mapping ------------------------------------------------------------------

    def classify(self, exc: BaseException) -> ErrorCode:
        """Map an exception raised by this driver or its SDK to an :class:`ErrorCode`.

        Override to add the SDK's exceptions and call ``super().classify(exc)`` for the
        rest. The base maps :class:`DriverError`, ``FileNotFoundError``,
        ``FileExistsError``, ``PermissionError``, timeouts and connection errors.
        """
        return classify_builtin(exc)

    def is_retryable(self, exc: BaseException, code: ErrorCode) -> bool:
        """Whether the core may retry a failed idempotent operation (the one retry
        signal). Default: ``UNAVAILABLE``. Override to refuse what the SDK has already
        retried itself."""
        return code is ErrorCode.UNAVAILABLE

    def describe(self, exc: BaseException) -> str:
        """The one-line detail of ``exc`` in the user's error message (after ``: ``).

        Override for the SDK's exceptions: keep its error code, HTTP status and one-line
        reason, and leave out what it carries beyond them (response bodies, headers,
        signing material, URL query strings). The core redacts :meth:`secrets` from the
        result and shortens it. Default: a :class:`DriverError`'s detail, else
        ``TypeName: text`` of the exception.
        """
        return describe_builtin(exc)

    def secrets(self) -> Sequence[str]:
        """Every secret value this driver holds (keys, tokens, passwords, signing keys):
        the core removes each from every message, error and log line it writes.

        Read when an error is reported, so it may grow once the client is made (keys a
        credential chain found). Default: the ``secret_field`` values of the driver's
        ``config`` attribute, if it has one (an attrs config class).
        """
        from lexigram.storage.config.fields import secret_values

        return secret_values(getattr(self, "config", None))

    # -- browser uploads ------------------------------------------------------------------

    async def presign_post(self, key: str, request: PostPolicyRequest) -> PresignedPost:
        """A signed POST form policy for ``key`` (only called if
        ``capabilities.presign_post``; ``request`` is validated by the core). The policy
        must make the backend refuse a file larger than ``request.max_size``, with
        another content type than ``request.content_type``, or after the expiry."""
        raise DriverError(ErrorCode.NOT_SUPPORTED, "presign_post")


def buffer_too_small(room: int, needed: int, *, exact: bool = False) -> str:
    """The message of :meth:`BlobDriver.read_into` for bytes that do not fit its buffer:
    ``needed`` is the size of the bytes asked for (``exact``) or a lower bound of it."""
    size = f"{needed}" if exact else f"at least {needed}"
    return (
        f"the buffer holds {room} bytes but the bytes asked for are {size}: pass a buffer "
        "as large as info(path).size (or the range asked for)"
    )


def describe_builtin(exc: BaseException) -> str:
    """The part of error description that holds for every driver: a
    :class:`DriverError`'s detail, else ``TypeName: text`` on one line (or the type name)."""
    if isinstance(exc, DriverError):
        return exc.detail
    text = " ".join(str(exc).split())
    name = type(exc).__name__
    return f"{name}: {text}" if text else name


def classify_builtin(exc: BaseException) -> ErrorCode:
    """The part of error classification that holds for every driver."""
    if isinstance(exc, DriverError):
        return exc.code
    if isinstance(exc, FileNotFoundError):
        return ErrorCode.NOT_FOUND
    if isinstance(exc, FileExistsError):
        return ErrorCode.ALREADY_EXISTS
    if isinstance(exc, PermissionError):
        return ErrorCode.PERMISSION_DENIED
    if isinstance(exc, TimeoutError | ConnectionError):
        return ErrorCode.UNAVAILABLE
    return ErrorCode.UNKNOWN


@attrs.frozen(kw_only=True)
class DriverSpec(Generic[ConfigT]):
    """What a driver package registers under the entry-point group
    ``lexigram.storage.drivers``: e.g. in its pyproject
    ``[project.entry-points."lexigram.storage.drivers"] s3 = "lexigram.storage.s3.spec:S3"``.

    The module the entry point names must be cheap to import (no SDK import): the
    ``factory`` imports the SDK when a store is first created.
    """

    name: str
    #: attrs class the driver's settings are structured into (``forbid_extra_keys``).
    config_class: type[ConfigT]
    #: builds a driver from its structured config; sync and cheap.
    factory: Callable[[ConfigT], BlobDriver]
    #: the distribution that provides it (named in errors).
    distribution: str
    description: str = ""
    #: extra config checks after structuring: return problems as (field, message) pairs;
    #: any problem is a ``ConfigError`` at config time.
    validate: Callable[[ConfigT], Sequence[tuple[str, str]]] | None = None
    #: driver-specific production checks (weak signing keys...): (field, message) pairs,
    #: reported by ``StorageConfig.validate_production_security``.
    security_check: Callable[[ConfigT], Sequence[tuple[str, str]]] | None = None
    #: URL schemes that open this driver (``open_store("s3://bucket/prefix")``); empty:
    #: none. See :mod:`lexigram.storage.urls`.
    schemes: tuple[str, ...] = ()
    #: the config field a store URL's location fills (``bucket`` for ``s3://bucket/prefix``);
    #: None: the URL has no location, its host and path are the prefix (``memory://``).
    url_location: str | None = None
    #: where that location is in the URL: ``"host"`` (``scheme://LOCATION/prefix``) or
    #: ``"path"`` (``scheme:///a/directory``, a filesystem path; no prefix).
    url_location_from: Literal["host", "path"] = "host"

    def build(self, config: Any) -> BlobDriver:
        return self.factory(config)
