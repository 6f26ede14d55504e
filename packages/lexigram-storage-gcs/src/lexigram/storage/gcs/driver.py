"""The Google Cloud Storage driver over gcloud-aio-storage.

Objects are addressed through the JSON API (``{api_root}/storage/v1/b/...``). The aiohttp
session, the SDK client and the credentials are created on first use and released by
:meth:`GCSDriver.close`; the credentials' files (a key file, or those of Application
Default Credentials) are read and the SDK client built in a worker thread, never on the
event loop. Requests of the SDK's calls are used as they are (upload, download, metadata,
list, delete, rewrite, bucket metadata); resumable uploads in chunks and V4 URL signing
are done here, because the SDK reads resumable bodies whole and signs only for
``storage.googleapis.com``.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import io
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
from gcloud.aio.auth import IamClient, Token, decode
from gcloud.aio.storage import Storage

from lexigram.storage.body import UploadBody
from lexigram.storage.conditions import Conditions, quoted
from lexigram.storage.config.fields import secret_values
from lexigram.storage.driver import BlobDriver, Capabilities, PresignRequest
from lexigram.storage.errors import DriverError, ErrorCode
from lexigram.storage.gcs.config import StorageGCSConfig, check_key_file
from lexigram.storage.gcs.errors import (
    bucket_missing,
    classify_gcs,
    raise_for_status,
    safe_detail,
    status_of,
)
from lexigram.storage.gcs.integrity import response_crc32c
from lexigram.storage.gcs.objects import RESOURCE_FIELDS, blob_info, resource_fields
from lexigram.storage.gcs.post_policy import sign_post_policy
from lexigram.storage.gcs.signing import Signer, rsa_signer, sign_url
from lexigram.storage.gcs.transfer import multipart_related, resumable_upload
from lexigram.storage.gcs.versions import check_answer, match_params, read_params
from lexigram.storage.headers import NO_HEADERS, HttpHeaders
from lexigram.storage.info import BlobInfo
from lexigram.storage.integrity import (
    CRC32C,
    Expected,
    b64,
    keep_intact,
    verify_at_end,
)
from lexigram.storage.log_redaction import HiddenSecrets, hide_in_logs
from lexigram.storage.presigned_post import PostPolicyRequest, PresignedPost
from lexigram.storage.transfer import RangeRead, chain

__all__ = ["GCSDriver"]

_SCOPES = ["https://www.googleapis.com/auth/devstorage.full_control"]
_PAGE = "1000"


class GCSDriver(BlobDriver):
    """Google Cloud Storage, one bucket per driver.

    ``trace_configs`` are attached to the driver's aiohttp session (request tracing,
    metrics; the tests use them to see every request the driver sends).
    """

    name = "gcs"
    capabilities = Capabilities(
        max_presign_expiry=timedelta(days=7),
        http_headers=True,
        presign_put_headers=frozenset(RESOURCE_FIELDS),
        presign_post=True,
        conditional_write=True,
        conditional_read=True,
        native_start_after=True,
    )

    def __init__(
        self,
        config: StorageGCSConfig,
        *,
        trace_configs: Sequence[aiohttp.TraceConfig] = (),
    ) -> None:
        self.config = config
        self.delete_concurrency = config.max_concurrency  # the core's delete_many fans out
        # downloads and download_into: parallel ranged reads by the core (read_range)
        self.read_part_size = config.chunk_size
        self.read_concurrency = config.max_concurrency
        self._trace_configs = list(trace_configs)
        self._bucket = config.bucket
        self._root = config.api_root
        self._upload_url = f"{self._root}/upload/storage/v1/b/{quote(self._bucket, safe='')}/o"
        self._object_url = f"{self._root}/storage/v1/b/{quote(self._bucket, safe='')}/o/"
        self._http: aiohttp.ClientSession | None = None
        #: the session of object media reads: the same connection pool, but bodies are
        #: never decompressed (an object stored with Content-Encoding: gzip is read as
        #: the bytes stored, and its CRC32C checks out).
        self._media_http: aiohttp.ClientSession | None = None
        self._sdk: Storage | None = None
        self._making = asyncio.Lock()  # one client is built at a time
        self._token: Token | None = None
        self._iam: IamClient | None = None
        self._signer: Signer | None = None
        self._hidden: HiddenSecrets | None = None
        # Per-request bounds: connecting, and the wait for the next bytes of a reply. No
        # total, so a long transfer is not cut off while it makes progress.
        self._timeout: Any = aiohttp.ClientTimeout(
            total=None, connect=config.connect_timeout, sock_read=config.timeout
        )
        self._writes: dict[str, str] = {}
        if config.kms_key_name:
            self._writes["kmsKeyName"] = config.kms_key_name

    # -- description ------------------------------------------------------------------

    @property
    def location(self) -> str:
        return f"bucket {self._bucket!r}"

    @property
    def public_base_url(self) -> str | None:
        return self.config.public_url

    # -- clients ----------------------------------------------------------------------

    async def _client(self) -> Storage:
        """The SDK client, made on first use (by ``_open``, one at a time)."""
        if self._sdk is None:
            async with self._making:
                if self._sdk is None:
                    self._sdk = await self._open()
        return self._sdk

    async def _open(self) -> Storage:
        """Make the aiohttp sessions here, on the loop; read the credentials' files and
        build the SDK objects in a worker thread (``_build``), so that the loop keeps
        serving other requests meanwhile."""
        http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self.config.max_connections),
            timeout=self._timeout,
            trace_configs=self._trace_configs or None,
        )
        media = aiohttp.ClientSession(
            connector=http.connector,
            connector_owner=False,
            timeout=self._timeout,
            trace_configs=self._trace_configs or None,
            auto_decompress=False,
        )
        try:
            token, sdk = await asyncio.to_thread(self._build, http)
        except BaseException:
            await media.close()
            await http.close()
            raise
        self._http, self._media_http, self._token = http, media, token
        # the key file's secrets, kept out of every log record until close()
        if self._hidden is None:
            self._hidden = hide_in_logs(_key_secrets(self.config, token))
        return sdk

    def _build(self, http: Any) -> tuple[Token | None, Storage]:
        """The credentials and the SDK client over ``http`` (blocking: file reads)."""
        path = self.config.credentials_path
        if path is not None:
            # Checked again for drivers built without StorageConfig: gcloud-aio-auth
            # silently falls back to the metadata server on a malformed key file.
            problem = check_key_file(path)
            if problem:
                raise DriverError(ErrorCode.PERMISSION_DENIED, problem)
        token = self._make_token(http)
        # gcloud-aio types `session` as its own alias of aiohttp.ClientSession. Without a
        # token (anonymous) the SDK makes its own, unused one: also here, off the loop.
        sdk = Storage(
            token=token, session=http, api_root=self._root, api_is_dev=self.config.is_anonymous
        )
        return token, sdk

    def _make_token(self, http: Any) -> Token | None:
        path = self.config.credentials_path
        if path is not None:
            return Token(service_file=path, scopes=_SCOPES, session=http)
        if self.config.is_anonymous:
            return None  # never asked for a token: no request to any token endpoint
        return Token(scopes=_SCOPES, session=http)  # default credentials / workload identity

    async def _auth(self) -> dict[str, str]:
        """The Authorization header of a request sent on the SDK's session, from
        gcloud-aio-auth's public ``Token.get()``; none when anonymous (emulators), as the
        SDK's own requests (``api_is_dev``), even when a key file is there for signing."""
        await self._client()
        token = self._token
        if token is None or self.config.is_anonymous:
            return {}
        return {"Authorization": f"Bearer {await token.get()}"}

    # -- writing ----------------------------------------------------------------------

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
        sdk = await self._client()
        params = dict(self._writes)
        if create_only:
            params["ifGenerationMatch"] = "0"
        if if_match is not None:
            # (fake-gcs-server checks it on a multipart upload only, not a resumable one)
            params.update(match_params(if_match))
        threshold = self.config.resumable_threshold
        try:
            if body.data is not None and body.data.nbytes <= threshold:
                data = await body.read_all()
                return await self._put_small(
                    sdk, key, data, content_type, metadata, params, headers=headers
                )
            chunk = self.config.chunk_size
            # In-memory bodies: zero-copy slices. Streams: two buffers in turn (the
            # upload reads one chunk ahead while it sends the other); files read into them.
            blocks: AsyncIterator[bytes | bytearray | memoryview] = aiter(
                body.blocks(chunk, ring=2)
            )
            first = await anext(blocks)
            if len(first) < chunk and len(first) <= threshold:
                return await self._put_small(
                    sdk, key, bytes(first), content_type, metadata, params, headers=headers
                )
            resource: dict[str, Any] = {"contentType": content_type}
            if metadata:
                resource["metadata"] = dict(metadata)
            resource.update(resource_fields(headers))
            checksum = CRC32C.running() if self.config.checksums else None
            chunks = chain([first], blocks)
            del first  # a chunk is held by the pump only
            result = await resumable_upload(
                sdk.session,
                url=self._upload_url,
                auth=self._auth,
                name=key,
                resource=resource,
                params=params,
                content_type=content_type,
                size=body.size,
                chunk_size=chunk,
                chunks=chunks,
                timeout=self._timeout,
                checksum=checksum,
            )
            if checksum is not None:
                result = await self._verify_written(
                    sdk,
                    key,
                    result,
                    await checksum.digest(),
                    body.data,
                    content_type,
                    metadata,
                    headers=headers,
                )
            return blob_info(result)
        except aiohttp.ClientResponseError as exc:
            if exc.status == 412 and create_only:
                raise DriverError(ErrorCode.ALREADY_EXISTS) from exc
            if exc.status == 404:
                raise self._no_bucket(exc) from exc
            raise

    async def _put_small(
        self,
        sdk: Storage,
        key: str,
        data: bytes,
        content_type: str,
        metadata: Mapping[str, str],
        params: dict[str, str],
        *,
        headers: HttpHeaders = NO_HEADERS,
    ) -> BlobInfo:
        digest = await CRC32C.of(data) if self.config.checksums else None
        if metadata or headers or "ifGenerationMatch" in params or digest is not None:
            # A multipart upload carries the metadata and the CRC32C, and it is the request on
            # which fake-gcs-server honours ifGenerationMatch (GCS honours it on every kind).
            result = await self._put_multipart(
                key, data, content_type, metadata, digest, params, headers=headers
            )
        else:
            result = await sdk.upload(
                self._bucket,
                key,
                data,
                content_type=content_type,
                parameters=params,
                force_resumable_upload=False,
                timeout=self._timeout,
            )
        if digest is not None:
            result = await self._verify_written(
                sdk, key, result, digest, data, content_type, metadata, headers=headers
            )
        return blob_info(result)

    async def _put_multipart(
        self,
        key: str,
        data: bytes | memoryview,
        content_type: str,
        metadata: Mapping[str, str],
        digest: bytes | None,
        params: Mapping[str, str],
        *,
        headers: HttpHeaders = NO_HEADERS,
    ) -> dict[str, Any]:
        """One ``uploadType=multipart`` request (built here: the SDK's encoder costs a few
        times more per small upload, and cannot name ``crc32c``)."""
        resource: dict[str, Any] = {"name": key, "contentType": content_type}
        if metadata:
            resource["metadata"] = dict(metadata)
        resource.update(resource_fields(headers))
        if digest is not None:
            resource["crc32c"] = b64(digest)
        body, multipart_type = multipart_related(resource, data, content_type)
        request_headers = {
            **await self._auth(),
            "Content-Type": multipart_type,
            "Accept": "application/json",
        }
        # aiohttp warns on raw bodies over 1 MiB; a BytesIO is sent without a copy.
        payload: Any = body if len(body) <= 1024 * 1024 else io.BytesIO(body)
        sdk = await self._client()
        reply = await sdk.session.post(
            self._upload_url,
            headers=request_headers,
            params={**params, "uploadType": "multipart"},
            data=payload,
            timeout=self._timeout,
        )
        result: dict[str, Any] = await reply.json(content_type=None)
        return result

    async def _verify_written(
        self,
        sdk: Storage,
        key: str,
        result: dict[str, Any],
        digest: bytes,
        data: bytes | memoryview | None,
        content_type: str,
        metadata: Mapping[str, str],
        *,
        headers: HttpHeaders = NO_HEADERS,
    ) -> dict[str, Any]:
        """Make sure the new object holds the bytes sent, by the ``crc32c`` reported.

        GCS refuses an upload that fails its CRC32C, so a different ``crc32c`` means a
        server that does not check (fake-gcs-server) and bytes altered on the way. The
        object is then written again from ``data`` (bodies held in memory), on condition
        that it is still the altered generation, until its CRC32C matches; a streamed body
        cannot be sent again, so the altered generation is deleted. Either way failing,
        DATA_CORRUPTED is raised and the altered bytes are not left readable (the policy of
        :mod:`lexigram.storage.repair`).
        """
        expected = b64(digest)
        bucket = self._bucket
        sdk_delete = sdk.delete

        def intact(answer: dict[str, Any]) -> bool:
            reported = answer.get("crc32c")
            return not reported or reported == expected

        async def send_again(answer: dict[str, Any]) -> dict[str, Any]:
            assert data is not None
            params = {**self._writes}
            generation = str(answer.get("generation", ""))
            if generation:
                params["ifGenerationMatch"] = generation
            return await self._put_multipart(
                key, data, content_type, metadata, digest, params, headers=headers
            )

        async def remove(answer: dict[str, Any]) -> None:
            generation = str(answer.get("generation", ""))
            await sdk_delete(
                bucket,
                key,
                params={"ifGenerationMatch": generation} if generation else None,
                timeout=self._timeout,
            )

        return await keep_intact(
            result,
            intact=intact,
            send_again=send_again if data is not None else None,
            remove=remove,
            mismatch="the CRC32C it reports differs from the one sent",
            replaced=_precondition_failed,
        )

    # -- reading ----------------------------------------------------------------------

    @staticmethod
    def _range(start: int, end: int | None) -> dict[str, str]:
        if start == 0 and end is None:
            return {}
        return {"Range": f"bytes={start}-{'' if end is None else end - 1}"}

    async def _media(
        self, key: str, start: int, end: int | None, conditions: Conditions | None = None
    ) -> aiohttp.ClientResponse:
        """The response of one ``alt=media`` GET of ``key`` (the body not read yet).

        Sent on the SDK's session but not through its ``download``/``download_stream``,
        which build the same request with a few dozen more Python calls per object (what
        a 4 KiB download's CPU is made of); errors are raised as the SDK raises them.
        """
        headers = await self._auth()
        http = self._media_http
        assert http is not None
        # The stored bytes, also of a gzip-encoded object: without this header GCS
        # decompresses it on the way ("decompressive transcoding").
        headers["Accept-Encoding"] = "gzip"
        if start or end is not None:
            headers.update(self._range(start, end))
        # The query is part of the URL string: cheaper for yarl than ``params=``.
        url = f"{self._object_url}{quote(key, safe='')}?alt=media"
        if conditions is not None:
            url += "".join(f"&{k}={v}" for k, v in read_params(conditions).items())
        reply = await http.get(url, headers=headers)
        if reply.status >= 400:
            await raise_for_status(reply)
        if conditions is not None:
            try:
                if reply.status == 304:
                    raise DriverError(ErrorCode.NOT_MODIFIED, "HTTP 304")
                check_answer(conditions, reply.headers)
            except BaseException:
                reply.release()
                raise
        return reply

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
        reply = await self._media(key, start, end, conditions)
        headers = reply.headers
        span = headers.get("Content-Range", "")
        ranged = reply.status == 206 and "/" in span
        data: bytes | memoryview
        try:
            if ranged and into is not None:
                # each piece copied into the caller's buffer as it arrives
                filled, room = 0, into.nbytes
                async for piece in reply.content.iter_any():
                    n = len(piece)
                    if filled + n > room:
                        raise DriverError(
                            ErrorCode.UNAVAILABLE, "a ranged read returned more than asked"
                        )
                    into[filled : filled + n] = piece
                    filled += n
                data = into[:filled]
            else:
                data = await reply.read()
        finally:
            reply.release()
        if ranged:
            total = int(span.rsplit("/", 1)[1])
        else:  # the whole object (the server did not take the range)
            total = len(data)
            data = data[start:end]
        generation = headers.get("x-goog-generation")
        etag = (
            None
            if generation is None
            else quoted(f"{generation}.{headers.get('x-goog-metageneration') or 1}")
        )
        # GCS's x-goog-hash is the whole object's, also on a ranged answer.
        checksum = response_crc32c(headers) if self.config.checksums else None
        return RangeRead(data, total, etag, checksum)

    async def check_whole(self, first: RangeRead, data: memoryview) -> None:
        # A whole object read in parts: its CRC32C (core's, in a worker thread when large
        # and the checksum releases the GIL) against the one the first answer gave.
        if first.checksum is None:
            return
        expected = Expected(CRC32C, first.checksum, _STORED)
        if await CRC32C.of(data) != expected.digest:
            raise expected.mismatch()

    def _expected(
        self, response: aiohttp.ClientResponse, start: int, end: int | None
    ) -> Expected | None:
        """What a read's bytes are checked against: the whole object's CRC32C."""
        if not self.config.checksums or start or end is not None:
            return None
        digest = response_crc32c(response.headers)
        return None if digest is None else Expected(CRC32C, digest, _STORED)

    async def stream(
        self,
        key: str,
        *,
        start: int,
        end: int | None,
        chunk_size: int,
        conditions: Conditions | None = None,
    ) -> AsyncIterator[bytes]:
        response = await self._media(key, start, end, conditions)
        expected = self._expected(response, start, end)
        chunks = _chunks(response, chunk_size)
        if expected is not None:
            # A whole-object stream is checked at its end, before it completes.
            chunks = verify_at_end(chunks, expected)
        try:
            async for chunk in chunks:
                yield chunk
        finally:
            await chunks.aclose()

    async def head(self, key: str, *, conditions: Conditions | None = None) -> BlobInfo:
        sdk = await self._client()
        resource = await sdk.download_metadata(self._bucket, key, timeout=self._timeout)
        info = blob_info(resource)
        if conditions is not None:
            conditions.check(info.etag)  # of that one resource: as atomic as the GET
        return info

    async def list(
        self, prefix: str, *, delimiter: str | None, start_after: str | None = None
    ) -> AsyncIterator[BlobInfo]:
        sdk = await self._client()
        params = {"prefix": prefix, "maxResults": _PAGE}
        if delimiter is not None:
            params["delimiter"] = delimiter
        if start_after:
            params["startOffset"] = start_after  # inclusive: the core drops the equal key
        seen_prefix: str | None = None
        while True:
            try:
                page = await sdk.list_objects(
                    self._bucket, params=dict(params), timeout=self._timeout
                )
            except aiohttp.ClientResponseError as exc:
                if exc.status == 404:
                    raise self._no_bucket(exc) from exc
                raise
            items = sorted((blob_info(i) for i in page.get("items", ())), key=_path)
            prefixes = [
                BlobInfo(path=p, size=0, is_prefix=True) for p in sorted(page.get("prefixes", ()))
            ]
            for entry in heapq.merge(items, prefixes, key=_path):
                if entry.is_prefix:
                    if entry.path == seen_prefix:
                        continue  # a prefix may straddle two pages
                    seen_prefix = entry.path
                yield entry
            token = page.get("nextPageToken")
            if not token:
                return
            params["pageToken"] = token

    # -- deleting ---------------------------------------------------------------------

    async def delete(self, key: str, *, if_match: str | None = None) -> None:
        # (fake-gcs-server ignores the preconditions of a delete; GCS checks them)
        params = None if if_match is None else match_params(if_match)
        sdk = await self._client()
        try:
            await sdk.delete(self._bucket, key, timeout=self._timeout, params=params)
        except aiohttp.ClientResponseError as exc:
            if exc.status == 404 and not bucket_missing(exc):
                if if_match is not None:
                    raise DriverError(
                        ErrorCode.FAILED_PRECONDITION, "the key does not exist"
                    ) from exc
                return
            raise

    # -- copying ----------------------------------------------------------------------

    async def copy(self, src: str, dst: str) -> None:
        params: dict[str, str] = {}
        if self.config.kms_key_name:
            params["destinationKmsKeyName"] = self.config.kms_key_name
        sdk = await self._client()
        # objects.rewrite, repeated with the rewrite token until done
        await sdk.copy(
            self._bucket, src, self._bucket, new_name=dst, params=params, timeout=self._timeout
        )

    # -- URLs -------------------------------------------------------------------------

    def native_url(self, key: str) -> str:
        if self.config.endpoint_url is None:
            return f"https://storage.googleapis.com/{quote(self._bucket)}/{quote(key, safe='/~')}"
        return (
            f"{self._root}/download/storage/v1/b/{quote(self._bucket, safe='')}"
            f"/o/{quote(key, safe='')}?alt=media"
        )

    async def presign(self, key: str, request: PresignRequest) -> str:
        signer, email = await self._signing()
        parts = urlsplit(self._root)
        return await sign_url(
            signer=signer,
            client_email=email,
            scheme=parts.scheme,
            host=parts.netloc,
            bucket=self._bucket,
            key=key,
            method=request.method,
            expires_in=request.expires_in,
            content_type=request.content_type,
            # GET: the response's headers; PUT: signed headers the uploader must send
            content_disposition=request.content_disposition if request.method == "GET" else None,
            signed_headers=(
                {k.lower(): v for k, v in request.headers.as_http().items()}
                if request.method == "PUT"
                else None
            ),
        )

    async def presign_post(self, key: str, request: PostPolicyRequest) -> PresignedPost:
        signer, email = await self._signing()
        parts = urlsplit(self._root)
        url, fields = await sign_post_policy(
            signer=signer,
            client_email=email,
            scheme=parts.scheme,
            host=parts.netloc,
            bucket=self._bucket,
            key=key,
            expires_in=request.expires_in,
            content_type=request.content_type,
            max_size=request.max_size,
            metadata=request.metadata,
        )
        return PresignedPost(url=url, fields=fields)

    async def _signing(self) -> tuple[Signer, str]:
        await self._client()
        token = self._token
        data: Mapping[str, Any] = token.service_data if token is not None else {}
        email = data.get("client_email")
        pem = data.get("private_key")
        if isinstance(email, str) and isinstance(pem, str) and email and pem:
            if self._signer is None:
                self._signer = rsa_signer(pem)
            return self._signer, email
        if token is None:
            raise DriverError(
                ErrorCode.NOT_SUPPORTED,
                "signed URLs need credentials: set credentials_path to a service-account key, "
                "or run with credentials that may call IAM signBlob",
            )
        account = self.config.signing_service_account or (email if isinstance(email, str) else "")
        if not account:
            raise DriverError(
                ErrorCode.NOT_SUPPORTED,
                "signed URLs without a key file are signed through IAM signBlob, which needs "
                "the service account's email: set signing_service_account",
            )
        if self._iam is None:
            http: Any = self._http
            self._iam = IamClient(token=token, session=http)
        iam = self._iam

        async def sign(blob: bytes) -> bytes:
            reply = await iam.sign_blob(blob, service_account_email=account)
            return decode(reply["signedBlob"])

        return sign, account

    # -- health and lifecycle ---------------------------------------------------------

    async def ping(self) -> None:
        sdk = await self._client()
        try:
            await sdk.get_bucket_metadata(self._bucket, timeout=self._timeout)
        except aiohttp.ClientResponseError as exc:
            if exc.status == 404:
                raise self._no_bucket(exc) from exc
            raise

    async def close(self) -> None:
        hidden, self._hidden = self._hidden, None
        if hidden is not None:
            hidden.release()
        http, self._http = self._http, None
        media, self._media_http = self._media_http, None
        token, self._token = self._token, None
        self._sdk = None
        self._iam = None
        if not self._making.locked():
            self._making = asyncio.Lock()  # unbound: the driver may be used on another loop
        if token is not None:
            pending = token.acquiring
            if pending is not None and not pending.done():
                pending.cancel()  # a token fetch still in flight (e.g. after a timeout)
                with contextlib.suppress(BaseException):
                    await pending
            await token.close()
        if media is not None:
            await media.close()  # not the connector: it is the main session's
        if http is not None:
            await http.close()

    # -- errors -----------------------------------------------------------------------

    def _no_bucket(self, exc: BaseException) -> DriverError:
        return DriverError(
            ErrorCode.BUCKET_NOT_FOUND, f"bucket {self._bucket!r} not found (HTTP {status_of(exc)})"
        )

    def classify(self, exc: BaseException) -> ErrorCode:
        code = classify_gcs(exc)
        return code if code is not None else super().classify(exc)

    def describe(self, exc: BaseException) -> str:
        if bucket_missing(exc):
            return self._no_bucket(exc).detail
        detail = safe_detail(exc)
        return detail if detail is not None else super().describe(exc)

    def secrets(self) -> Sequence[str]:
        return _key_secrets(self.config, self._token)


