"""The Azure Blob Storage driver, on azure-storage-blob's asyncio client."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast
from urllib.parse import quote

from azure.core import MatchConditions
from azure.storage.blob import BlobProperties, ContentSettings
from azure.storage.blob.aio import BlobClient, BlobPrefix, BlobServiceClient, ContainerClient
from lexigram.storage.azure.clients import build_service_client, resolve
from lexigram.storage.azure.conditional import (
    if_match_args,
    missing_is_precondition,
    read_args,
)
from lexigram.storage.azure.config import StorageAzureConfig
from lexigram.storage.azure.errors import already_exists, classify_azure, describe, is_sdk_error
from lexigram.storage.azure.object_headers import settings_args, settings_headers
from lexigram.storage.azure.sas import DelegationKeys, blob_sas
from lexigram.storage.azure.transfer import as_bytes, md5_header, upload_blocks
from lexigram.storage.body import UploadBody
from lexigram.storage.conditions import Conditions
from lexigram.storage.config.fields import secret_values
from lexigram.storage.driver import BlobDriver, Capabilities, PresignRequest
from lexigram.storage.errors import DriverError, ErrorCode
from lexigram.storage.headers import NO_HEADERS, HttpHeaders
from lexigram.storage.info import BlobInfo
from lexigram.storage.integrity import MD5
from lexigram.storage.log_redaction import HiddenSecrets, hide_in_logs
from lexigram.storage.retry import RetryPolicy
from lexigram.storage.transfer import RangeRead, chain

__all__ = ["AzureBlobDriver"]

#: keys per Blob Batch request (the service's limit).
BATCH_LIMIT = 256
_GONE = frozenset({200, 202, 404})
#: the waits between polls of a pending server-side copy (0.05 s doubling up to 2 s, jittered)
_COPY_POLL = RetryPolicy(base_delay=0.05, max_delay=2.0)


def _quoted(etag: str | None) -> str | None:
    """The etag in its HTTP form, ``"0x8D..."``, on every path: Azure's Get Blob
    Properties and Put Blob give it quoted, List Blobs without the quotes."""
    if etag is None or etag.startswith(('"', 'W/"')):
        return etag
    return f'"{etag}"'


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class AzureBlobDriver(BlobDriver):
    """Blob Storage through ``azure.storage.blob.aio``; one container per driver.

    Clients are created on first use and closed by :meth:`close`. Small in-memory bodies
    go in one Put Blob; larger or streamed ones are staged as blocks (bounded in flight)
    and committed once with Put Block List.
    """

    name = "azure"
    # Azure stores a backslash in a blob name as '/': the core refuses such keys.
    # A SAS cannot bind request headers: presigned PUT URLs bind none (presign_put_headers).
    capabilities = Capabilities(
        delete_batch_size=BATCH_LIMIT,
        forbidden_key_chars="\\",
        http_headers=True,
        conditional_write=True,
        conditional_read=True,
        # no "start after" in List Blobs: the core skips the names up to it
        native_start_after=False,
    )

    def __init__(self, config: StorageAzureConfig) -> None:
        self.config = config
        self._conn = resolve(config)
        self._service: BlobServiceClient | None = None
        self._container_client: ContainerClient | None = None
        self._making = asyncio.Lock()  # one service client is built at a time
        self._token: Any = None
        self._hidden: HiddenSecrets | None = None
        self._secrets = secret_values(config)
        if self._conn.account_key:
            self._secrets.append(self._conn.account_key)
        self._delegation = DelegationKeys()
        # downloads and download_into: parallel ranged reads by the core (read_range)
        self.read_part_size = config.download_chunk_size
        self.read_concurrency = config.max_concurrency
        #: None: not tried yet; False: the endpoint refused batch requests (Azurite).
        self.batch_delete_supported: bool | None = None

    def __repr__(self) -> str:
        return (
            f"AzureBlobDriver(account={self._conn.account_name!r}, "
            f"container={self.config.container!r}, endpoint={self._conn.endpoint!r})"
        )

    # -- description ----------------------------------------------------------------------

    @property
    def location(self) -> str:
        return f"container {self.config.container!r} (account {self._conn.account_name!r})"

    @property
    def public_base_url(self) -> str | None:
        return self.config.public_url or None

    # -- clients --------------------------------------------------------------------------

    async def _service_client(self) -> BlobServiceClient:
        """The SDK's service client, made on first use (one at a time) in a worker
        thread: importing the SDK, building its pipeline and an azure-identity credential
        (which reads environment and token-cache files) never block the event loop."""
        if self._service is None:
            async with self._making:
                if self._service is None:
                    # kept out of every log record (azure-core's, aiohttp's...) until close()
                    if self._hidden is None:
                        self._hidden = hide_in_logs(self._secrets)
                    service, self._token = await asyncio.to_thread(
                        build_service_client, self.config, self._conn
                    )
                    self._service = service
        return self._service

    async def _container(self) -> ContainerClient:
        if self._container_client is None:
            service = await self._service_client()
            self._container_client = service.get_container_client(self.config.container)
        return self._container_client

    async def _blob(self, key: str) -> BlobClient:
        return (await self._container()).get_blob_client(key)

    # -- records --------------------------------------------------------------------------

    def _info(self, key: str, props: BlobProperties) -> BlobInfo:
        settings = props.content_settings
        return BlobInfo(
            path=key,
            size=int(props.size or 0),
            content_type=settings.content_type if settings is not None else None,
            last_modified=_utc(props.last_modified),
            etag=_quoted(props.etag),
            metadata=dict(props.metadata or {}),
        ).with_headers(settings_headers(settings))

    @staticmethod
    def _written(
        key: str,
        size: int,
        content_type: str,
        metadata: Mapping[str, str],
        reply: Mapping[str, Any],
    ) -> BlobInfo:
        return BlobInfo(
            path=key,
            size=size,
            content_type=content_type,
            last_modified=_utc(reply.get("last_modified")),
            etag=_quoted(reply.get("etag")),
            metadata=dict(metadata),
        )

    # -- writing --------------------------------------------------------------------------

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
            return await self._put(
                key, body, content_type, metadata, create_only, if_match, headers
            )
        except Exception as exc:
            missing_is_precondition(self.classify(exc), if_match, exc)
            raise

    async def _put(
        self,
        key: str,
        body: UploadBody,
        content_type: str,
        metadata: Mapping[str, str],
        create_only: bool,
        if_match: str | None,
        headers: HttpHeaders,
    ) -> BlobInfo:
        cfg = self.config
        blob = await self._blob(key)
        settings = ContentSettings(content_type=content_type, **settings_args(headers))
        # IfMissing alone (never with etag=): the SDK turns it into If-None-Match: *.
        condition: dict[str, Any] = (
            {"match_condition": MatchConditions.IfMissing} if create_only else {}
        )
        condition.update(if_match_args(if_match))
        if body.data is not None and body.data.nbytes <= cfg.single_put_threshold:
            return (
                await self._put_single(
                    blob, key, as_bytes(body.data), settings, metadata, create_only, condition
                )
            ).with_headers(headers)
        # In-memory data: zero-copy slices. Streams: each block copied once into its own buffer.
        blocks = cast(
            AsyncGenerator[bytes | bytearray | memoryview, None], body.blocks(cfg.block_size)
        )
        async with contextlib.aclosing(blocks):
            first = await anext(blocks, b"")
            second = await anext(blocks, None)
            if second is None and len(first) <= cfg.single_put_threshold:
                return (
                    await self._put_single(
                        blob, key, as_bytes(first), settings, metadata, create_only, condition
                    )
                ).with_headers(headers)
            if create_only and await self.exists(key):
                # Cheap early answer; the commit below is what makes create atomic.
                raise DriverError(ErrorCode.ALREADY_EXISTS)
            parts = chain([first] if second is None else [first, second], blocks)
            del first, second  # a block is held by the pump only
            try:
                size, reply = await upload_blocks(
                    blob,
                    parts,
                    concurrency=cfg.max_concurrency,
                    commit={
                        "content_settings": settings,
                        "metadata": dict(metadata),
                        **condition,
                    },
                    checksums=cfg.checksums,
                )
            except Exception as exc:
                if create_only:
                    exists = already_exists(exc)
                    if exists is not None:
                        raise exists from exc
                    if self.classify(exc) is ErrorCode.FAILED_PRECONDITION:
                        # the other upload that won the race created the key
                        raise DriverError(ErrorCode.ALREADY_EXISTS, self.describe(exc)) from exc
                raise
        return self._written(key, size, content_type, metadata, reply).with_headers(headers)

    async def _put_single(
        self,
        blob: BlobClient,
        key: str,
        data: bytes,
        settings: ContentSettings,
        metadata: Mapping[str, str],
        create_only: bool,
        condition: dict[str, Any],
    ) -> BlobInfo:
        integrity: dict[str, Any] = {}
        if self.config.checksums:
            # One digest, two uses: Content-MD5 makes the service refuse an altered body,
            # and the blob keeps it as its Content-MD5 property, for any later reader.
            digest = await MD5.of(data)  # in a worker thread when large
            settings = ContentSettings(
                content_type=settings.content_type,
                content_md5=bytearray(digest),
                **settings_args(settings_headers(settings)),
            )
            integrity["headers"] = md5_header(digest)
        try:
            reply = await blob.upload_blob(
                data,
                length=len(data),
                overwrite=not create_only,
                content_settings=settings,
                metadata=dict(metadata),
                max_concurrency=1,
                **condition,
                **integrity,
            )
        except Exception as exc:
            exists = already_exists(exc) if create_only else None
            if exists is None:
                raise
            if await self.exists(key):
                raise exists from exc
            # Refused although nothing is visible: the key has uncommitted blocks (of a
            # failed or running block upload), which Azurite counts for If-None-Match on
            # Put Blob but not on Put Block List. Commit one block, still conditionally.
            try:
                _, reply = await upload_blocks(
                    blob,
                    chain([data]),
                    concurrency=1,
                    commit={
                        "content_settings": settings,
                        "metadata": dict(metadata),
                        **condition,
                    },
                    checksums=self.config.checksums,
                )
            except Exception as again:
                exists = already_exists(again)
                if exists is None:
                    raise
                raise exists from again
        return self._written(key, len(data), settings.content_type or "", metadata, reply)

    # -- reading --------------------------------------------------------------------------

    @staticmethod
    def _window(start: int, end: int | None) -> dict[str, Any]:
        if start == 0 and end is None:
            return {}
        return {"offset": start, "length": None if end is None else end - start}

    def _validation(self) -> dict[str, Any]:
        # Each range is requested with x-ms-range-get-content-md5 (so at most 4 MiB) and
        # checked against the MD5 the service computed of what it sent.
        return {"validate_content": "md5"} if self.config.checksums else {}

    async def read_range(
        self,
        key: str,
        *,
        start: int,
        end: int,
        conditions: Conditions | None = None,
        into: memoryview | None = None,
    ) -> RangeRead:
        # The range-read primitive of the core's parallel reads (``read``, ``read_into``).
        blob = await self._blob(key)
        downloader = await blob.download_blob(
            max_concurrency=1,
            # the bytes stored, also of a blob with Content-Encoding: gzip
            decompress=False,
            offset=start,
            length=end - start,
            **self._validation(),
            **read_args(conditions),
        )
        props = downloader.properties
        if conditions is not None:
            conditions.check(props.etag)
        data: bytes = await downloader.readall()
        total = int(str(props.content_range).rsplit("/", 1)[1])
        return RangeRead(data, total, _quoted(props.etag))

    async def stream(
        self,
        key: str,
        *,
        start: int,
        end: int | None,
        chunk_size: int,
        conditions: Conditions | None = None,
    ) -> AsyncIterator[bytes]:
        blob = await self._blob(key)
        downloader = await blob.download_blob(
            max_concurrency=1,
            # the bytes stored, also of a blob with Content-Encoding: gzip
            decompress=False,
            **self._window(start, end),
            **self._validation(),
            **read_args(conditions),
        )
        if conditions is not None:
            conditions.check(downloader.properties.etag)
        async for chunk in downloader.chunks():
            if len(chunk) <= chunk_size:
                yield chunk
                continue
            view = memoryview(chunk)
            for offset in range(0, len(chunk), chunk_size):
                yield bytes(view[offset : offset + chunk_size])

    async def head(self, key: str, *, conditions: Conditions | None = None) -> BlobInfo:
        blob = await self._blob(key)
        props = await blob.get_blob_properties()
        info = self._info(key, props)
        if conditions is not None:
            conditions.check(info.etag)  # of that one answer: as atomic as the request
        return info

    async def list(
        self, prefix: str, *, delimiter: str | None, start_after: str | None = None
    ) -> AsyncIterator[BlobInfo]:
        container = await self._container()
        pages: AsyncIterator[AsyncIterator[BlobProperties | BlobPrefix]]
        if delimiter is None:
            pages = container.list_blobs(
                name_starts_with=prefix or None,
                include=["metadata"],
                results_per_page=self.config.list_page_size,
            ).by_page()
        else:
            pages = container.walk_blobs(
                name_starts_with=prefix or None,
                include=["metadata"],
                delimiter=delimiter,
                results_per_page=self.config.list_page_size,
            ).by_page()
        async for page in pages:
            items: list[BlobInfo] = []
            async for item in page:
                if isinstance(item, BlobPrefix):
                    items.append(BlobInfo(path=item.name, size=0, is_prefix=True))
                else:
                    items.append(self._info(item.name, item))
            # The SDK puts a page's prefixes before its blobs; the service sends each
            # page as one contiguous, ordered range of names: restore the order.
            items.sort(key=lambda info: info.path)
            for info in items:
                yield info

    # -- deleting -------------------------------------------------------------------------

    async def delete(self, key: str, *, if_match: str | None = None) -> None:
        try:
            blob = await self._blob(key)
            await blob.delete_blob(delete_snapshots="include", **if_match_args(if_match))
        except Exception as exc:
            code = self.classify(exc)
            missing_is_precondition(code, if_match, exc)
            if code is not ErrorCode.NOT_FOUND:
                raise

    async def delete_many(self, keys: Sequence[str]) -> Mapping[str, BaseException]:
        """One Blob Batch request for real Azure; per-key deletes where batches fail
        (Azurite 3.35), detected on the first batch and remembered."""
        if len(keys) > 1 and self.batch_delete_supported is not False:
            try:
                failures = await self._delete_batch(keys)
            except Exception as exc:
                if not (isinstance(exc, DriverError) or is_sdk_error(exc)):
                    raise
                code = self.classify(exc)
                if code in (ErrorCode.BUCKET_NOT_FOUND, ErrorCode.PERMISSION_DENIED):
                    raise
                if code is not ErrorCode.UNAVAILABLE:
                    self.batch_delete_supported = False
            else:
                self.batch_delete_supported = True
                return failures
        return await super().delete_many(keys)

    async def _delete_batch(self, keys: Sequence[str]) -> dict[str, BaseException]:
        container = await self._container()
        replies = await container.delete_blobs(
            *keys, delete_snapshots="include", raise_on_any_failure=False
        )
        results = [reply async for reply in replies]
        if len(results) != len(keys):
            raise DriverError(
                ErrorCode.NOT_SUPPORTED,
                f"batch delete answered {len(results)} parts for {len(keys)} keys",
            )
        failures: dict[str, BaseException] = {}
        for key, reply in zip(keys, results, strict=True):
            status = int(reply.status_code)
            code = reply.headers.get("x-ms-error-code", "") if reply.headers else ""
            if status in _GONE and code != "ContainerNotFound":
                continue
            if code == "ContainerNotFound":
                failures[key] = DriverError(
                    ErrorCode.BUCKET_NOT_FOUND,
                    f"container {self.config.container!r} does not exist",
                )
            elif status in (401, 403):
                failures[key] = DriverError(
                    ErrorCode.PERMISSION_DENIED, f"Azure {code} (HTTP {status})"
                )
            elif status in (408, 429) or status >= 500:
                failures[key] = DriverError(ErrorCode.UNAVAILABLE, f"Azure {code} (HTTP {status})")
            else:
                failures[key] = DriverError(ErrorCode.UNKNOWN, f"Azure {code} (HTTP {status})")
        return failures

    # -- copying --------------------------------------------------------------------------

    async def copy(self, src: str, dst: str) -> None:
        source_url = (await self._blob(src)).url
        if self._conn.sas_token and not self._conn.account_key:
            source_url += "?" + self._conn.sas_token  # the source must be readable too
        target = await self._blob(dst)
        deadline = time.monotonic() + self.config.copy_timeout
        polls = 0
        reply = await target.start_copy_from_url(source_url)
        status = reply.get("copy_status")
        description = ""
        while status == "pending":
            if time.monotonic() > deadline:
                with contextlib.suppress(Exception):
                    await target.abort_copy(str(reply.get("copy_id") or ""))
                raise DriverError(
                    ErrorCode.UNAVAILABLE,
                    f"server-side copy still pending after {self.config.copy_timeout:g} s",
                )
            polls += 1
            await asyncio.sleep(_COPY_POLL.delay(polls))  # the core's backoff
            props = await target.get_blob_properties()
            status = props.copy.status
            description = props.copy.status_description or ""
        if status not in (None, "success"):
            raise DriverError(
                ErrorCode.UNKNOWN, f"server-side copy ended as {status}: {description}"
            )

    # -- URLs -----------------------------------------------------------------------------

    def native_url(self, key: str) -> str:
        return f"{self._conn.endpoint}/{quote(self.config.container)}/{quote(key, safe='/~')}"

    async def presign(self, key: str, request: PresignRequest) -> str:
        conn = self._conn
        if conn.account_key:
            token = blob_sas(
                account_name=conn.account_name,
                container=self.config.container,
                key=key,
                request=request,
                account_key=conn.account_key,
            )
        elif conn.use_ad:
            now = datetime.now(UTC)
            delegation = await self._delegation.get(
                await self._service_client(), now + request.expires_in
            )
            token = blob_sas(
                account_name=conn.account_name,
                container=self.config.container,
                key=key,
                request=request,
                delegation_key=delegation,
                now=now,
            )
        else:
            raise DriverError(
                ErrorCode.NOT_SUPPORTED,
                "presigned URLs are signed with account_key (or a connection string holding "
                "AccountKey) or an Azure AD user delegation key; a sas_token cannot sign",
            )
        return f"{self.native_url(key)}?{token}"

    # -- health and lifecycle -------------------------------------------------------------

    async def ping(self) -> None:
        container = await self._container()
        await container.get_container_properties()

    async def close(self) -> None:
        service, self._service = self._service, None
        token, self._token = self._token, None
        self._container_client = None
        if not self._making.locked():
            self._making = asyncio.Lock()  # unbound: the driver may be used on another loop
        hidden, self._hidden = self._hidden, None
        try:
            if service is not None:
                await service.close()
        finally:
            try:
                if token is not None:
                    await token.close()
            finally:
                if hidden is not None:
                    hidden.release()

    # -- error mapping --------------------------------------------------------------------

    def classify(self, exc: BaseException) -> ErrorCode:
        code = classify_azure(exc)
        return code if code is not None else super().classify(exc)

    def describe(self, exc: BaseException) -> str:
        detail = describe(exc, container=self.config.container)
        return detail if detail is not None else super().describe(exc)

    def secrets(self) -> Sequence[str]:
        return self._secrets
