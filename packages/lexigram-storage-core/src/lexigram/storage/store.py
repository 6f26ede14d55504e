"""BlobStore: the concrete public face over any driver. All policy lives here, once."""

from __future__ import annotations

import asyncio
import builtins
import logging
import os
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from datetime import timedelta
from types import TracebackType
from typing import Any, Literal, TypeVar, overload
from urllib.parse import quote

from lexigram.storage.body import BlobData, ProgressCallback, UploadBody
from lexigram.storage.conditions import Conditions, valid_etag
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
    metadata_value_problem,
)
from lexigram.storage.headers import HttpHeaders, check_header_value, headers_of
from lexigram.storage.info import BlobInfo, HealthStatus
from lexigram.storage.instrumentation import Hook, OperationEvent, default_hooks
from lexigram.storage.keys import validate_key, validate_prefix
from lexigram.storage.listing import after_key, check_list_window, collapse_prefixes
from lexigram.storage.presigned_post import PostPolicyRequest, PresignedPost
from lexigram.storage.readers import DEFAULT_BLOCK_SIZE, BlobReader, BlobWriter
from lexigram.storage.retry import RetryPolicy
from lexigram.storage.secrets import Redactor

__all__ = ["DEFAULT_CHUNK_SIZE", "BlobStore", "UploadMode"]

logger = logging.getLogger("lexigram.storage")

DEFAULT_CHUNK_SIZE = 1024 * 1024
UploadMode = Literal["overwrite", "create"]
T = TypeVar("T")

_META_KEY = re.compile(r"[a-z_][a-z0-9_]{0,127}")
_META_VALUE = re.compile(r"[ -~]*")
_META_MAX_BYTES = 2048

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