#: the fields of a key file (service account, authorized user) that are credentials.
_KEY_FIELDS = ("private_key_id", "private_key", "client_secret", "refresh_token")


def _key_secrets(config: StorageGCSConfig, token: Token | None) -> list[str]:
    """The config's secrets and the key file's: each field, and each full line of a PEM
    key's body (a record may show the key with its line breaks escaped)."""
    out = secret_values(config)
    data: Mapping[str, Any] = token.service_data if token is not None else {}
    for field in _KEY_FIELDS:
        value = data.get(field)
        if isinstance(value, str) and value:
            out.append(value)
            out.extend(line for line in value.splitlines()[1:-1] if len(line) >= 16)
    return out


#: what a whole-object read is checked against.
_STORED = "the object's CRC32C (x-goog-hash)"


async def _chunks(response: aiohttp.ClientResponse, chunk_size: int) -> AsyncGenerator[bytes, None]:
    """The body of a media response in chunks of ``chunk_size``, released at the end."""
    try:
        content = response.content
        while True:
            chunk = await content.read(chunk_size)
            if not chunk:
                break
            yield chunk
    finally:
        response.release()


def _precondition_failed(exc: BaseException) -> bool:
    """Whether a repair's conditional upload found another generation in place."""
    return isinstance(exc, aiohttp.ClientResponseError) and exc.status == 412


def _path(info: BlobInfo) -> str:
    return info.path
