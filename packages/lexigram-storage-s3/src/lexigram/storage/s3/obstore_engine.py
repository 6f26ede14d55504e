"""The ``obstore`` engine of the s3 and r2 drivers: the driver SPI on obstore (Rust
``object_store``), chosen with ``engine: obstore`` (the ``[obstore]`` extra).

Requests (put, get, head, list, delete, copy) go through one ``S3Store``, whose HTTP
client, signing, retries and multipart uploads run in Rust: a fraction of the CPU per
request of the SDK engine. What ``object_store`` has no call for is done by the SDK
engine's driver over the same settings, created (and its client opened) only when first
needed: presigned URLs and POST policies (no request is sent), ``delete(if_match=...)``
and conditional uploads too large for one PutObject (S3 checks the condition when the
multipart upload completes), and copies of objects over 5 GiB. Nothing is declared
unsupported that the SDK engine supports; the capabilities are the same.

Keys: ``object_store`` refuses the keys the core refuses (empty segments, ``.``/``..``,
control characters) and keeps every other key as it is.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

import attrs
import obstore
from obstore.store import S3Store

from lexigram.storage.body import UploadBody
from lexigram.storage.conditions import Conditions, quoted
from lexigram.storage.driver import BlobDriver, Capabilities, PresignRequest, buffer_too_small
from lexigram.storage.errors import DriverError, ErrorCode
from lexigram.storage.headers import NO_HEADERS, HttpHeaders
from lexigram.storage.info import BlobInfo
from lexigram.storage.integrity import MD5, keep_intact
from lexigram.storage.listing import collapse_prefixes
from lexigram.storage.presigned_post import PostPolicyRequest, PresignedPost
from lexigram.storage.s3.config import StorageR2Config, StorageS3Config
from lexigram.storage.s3.driver import S3Driver
from lexigram.storage.s3.integrity import etag_md5, etag_shows
from lexigram.storage.s3.obstore_errors import obstore_code, s3_code, safe_detail
from lexigram.storage.s3.settings import S3Settings, resolve
from lexigram.storage.s3.transfer import MAX_COPY_SIZE
from lexigram.storage.s3.urls import effective_style

if TYPE_CHECKING:
    from obstore import Attributes, GetOptions, GetResult, PutMode

__all__ = ["ObstoreR2Driver", "ObstoreS3Driver"]

#: the object attributes obstore sends as headers; the other keys are user metadata.
_ATTRIBUTES = {
    "cache_control": "Cache-Control",
    "content_disposition": "Content-Disposition",
    "content_encoding": "Content-Encoding",
    "content_language": "Content-Language",
}
#: objects listed per batch handed to Python.
_LIST_BATCH = 1000
#: no bound on a whole request's duration: ``read_timeout`` bounds a stalled socket.
_NO_REQUEST_BOUND = timedelta(days=7)


class ObstoreS3Driver(BlobDriver):
    """AWS S3 and S3-compatible stores through obstore (``engine: obstore``)."""

    name: ClassVar[str] = "s3"
    capabilities: ClassVar[Capabilities] = S3Driver.capabilities

    def __init__(self, settings: S3Settings) -> None:
        self.settings = settings
        self._style = effective_style(
            settings.addressing_style, settings.bucket, settings.endpoint_url
        )
        self._store: S3Store | None = None
        self._lock = asyncio.Lock()
        self._closed = False
        self._bucket_seen = False
        #: the SDK engine, for what object_store has no call for (see the module doc).
        self.sdk: S3Driver = S3Driver(settings)

    @classmethod
    def from_config(cls, config: StorageS3Config | StorageR2Config) -> ObstoreS3Driver:
        settings = resolve(config)
        return ObstoreR2Driver(settings) if settings.driver == "r2" else ObstoreS3Driver(settings)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(bucket={self.settings.bucket!r})"

    # -- description ------------------------------------------------------------------

    @property
    def location(self) -> str:
        return f"bucket {self.settings.bucket!r}"

    @property
    def public_base_url(self) -> str | None:
        return self.settings.public_url

    # -- the store ----------------------------------------------------------------------

    def store_kwargs(self) -> dict[str, Any]:
        """The ``S3Store`` arguments (public so benchmarks use exactly the same)."""
        s = self.settings
        config: dict[str, Any] = {
            "region": s.region,
            "virtual_hosted_style_request": self._style == "virtual",
            "conditional_put": "etag",
        }
        if s.endpoint_url:
            config["endpoint"] = s.endpoint_url
        if s.access_key and s.secret_key:
            config["access_key_id"] = s.access_key
            config["secret_access_key"] = s.secret_key
            if s.session_token:
                config["session_token"] = s.session_token
        if s.encryption.enabled:
            config["server_side_encryption"] = s.encryption.type
            if s.encryption.type == "aws:kms" and s.encryption.kms_key_id:
                config["sse_kms_key_id"] = s.encryption.kms_key_id
        client: dict[str, Any] = {
            "connect_timeout": timedelta(seconds=s.connect_timeout),
            "read_timeout": timedelta(seconds=s.read_timeout),
            "timeout": _NO_REQUEST_BOUND,
            "pool_max_idle_per_host": str(s.max_pool_connections),
        }
        if s.endpoint_url and s.endpoint_url.startswith("http://"):
            client["allow_http"] = True
        if not s.verify_ssl:
            client["allow_invalid_certificates"] = True
        retry: dict[str, Any] = {
            "max_retries": s.max_attempts - 1,
            "retry_timeout": timedelta(seconds=s.read_timeout + s.connect_timeout),
        }
        return {
            "bucket": s.bucket,
            "config": config,
            "client_options": client,
            "retry_config": retry,
        }

    async def _open(self) -> S3Store:
        async with self._lock:
            if self._closed:
                raise DriverError(ErrorCode.UNKNOWN, "the driver is closed")
            if self._store is None:
                kwargs = self.store_kwargs()
                # made in a worker thread: building the HTTP client reads the system's
                # root certificates
                self._store = await asyncio.to_thread(
                    lambda: S3Store(
                        kwargs["bucket"],
                        config=kwargs["config"],
                        client_options=kwargs["client_options"],
                        retry_config=kwargs["retry_config"],
                    )
                )
            return self._store

    async def close(self) -> None:
        async with self._lock:
            self._closed = True
            self._store = None
        await self.sdk.close()

    # -- errors -------------------------------------------------------------------------

    def classify(self, exc: BaseException) -> ErrorCode:
        code = obstore_code(exc)
        return code if code is not None else self.sdk.classify(exc)

    def is_retryable(self, exc: BaseException, code: ErrorCode) -> bool:
        if obstore_code(exc) is not None:
            # object_store retried the request itself, and resumed a body cut short
            # (a ranged GET If-Match the first answer's ETag), within max_attempts
            return False
        return self.sdk.is_retryable(exc, code)

    def describe(self, exc: BaseException) -> str:
        code = obstore_code(exc)
        if code is ErrorCode.BUCKET_NOT_FOUND:
            return self._no_bucket().detail
        if code is not None:
            return safe_detail(exc)
        return self.sdk.describe(exc)

    def secrets(self) -> Sequence[str]:
        return self.sdk.secrets()

    def _no_bucket(self) -> DriverError:
        s = self.settings
        where = f", {s.endpoint_url}" if s.endpoint_url else ""
        return DriverError(
            ErrorCode.BUCKET_NOT_FOUND, f"bucket {s.bucket!r} does not exist ({self.name}{where})"
        )

    # -- writing ------------------------------------------------------------------------

    def _attributes(
        self, content_type: str, metadata: Mapping[str, str], headers: HttpHeaders
    ) -> Attributes:
        attributes: dict[str, str] = {"Content-Type": content_type}
        if headers:
            for name, value in headers.set_items():
                attributes[_ATTRIBUTES[name]] = value
        # the core allows metadata names of lowercase letters, digits and "_" only: none
        # is an attribute's name (Content-Type, Cache-Control, ...)
        attributes.update(metadata)
        return attributes

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
        s = self.settings
        data = body.data
        if data is None or data.nbytes > s.multipart_threshold:
            # Multipart uploads and streams go through the SDK engine: object_store
            # cannot abort an upload whose creation was cancelled (its id is lost with
            # the dropped request), nor check each part against its CRC32C before completing,
            # nor complete on condition (create_only / if_match) without holding the whole
            # body in memory. The SDK engine does all three, with bounded memory.
            return await self.sdk.put(
                key,
                body,
                content_type=content_type,
                metadata=metadata,
                create_only=create_only,
                headers=headers,
                if_match=if_match,
            )
        attributes: Attributes = (
            {"Content-Type": content_type}
            if headers is NO_HEADERS and not metadata
            else self._attributes(content_type, metadata, headers)
        )
        mode: PutMode = "overwrite"
        if create_only:
            mode = "create"
        elif if_match is not None:
            mode = {"e_tag": quoted(if_match)}
        store = self._store or await self._open()
        size = data.nbytes
        try:
            result = await obstore.put_async(
                store, key, data, attributes=attributes, mode=mode, use_multipart=False
            )
            etag = result["e_tag"]
            if s.checksums and etag is not None:
                digest = await MD5.of(data)  # in a worker thread when large
                etag = await self._repair_put(store, key, data, attributes, digest, etag)
        except Exception as exc:
            if create_only and s3_code(exc) == "ConditionalRequestConflict":
                raise DriverError(ErrorCode.ALREADY_EXISTS) from exc
            if if_match is not None and obstore_code(exc) is ErrorCode.NOT_FOUND:
                raise DriverError(
                    ErrorCode.FAILED_PRECONDITION,
                    f"the key does not exist (if_match={quoted(if_match)})",
                ) from exc
            raise
        info = BlobInfo(
            path=key,
            size=size,
            content_type=content_type,
            last_modified=datetime.now(UTC),
            etag=etag,
            metadata=dict(metadata),
        )
        return info if headers is NO_HEADERS else info.with_headers(headers)

    async def _repair_put(
        self,
        store: S3Store,
        key: str,
        data: memoryview,
        attributes: Attributes,
        digest: bytes,
        etag: str,
    ) -> str | None:
        """Make sure the stored object is the body sent, by its ETag (see the SDK
        engine's ``_repair_put``): an altered object is written again If-Match its ETag,
        or deleted and DATA_CORRUPTED raised."""

        def intact(answer: Mapping[str, Any]) -> bool:
            return etag_shows(answer, digest)

        async def send_again(answer: Mapping[str, Any]) -> Mapping[str, Any]:
            try:
                fresh = await obstore.put_async(
                    store,
                    key,
                    data,
                    attributes=attributes,
                    mode={"e_tag": answer["ETag"]},
                    use_multipart=False,
                )
            except Exception as exc:
                if obstore_code(exc) is ErrorCode.FAILED_PRECONDITION:
                    raise DriverError(
                        ErrorCode.DATA_CORRUPTED,
                        "the server stored an altered body (its ETag differs from the MD5 "
                        "sent), and another writer replaced it before it could be repaired",
                    ) from exc
                raise
            return {"ETag": fresh["e_tag"]}

        async def remove(answer: Mapping[str, Any]) -> None:
            await self.sdk.delete(key, if_match=answer["ETag"].strip('"'))

        first: Mapping[str, Any] = {"ETag": etag}
        stored = await keep_intact(
            first,
            intact=intact,
            send_again=send_again,
            remove=remove,
            mismatch="its ETag differs from the MD5 sent",
        )
        found: str | None = stored.get("ETag")
        return found

    # -- reading ------------------------------------------------------------------------

    def _get_options(
        self, start: int, end: int | None, conditions: Conditions | None
    ) -> GetOptions | None:
        if not start and end is None and conditions is None:
            return None
        options: GetOptions = {}
        if end is not None:
            options["range"] = (start, end)
        elif start:
            options["range"] = {"offset": start}
        if conditions is not None:
            if conditions.if_match is not None:
                options["if_match"] = quoted(conditions.if_match)
            if conditions.if_none_match is not None:
                options["if_none_match"] = quoted(conditions.if_none_match)
        return options

    def _expected(self, result: GetResult, start: int, end: int | None) -> bytes | None:
        """The MD5 a whole-object read is checked against (checksums on, a plain-MD5
        ETag); None for a range or an ETag that is not the body's MD5."""
        if not self.settings.checksums or start or end is not None:
            return None
        return etag_md5({"ETag": result.meta["e_tag"]})

    async def _get(self, key: str, options: GetOptions | None) -> GetResult:
        """One GET (or HEAD, ``options["head"]``); a missing bucket is told from a missing
        key (obstore reports both as not found)."""
        store = self._store or await self._open()
        try:
            return await obstore.get_async(store, key, options=options)
        except Exception as exc:
            if await self._missing_bucket(exc):
                raise self._no_bucket() from exc
            raise

    async def stream(
        self,
        key: str,
        *,
        start: int,
        end: int | None,
        chunk_size: int,
        conditions: Conditions | None = None,
    ) -> AsyncIterator[bytes]:
        result = await self._get(key, self._get_options(start, end, conditions))
        expected = self._expected(result, start, end)
        hasher = MD5.running() if expected is not None else None
        # obstore joins what arrives up to at least min_chunk_size: from half the chunk
        # size a joined piece seldom passes it, and is cut where it does
        async for chunk in result.stream(min_chunk_size=max(1, chunk_size // 2)):
            if hasher is not None:
                await hasher.feed(chunk)
            if len(chunk) <= chunk_size:
                yield chunk
                continue
            for at in range(0, len(chunk), chunk_size):
                yield chunk[at : at + chunk_size]
        if hasher is not None and await hasher.digest() != expected:
            raise _md5_mismatch()

    async def read(
        self, key: str, *, start: int, end: int | None, conditions: Conditions | None = None
    ) -> bytes:
        result = await self._get(key, self._get_options(start, end, conditions))
        data = bytes(await result.bytes_async())
        expected = self._expected(result, start, end)
        if expected is not None and await MD5.of(data) != expected:
            raise _md5_mismatch()
        return data

    async def read_into(
        self,
        key: str,
        buffer: memoryview,
        *,
        start: int,
        end: int | None,
        conditions: Conditions | None = None,
    ) -> int:
        result = await self._get(key, self._get_options(start, end, conditions))
        first, stop = result.range
        size = stop - first
        if size > buffer.nbytes:
            raise DriverError(
                ErrorCode.INVALID_ARGUMENT, buffer_too_small(buffer.nbytes, size, exact=True)
            )
        expected = self._expected(result, start, end)
        hasher = MD5.running() if expected is not None else None
        pos = 0
        async for chunk in result.stream(min_chunk_size=1 << 20):
            n = len(chunk)
            if pos + n > size:
                raise DriverError(
                    ErrorCode.UNAVAILABLE, f"a read returned more than the {size} bytes asked"
                )
            buffer[pos : pos + n] = chunk
            pos += n
            if hasher is not None:
                await hasher.feed(chunk)
        if pos != size:
            raise DriverError(
                ErrorCode.UNAVAILABLE, f"a read returned {pos} of the {size} bytes asked"
            )
        if hasher is not None and await hasher.digest() != expected:
            raise _md5_mismatch()
        return size

    async def head(self, key: str, *, conditions: Conditions | None = None) -> BlobInfo:
        options = self._get_options(0, None, conditions) or {}
        options["head"] = True
        result = await self._get(key, options)
        meta = result.meta
        attributes = dict(result.attributes)
        content_type = attributes.pop("Content-Type", None)
        found = {
            name: attributes.pop(header)
            for name, header in _ATTRIBUTES.items()
            if header in attributes
        }
        attributes.pop("Storage-Class", None)
        info = BlobInfo(
            path=key,
            size=meta["size"],
            content_type=content_type,
            last_modified=meta["last_modified"],
            etag=meta["e_tag"],
            metadata=attributes,
        )
        return info.with_headers(HttpHeaders(**found)) if found else info

    async def _missing_bucket(self, exc: BaseException) -> bool:
        """Whether a NOT_FOUND is the bucket's: a HEAD answers a bare 404 for a missing
        key and a missing bucket alike; one listing tells them apart (once the bucket was
        seen, not again)."""
        code = obstore_code(exc)
        if code is ErrorCode.BUCKET_NOT_FOUND:
            return True
        if self._bucket_seen or code is not ErrorCode.NOT_FOUND:
            return False
        try:
            await self._first_page()
        except Exception as bucket_exc:
            return obstore_code(bucket_exc) is ErrorCode.BUCKET_NOT_FOUND
        self._bucket_seen = True
        return False

    async def _first_page(self) -> None:
        store = self._store or await self._open()
        pages = obstore.list(store, chunk_size=1)
        await anext(aiter(pages), None)

    async def list(
        self, prefix: str, *, delimiter: str | None, start_after: str | None = None
    ) -> AsyncIterator[BlobInfo]:
        if delimiter is not None:
            source = (
                self._list_level(prefix, start_after)
                if delimiter == "/"
                else collapse_prefixes(self._list_flat(prefix, start_after), prefix, delimiter)
            )
            async for info in source:
                yield info
            return
        # the flat listing inline (one generator layer less per entry)
        store = self._store or await self._open()
        folder, offset = _folder_and_offset(prefix, start_after)
        # a prefix that is a whole folder (or none): every key listed is under it
        whole = not prefix or prefix.endswith("/")
        async for page in obstore.list(store, folder, offset=offset, chunk_size=_LIST_BATCH):
            for meta in page:
                path = meta["path"]
                if not whole and not path.startswith(prefix):
                    if path > prefix:
                        return
                    continue
                # positional: path, size, content_type, last_modified, etag
                yield BlobInfo(path, meta["size"], None, meta["last_modified"], meta["e_tag"])

    def _list_flat(self, prefix: str, start_after: str | None) -> AsyncIterator[BlobInfo]:
        """Every key under ``prefix``, in order. object_store lists whole path segments:
        the listing is of the prefix's folder, from just before the prefix, and stops at
        the first key past it."""
        return self.list(prefix, delimiter=None, start_after=start_after)

    async def _list_level(self, prefix: str, start_after: str | None) -> AsyncIterator[BlobInfo]:
        """The objects and common prefixes (delimiter ``/``) under ``prefix``."""
        store = self._store or await self._open()
        cut = prefix.rfind("/")
        folder = prefix[:cut] if cut > 0 else None
        level = await obstore.list_with_delimiter_async(store, folder)
        objects = [
            BlobInfo(
                path=meta["path"],
                size=meta["size"],
                last_modified=meta["last_modified"],
                etag=meta["e_tag"],
            )
            for meta in level["objects"]
            if meta["path"].startswith(prefix)
        ]
        prefixes = [
            BlobInfo(path=common + "/", size=0, is_prefix=True)
            for common in level["common_prefixes"]
            if (common + "/").startswith(prefix)
        ]
        for info in heapq.merge(objects, prefixes, key=_path):
            if start_after is None or info.path > start_after:
                yield info

    # -- deleting -----------------------------------------------------------------------

    async def delete(self, key: str, *, if_match: str | None = None) -> None:
        if if_match is not None:
            # object_store has no conditional delete
            await self.sdk.delete(key, if_match=if_match)
            return
        store = self._store or await self._open()
        await obstore.delete_async(store, key)

    async def delete_many(self, keys: Sequence[str]) -> Mapping[str, BaseException]:
        if not keys:
            return {}
        store = self._store or await self._open()
        try:
            await obstore.delete_async(store, list(keys))
        except Exception:
            # a key failed: delete one by one to learn which (missing keys are no failure)
            return await super().delete_many(keys)
        return {}

    # -- copying ------------------------------------------------------------------------

    async def copy(self, src: str, dst: str) -> None:
        store = self._store or await self._open()
        try:
            await obstore.copy_async(store, src, dst)
        except Exception as exc:
            if obstore_code(exc) is ErrorCode.INVALID_ARGUMENT:
                # over CopyObject's 5 GiB: the SDK engine copies in parts
                info = await self.head(src)
                if info.size > MAX_COPY_SIZE:
                    await self.sdk.copy(src, dst)
                    return
            raise

    # -- URLs ---------------------------------------------------------------------------

    def native_url(self, key: str) -> str:
        return self.sdk.native_url(key)

    async def presign(self, key: str, request: PresignRequest) -> str:
        # signed by botocore (no request is sent): response overrides and signed PUT
        # headers, which object_store's signer has no parameter for
        return await self.sdk.presign(key, request)

    async def presign_post(self, key: str, request: PostPolicyRequest) -> PresignedPost:
        return await self.sdk.presign_post(key, request)

    # -- health ---------------------------------------------------------------------------

    async def ping(self) -> None:
        await self._first_page()
        self._bucket_seen = True


class ObstoreR2Driver(ObstoreS3Driver):
    """Cloudflare R2 through obstore."""

    name: ClassVar[str] = "r2"
    capabilities: ClassVar[Capabilities] = attrs.evolve(
        ObstoreS3Driver.capabilities, presign_post=False
    )


def _folder_and_offset(prefix: str, start_after: str | None) -> tuple[str | None, str | None]:
    """The folder object_store lists for ``prefix`` (whole segments), and the key to
    list after: ``start_after``, or one that sorts just before the prefix (when one can be
    made without changing the segments), so the listing starts near the prefix."""
    cut = prefix.rfind("/")
    folder = prefix[:cut] if cut > 0 else None
    offset: str | None = None
    last = prefix[-1:] if len(prefix) > cut + 1 else ""
    if last and (last.isalnum() and last.isascii() and last != "0"):
        offset = prefix[:-1] + chr(ord(last) - 1)
    if start_after is not None and (offset is None or start_after > offset):
        offset = start_after
    return folder, offset


def _path(info: BlobInfo) -> str:
    return info.path


def _md5_mismatch() -> DriverError:
    return DriverError(
        ErrorCode.DATA_CORRUPTED,
        "the bytes received do not match the object's MD5 (its ETag)",
    )
