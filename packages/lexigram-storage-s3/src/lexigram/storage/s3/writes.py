"""Writes of the S3 driver beyond one plain PutObject: the repair of a body stored
altered, multipart uploads and multipart copies of objects over 5 GiB, as SDK calls run by the
core's part pump (:mod:`lexigram.storage.transfer`: concurrency, retries of one part,
aborts on failure or cancel)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from lexigram.storage.errors import DriverError, ErrorCode
from lexigram.storage.info import BlobInfo
from lexigram.storage.integrity import CRC32C, REPAIRS, keep_intact
from lexigram.storage.retry import RetryPolicy
from lexigram.storage.s3.errors import client_error_code, code_for
from lexigram.storage.s3.integrity import answer_shows, checksum_args
from lexigram.storage.s3.object_headers import header_args, headers_from
from lexigram.storage.s3.transfer import MAX_PARTS, TOO_MANY_PARTS, part_body, part_size_for
from lexigram.storage.transfer import Part, chain, plan_ranges, shielded, upload_parts

if TYPE_CHECKING:
    from lexigram.storage.s3.driver import S3Driver

#: a part stored altered (or refused for its CRC32C) is sent again, up to REPAIRS
#: times; transient failures are retried by botocore inside each UploadPart.
PART_RETRY = RetryPolicy(attempts=REPAIRS + 1)

__all__ = [
    "PART_RETRY",
    "copy_multipart",
    "create_multipart",
    "put_multipart",
    "repair_put",
    "written",
]


async def repair_put(
    driver: S3Driver,
    key: str,
    block: memoryview | bytearray | bytes,
    size: int,
    args: dict[str, Any],
    digest: bytes,
    resp: Mapping[str, Any],
) -> Mapping[str, Any]:
    """Make sure the stored object is the body sent, by the CRC32C its answer reports.

    S3, R2 and MinIO refuse a body that fails its ``x-amz-checksum-crc32c``, so an
    answer with another CRC32C means a server that computed it from what it stored
    without refusing the mismatch, and a body altered on the way. The object is then
    written again, on condition that it is still the altered one (If-Match its ETag),
    until its CRC32C matches; if that fails, the altered object is deleted (on the same
    condition) and DATA_CORRUPTED raised (the policy of
    :func:`lexigram.storage.integrity.keep_intact`).
    """
    client = driver._client
    bucket = driver.settings.bucket
    again = {k: v for k, v in args.items() if k not in ("IfNoneMatch", "IfMatch")}

    def intact(answer: Mapping[str, Any]) -> bool:
        return answer_shows(answer, digest)

    async def send_again(answer: Mapping[str, Any]) -> Mapping[str, Any]:
        fresh: Mapping[str, Any] = await client.put_object(
            Bucket=bucket,
            Key=key,
            Body=part_body(block) if size else b"",
            IfMatch=answer["ETag"],
            **again,
        )
        return fresh

    async def remove(answer: Mapping[str, Any]) -> None:
        await client.delete_object(Bucket=bucket, Key=key, IfMatch=answer["ETag"])

    return await keep_intact(
        resp,
        intact=intact,
        send_again=send_again,
        remove=remove,
        mismatch="the CRC32C it reports differs from the one sent",
        replaced=_precondition_failed,
    )


def _precondition_failed(exc: BaseException) -> bool:
    """Whether a repair's conditional put found another version in place."""
    return isinstance(exc, ClientError) and client_error_code(exc)[1] == 412


class _Parts:
    """The SDK calls of one multipart upload, run by the core's part pump: UploadPart
    (with its CRC32C), AbortMultipartUpload."""

    def __init__(self, driver: S3Driver, client: Any, key: str, upload_id: str) -> None:
        self.client = client
        self.bucket = driver.settings.bucket
        self.key = key
        self.upload_id = upload_id
        self.checksums = driver.settings.checksums
        self.digests: dict[int, bytes] = {}  # of parts being sent again

    async def send(self, part: Part[memoryview | bytearray]) -> tuple[dict[str, Any], int]:
        n, block = part.number, part.data
        args: dict[str, Any] = {}
        digest = self.digests.pop(n, None)
        if self.checksums and digest is None:
            digest = await CRC32C.of(block)  # in a worker thread when large
        if digest is not None:
            args.update(checksum_args(digest))
        try:
            resp = await self.client.upload_part(
                Bucket=self.bucket,
                Key=self.key,
                UploadId=self.upload_id,
                PartNumber=n,
                Body=part_body(block),
                **args,
            )
        except ClientError:
            if digest is not None:
                self.digests[n] = digest  # refused (BadDigest): the pump sends it again
            raise
        entry = {"PartNumber": n, "ETag": resp["ETag"]}
        if digest is None:
            return entry, len(block)
        # A part is invisible until the upload completes: one whose reported CRC32C is
        # not the one sent (a server that did not refuse it) is sent again by the pump.
        if not answer_shows(resp, digest):
            self.digests[n] = digest
            raise DriverError(
                ErrorCode.DATA_CORRUPTED,
                f"part {n} arrived altered {part.attempt} times (the CRC32C the server "
                "reports differs from the one sent); the upload was aborted",
            )
        entry["ChecksumCRC32C"] = args["ChecksumCRC32C"]
        return entry, len(block)

    async def abort(self) -> None:
        await self.client.abort_multipart_upload(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id
        )