class BlobStore:
    """One configured backend: validates, maps errors, checks capabilities and supplies
    the defaults, over a :class:`~lexigram.storage.driver.BlobDriver`.

    Implements :class:`~lexigram.storage.protocol.BlobStoreProtocol`. Obtain one from
    :class:`~lexigram.storage.provider.StorageProvider`, or build one directly:
    ``BlobStore(driver, name="avatars")``.
    """

    __slots__ = ("_closed", "_driver", "_hooks", "_redactor", "_retry", "_valid", "name")

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
        forbidden = driver.capabilities.forbidden_key_chars
        self._valid: Callable[[str], object] = (
            validate_key if not forbidden else self._validate_for_backend
        )

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
        extra: dict[str, HttpHeaders] = {"headers": headers} if headers else {}
        if mode == "overwrite":
            create_only = False
        elif mode == "create":
            create_only = True
            if not self._driver.capabilities.create_only:
                raise self._unsupported("upload(mode='create')", path)
        else:
            raise InvalidArgumentError(
                f"Invalid upload mode {mode!r} for key {path!r}: use 'overwrite' or 'create'.",
                backend=self.name,
                key=path,
            )
        match = None if if_match is None else self._etag("if_match", if_match, path)
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
            self._check_header(path, "content_type", content_type_problem(content_type))
        body = UploadBody.from_data(data, size=size, progress=progress)
        ctype = content_type if content_type is not None else guess_content_type(path)

        failed: Exception | None = None
        more: dict[str, Any] = dict(extra)
        if match is not None:
            more["if_match"] = match
        if not self._hooks:
            # Hot path: one driver call; errors go through the same policy as below.
            try:
                info = await self._driver.put(
                    path, body, content_type=ctype, metadata=meta, create_only=create_only, **more
                )
            except Exception as exc:
                failed = exc
            else:
                body.finish()
                return info

        async def put() -> BlobInfo:
            info = await self._driver.put(
                path, body, content_type=ctype, metadata=meta, create_only=create_only, **more
            )
            body.finish()
            return info

        # In-memory bodies can be sent again: retry transient failures (not for create or
        # if_match, where a retry could trip over its own first, successful attempt).
        retryable = body.data is not None and not create_only and match is None
        return await self._run(
            "upload",
            path,
            put,
            retryable=retryable,
            restart=body.rewind,
            body=body,
            failed=failed,
        )

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
        if if_match is not None or if_none_match is not None:
            return await self._download_if(path, range, progress, if_match, if_none_match)
        if range is None and progress is None and not self._hooks:
            # Hot path: one driver call; errors go through the same policy as below.
            try:
                return await self._driver.read(path, start=0, end=None)
            except Exception as exc:
                failed: Exception | None = exc
        else:
            failed = None
        start, end = (0, None) if range is None else self._check_range(path, range)
        if progress is not None:
            parts = [c async for c in self.stream(path, range=range, progress=progress)]
            return b"".join(parts)
        if end is not None and end == start:
            await self.info(path)  # a missing key is still an error
            return b""
        return await self._run(
            "download",
            path,
            lambda: self._driver.read(path, start=start, end=end),
            retryable=True,
            empty_on_invalid_range=True,
            failed=failed,
        )

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
        (s3, r2) write each part in place: no copy of the object is held beside it."""
        if self._closed:
            raise self._closed_error()
        self._valid(path)
        more = self._read_conditions("download_into", path, if_match, if_none_match)
        start, end = (0, None) if range is None else self._check_range(path, range)
        view = self._writable(path, buffer)
        if end is not None and end == start:
            await self.info(path, if_match=if_match, if_none_match=if_none_match)
            return 0
        try:
            return await self._run(
                "download",
                path,
                self._if_present(
                    lambda: self._driver.read_into(path, view, start=start, end=end, **more),
                    more,
                ),
                retryable=True,
                empty_on_invalid_range=True,
                empty=0,
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
        start, end = (0, None) if range is None else self._check_range(path, range)
        if end is not None and end == start:
            await self.info(path, if_match=if_match, if_none_match=if_none_match)
            return
        total: int | None = None if end is None else end - start
        if progress is not None:
            total = await self._stream_total(path, start, end)
        done = 0
        attempt = 0
        started = time.perf_counter()
        while True:
            attempt += 1
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
                exc = _missing_fails(self._driver, exc, more)
                code = self._driver.classify(exc)
                if code is ErrorCode.INVALID_RANGE and done == 0:
                    break
                # Only retry while nothing was handed to the caller yet.
                if (
                    done == 0
                    and attempt < self._retry.attempts
                    and self._driver.is_retryable(exc, code)
                ):
                    await asyncio.sleep(self._retry.delay(attempt))
                    continue
                err = self._error("stream", exc, path, attempts=attempt)
                self._emit("stream", path, started, err, attempts=attempt, nbytes=done)
                raise err from self._cause(exc)
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
        if if_match is not None or if_none_match is not None:
            return await self._info_if(path, if_match, if_none_match)
        if not self._hooks:
            try:
                return await self._driver.head(path)
            except Exception as exc:
                failed: Exception | None = exc
        else:
            failed = None
        return await self._run(
            "info", path, lambda: self._driver.head(path), retryable=True, failed=failed
        )

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
        started = time.perf_counter()
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
            match = self._etag("if_match", if_match, path)
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
        started = time.perf_counter()
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
            self._check_header(path, "content_type", content_type_problem(content_type))
        if content_disposition is not None:
            self._check_header(
                path, "content_disposition", disposition_problem(content_disposition)
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
        started = time.perf_counter()
        if self._closed:
            return HealthStatus(False, 0.0, f"backend {self.name!r} is closed")
        try:
            await asyncio.wait_for(self._driver.ping(), timeout)
        except TimeoutError:
            ms = (time.perf_counter() - started) * 1000
            return HealthStatus(
                False,
                ms,
                f"no answer from backend {self.name!r} ({self._driver.location}) "
                f"within {timeout:g} s",
            )
        except Exception as exc:
            ms = (time.perf_counter() - started) * 1000
            return HealthStatus(False, ms, str(self._error("health_check", exc, None)))
        return HealthStatus(True, (time.perf_counter() - started) * 1000, "ok")

    async def close(self) -> None:
        """Release the driver's clients and pools. Idempotent."""
        if self._closed:
            return
        self._closed = True
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

    def _validate_for_backend(self, key: str) -> None:
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

    def _etag(self, argument: str, etag: object, path: str) -> str:
        """The caller's ETag ``argument``, normalised (quotes dropped), or an error."""
        normal = valid_etag(etag)
        if normal is None:
            raise InvalidArgumentError(
                f"{argument}={etag!r} for {path!r} is not an ETag: give the etag of "
                "info()/upload() (printable ASCII, quoted or not, not '*').",
                backend=self.name,
                key=path,
            )
        return normal

    def _conditions(
        self, path: str, if_match: str | None, if_none_match: str | None
    ) -> Conditions | None:
        if if_match is None and if_none_match is None:
            return None
        return Conditions(
            if_match=None if if_match is None else self._etag("if_match", if_match, path),
            if_none_match=(
                None if if_none_match is None else self._etag("if_none_match", if_none_match, path)
            ),
        )

    def _read_conditions(
        self, operation: str, path: str, if_match: str | None, if_none_match: str | None
    ) -> dict[str, Conditions]:
        """The ``conditions=`` keyword of a conditional driver read; {} for a plain one."""
        conditions = self._conditions(path, if_match, if_none_match)
        if conditions is None:
            return {}
        if not self._driver.capabilities.conditional_read:
            raise self._unsupported(f"{operation}(if_match/if_none_match)", path)
        return {"conditions": conditions}

    async def _download_if(
        self,
        path: str,
        range: tuple[int, int | None] | None,
        progress: ProgressCallback | None,
        if_match: str | None,
        if_none_match: str | None,
    ) -> bytes:
        more = self._read_conditions("download", path, if_match, if_none_match)
        start, end = (0, None) if range is None else self._check_range(path, range)
        if progress is not None:
            stream = self.stream(
                path,
                range=range,
                progress=progress,
                if_match=if_match,
                if_none_match=if_none_match,
            )
            return b"".join([c async for c in stream])
        if end is not None and end == start:
            await self.info(path, if_match=if_match, if_none_match=if_none_match)
            return b""
        return await self._run(
            "download",
            path,
            self._if_present(lambda: self._driver.read(path, start=start, end=end, **more), more),
            retryable=True,
            empty_on_invalid_range=True,
        )

    async def _info_if(
        self, path: str, if_match: str | None, if_none_match: str | None
    ) -> BlobInfo:
        conditions = self._conditions(path, if_match, if_none_match)
        assert conditions is not None
        more = {"conditions": conditions}
        driver = self._driver
        if driver.capabilities.conditional_read:
            return await self._run(
                "info",
                path,
                self._if_present(lambda: driver.head(path, conditions=conditions), more),
                retryable=True,
            )

        async def head() -> BlobInfo:
            # One snapshot of the object: checking its etag here is as atomic as the HEAD.
            info = await driver.head(path)
            conditions.check(info.etag)
            return info

        return await self._run("info", path, self._if_present(head, more), retryable=True)

    def _if_present(
        self, call: Callable[[], Awaitable[T]], more: Mapping[str, Conditions]
    ) -> Callable[[], Awaitable[T]]:
        """``call``, where a missing key fails an ``if_match`` (as it does for writes)."""
        if not more:
            return call
        driver = self._driver

        async def checked() -> T:
            try:
                return await call()
            except Exception as exc:
                failed = _missing_fails(driver, exc, more)
                if failed is exc:
                    raise
                raise failed from exc

        return checked

    def _closed_error(self) -> StoreClosedError:
        return StoreClosedError(
            f"Backend {self.name!r} ({self._driver.name}) is closed: get a new store from "
            "the provider, or do not close it while it is in use.",
            backend=self.name,
            driver=self._driver.name,
        )

    def _check_range(self, path: str, rng: Any) -> tuple[int, int | None]:
        try:
            start, end = rng
        except (TypeError, ValueError):
            raise InvalidArgumentError(
                f"range for {path!r} must be a (start, end) pair, not {rng!r}.",
                backend=self.name,
                key=path,
            ) from None
        if (
            type(start) is not int
            or start < 0
            or (end is not None and (type(end) is not int or end < start))
        ):
            raise InvalidArgumentError(
                f"Invalid range {rng!r} for {path!r}: give (start, end) with 0 <= start <= end, "
                "or end=None to read to the end.",
                backend=self.name,
                key=path,
            )
        return start, end

    def _writable(self, path: str, buffer: Any) -> memoryview:
        try:
            view = memoryview(buffer)
        except TypeError:
            view = None
        if view is None or view.readonly or not view.c_contiguous:
            raise InvalidArgumentError(
                f"download_into({path!r}) needs a writable, contiguous buffer (a bytearray "
                f"or a memoryview of one), not {type(buffer).__name__}.",
                backend=self.name,
                key=path,
            )
        return view if view.format == "B" and view.ndim == 1 else view.cast("B")

    def _check_metadata(self, path: str, metadata: Mapping[str, str] | None) -> dict[str, str]:
        if not metadata:
            return {}
        if not self._driver.capabilities.metadata:
            raise self._unsupported("user metadata", path)
        total = 0
        out: dict[str, str] = {}
        for k, v in metadata.items():
            if not isinstance(k, str) or not _META_KEY.fullmatch(k):
                raise InvalidArgumentError(
                    f"Invalid metadata name {k!r} for {path!r}: use lowercase letters, digits and "
                    "'_', starting with a letter or '_' (the portable subset of S3, GCS and "
                    "Azure).",
                    backend=self.name,
                    key=path,
                )
            if not isinstance(v, str) or not _META_VALUE.fullmatch(v):
                raise InvalidArgumentError(
                    f"Invalid metadata value for {k!r} on {path!r}: values must be printable "
                    "ASCII str (encode other text, e.g. with urllib.parse.quote).",
                    backend=self.name,
                    key=path,
                )
            problem = metadata_value_problem(v)
            if problem is not None:
                raise InvalidArgumentError(
                    f"Invalid metadata value for {k!r} on {path!r}: {problem}.",
                    backend=self.name,
                    key=path,
                )
            total += len(k) + len(v)
            out[k] = v
        if total > _META_MAX_BYTES:
            raise InvalidArgumentError(
                f"Metadata of {path!r} is {total} bytes; the portable limit is {_META_MAX_BYTES}.",
                backend=self.name,
                key=path,
            )
        return out

    def _check_header(self, path: str, argument: str, problem: str | None) -> None:
        if problem is not None:
            raise InvalidArgumentError(
                f"Invalid {argument} for {path!r} on backend {self.name!r}: {problem}.",
                backend=self.name,
                key=path,
            )

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

    async def _run(
        self,
        operation: str,
        key: str | None,
        call: Callable[[], Awaitable[T]],
        *,
        retryable: bool = False,
        restart: Callable[[], Any] | None = None,
        body: UploadBody | None = None,
        empty_on_invalid_range: bool = False,
        empty: object = b"",
        failed: Exception | None = None,
    ) -> T:
        """Call, retrying transient failures, mapping errors, emitting hooks.

        ``failed``: the exception of a first attempt the caller already made itself.
        """
        attempt = 0
        hooks = self._hooks
        started = time.perf_counter() if hooks else 0.0
        while True:
            attempt += 1
            try:
                if failed is not None:
                    first, failed = failed, None
                    raise first
                result = await call()
            except Exception as exc:
                if body is not None and body.source_error is not None:
                    raise body.source_error from None  # the caller's own data failed
                code = self._driver.classify(exc)
                if empty_on_invalid_range and code is ErrorCode.INVALID_RANGE:
                    result = empty  # type: ignore[assignment]  # a range past the end reads nothing
                    break
                if (
                    retryable
                    and attempt < self._retry.attempts
                    and self._driver.is_retryable(exc, code)
                ):
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
                    continue
                err = self._error(operation, exc, key, attempts=attempt)
                if hooks:
                    self._emit(operation, key, started, err, attempts=attempt)
                raise err from self._cause(exc)
            break
        if hooks:
            self._emit(
                operation, key, started, None, attempts=attempt, nbytes=_moved(operation, result)
            )
        return result

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
        """The driver's description of ``exc``, redacted; when it is the exception's own
        text (the default description), cut to 300 characters, after the redaction (a
        secret is never cut in two). A driver's own description is kept whole."""
        text = self._driver.describe(exc).strip()
        detail = self._redact(text)
        if (
            len(detail) > 300
            and not isinstance(exc, DriverError)
            and text == describe_builtin(exc).strip()
        ):
            detail = detail[:300] + "..."
        return detail

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
            duration_s=time.perf_counter() - started,
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
            self._check_header(path, "content_type", content_type_problem(content_type))
        meta = self._check_metadata(path, metadata)
        if not caps.presign_post:
            raise self._unsupported("get_presigned_post", path)
        request = PostPolicyRequest(
            expires_in=expires_in, content_type=content_type, max_size=max_size, metadata=meta
        )
        return await self._run(
            "get_presigned_post", path, lambda: self._driver.presign_post(path, request)
        )


def _moved(operation: str, result: object) -> int | None:
    """The bytes an operation read or wrote, for the hooks (``None``: it moves none)."""
    if operation == "upload" and isinstance(result, BlobInfo):
        return result.size
    if operation == "download":
        if isinstance(result, bytes):
            return len(result)
        if isinstance(result, int):  # download_into
            return result
    return None


def _missing_fails(driver: BlobDriver, exc: Exception, more: Mapping[str, Conditions]) -> Exception:
    """A missing key fails a read's ``if_match`` (S3 and GCS answer 404, Azure 412)."""
    conditions = more.get("conditions")
    if (
        conditions is not None
        and conditions.if_match is not None
        and driver.classify(exc) is ErrorCode.NOT_FOUND
    ):
        failed = DriverError(ErrorCode.FAILED_PRECONDITION, "the key does not exist")
        failed.__cause__ = exc
        return failed
    return exc


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
