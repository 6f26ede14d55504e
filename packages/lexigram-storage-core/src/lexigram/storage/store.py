"""BlobStore: the concrete public face over any driver. All policy lives here, once."""

from __future__ import annotations

import asyncio
import builtins
import logging
import os
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import timedelta
from functools import partial
from time import perf_counter
from types import TracebackType
from typing import Any, Literal, overload
from urllib.parse import quote

from lexigram.storage.arguments import (
    check_header,
    check_metadata,
    check_range,
    conditions_of,
    create_only_of,
    etag_of,
    writable_view,
)
from lexigram.storage.attempts import Attempts, missing_fails
from lexigram.storage.body import BlobData, ProgressCallback, UploadBody
from lexigram.storage.conditions import Conditions
from lexigram.storage.content_types import guess_content_type
from lexigram.storage.driver import BlobDriver, PresignRequest, describe_builtin
from lexigram.storage.durations import format_duration
from lexigram.storage.errors import (
    ERROR_CLASSES,
    DeleteManyError,
    DriverError,
    ErrorCode,
    InvalidArgumentError,
    InvalidKeyError,
    NotSupportedError,
    StorageError,
    StoreClosedError,
)
from lexigram.storage.files import download_to_file, upload_from_file, upload_path
from lexigram.storage.header_values import (
    content_type_problem,
    disposition_problem,
)
from lexigram.storage.headers import HttpHeaders, check_header_value, headers_of
from lexigram.storage.info import BlobInfo, HealthStatus
from lexigram.storage.instrumentation import Hook, default_hooks
from lexigram.storage.keys import validate_key, validate_prefix
from lexigram.storage.listing import after_key, check_list_window, collapse_prefixes
from lexigram.storage.presigned_post import PostPolicyRequest, PresignedPost
from lexigram.storage.readers import DEFAULT_BLOCK_SIZE, BlobReader, BlobWriter
from lexigram.storage.retry import RetryPolicy
from lexigram.storage.secrets import Redactor, without_url_queries

__all__ = ["DEFAULT_CHUNK_SIZE", "BlobStore", "UploadMode"]

logger = logging.getLogger("lexigram.storage")

DEFAULT_CHUNK_SIZE = 1024 * 1024
UploadMode = Literal["overwrite", "create"]

#: how many accepted keys a store remembers (each store its own; none outlive it)
_KEYS_KEPT = 4096

_HINTS: dict[ErrorCode, str] = {
    ErrorCode.NOT_FOUND: "Check the key, or list its prefix to see what exists.",
    ErrorCode.ALREADY_EXISTS: (
        "It was uploaded with mode='create'; use mode='overwrite' to replace it, or pick "
        "another key."
    ),
    ErrorCode.FAILED_PRECONDITION: "The object changed meanwhile: read it again and retry.",
    ErrorCode.PERMISSION_DENIED: (
        "Check the backend's credentials and that they grant this operation on this "
        "bucket/container."
    ),
    ErrorCode.INVALID_ARGUMENT: "The backend refused the request as invalid; check the arguments.",
    ErrorCode.INVALID_RANGE: "The range lies outside the object.",
    ErrorCode.INVALID_KEY: "This backend cannot store that key as it is: choose another key.",
    ErrorCode.NOT_SUPPORTED: "Use another operation or a driver that supports it.",
    ErrorCode.UNAVAILABLE: (
        "This is usually transient (network, throttling, server error): retry later, "
        "and check the endpoint and the network if it persists."
    ),
    ErrorCode.BUCKET_NOT_FOUND: ("Create it, or fix its name in the backend's config."),
    ErrorCode.DATA_CORRUPTED: (
        "The bytes failed their integrity check, so they were not used. Retry; if it "
        "persists, check for a proxy or disk that alters data."
    ),
    ErrorCode.UNKNOWN: "See the chained exception for the backend's own error.",
    ErrorCode.NOT_MODIFIED: "The copy you hold (at that ETag) is current: keep using it.",
}


