"""Writes of the S3 driver beyond one plain PutObject: the repair of a body stored
altered, multipart uploads (parts sent concurrently, aborted on failure or cancel) and
multipart copies of objects over 5 GiB."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from lexigram.storage.errors import DriverError, ErrorCode
from lexigram.storage.info import BlobInfo
from lexigram.storage.integrity import CRC32C, REPAIRS, keep_intact
from lexigram.storage.s3.errors import client_error_code, code_for
from lexigram.storage.s3.integrity import answer_shows, checksum_args
from lexigram.storage.s3.object_headers import header_args, headers_from
from lexigram.storage.s3.transfer import (
    aiter_of,
    part_body,
    part_size_for,
    plan_ranges,
    run_bounded,
)

if TYPE_CHECKING:
    from lexigram.storage.s3.driver import S3Driver

__all__ = [
    "abort",
    "chain_blocks",
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


async def put_multipart(
    driver: S3Driver,
    key: str,
    blocks: AsyncIterator[memoryview | bytearray],
    args: dict[str, Any],
    content_type: str,
    metadata: Mapping[str, str],
) -> BlobInfo:
    client = await driver._s3()
    bucket = driver.settings.bucket
    complete_args = {}
    if "IfNoneMatch" in args:
        complete_args["IfNoneMatch"] = args.pop("IfNoneMatch")
    if "IfMatch" in args:
        # checked by S3 when the upload completes (moto does not check it there)
        complete_args["IfMatch"] = args.pop("IfMatch")
    checksums = driver.settings.checksums
    # Each part's CRC32C is sent and checked; the object gets S3's composite CRC32C.
    created = {**args, "ChecksumAlgorithm": "CRC32C"} if checksums else args
    upload_id = await create_multipart(driver, client, key, created)
    total = 0

    async def upload(n: int, block: memoryview | bytearray) -> dict[str, Any]:
        nonlocal total
        total += len(block)
        part: dict[str, Any] = {}
        digest = await CRC32C.of(block) if checksums else None  # a worker thread if large
        if digest is not None:
            part.update(checksum_args(digest))
        part_crc = part.get("ChecksumCRC32C")
        for attempt in range(REPAIRS + 1):
            try:
                resp = await client.upload_part(
                    Bucket=bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=n,
                    Body=part_body(block),
                    **part,
                )
            except ClientError as exc:
                # S3 refused the part (BadDigest): nothing is visible yet, send it again.
                if code_for(exc) is ErrorCode.DATA_CORRUPTED and attempt < REPAIRS:
                    continue
                raise
            # A part is invisible until the upload completes: one whose reported CRC32C
            # is not the one sent (a server that did not refuse it) is sent again.
            if digest is None:
                return {"PartNumber": n, "ETag": resp["ETag"]}
            if answer_shows(resp, digest):
                return {"PartNumber": n, "ETag": resp["ETag"], "ChecksumCRC32C": part_crc}
        raise DriverError(
            ErrorCode.DATA_CORRUPTED,
            f"part {n} arrived altered {REPAIRS + 1} times (the CRC32C the server reports "
            "differs from the one sent); the upload was aborted",
        )

    try:
        parts = await run_bounded(blocks, upload, concurrency=driver.settings.max_concurrency)
        resp = await client.complete_multipart_upload(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": parts},
            **complete_args,
        )
    except BaseException:
        await abort(driver, key, upload_id)
        raise
    return written(key, total, resp, content_type, metadata)


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
            await abort(driver, key, created["UploadId"])
        raise
    return str(created["UploadId"])


async def abort(driver: S3Driver, key: str, upload_id: str) -> None:
    """Abort a multipart upload, even while the caller is being cancelled."""
    client = driver._client
    if client is None:
        return
    task = asyncio.ensure_future(
        client.abort_multipart_upload(Bucket=driver.settings.bucket, Key=key, UploadId=upload_id)
    )
    with contextlib.suppress(Exception, asyncio.CancelledError):
        await asyncio.shield(task)
    if not task.done():
        # we were cancelled: let the abort finish in the background
        task.add_done_callback(lambda t: t.cancelled() or t.exception())


async def copy_multipart(driver: S3Driver, src: str, dst: str, info: Mapping[str, Any]) -> None:
    """UploadPartCopy for sources over 5 GiB, parts copied concurrently."""
    client = driver._client
    bucket = driver.settings.bucket
    size = int(info["ContentLength"])
    args: dict[str, Any] = {**driver._sse}
    if info.get("ContentType"):
        args["ContentType"] = info["ContentType"]
    if info.get("Metadata"):
        args["Metadata"] = info["Metadata"]
    args.update(header_args(headers_from(info)))
    upload_id = await create_multipart(driver, client, dst, args)
    part = part_size_for(size, max(driver.settings.part_size, 512 * 1024 * 1024))

    async def one(n: int, rng: tuple[int, int]) -> dict[str, Any]:
        resp = await client.upload_part_copy(
            Bucket=bucket,
            Key=dst,
            UploadId=upload_id,
            PartNumber=n,
            CopySource={"Bucket": bucket, "Key": src},
            CopySourceRange=f"bytes={rng[0]}-{rng[1] - 1}",
        )
        return {"PartNumber": n, "ETag": resp["CopyPartResult"]["ETag"]}

    try:
        parts = await run_bounded(
            aiter_of(plan_ranges(size, part)), one, concurrency=driver.settings.max_concurrency
        )
        await client.complete_multipart_upload(
            Bucket=bucket, Key=dst, UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
    except BaseException:
        await abort(driver, dst, upload_id)
        raise


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


async def chain_blocks(
    first: memoryview | bytearray,
    second: memoryview | bytearray,
    rest: AsyncIterator[memoryview | bytearray],
) -> AsyncIterator[memoryview | bytearray]:
    """The blocks of a multipart upload, the first two of them already read."""
    yield first
    yield second
    del first, second
    async for block in rest:
        yield block
