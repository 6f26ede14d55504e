"""The local filesystem driver: objects are regular files under ``root_dir``."""

from __future__ import annotations

import asyncio
import functools
import math
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

from lexigram.storage.body import UploadBody
from lexigram.storage.conditions import Conditions
from lexigram.storage.driver import BlobDriver, Capabilities, PresignRequest
from lexigram.storage.errors import DriverError, ErrorCode
from lexigram.storage.headers import NO_HEADERS, HttpHeaders
from lexigram.storage.info import BlobInfo
from lexigram.storage.listing import collapse_prefixes
from lexigram.storage.local.config import StorageLocalConfig
from lexigram.storage.local.errors import classify_os_error
from lexigram.storage.local.files import INLINE_READ_MAX, LocalFiles, WriteCancelled
from lexigram.storage.local.http_headers import header_value
from lexigram.storage.local.paths import split_key
from lexigram.storage.local.post_policy import sign_policy
from lexigram.storage.local.signing import signed_url
from lexigram.storage.presigned_post import PostPolicyRequest, PresignedPost
from lexigram.storage.transfer import RangeRead

__all__ = ["LocalDriver"]

_LIST_BATCH = 256
T = TypeVar("T")


class LocalDriver(BlobDriver):
    """Blobs as files under ``config.root_dir``; see the package docs for the layout.

    Small operations are one worker-thread hop each (walk, open, read, close in a single
    call); streams move ``chunk_size`` pieces, one worker-thread hop each (``pread`` /
    ``write``), so memory stays bounded.
    """

    name = "local"
    capabilities = Capabilities(
        create_only=True,
        server_side_copy=True,
        native_move=True,
        native_delimiter=True,
        presign_methods=frozenset({"GET", "PUT"}),
        native_urls=True,
        delete_batch_size=1000,
        metadata=True,
        http_headers=True,
        presign_put_headers=frozenset(
            {"content_disposition", "cache_control", "content_encoding", "content_language"}
        ),
        presign_post=True,
        conditional_write=True,
        conditional_read=True,
        native_start_after=False,
    )

    #: download_into: parallel ranged reads by the core (read_range), one worker-thread
    #: pread of this many bytes each, this many at once.
    read_part_size = 8 * 1024 * 1024
    read_concurrency = 4

    def __init__(self, config: StorageLocalConfig | None = None) -> None:
        self.config = config if config is not None else StorageLocalConfig()
        self.files = LocalFiles(self.config)

    @property
    def location(self) -> str:
        return f"root_dir {self.files.root!r}"

    @property
    def public_base_url(self) -> str | None:
        return self.config.base_url

    # -- writing ------------------------------------------------------------------------

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
        files = self.files
        cancelled = _Cancelled()
        if body.data is not None:
            data = body.data
            put = functools.partial(
                files.put_bytes,
                key,
                data,
                content_type=content_type,
                metadata=metadata,
                create_only=create_only,
                cancelled=cancelled,
                headers=headers,
                if_match=if_match,
            )
            # progress: the core's body.finish() reports the whole size
            return await _in_thread(put, cancelled=cancelled)
        pending = await _in_thread(functools.partial(files.begin_write, key), undo=files.abort)
        try:
            async for chunk in body.chunks():
                await asyncio.to_thread(files.write_all, pending, chunk)
        except BaseException:
            # A few quick syscalls, run here so they happen even while being cancelled;
            # it waits for a chunk write still running in a worker thread.
            files.abort(pending)
            raise
        commit = functools.partial(
            files.commit,
            pending,
            content_type=content_type,
            metadata=metadata,
            create_only=create_only,
            cancelled=cancelled,
            headers=headers,
            if_match=if_match,
        )
        return await _in_thread(commit, cancelled=cancelled)

    # -- reading ------------------------------------------------------------------------

    async def read(
        self, key: str, *, start: int, end: int | None, conditions: Conditions | None = None
    ) -> bytes:
        if conditions is not None:
            # the ETag of the very file read: its fd is opened and checked first
            parts = self.stream(
                key, start=start, end=end, chunk_size=1 << 20, conditions=conditions
            )
            return b"".join([chunk async for chunk in parts])
        # A small object already in the dentry and page caches is read right here, with
        # calls that cannot block on the disk (no thread hop at all); anything else in
        # one worker-thread call (run_in_executor: no context copy, the cheapest hop).
        if end is None or end - start <= INLINE_READ_MAX:
            data = self.files.read_nowait(key, start, end)
            if data is not None:
                return data
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self.files.read, key, start, end)

    async def read_range(
        self,
        key: str,
        *,
        start: int,
        end: int,
        conditions: Conditions | None = None,
        into: memoryview | None = None,
    ) -> RangeRead:
        # with ``into``: preadv straight into the caller's buffer, no copy at all
        read = functools.partial(self.files.read_range, key, start, end, into)
        data, size, etag = await asyncio.get_running_loop().run_in_executor(None, read)
        if conditions is not None:
            conditions.check(etag)  # of the very file read
        return RangeRead(data, size, etag)

    async def stream(
        self,
        key: str,
        *,
        start: int,
        end: int | None,
        chunk_size: int,
        conditions: Conditions | None = None,
    ) -> AsyncIterator[bytes]:
        if conditions is None:
            fd, size = await _in_thread(
                functools.partial(self.files.open_stream, key),
                undo=lambda opened: os.close(opened[0]),
            )
        else:
            # The ETag checked is the one of the file whose fd is read below: a rename
            # over the key meanwhile does not change what this fd reads.
            fd, info = await _in_thread(
                functools.partial(self.files.open_version, key),
                undo=lambda opened: os.close(opened[0]),
            )
            size = info.size
            try:
                conditions.check(info.etag)
            except BaseException:
                os.close(fd)
                raise
        try:
            stop = size if end is None else min(end, size)
            offset = start
            while offset < stop:
                # pread: position-independent; a cancelled read waits for its thread
                # before the descriptor is closed below.
                chunk = await _in_thread(
                    functools.partial(os.pread, fd, min(chunk_size, stop - offset), offset)
                )
                if not chunk:
                    raise DriverError(
                        ErrorCode.DATA_CORRUPTED,
                        f"{key!r} ended {stop - offset} bytes early: it was truncated while read",
                    )
                offset += len(chunk)
                yield chunk
        finally:
            os.close(fd)

    async def head(self, key: str, *, conditions: Conditions | None = None) -> BlobInfo:
        info = await asyncio.get_running_loop().run_in_executor(None, self.files.head, key)
        if conditions is not None:
            conditions.check(info.etag)  # one stat: the check is of that very version
        return info

    async def exists(self, key: str) -> bool:
        return await asyncio.get_running_loop().run_in_executor(None, self.files.exists, key)

    async def list(
        self, prefix: str, *, delimiter: str | None, start_after: str | None = None
    ) -> AsyncIterator[BlobInfo]:
        if delimiter is not None and delimiter != "/":
            source = self._list(prefix, rollup=False)
            async for info in collapse_prefixes(source, prefix, delimiter):
                yield info
            return
        async for info in self._list(prefix, rollup=delimiter == "/"):
            yield info

    async def _list(self, prefix: str, *, rollup: bool) -> AsyncIterator[BlobInfo]:
        walker = self.files.iter_list(prefix, rollup=rollup)
        try:
            while True:
                batch = await asyncio.to_thread(_take, walker, _LIST_BATCH)
                for info in batch:
                    yield info
                if len(batch) < _LIST_BATCH:
                    return
        finally:
            walker.close()  # closes the directory fds still open (quick, no I/O wait)

    # -- deleting -----------------------------------------------------------------------

    async def delete(self, key: str, *, if_match: str | None = None) -> None:
        await asyncio.to_thread(self.files.delete, key, if_match)

    async def delete_many(self, keys: Sequence[str]) -> Mapping[str, BaseException]:
        return await asyncio.to_thread(self.files.delete_many, keys)

    # -- copying ------------------------------------------------------------------------

    async def copy(self, src: str, dst: str) -> None:
        await asyncio.to_thread(self.files.copy, src, dst)

    async def move(self, src: str, dst: str) -> None:
        await asyncio.to_thread(self.files.move, src, dst)

    # -- URLs ---------------------------------------------------------------------------

    def native_url(self, key: str) -> str:
        """A ``file://`` URL of the object (used by ``get_url`` without ``base_url``)."""
        return Path(self.files.root, *split_key(key)).as_uri()

    async def presign(self, key: str, request: PresignRequest) -> str:
        if not self.config.signing_key:
            raise DriverError(
                ErrorCode.NOT_SUPPORTED,
                "presigned URLs need a signing key: set signing_key in the local driver's "
                "config (e.g. secrets.token_urlsafe(32))",
            )
        if not self.config.base_url:
            raise DriverError(
                ErrorCode.NOT_SUPPORTED,
                "presigned URLs need the URL the files are served at: set base_url (and serve "
                "lexigram.storage.local.asgi.create_app there)",
            )
        for name in (
            "content_type",
            "content_disposition",
            "cache_control",
            "content_encoding",
            "content_language",
        ):
            value = getattr(request, name)
            if value is not None and header_value(value) is None:
                raise DriverError(
                    ErrorCode.INVALID_ARGUMENT,
                    f"{name} must be a valid HTTP header value (no line breaks or other "
                    "control characters, nothing beyond Latin-1; for a non-ASCII file name "
                    "use filename*=UTF-8''<percent-encoded name>)",
                )
        expires = math.ceil(time.time() + request.expires_in.total_seconds())
        return signed_url(
            self.config.base_url,
            self.config.signing_key,
            key=key,
            method=request.method,
            expires=expires,
            # PUT: the type the upload is stored with; GET: the response's Content-Type.
            content_type=request.content_type,
            # GET: the header the response carries; PUT: one the uploader must send
            content_disposition=request.content_disposition,
            cache_control=request.cache_control,
            content_encoding=request.content_encoding,
            content_language=request.content_language,
        )

    async def presign_post(self, key: str, request: PostPolicyRequest) -> PresignedPost:
        """A POST form for the ASGI app (:mod:`lexigram.storage.local.asgi`): the policy
        is HMAC-signed with ``signing_key``; the app enforces it."""
        if not self.config.signing_key or not self.config.base_url:
            raise DriverError(
                ErrorCode.NOT_SUPPORTED,
                "presigned POST forms need signing_key and base_url in the local driver's "
                "config (and lexigram.storage.local.asgi.create_app served at base_url)",
            )
        if request.content_type is not None and header_value(request.content_type) is None:
            raise DriverError(ErrorCode.INVALID_ARGUMENT, "content_type is not a header value")
        expires = math.ceil(time.time() + request.expires_in.total_seconds())
        fields = sign_policy(
            self.config.signing_key,
            key=key,
            expires=expires,
            content_type=request.content_type,
            max_size=request.max_size,
            metadata=request.metadata,
        )
        if request.content_type is not None:
            fields = {"Content-Type": request.content_type, **fields}
        url = f"{self.config.base_url.rstrip('/')}/{quote(key, safe='/')}"
        return PresignedPost(url=url, fields=fields)

    # -- housekeeping -------------------------------------------------------------------

    async def cleanup(self, max_age: float | None = None) -> int:
        """Remove what crashed uploads left below ``root_dir``: temporary files (and
        sidecars of files that never made it into place) older than ``max_age`` seconds
        (default: the config's ``orphan_max_age``, else one hour) whose writer no longer
        runs. A running writer's file is never removed; listing never shows these files
        either way. Also done when the root is first opened. Returns how many entries
        were removed."""
        return await asyncio.to_thread(self.files.cleanup, max_age)

    # -- health -------------------------------------------------------------------------

    async def ping(self) -> None:
        await asyncio.to_thread(self.files.ping)

    async def close(self) -> None:
        self.files.close()

    # -- errors -------------------------------------------------------------------------

    def classify(self, exc: BaseException) -> ErrorCode:
        if isinstance(exc, WriteCancelled):
            return ErrorCode.UNKNOWN
        if isinstance(exc, OSError) and not isinstance(exc, TimeoutError) and exc.errno:
            return classify_os_error(exc)
        return super().classify(exc)


