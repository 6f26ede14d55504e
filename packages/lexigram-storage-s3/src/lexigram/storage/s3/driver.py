"""The S3 driver (also serves R2): translates the driver SPI to aiobotocore calls."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

import attrs
from aiobotocore.config import AioConfig  # type: ignore[import-untyped]
from aiobotocore.session import AioSession  # type: ignore[import-untyped]
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from lexigram.storage.body import UploadBody
from lexigram.storage.conditions import Conditions, quoted
from lexigram.storage.driver import BlobDriver, Capabilities, PresignRequest, buffer_too_small
from lexigram.storage.errors import DriverError, ErrorCode
from lexigram.storage.headers import NO_HEADERS, HttpHeaders
from lexigram.storage.info import BlobInfo
from lexigram.storage.integrity import CRC32C, verify_at_end
from lexigram.storage.log_redaction import hide_in_logs
from lexigram.storage.presigned_post import PostPolicyRequest, PresignedPost
from lexigram.storage.s3.conditional import condition_args, missing_is_precondition
from lexigram.storage.s3.config import StorageR2Config, StorageS3Config
from lexigram.storage.s3.errors import (
    client_error_code,
    code_for,
    delete_failures,
    retried_by_sdk,
    safe_detail,
)
from lexigram.storage.s3.integrity import (
    SENT_CHECKSUM_EVENTS,
    answer_shows,
    checksum_args,
    declare_sent_checksum,
    expected_of,
)
from lexigram.storage.s3.object_headers import S3_HEADER_PARAMS, header_args, headers_from
from lexigram.storage.s3.post import presigned_post
from lexigram.storage.s3.reads import (
    body_chunks,
    extent,
    first_get,
    parallel_read,
    read_checked,
    take_bytes,
    take_into,
)
from lexigram.storage.s3.session import new_session
from lexigram.storage.s3.settings import S3Settings, resolve
from lexigram.storage.s3.transfer import MAX_COPY_SIZE, part_body, part_size_for
from lexigram.storage.s3.urls import effective_style, object_url
from lexigram.storage.s3.writes import (
    copy_multipart,
    put_multipart,
    repair_put,
    written,
)
from lexigram.storage.transfer import chain

__all__ = ["R2Driver", "S3Driver"]

_CAPABILITIES = Capabilities(
    delete_batch_size=1000,
    http_headers=True,
    presign_put_headers=frozenset(S3_HEADER_PARAMS),
    presign_post=True,
    conditional_write=True,
    conditional_read=True,
    native_start_after=True,
)

T = TypeVar("T", bytes, memoryview)


class S3Driver(BlobDriver):
    """AWS S3 and S3-compatible stores through one lazily created aiobotocore client."""

    name: ClassVar[str] = "s3"
    capabilities: ClassVar[Capabilities] = _CAPABILITIES

    def __init__(self, settings: S3Settings) -> None:
        self.settings = settings
        self._style = effective_style(
            settings.addressing_style, settings.bucket, settings.endpoint_url
        )
        self._client: Any = None
        self._stack: AsyncExitStack | None = None
        self._lock = asyncio.Lock()
        self._closed = False
        self._bucket_seen = False
        #: the keys the default credential chain found (once the client is made)
        self._found: tuple[str, ...] = ()
        self._sse = self._sse_args()

    @classmethod
    def from_config(cls, config: StorageS3Config | StorageR2Config) -> S3Driver:
        settings = resolve(config)
        return R2Driver(settings) if settings.driver == "r2" else S3Driver(settings)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(bucket={self.settings.bucket!r})"

    # -- description ------------------------------------------------------------------

    @property
    def location(self) -> str:
        return f"bucket {self.settings.bucket!r}"

    @property
    def public_base_url(self) -> str | None:
        return self.settings.public_url

    # -- the client ---------------------------------------------------------------------

    def client_config(self) -> AioConfig:
        """The botocore client settings (public so benchmarks use exactly the same)."""
        s = self.settings
        return AioConfig(
            region_name=s.region,
            signature_version="s3v4",
            s3={"addressing_style": self._style},
            connect_timeout=s.connect_timeout,
            read_timeout=s.read_timeout,
            retries={"max_attempts": s.max_attempts, "mode": "standard"},
            max_pool_connections=s.max_pool_connections,
            # No checksum of botocore's own (its default: a CRC32 of every upload, and of
            # every download): the driver sends and checks one CRC32C itself, computed as
            # the bytes go by (see s3/integrity.py).
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )

    def client_kwargs(self) -> dict[str, Any]:
        s = self.settings
        kwargs: dict[str, Any] = {
            "region_name": s.region,
            "endpoint_url": s.endpoint_url,
            "config": self.client_config(),
            "verify": s.verify_ssl,
        }
        if s.access_key and s.secret_key:
            kwargs["aws_access_key_id"] = s.access_key
            kwargs["aws_secret_access_key"] = s.secret_key
            if s.session_token:
                kwargs["aws_session_token"] = s.session_token
        return kwargs

    async def _s3(self) -> Any:
        client = self._client
        if client is not None:
            return client
        async with self._lock:
            if self._closed:
                raise DriverError(ErrorCode.UNKNOWN, "the driver is closed")
            if self._client is None:
                # made in a worker thread: reading botocore's models would block the loop
                session = await new_session(self.settings.profile)
                stack = AsyncExitStack()
                # botocore logs the access key id and session token of every request at
                # DEBUG: keep them (and the ones the credential chain finds) out of logs,
                # until the client is closed.
                stack.callback(hide_in_logs(self.settings.secrets).release)
                try:
                    client = await stack.enter_async_context(
                        session.create_client("s3", **self.client_kwargs())
                    )
                    for event in SENT_CHECKSUM_EVENTS:
                        client.meta.events.register(event, declare_sent_checksum)
                    self._found = tuple(await self._chain(session))
                    stack.callback(hide_in_logs(self._found).release)
                except BaseException:
                    await stack.aclose()
                    raise
                self._client, self._stack = client, stack
        return self._client

    async def _chain(self, session: AioSession) -> list[str]:
        """The keys the default credential chain found (read when the client was made),
        when the config gives none."""
        if self.settings.access_key and self.settings.secret_key:
            return []
        credentials = await session.get_credentials()  # cached by create_client
        if credentials is None:
            return []
        frozen = await credentials.get_frozen_credentials()
        return [v for v in (frozen.access_key, frozen.secret_key, frozen.token) if v]

    async def close(self) -> None:
        async with self._lock:
            self._closed = True
            stack, self._stack, self._client = self._stack, None, None
        if stack is not None:
            await stack.aclose()

    # -- errors -------------------------------------------------------------------------

    def classify(self, exc: BaseException) -> ErrorCode:
        code = code_for(exc)
        return code if code is not None else super().classify(exc)

    def is_retryable(self, exc: BaseException, code: ErrorCode) -> bool:
        # botocore retried the request itself; what it does not retry (a body cut short)
        # the core may
        return code is ErrorCode.UNAVAILABLE and not retried_by_sdk(exc)

    def describe(self, exc: BaseException) -> str:
        if code_for(exc) is ErrorCode.BUCKET_NOT_FOUND:
            return self._no_bucket().detail
        detail = safe_detail(exc)
        return detail if detail is not None else super().describe(exc)

    def secrets(self) -> Sequence[str]:
        return (*self.settings.secrets, *self._found)

    def _no_bucket(self) -> DriverError:
        s = self.settings
        return DriverError(
            ErrorCode.BUCKET_NOT_FOUND,
            f"bucket {s.bucket!r} does not exist ({self.name}"
            f"{', ' + s.endpoint_url if s.endpoint_url else ''})",
        )

    # -- writing ------------------------------------------------------------------------

    def _sse_args(self) -> dict[str, str]:
        enc = self.settings.encryption
        if not enc.enabled:
            return {}
        args: dict[str, str] = {"ServerSideEncryption": enc.type}
        if enc.type == "aws:kms" and enc.kms_key_id:
            args["SSEKMSKeyId"] = enc.kms_key_id
        return args

    def _write_args(self, content_type: str, metadata: Mapping[str, str]) -> dict[str, Any]:
        args: dict[str, Any] = {"ContentType": content_type, **self._sse}
        if metadata:
            args["Metadata"] = dict(metadata)
        return args

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
        try:
            args = self._write_args(content_type, metadata)
            if headers:
                args.update(header_args(headers))
            if create_only:
                args["IfNoneMatch"] = "*"
            if if_match is not None:
                args["IfMatch"] = quoted(if_match)
            block: memoryview | bytearray
            data = body.data
            if data is not None and data.nbytes <= self.settings.multipart_threshold:
                block = data
            else:
                part = part_size_for(body.size, self.settings.part_size)
                blocks = body.blocks(part)
                block = await anext(blocks)
                if len(block) == part:
                    second = await anext(blocks, None)
                    if second is not None:
                        parts = chain([block, second], blocks)
                        del block, second  # a part is held by the pump only
                        return (
                            await put_multipart(
                                self,
                                key,
                                parts,
                                args,
                                content_type,
                                metadata,
                            )
                        ).with_headers(headers)
            # One PutObject, sent from here (a helper would be one more coroutine layer
            # on every resumption of the request).
            size = len(block)
            client = self._client or await self._s3()
            digest: bytes | None = None
            if self.settings.checksums:
                digest = await CRC32C.of(block)  # in a worker thread when large
                args.update(checksum_args(digest))
            resp = await client.put_object(
                Bucket=self.settings.bucket, Key=key, Body=part_body(block) if size else b"", **args
            )
            if digest is not None and not answer_shows(resp, digest):
                resp = await repair_put(self, key, block, size, args, digest, resp)
            return written(key, size, resp, content_type, metadata).with_headers(headers)
        except ClientError as exc:
            if create_only and client_error_code(exc)[0] in (
                "PreconditionFailed",
                "ConditionalRequestConflict",
            ):
                raise DriverError(ErrorCode.ALREADY_EXISTS) from exc
            if create_only and client_error_code(exc)[1] in (409, 412):
                raise DriverError(ErrorCode.ALREADY_EXISTS) from exc
            missing_is_precondition(exc, if_match)
            raise

    # -- reading ------------------------------------------------------------------------

    async def stream(
        self,
        key: str,
        *,
        start: int,
        end: int | None,
        chunk_size: int,
        conditions: Conditions | None = None,
    ) -> AsyncIterator[bytes]:
        client = await self._s3()
        args: dict[str, Any] = {}
        whole = not start and end is None
        if not whole:
            args["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        elif self.settings.checksums:
            args["ChecksumMode"] = "ENABLED"
        resp = await client.get_object(
            Bucket=self.settings.bucket, Key=key, **args, **condition_args(conditions)
        )
        # A whole-object stream is hashed as it goes; a mismatch is raised at the end,
        # before the stream completes.
        expected = expected_of(resp) if whole and self.settings.checksums else None
        chunks = body_chunks(resp["Body"], chunk_size)
        if expected is not None:
            chunks = verify_at_end(chunks, expected)
        try:
            async for chunk in chunks:
                yield chunk
        finally:
            await chunks.aclose()

    async def read(
        self, key: str, *, start: int, end: int | None, conditions: Conditions | None = None
    ) -> bytes:
        # The first GET tells the size; what lies beyond one part comes in parallel
        # ranged GETs. (Awaited here, not in a helper: each coroutine layer costs on
        # every resumption of the request.)
        client = self._client or await self._s3()
        first = first_get(self, key, start, end)
        resp = await client.get_object(**first, **condition_args(conditions))
        first_end, stop, expected = extent(self, resp, start, end)
        if first_end >= stop:
            async with resp["Body"] as body:
                if expected is None:
                    data: bytes = await body.read()
                    return data
                pieces = await read_checked(body, expected)
            return b"".join(pieces)

        parts = await parallel_read(
            self,
            key,
            resp,
            start,
            first_end,
            stop,
            expected,
            take_bytes,
            pinned=conditions is not None,
        )
        return b"".join(itertools.chain.from_iterable(parts))

    async def read_into(
        self,
        key: str,
        buffer: memoryview,
        *,
        start: int,
        end: int | None,
        conditions: Conditions | None = None,
    ) -> int:
        client = self._client or await self._s3()
        first = first_get(self, key, start, end)
        resp = await client.get_object(**first, **condition_args(conditions))
        first_end, stop, expected = extent(self, resp, start, end)
        if stop - start > buffer.nbytes:
            resp["Body"].close()
            raise DriverError(
                ErrorCode.INVALID_ARGUMENT,
                buffer_too_small(buffer.nbytes, stop - start, exact=True),
            )
        if first_end >= stop:
            running = None if expected is None else expected.checksum.running()
            async with resp["Body"] as body:
                await take_into(buffer, running)(0, stop - start, body, False)
            if expected is not None and running is not None:
                await expected.check(running)
            return stop - start
        await parallel_read(
            self,
            key,
            resp,
            start,
            first_end,
            stop,
            expected,
            take_into(buffer),
            pinned=conditions is not None,
        )
        return stop - start

    async def head(self, key: str, *, conditions: Conditions | None = None) -> BlobInfo:
        try:
            client = await self._s3()
            resp = await client.head_object(
                Bucket=self.settings.bucket, Key=key, **condition_args(conditions)
            )
        except ClientError as exc:
            if await self._bucket_missing(exc):
                raise self._no_bucket() from exc
            raise
        return BlobInfo(
            path=key,
            size=int(resp.get("ContentLength", 0)),
            content_type=resp.get("ContentType"),
            last_modified=_utc(resp.get("LastModified")),
            etag=resp.get("ETag"),
            metadata=dict(resp.get("Metadata") or {}),
        ).with_headers(headers_from(resp))

    async def _bucket_missing(self, exc: ClientError) -> bool:
        """HEAD answers a bare 404 for a missing key and for a missing bucket alike:
        tell them apart with one HeadBucket (once the bucket was seen, not again)."""
        if client_error_code(exc)[1] != 404 or self._bucket_seen:
            return False
        try:
            await self._client.head_bucket(Bucket=self.settings.bucket)
        except ClientError as bucket_exc:
            return client_error_code(bucket_exc)[1] == 404
        self._bucket_seen = True
        return False

    async def list(
        self, prefix: str, *, delimiter: str | None, start_after: str | None = None
    ) -> AsyncIterator[BlobInfo]:
        client = await self._s3()
        args: dict[str, Any] = {"Bucket": self.settings.bucket, "Prefix": prefix}
        if delimiter is not None:
            args["Delimiter"] = delimiter
        if start_after:
            args["StartAfter"] = start_after
        paginator = client.get_paginator("list_objects_v2")
        async for page in paginator.paginate(**args):
            objects = [
                BlobInfo(
                    path=o["Key"],
                    size=o.get("Size", 0),
                    last_modified=_utc(o.get("LastModified")),
                    etag=o.get("ETag"),
                )
                for o in page.get("Contents", ())
            ]
            common = page.get("CommonPrefixes")
            if not common:
                for info in objects:
                    yield info
                continue
            prefixes = [BlobInfo(path=p["Prefix"], size=0, is_prefix=True) for p in common]
            for info in heapq.merge(objects, prefixes, key=_path):
                yield info

    # -- deleting -----------------------------------------------------------------------

    async def delete(self, key: str, *, if_match: str | None = None) -> None:
        try:
            client = await self._s3()
            more = {} if if_match is None else {"IfMatch": quoted(if_match)}
            await client.delete_object(Bucket=self.settings.bucket, Key=key, **more)
        except ClientError as exc:
            missing_is_precondition(exc, if_match)
            raise

    async def delete_many(self, keys: Sequence[str]) -> Mapping[str, BaseException]:
        if not keys:
            return {}
        client = await self._s3()
        resp = await client.delete_objects(
            Bucket=self.settings.bucket,
            Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True},
        )
        return delete_failures(resp.get("Errors", ()))

    # -- copying ------------------------------------------------------------------------

    async def copy(self, src: str, dst: str) -> None:
        bucket = self.settings.bucket
        client = await self._s3()
        try:
            await client.copy_object(
                Bucket=bucket,
                Key=dst,
                CopySource={"Bucket": bucket, "Key": src},
                MetadataDirective="COPY",
                **self._sse,
            )
        except ClientError as exc:
            code, _ = client_error_code(exc)
            if code not in ("InvalidRequest", "EntityTooLarge"):
                raise
            info = await client.head_object(Bucket=bucket, Key=src)
            if int(info["ContentLength"]) <= MAX_COPY_SIZE:
                raise
            await copy_multipart(self, src, dst, info)

    # -- URLs ---------------------------------------------------------------------------

    def native_url(self, key: str) -> str:
        s = self.settings
        return object_url(
            key, bucket=s.bucket, region=s.region, endpoint_url=s.endpoint_url, style=self._style
        )

    async def presign(self, key: str, request: PresignRequest) -> str:
        client = await self._s3()
        params: dict[str, Any] = {"Bucket": self.settings.bucket, "Key": key}
        if request.method == "GET":
            operation = "get_object"
            if request.content_disposition:
                params["ResponseContentDisposition"] = request.content_disposition
            if request.content_type:
                params["ResponseContentType"] = request.content_type
        else:
            operation = "put_object"
            if request.content_type:
                params["ContentType"] = request.content_type
            # signed headers: the uploader must send them, and S3 stores them
            params.update(header_args(request.headers))
        url: str = await client.generate_presigned_url(
            operation,
            Params=params,
            ExpiresIn=int(request.expires_in.total_seconds()),
            HttpMethod=request.method,
        )
        return url

    # -- health ---------------------------------------------------------------------------

    async def ping(self) -> None:
        try:
            client = await self._s3()
            await client.head_bucket(Bucket=self.settings.bucket)
            self._bucket_seen = True
        except ClientError as exc:
            if client_error_code(exc)[1] == 404:
                raise self._no_bucket() from exc
            raise

    # -- browser uploads --------------------------------------------------------------

    async def presign_post(self, key: str, request: PostPolicyRequest) -> PresignedPost:
        client = await self._s3()
        return await presigned_post(client, self.settings.bucket, key, request, self._sse)


class R2Driver(S3Driver):
    """Cloudflare R2: the S3 driver with region ``auto`` and explicit keys."""

    name: ClassVar[str] = "r2"
    #: R2 has no POST Object (browser form uploads): presigned POST is not supported.
    capabilities: ClassVar[Capabilities] = attrs.evolve(_CAPABILITIES, presign_post=False)


def _path(info: BlobInfo) -> str:
    return info.path


def _utc(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return None
