"""S3 POST policies (browser form uploads) through the SDK's ``generate_presigned_post``."""

from __future__ import annotations

from typing import Any

from lexigram.storage.presigned_post import PostPolicyRequest, PresignedPost

__all__ = ["presigned_post"]

#: form fields of the server-side encryption a driver applies to every write.
_SSE_FIELDS = {
    "ServerSideEncryption": "x-amz-server-side-encryption",
    "SSEKMSKeyId": "x-amz-server-side-encryption-aws-kms-key-id",
}


async def presigned_post(
    client: Any, bucket: str, key: str, request: PostPolicyRequest, sse: dict[str, str]
) -> PresignedPost:
    """A POST policy for exactly ``key``: ``content-length-range`` for ``max_size``, an
    exact ``Content-Type`` condition, one ``x-amz-meta-*`` field per metadata entry and
    the driver's encryption, so S3 refuses a form that differs."""
    fields: dict[str, str] = {}
    conditions: list[Any] = []
    if request.content_type is not None:
        fields["Content-Type"] = request.content_type
        conditions.append({"Content-Type": request.content_type})
    for name, value in request.metadata.items():
        fields[f"x-amz-meta-{name}"] = value
        conditions.append({f"x-amz-meta-{name}": value})
    for arg, value in sse.items():
        fields[_SSE_FIELDS[arg]] = value
        conditions.append({_SSE_FIELDS[arg]: value})
    if request.max_size is not None:
        conditions.append(["content-length-range", 0, request.max_size])
    post: dict[str, Any] = await client.generate_presigned_post(
        Bucket=bucket,
        Key=key,
        Fields=fields,
        Conditions=conditions,
        ExpiresIn=int(request.expires_in.total_seconds()),
    )
    return PresignedPost(url=post["url"], fields={k: str(v) for k, v in post["fields"].items()})