class BlobStore(Attempts):
    """One configured backend: validates, maps errors, checks capabilities and supplies
    the defaults, over a :class:`~lexigram.storage.driver.BlobDriver`.

    Implements :class:`~lexigram.storage.protocol.BlobStoreProtocol`. Obtain one from
    :class:`~lexigram.storage.provider.StorageProvider`, or build one directly:
    ``BlobStore(driver, name="avatars")``.
    """

    __slots__ = ("_closed", "_driver", "_hooks", "_keys", "_redactor", "_retry", "name")

    def __init__(
        self,
        driver: BlobDriver,
        *,
        name: str | None = None,
        retry: RetryPolicy | None = None,
        hooks: Iterable[Hook] = (),
        redactor: Redactor | None = None,
    ) -> None:
        self._driver = driver
        self.name = name if name is not None else driver.name
        self._retry = retry if retry is not None else RetryPolicy()
        self._hooks: list[Hook] = [*default_hooks(), *hooks]
        # Every message is scrubbed of the driver's secrets (``driver.secrets()``, read
        # when an error is reported) and of the ones given here.
        self._redactor = redactor
        self._closed = False
        # keys this store accepted lately: a hit costs one dict lookup
        self._keys: dict[str, None] = {}

    def __repr__(self) -> str:
        driver = self._driver
        return (
            f"BlobStore(name={self.name!r}, driver={driver.name!r}, location={driver.location!r})"
        )

    # -- introspection ------------------------------------------------------------------

    @property
    def driver(self) -> BlobDriver:
        """The driver underneath (for driver-specific needs; bypasses all policy)."""
        return self._driver

    @property
    def driver_name(self) -> str:
        """The driver's registered name (``"s3"``, ``"local"``, ...); ``name`` is the
        backend's name in the config."""
        return self._driver.name

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called; every operation then raises
        ``StoreClosedError``."""
        return self._closed

    def add_hook(self, hook: Hook) -> None:
        """Call ``hook(event)`` after every operation (for metrics, tracing, logging)."""
        self._hooks.append(hook)

    # -- writing ------------------------------------------------------------------------

    async def upload(
        self,
        path: str,
        data: BlobData,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        mode: UploadMode = "overwrite",
        size: int | None = None,
        progress: ProgressCallback | None = None,
        cache_control: str | None = None,
        content_disposition: str | None = None,
        content_encoding: str | None = None,
        content_language: str | None = None,
        if_match: str | None = None,
    ) -> BlobInfo:
        """Store ``data`` under ``path``; see
        :class:`~lexigram.storage.protocol.BlobStoreProtocol`."""
        if self._closed:
            raise self._closed_error()
        self._valid(path)
        if isinstance(data, os.PathLike):
            return await upload_path(
                self,
                path,
                data,
                content_type=content_type,
                metadata=metadata,
                mode=mode,
                progress=progress,
                cache_control=cache_control,
                content_disposition=content_disposition,
                content_encoding=content_encoding,
                content_language=content_language,
                if_match=if_match,
            )
        headers = self._check_headers(
            path,
            cache_control=cache_control,
            content_disposition=content_disposition,
            content_encoding=content_encoding,
            content_language=content_language,
        )
        more: dict[str, Any] = {"headers": headers} if headers else {}  # optional keywords
        create_only = create_only_of(self.name, path, mode)
        if create_only and not self._driver.capabilities.create_only:
            raise self._unsupported("upload(mode='create')", path)
        match = None if if_match is None else etag_of(self.name, path, "if_match", if_match)
        if match is not None:
            if create_only:
                raise InvalidArgumentError(
                    f"upload({path!r}) got both mode='create' and if_match: mode='create' "
                    "writes only a new key and if_match only replaces an existing one; pass "
                    "one of them.",
                    backend=self.name,
                    key=path,
                )
            if not self._driver.capabilities.conditional_write:
                raise self._unsupported("upload(if_match=...)", path)
        meta = self._check_metadata(path, metadata)
        if content_type is not None:
            check_header(self.name, path, "content_type", content_type_problem(content_type))
        body = UploadBody.from_data(data, size=size, progress=progress)
        ctype = content_type if content_type is not None else guess_content_type(path)
        if match is not None:
            more["if_match"] = match
        started = perf_counter() if self._hooks else 0.0
        attempt = 1
        while True:  # the loop of _run, written out: no extra coroutine per call
            try:
                info = await self._driver.put(
                    path, body, content_type=ctype, metadata=meta, create_only=create_only, **more
                )
                break
            except Exception as exc:
                # In-memory bodies can be sent again: retry transient failures (not for
                # create or if_match, where a retry could trip over its own first,
                # successful attempt).
                await self._failed(
                    "upload",
                    path,
                    exc,
                    attempt,
                    started,
                    retryable=body.data is not None and not create_only and match is None,
                    restart=body.rewind,
                    body=body,
                )
                attempt += 1
        body.finish()
        if self._hooks:
            self._emit("upload", path, started, None, attempts=attempt, nbytes=info.size)
        return info

    # -- reading ------------------------------------------------------------------------

    async def download(
        self,
        path: str,
        *,
        range: tuple[int, int | None] | None = None,
        progress: ProgressCallback | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
    ) -> bytes:
        """The whole object, or the bytes ``range=(start, end)`` as in slicing."""
        if self._closed:
            raise self._closed_error()
        self._valid(path)
        read = self._driver.read
        if if_match is not None or if_none_match is not None:
            more = self._read_conditions("download", path, if_match, if_none_match)
            read = partial(read, conditions=more["conditions"])
        start, end = (0, None) if range is None else check_range(self.name, path, range)
        if progress is not None:
            stream = self.stream(
                path, range=range, progress=progress, if_match=if_match, if_none_match=if_none_match
            )
            return b"".join([c async for c in stream])
        if end is not None and end == start:
            # a missing key (or a failed condition) is still an error
            await self.info(path, if_match=if_match, if_none_match=if_none_match)
            return b""
        started = perf_counter() if self._hooks else 0.0
        attempt = 1
        while True:  # the loop of _run, written out: no extra coroutine per call
            try:
                data = await read(path, start=start, end=end)
                break
            except Exception as exc:
                if await self._failed(
                    "download",
                    path,
                    missing_fails(self._driver, exc, if_match),
                    attempt,
                    started,
                    retryable=True,
                    empty_range=True,
                ):
                    data = b""
                    break
                attempt += 1
        if self._hooks:
            self._emit("download", path, started, None, attempts=attempt, nbytes=len(data))
        return data

    async def download_into(
        self,
        path: str,
        buffer: bytearray | memoryview,
        *,
        range: tuple[int, int | None] | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
    ) -> int:
        """Write the object, or ``range=(start, end)`` of it, into ``buffer`` from its
        start; return the number of bytes written. Drivers with parallel ranged reads
        (s3, r2, and every driver with ``read_range``: gcs, azure, local) write each part
        in place: no copy of the object is held beside it."""
        if self._closed:
            raise self._closed_error()
        self._valid(path)
        more = self._read_conditions("download_into", path, if_match, if_none_match)
        start, end = (0, None) if range is None else check_range(self.name, path, range)
        view = writable_view(self.name, path, buffer)
        if end is not None and end == start:
            await self.info(path, if_match=if_match, if_none_match=if_none_match)
            return 0
        try:
            return await self._run(
                "download",
                path,
                lambda: self._driver.read_into(path, view, start=start, end=end, **more),
                retryable=True,
                empty_range=True,
                empty=0,
                if_match=if_match,
            )
        finally:
            view.release()

    async def stream(
        self,
        path: str,
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        range: tuple[int, int | None] | None = None,
        progress: ProgressCallback | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
    ) -> AsyncIterator[bytes]:
        """The object in chunks of about ``chunk_size`` bytes, in bounded memory."""
        if self._closed:
            raise self._closed_error()
        self._valid(path)
        more = self._read_conditions("stream", path, if_match, if_none_match)
        if not isinstance(chunk_size, int) or chunk_size <= 0:
            raise InvalidArgumentError(
                f"chunk_size must be a positive int, not {chunk_size!r}.",
                backend=self.name,
                key=path,
            )
        start, end = (0, None) if range is None else check_range(self.name, path, range)
        if end is not None and end == start:
            await self.info(path, if_match=if_match, if_none_match=if_none_match)
            return
        total: int | None = None if end is None else end - start
        if progress is not None:
            total = await self._stream_total(path, start, end)
        done = 0
        attempt = 1
        started = perf_counter()
        while True:
            try:
                async for chunk in self._driver.stream(
                    path, start=start, end=end, chunk_size=chunk_size, **more
                ):
                    done += len(chunk)
                    if progress is not None:
                        progress(done, total)
                    yield chunk
                break
            except Exception as exc:
                # Only retried (or read as empty) while nothing was handed to the caller.
                if await self._failed(
                    "stream",
                    path,
                    missing_fails(self._driver, exc, if_match),
                    attempt,
                    started,
                    retryable=done == 0,
                    empty_range=done == 0,
                    nbytes=done,
                ):
                    break
                attempt += 1
        if progress is not None and done == 0:
            progress(0, 0 if total is None else total)
        self._emit("stream", path, started, None, attempts=attempt, nbytes=done)

    async def info(
        self,
        path: str,
        *,
        if_match: str | None = None,
        if_none_match: str | None = None,
    ) -> BlobInfo:
        """Size, content type, last modified (aware UTC), etag and metadata of ``path``."""
        if self._closed:
            raise self._closed_error()
        self._valid(path)
        head = self._driver.head
        check: Conditions | None = None  # conditions checked here, on the HEAD's answer
        if if_match is not None or if_none_match is not None:
            check = conditions_of(self.name, path, if_match, if_none_match)
            if self._driver.capabilities.conditional_read:
                head, check = partial(head, conditions=check), None  # the driver checks them
        started = perf_counter() if self._hooks else 0.0
        attempt = 1
        while True:  # the loop of _run, written out: no extra coroutine per call
            try:
                info = await head(path)
                if check is not None:
                    # One snapshot of the object: checking its etag here is as atomic as
                    # the HEAD.
                    check.check(info.etag)
                break
            except Exception as exc:
                await self._failed(
                    "info",
                    path,
                    missing_fails(self._driver, exc, if_match),
                    attempt,
                    started,
                    retryable=True,
                )
                attempt += 1
        if self._hooks:
            self._emit("info", path, started, None, attempts=attempt)
        return info

    async def exists(self, path: str) -> bool:
        """Whether ``path`` exists."""
        if self._closed:
            raise self._closed_error()
        self._valid(path)
        return await self._run("exists", path, lambda: self._driver.exists(path), retryable=True)

    async def list(
        self,
        prefix: str = "",
        *,
        delimiter: str | None = None,
        start_after: str | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[BlobInfo]:
        """Objects under ``prefix`` in lexicographic key order; with ``delimiter`` the
        common prefixes too (``is_prefix=True``). ``start_after``: only entries strictly
        after it; ``limit``: at most that many entries (pages past them are not read)."""
        if self._closed:
            raise self._closed_error()
        validate_prefix(prefix)
        if delimiter is not None and (not isinstance(delimiter, str) or delimiter == ""):
            raise InvalidArgumentError(
                f"delimiter must be a non-empty str or None, not {delimiter!r}.", backend=self.name
            )
        check_list_window(start_after, limit, backend=self.name)
        if start_after is not None and after_key(prefix, start_after):
            return  # every key under the prefix sorts before start_after
        started = perf_counter()
        caps = self._driver.capabilities
        native = delimiter is None or caps.native_delimiter
        more = {"start_after": start_after} if start_after and caps.native_start_after else {}
        source = self._driver.list(prefix, delimiter=delimiter if native else None, **more)
        if not native:
            assert delimiter is not None
            source = collapse_prefixes(source, prefix, delimiter)
        left = limit
        try:
            async for entry in source:
                if start_after and entry.path <= start_after:
                    continue
                yield entry
                if left is not None:
                    left -= 1
                    if left == 0:
                        break  # no further page is asked for
        except Exception as exc:
            err = self._error("list", exc, prefix or None)
            self._emit("list", prefix, started, err)
            raise err from self._cause(exc)
        self._emit("list", prefix, started, None)

    # -- deleting -----------------------------------------------------------------------

    async def delete(self, path: str, *, if_match: str | None = None) -> None:
        """Delete ``path``; a missing key is not an error. With ``if_match``, delete only
        if its ETag is that (else, and for a missing key, ``PreconditionFailedError``)."""
        if self._closed:
            raise self._closed_error()
        self._valid(path)
        if if_match is not None:
            match = etag_of(self.name, path, "if_match", if_match)
            if not self._driver.capabilities.conditional_write:
                raise self._unsupported("delete(if_match=...)", path)
            await self._run("delete", path, lambda: self._driver.delete(path, if_match=match))
            return
        await self._run("delete", path, lambda: self._driver.delete(path), retryable=True)

    async def delete_many(self, paths: Iterable[str]) -> None:
        """Delete many keys, in batches of the backend's bulk call. Raises
        :class:`DeleteManyError` listing each key that could not be deleted."""
        if self._closed:
            raise self._closed_error()
        keys = list(dict.fromkeys(paths))
        for key in keys:
            self._valid(key)
        size = max(1, self._driver.capabilities.delete_batch_size)
        failures: dict[str, StorageError] = {}
        started = perf_counter()
        for offset in builtins.range(0, len(keys), size):
            batch = keys[offset : offset + size]
            try:
                failed = await self._driver.delete_many(batch)
            except Exception as exc:
                err = self._error("delete_many", exc, None)
                self._emit("delete_many", None, started, err)
                raise err from self._cause(exc)
            for key, failure in failed.items():
                failures[key] = self._error("delete", failure, key)
        if failures:
            deleted = [k for k in keys if k not in failures]
            err = DeleteManyError(
                f"{len(failures)} of {len(keys)} keys could not be deleted from backend "
                f"{self.name!r} ({self._driver.name}, {self._driver.location}); first: "
                f"{next(iter(failures.values()))}. See .failures for each key.",
                failures=failures,
                deleted=deleted,
                backend=self.name,
                driver=self._driver.name,
            )
            self._emit("delete_many", None, started, err)
            raise err
        self._emit("delete_many", None, started, None)

    async def delete_prefix(self, prefix: str, *, all: bool = False) -> int:
        """Delete every object whose key starts with ``prefix``, in batches of the
        backend's bulk delete; return how many were deleted. An empty prefix (the whole
        bucket) is refused unless ``all=True``."""
        if self._closed:
            raise self._closed_error()
        validate_prefix(prefix)
        if prefix == "" and all is not True:
            raise InvalidArgumentError(
                f"delete_prefix('') would delete every object of backend {self.name!r} "
                f"({self._driver.name}, {self._driver.location}): pass a prefix, or all=True "
                "if that is what you mean.",
                backend=self.name,
                driver=self._driver.name,
                operation="delete_prefix",
            )
        size = max(1, self._driver.capabilities.delete_batch_size)
        count = 0
        after: str | None = None
        while True:
            # Each batch is listed from after the last one deleted, so deleting under a
            # listing never disturbs its paging.
            batch = [e.path async for e in self.list(prefix, start_after=after, limit=size)]
            if not batch:
                return count
            await self.delete_many(batch)
            count += len(batch)
            if len(batch) < size:
                return count
            after = batch[-1]

    # -- copying ------------------------------------------------------------------------

    async def copy(self, src: str, dst: str) -> None:
        """Copy ``src`` to ``dst`` (server-side where the backend can)."""
        if self._closed:
            raise self._closed_error()
        self._valid(src)
        self._valid(dst)
        if src == dst:
            await self.info(src)
            return
        if self._driver.capabilities.server_side_copy:
            await self._run("copy", src, lambda: self._driver.copy(src, dst), retryable=True)
            return
        source = await self.info(src)
        body = UploadBody(None, self.stream(src), source.size)
        await self._run(
            "copy",
            dst,
            lambda: self._driver.put(
                dst,
                body,
                content_type=source.content_type or guess_content_type(dst),
                metadata=dict(source.metadata),
                create_only=False,
                **self._headers_to_keep(source),
            ),
            body=body,
        )

    async def move(self, src: str, dst: str) -> None:
        """Move ``src`` to ``dst``: native rename where the backend has one, else copy
        then delete (the source is deleted only once the copy succeeded)."""
        if self._closed:
            raise self._closed_error()
        self._valid(src)
        self._valid(dst)
        if src == dst:
            await self.info(src)
            return
        if self._driver.capabilities.native_move:
            await self._run("move", src, lambda: self._driver.move(src, dst))
            return
        await self.copy(src, dst)
        await self.delete(src)

    # -- URLs ---------------------------------------------------------------------------

    async def get_url(self, path: str) -> str:
        """The public URL: ``public_url``/``base_url`` from the config, else the backend's own."""
        if self._closed:
            raise self._closed_error()
        self._valid(path)
        base = self._driver.public_base_url
        if base:
            return base.rstrip("/") + "/" + quote(path, safe="/")
        if not self._driver.capabilities.native_urls:
            raise self._unsupported(
                "get_url (no public_url/base_url configured and the backend has no URL of its own)",
                path,
            )
        return self._driver.native_url(path)

    async def get_presigned_url(
        self,
        path: str,
        expires_in: timedelta = timedelta(hours=1),
        method: str = "GET",
        *,
        content_type: str | None = None,
        content_disposition: str | None = None,
        cache_control: str | None = None,
        content_encoding: str | None = None,
        content_language: str | None = None,
    ) -> str:
        """A URL that grants ``method`` (GET or PUT) on ``path`` until it expires.

        For PUT, ``content_type`` and the headers given are signed into the URL where the
        backend can (the uploader must then send them and they are stored with the
        object); a header the backend cannot bind raises ``NotSupportedError``."""
        if self._closed:
            raise self._closed_error()
        self._valid(path)
        verb = method.upper() if isinstance(method, str) else method
        caps = self._driver.capabilities
        if verb not in ("GET", "PUT"):
            raise InvalidArgumentError(
                f"Presigned URLs are for GET or PUT, not {method!r}.", backend=self.name, key=path
            )
        self._check_presign_headers(
            path,
            verb,
            content_disposition=content_disposition,
            cache_control=cache_control,
            content_encoding=content_encoding,
            content_language=content_language,
        )
        if verb not in caps.presign_methods:
            raise self._unsupported(f"get_presigned_url(method={verb!r})", path)
        if not isinstance(expires_in, timedelta):
            raise InvalidArgumentError(
                f"expires_in must be a datetime.timedelta, not {type(expires_in).__name__}.",
                backend=self.name,
                key=path,
            )
        if expires_in <= timedelta(0) or expires_in > caps.max_presign_expiry:
            raise InvalidArgumentError(
                f"expires_in={format_duration(expires_in)} for {path!r} is out of range: give "
                f"more than 0 and at most {format_duration(caps.max_presign_expiry)} for "
                f"driver {self._driver.name!r}.",
                backend=self.name,
                key=path,
            )
        if content_type is not None:
            check_header(self.name, path, "content_type", content_type_problem(content_type))
        if content_disposition is not None:
            check_header(
                self.name, path, "content_disposition", disposition_problem(content_disposition)
            )
        request = PresignRequest(
            method=verb,
            expires_in=expires_in,
            content_type=content_type,
            content_disposition=content_disposition,
            cache_control=cache_control,
            content_encoding=content_encoding,
            content_language=content_language,
        )
        return await self._run(
            "get_presigned_url", path, lambda: self._driver.presign(path, request)
        )

    # -- health and lifecycle -----------------------------------------------------------

    async def health_check(self, timeout: float = 5.0) -> HealthStatus:
        """A real round trip to the backend. Never raises; bounded by ``timeout`` seconds."""
        started = perf_counter()
        if self._closed:
            return HealthStatus(False, 0.0, f"backend {self.name!r} is closed")
        try:
            await asyncio.wait_for(self._driver.ping(), timeout)
        except TimeoutError:
            ms = (perf_counter() - started) * 1000
            return HealthStatus(
                False,
                ms,
                f"no answer from backend {self.name!r} ({self._driver.location}) "
                f"within {timeout:g} s",
            )
        except Exception as exc:
            ms = (perf_counter() - started) * 1000
            return HealthStatus(False, ms, str(self._error("health_check", exc, None)))
        return HealthStatus(True, (perf_counter() - started) * 1000, "ok")

    async def close(self) -> None:
        """Release the driver's clients and pools. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._keys.clear()
        await self._driver.close()

    async def __aenter__(self) -> BlobStore:
        if self._closed:
            raise self._closed_error()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- policy helpers -----------------------------------------------------------------

    def _valid(self, key: str) -> None:
        """Refuse a key that breaks the key rules or that this backend cannot store."""
        keys = self._keys
        if type(key) is str and key in keys:
            return
        validate_key(key)
        for char in self._driver.capabilities.forbidden_key_chars:
            if char in key:
                raise InvalidKeyError(
                    f"Invalid key {key!r} for backend {self.name!r}: driver "
                    f"{self._driver.name!r} cannot store {char!r} in a key (the backend would "
                    "change it, so another object would be read or overwritten); use another "
                    "character.",
                    backend=self.name,
                    driver=self._driver.name,
                    key=key,
                )
        if len(keys) >= _KEYS_KEPT:
            keys.clear()
        keys[key] = None

    def _read_conditions(
        self, operation: str, path: str, if_match: str | None, if_none_match: str | None
    ) -> dict[str, Conditions]:
        """The ``conditions=`` keyword of a conditional driver read; {} for a plain one."""
        conditions = conditions_of(self.name, path, if_match, if_none_match)
        if conditions is None:
            return {}
        if not self._driver.capabilities.conditional_read:
            raise self._unsupported(f"{operation}(if_match/if_none_match)", path)
        return {"conditions": conditions}

    def _closed_error(self) -> StoreClosedError:
        return StoreClosedError(
            f"Backend {self.name!r} ({self._driver.name}) is closed: get a new store from "
            "the provider, or do not close it while it is in use.",
            backend=self.name,
            driver=self._driver.name,
        )

    def _check_metadata(self, path: str, metadata: Mapping[str, str] | None) -> dict[str, str]:
        if not metadata:
            return {}
        if not self._driver.capabilities.metadata:
            raise self._unsupported("user metadata", path)
        return check_metadata(self.name, path, metadata)

    def _check_headers(self, path: str, **given: str | None) -> HttpHeaders:
        headers = headers_of(backend=self.name, key=path, **given)
        if headers and not self._driver.capabilities.http_headers:
            names = ", ".join(name for name, _ in headers.set_items())
            raise self._unsupported(f"HTTP headers on upload ({names})", path)
        return headers

    def _headers_to_keep(self, source: BlobInfo) -> dict[str, Any]:
        headers = source.http_headers
        if headers and self._driver.capabilities.http_headers:
            return {"headers": headers}
        return {}

    def _check_presign_headers(self, path: str, verb: str, **given: str | None) -> None:
        for name, value in given.items():
            check_header_value(name, value, backend=self.name, key=path)
        if verb != "PUT":
            for name in ("cache_control", "content_encoding", "content_language"):
                if given[name] is not None:
                    raise InvalidArgumentError(
                        f"{name} applies to presigned PUT URLs (the header the uploader must "
                        f"send), not to {verb}: drop it, or use method='PUT'.",
                        backend=self.name,
                        key=path,
                    )
            return
        allowed = self._driver.capabilities.presign_put_headers
        for name, value in given.items():
            if value is not None and name not in allowed:
                raise self._unsupported(
                    f"get_presigned_url(method='PUT', {name}=...) (the backend cannot bind "
                    "that header to the URL)",
                    path,
                )

    async def _stream_total(self, path: str, start: int, end: int | None) -> int:
        """The number of bytes a read of ``[start, end)`` yields, for progress."""
        size = (await self.info(path)).size
        stop = size if end is None else min(end, size)
        return max(0, stop - start)

    def _unsupported(self, operation: str, key: str | None) -> NotSupportedError:
        return NotSupportedError(
            f"Driver {self._driver.name!r} (backend {self.name!r}) does not support {operation}.",
            backend=self.name,
            driver=self._driver.name,
            key=key,
            operation=operation,
        )

    def _error(
        self, operation: str, exc: BaseException, key: str | None, *, attempts: int = 1
    ) -> StorageError:
        if isinstance(exc, StorageError):
            return exc
        driver = self._driver
        code = driver.classify(exc)
        cls = ERROR_CLASSES[code]
        where = f"backend {self.name!r} ({driver.name}, {driver.location})"
        if driver.location == driver.name:
            where = f"backend {self.name!r} ({driver.name})"
        target = f" of {key!r}" if key is not None else ""
        if code is ErrorCode.NOT_FOUND and key is not None:
            what = f"No object {key!r} in {where}"
        elif code is ErrorCode.ALREADY_EXISTS and key is not None:
            what = f"Object {key!r} already exists in {where}"
        elif code is ErrorCode.BUCKET_NOT_FOUND:
            what = f"The {driver.location} of {where} does not exist ({operation}{target} failed)"
        elif code is ErrorCode.UNAVAILABLE:
            tries = f" after {attempts} attempts" if attempts > 1 else ""
            what = f"{where} is unavailable: {operation}{target} failed{tries}"
        elif code is ErrorCode.INVALID_KEY and key is not None:
            what = f"Invalid key {key!r} for {where}"
        elif code is ErrorCode.NOT_MODIFIED and key is not None:
            what = f"Object {key!r} in {where} is not modified ({operation})"
        elif code is ErrorCode.FAILED_PRECONDITION and key is not None:
            what = f"The condition of {operation} of {key!r} does not hold in {where}"
        elif code is ErrorCode.NOT_SUPPORTED:
            what = f"Driver {driver.name!r} (backend {self.name!r}) does not support {operation}"
        else:
            what = f"{operation}{target} failed in {where}"
        detail = self._detail(exc)
        message = f"{what}: {detail}. {_HINTS[code]}" if detail else f"{what}. {_HINTS[code]}"
        message = self._redact(message)
        logger.debug("%s", message)
        return cls(message, backend=self.name, driver=driver.name, key=key, operation=operation)

    def _redactors(self) -> builtins.list[Redactor]:
        """The redactors of the driver's secrets (read now: a driver may learn some once
        its client is made) and of the ones given; none when there is no secret."""
        given = self._redactor
        return [r for r in (given, Redactor(self._driver.secrets())) if r]

    def _redact(self, text: str) -> str:
        """``text`` without any secret of the driver or of the redactor given."""
        for redactor in self._redactors():
            text = redactor.redact(text)
        return text

    def _cause(self, exc: BaseException) -> BaseException:
        """The ``__cause__`` of the error raised for ``exc``: ``exc`` itself, unless a
        secret shows in its chain (its text, repr or attributes, or any exception it
        chains); then a :class:`DriverError` of the same code with its redacted detail."""
        if not self._redactors():
            return exc
        text = _chain_text(exc)
        if self._redact(text) == text:
            return exc
        return DriverError(self._driver.classify(exc), self._detail(exc))

    def _detail(self, exc: BaseException) -> str:
        """The driver's description of ``exc``, without URL query strings and redacted;
        when it is the exception's own text (the default description), cut to 300
        characters after the redaction (a secret is never cut in two). A driver's own
        description is kept whole."""
        text = without_url_queries(self._driver.describe(exc).strip())
        detail = self._redact(text)
        if (
            len(detail) > 300
            and not isinstance(exc, DriverError)
            and text == without_url_queries(describe_builtin(exc).strip())
        ):
            detail = detail[:300] + "..."
        return detail

    # -- files --------------------------------------------------------------------------

    async def upload_file(
        self, path: str, source: str | os.PathLike[str], **upload_options: Any
    ) -> BlobInfo:
        """Upload the local file ``source`` to ``path``, streamed with its size known (so
        large files go multipart and progress has a total), never read whole. The
        content type is guessed from the file's name unless given; ``upload_options``
        are those of :meth:`upload`."""
        if self._closed:
            raise self._closed_error()
        self._valid(path)
        return await upload_from_file(self, path, source, **upload_options)

    async def download_file(
        self,
        path: str,
        target: str | os.PathLike[str],
        *,
        range: tuple[int, int | None] | None = None,
        progress: ProgressCallback | None = None,
        **conditions: Any,
    ) -> BlobInfo:
        """Download ``path`` (or ``range`` of it) into the local file ``target`` and return
        the object's info. The bytes go to a temporary file beside ``target`` that is
        renamed into place once complete, so ``target`` is never half-written, also when
        the download fails or is cancelled; its mtime is set from ``last_modified``.
        ``conditions`` are passed on to :meth:`info` and :meth:`stream`."""
        if self._closed:
            raise self._closed_error()
        self._valid(path)
        return await download_to_file(
            self, path, target, range=range, progress=progress, conditions=conditions
        )

    # -- file-like access and browser uploads ---------------------------------------------

    @overload
    def open(
        self,
        path: str,
        mode: Literal["rb"] = "rb",
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        block_size: int = DEFAULT_BLOCK_SIZE,
    ) -> BlobReader: ...

    @overload
    def open(
        self,
        path: str,
        mode: Literal["wb"],
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        block_size: int = DEFAULT_BLOCK_SIZE,
    ) -> BlobWriter: ...

    @overload
    def open(
        self,
        path: str,
        mode: str,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        block_size: int = DEFAULT_BLOCK_SIZE,
    ) -> BlobReader | BlobWriter: ...

    def open(
        self,
        path: str,
        mode: str = "rb",
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        block_size: int = DEFAULT_BLOCK_SIZE,
    ) -> BlobReader | BlobWriter:
        """``async with store.open(path) as f``: a seekable async reader
        (:class:`~lexigram.storage.readers.BlobReader`) over ranged reads of
        ``block_size`` bytes, pinned to the version opened. ``open(path, "wb",
        content_type=..., metadata=...)``: a :class:`~lexigram.storage.readers.BlobWriter`
        streaming one upload, aborted (nothing stored) if the block raises. Arguments are
        checked here, before any request."""
        if self._closed:
            raise self._closed_error()
        self._valid(path)
        if mode not in ("rb", "wb"):
            raise InvalidArgumentError(
                f"Invalid mode {mode!r} for open({path!r}): use 'rb' to read or 'wb' to write.",
                backend=self.name,
                key=path,
                operation="open",
            )
        if type(block_size) is not int or block_size <= 0:
            raise InvalidArgumentError(
                f"block_size must be a positive int, not {block_size!r} (open({path!r})).",
                backend=self.name,
                key=path,
                operation="open",
            )
        if mode == "rb":
            if content_type is not None or metadata is not None:
                raise InvalidArgumentError(
                    f"content_type and metadata are for mode 'wb', not 'rb' (open({path!r})).",
                    backend=self.name,
                    key=path,
                    operation="open",
                )
            return BlobReader(self, path, block_size=block_size)
        self._check_metadata(path, metadata)
        return BlobWriter(
            self, path, content_type=content_type, metadata=metadata, block_size=block_size
        )

    async def get_presigned_post(
        self,
        path: str,
        *,
        expires_in: timedelta,
        content_type: str | None = None,
        max_size: int | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> PresignedPost:
        """A form a browser can POST an upload of ``path`` with: the backend refuses a
        file over ``max_size`` bytes, of another ``content_type``, or after ``expires_in``.
        Post every entry of ``fields`` as a form field, then the file as field ``file``."""
        if self._closed:
            raise self._closed_error()
        self._valid(path)
        caps = self._driver.capabilities
        if not isinstance(expires_in, timedelta):
            raise InvalidArgumentError(
                f"expires_in must be a datetime.timedelta, not {type(expires_in).__name__}.",
                backend=self.name,
                key=path,
            )
        if expires_in < timedelta(seconds=1) or expires_in > caps.max_presign_expiry:
            raise InvalidArgumentError(
                f"expires_in={expires_in} for {path!r} is out of range: give at least 1 second "
                f"and at most {caps.max_presign_expiry} for driver {self._driver.name!r}.",
                backend=self.name,
                key=path,
            )
        if max_size is not None and (type(max_size) is not int or max_size < 0):
            raise InvalidArgumentError(
                f"max_size must be None or an int >= 0 (bytes), not {max_size!r} "
                f"(get_presigned_post({path!r})).",
                backend=self.name,
                key=path,
            )
        if content_type is not None:
            check_header(self.name, path, "content_type", content_type_problem(content_type))
        meta = self._check_metadata(path, metadata)
        if not caps.presign_post:
            raise self._unsupported("get_presigned_post", path)
        request = PostPolicyRequest(
            expires_in=expires_in, content_type=content_type, max_size=max_size, metadata=meta
        )
        return await self._run(
            "get_presigned_post", path, lambda: self._driver.presign_post(path, request)
        )


def _chain_text(exc: BaseException) -> str:
    """The text of ``exc`` and of every exception it chains: message, repr, attributes."""
    parts: list[str] = []
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        try:
            parts.append(f"{link}\n{link!r}\n{getattr(link, '__dict__', {})!r}")
        except Exception:  # a broken __str__ / __repr__: its type name alone
            parts.append(type(link).__name__)
        link = link.__cause__ or link.__context__
    return "\n".join(parts)
