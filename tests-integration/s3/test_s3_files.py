"""S3 readers/writers and presigned POST against moto, through the real SDK."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from lexigram.storage import BlobStore, NotSupportedError
from lexigram.storage.config.converter import structure_at
from lexigram.storage.s3 import StorageR2Config, StorageS3Config
from lexigram.storage.s3.driver import S3Driver

from .conftest import SECRET_KEY, r2_settings, s3_settings

MIB = 1024 * 1024


@pytest_asyncio.fixture
async def store(moto_endpoint: str, bucket: str) -> AsyncIterator[BlobStore]:
    config = structure_at(
        s3_settings(moto_endpoint, bucket, part_size=5 * MIB, multipart_threshold=5 * MIB),
        StorageS3Config,
        "$.s3",
    )
    s = BlobStore(S3Driver.from_config(config), name="s3-files")
    yield s
    await s.close()


async def test_aborted_writer_leaves_no_multipart_upload(
    store: BlobStore, s3_client: Any, bucket: str
) -> None:
    class Boom(Exception):
        pass

    started: list[Any] = []
    with pytest.raises(Boom):
        async with store.open("big.bin", "wb") as w:
            await w.write(os.urandom(12 * MIB))  # two parts are under way
            started.extend(
                (await s3_client.list_multipart_uploads(Bucket=bucket)).get("Uploads", [])
            )
            raise Boom
    assert started, "the writer did not stream a multipart upload"
    assert (await s3_client.list_multipart_uploads(Bucket=bucket)).get("Uploads", []) == []
    assert (await s3_client.list_objects_v2(Bucket=bucket)).get("KeyCount") == 0


async def test_writer_commits_a_multipart_upload(
    store: BlobStore, s3_client: Any, bucket: str
) -> None:
    data = os.urandom(11 * MIB + 5)
    async with store.open("w.bin", "wb", content_type="application/x-w") as w:
        for at in range(0, len(data), 300_000):
            await w.write(data[at : at + 300_000])
    head = await s3_client.head_object(Bucket=bucket, Key="w.bin")
    assert head["ContentType"] == "application/x-w"
    assert "-" in head["ETag"]  # a multipart ETag: the bytes were streamed in parts
    assert await store.download("w.bin") == data


def _policy(post_fields: dict[str, str]) -> dict[str, Any]:
    return json.loads(base64.b64decode(post_fields["policy"]))  # type: ignore[no-any-return]


def _sigv4_policy_signature(policy_b64: str, credential: str, secret: str) -> str:
    _, date, region, service, _ = credential.split("/")
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, policy_b64.encode(), hashlib.sha256).hexdigest()


async def test_presigned_post_policy_and_a_real_form_upload(
    store: BlobStore, s3_client: Any, bucket: str
) -> None:
    post = await store.get_presigned_post(
        "uploads/photo.png",
        expires_in=timedelta(minutes=10),
        content_type="image/png",
        max_size=1000,
        metadata={"owner": "u1"},
    )
    fields = dict(post.fields)
    policy = _policy(fields)
    conditions = policy["conditions"]
    assert ["content-length-range", 0, 1000] in conditions
    assert {"Content-Type": "image/png"} in conditions
    assert {"x-amz-meta-owner": "u1"} in conditions
    assert {"bucket": bucket} in conditions
    assert {"key": "uploads/photo.png"} in conditions
    assert fields["key"] == "uploads/photo.png"
    assert fields["x-amz-signature"] == _sigv4_policy_signature(
        fields["policy"], fields["x-amz-credential"], SECRET_KEY
    )
    assert SECRET_KEY not in repr(post)

    # moto stores a form upload (it does not enforce POST policies: the local driver's
    # tests show refusals end to end; here the policy's conditions are checked above).
    form = aiohttp.FormData()
    for name, value in fields.items():
        form.add_field(name, value)
    form.add_field("file", b"\x89PNG fake", filename="photo.png", content_type="image/png")
    async with aiohttp.ClientSession() as http, http.post(post.url, data=form) as resp:
        assert resp.status in (200, 201, 204), await resp.text()
    head = await s3_client.head_object(Bucket=bucket, Key="uploads/photo.png")
    assert head["ContentType"] == "image/png"
    assert head["Metadata"] == {"owner": "u1"}
    assert await store.download("uploads/photo.png") == b"\x89PNG fake"


async def test_r2_has_no_presigned_post(moto_endpoint: str, bucket: str) -> None:
    config = structure_at(r2_settings(moto_endpoint, bucket), StorageR2Config, "$.r2")
    async with BlobStore(S3Driver.from_config(config), name="r2-files") as store:
        with pytest.raises(NotSupportedError) as caught:
            await store.get_presigned_post("k", expires_in=timedelta(minutes=1))
        assert "'r2'" in str(caught.value) and "get_presigned_post" in str(caught.value)