class _CopiedParts(_Parts):
    """UploadPartCopy of one source range per part (copies of objects over 5 GiB)."""

    def __init__(self, driver: S3Driver, client: Any, src: str, dst: str, upload_id: str):
        super().__init__(driver, client, dst, upload_id)
        self.source = {"Bucket": self.bucket, "Key": src}

    async def send(self, part: Part[tuple[int, int]]) -> tuple[dict[str, Any], int]:  # type: ignore[override]
        a, b = part.data
        resp = await self.client.upload_part_copy(
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self.upload_id,
            PartNumber=part.number,
            CopySource=self.source,
            CopySourceRange=f"bytes={a}-{b - 1}",
        )
        return {"PartNumber": part.number, "ETag": resp["CopyPartResult"]["ETag"]}, b - a


def _altered(exc: BaseException) -> bool:
    """A part S3 refused (BadDigest), or stored with another CRC32C: nothing is visible
    yet, so the pump sends it again."""
    if isinstance(exc, DriverError):
        return exc.code is ErrorCode.DATA_CORRUPTED
    return code_for(exc) is ErrorCode.DATA_CORRUPTED


async def put_multipart(
    driver: S3Driver,
    key: str,
    blocks: AsyncIterable[memoryview | bytearray],
    args: dict[str, Any],
    content_type: str,
    metadata: Mapping[str, str],
) -> BlobInfo:
    """CreateMultipartUpload, the parts through the core's part pump (at most
    ``max_concurrency`` in flight, an altered part sent again), CompleteMultipartUpload;
    aborted on any failure or cancellation."""
    client = await driver._s3()
    complete_args = {}
    if "IfNoneMatch" in args:
        complete_args["IfNoneMatch"] = args.pop("IfNoneMatch")
    if "IfMatch" in args:
        # checked by S3 when the upload completes (moto does not check it there)
        complete_args["IfMatch"] = args.pop("IfMatch")
    # Each part's CRC32C is sent and checked; the object gets S3's composite CRC32C.
    if driver.settings.checksums:
        args = {**args, "ChecksumAlgorithm": "CRC32C"}
    upload = _Parts(driver, client, key, await create_multipart(driver, client, key, args))

    async def complete(parts: list[tuple[dict[str, Any], int]]) -> BlobInfo:
        resp = await client.complete_multipart_upload(
            Bucket=upload.bucket,
            Key=key,
            UploadId=upload.upload_id,
            MultipartUpload={"Parts": [entry for entry, _ in parts]},
            **complete_args,
        )
        return written(key, sum(size for _, size in parts), resp, content_type, metadata)

    return await upload_parts(
        upload,
        blocks,
        concurrency=driver.settings.max_concurrency,
        commit=complete,
        retry=PART_RETRY,
        retryable=_altered,
        max_parts=MAX_PARTS,
        too_many=TOO_MANY_PARTS,
    )


async def create_multipart(driver: S3Driver, client: Any, key: str, args: dict[str, Any]) -> str:
    """Start a multipart upload; if cancelled meanwhile, abort the upload the server
    may have made already (its id comes with the reply) before the cancel goes on."""
    task = asyncio.ensure_future(
        client.create_multipart_upload(Bucket=driver.settings.bucket, Key=key, **args)
    )
    try:
        created = await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception, asyncio.CancelledError):
            created = await asyncio.shield(task)
            await shielded(
                client.abort_multipart_upload(
                    Bucket=driver.settings.bucket, Key=key, UploadId=created["UploadId"]
                )
            )
        raise
    return str(created["UploadId"])


async def copy_multipart(driver: S3Driver, src: str, dst: str, info: Mapping[str, Any]) -> None:
    """UploadPartCopy for sources over 5 GiB, parts copied through the core's part pump."""
    client = driver._client
    size = int(info["ContentLength"])
    args: dict[str, Any] = {**driver._sse}
    if info.get("ContentType"):
        args["ContentType"] = info["ContentType"]
    if info.get("Metadata"):
        args["Metadata"] = info["Metadata"]
    args.update(header_args(headers_from(info)))
    upload = _CopiedParts(
        driver, client, src, dst, await create_multipart(driver, client, dst, args)
    )
    part = part_size_for(size, max(driver.settings.part_size, 512 * 1024 * 1024))

    async def complete(parts: list[tuple[dict[str, Any], int]]) -> None:
        await client.complete_multipart_upload(
            Bucket=upload.bucket,
            Key=dst,
            UploadId=upload.upload_id,
            MultipartUpload={"Parts": [entry for entry, _ in parts]},
        )

    await upload_parts(
        upload,
        chain(plan_ranges(size, part)),
        concurrency=driver.settings.max_concurrency,
        commit=complete,
    )


def written(
    key: str,
    size: int,
    resp: Mapping[str, Any],
    content_type: str,
    metadata: Mapping[str, str],
) -> BlobInfo:
    """What a PutObject or CompleteMultipartUpload wrote, from its answer."""
    return BlobInfo(
        path=key,
        size=size,
        content_type=content_type,
        last_modified=datetime.now(UTC),
        etag=resp.get("ETag"),
        metadata=dict(metadata),
    )