class _Cancelled:
    """Whether the awaiting task was cancelled: set on the event loop, read by the worker
    thread before its commit point (a plain attribute: cheaper than a threading.Event,
    which no one waits on here)."""

    __slots__ = ("_set",)

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        self._set = True

    def is_set(self) -> bool:
        return self._set


async def _in_thread(
    call: Callable[[], T],
    *,
    cancelled: _Cancelled | None = None,
    undo: Callable[[T], object] | None = None,
) -> T:
    """Run ``call`` in a worker thread. A cancelled caller first signals ``cancelled``
    (the thread then stops before its commit), waits for the thread to end and ``undo``es
    what it returned, and only then lets the cancellation through: nothing the thread
    creates (temp file, descriptor) outlives the cancelled task.

    ``run_in_executor`` (the default executor, as ``to_thread``) without a task or a
    context copy around it: the cheapest hop, and all a small upload costs the loop."""
    future = asyncio.get_running_loop().run_in_executor(None, call)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        if cancelled is not None:
            cancelled.set()
        while not future.done():  # a thread cannot be stopped: wait it out
            try:
                await asyncio.wait((future,))
            except asyncio.CancelledError:
                continue
        if future.exception() is None and undo is not None:
            undo(future.result())
        raise


def _take(walker: Iterator[BlobInfo], n: int) -> list[BlobInfo]:
    out: list[BlobInfo] = []
    for info in walker:
        out.append(info)
        if len(out) >= n:
            break
    return out
