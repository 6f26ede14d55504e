"""moto's S3 server for the s3 and r2 integration tests: one per session on a free
127.0.0.1 port; each test gets a bucket of its own."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession

from lexigram.storage.testing.servers import ServerProcess

#: credentials for moto (it accepts any unless auth is enforced). Distinct strings, so a
#: test can look for them in messages.
ACCESS_KEY = "AKIACANARYACCESSKEY1"
SECRET_KEY = "canary-secret-key-never-in-messages-0123"
REGION = "us-east-1"
#: the plain SDK clients' own keys (moto shares its buckets between keys): never given to
#: a driver, so not canaries. botocore logs them at DEBUG, as it would any caller's.
RAW_ACCESS_KEY = "AKIATESTRAWSDKCLIENT"
RAW_SECRET_KEY = "raw-sdk-client-secret-never-given-to-a-driver"


@pytest.fixture(scope="session")
def moto_endpoint(moto_server: ServerProcess) -> str:
    return moto_server.url


def raw_client(endpoint: str, **overrides: Any) -> Any:
    """A plain aiobotocore client for moto (async context manager)."""
    kwargs: dict[str, Any] = {
        "region_name": REGION,
        "endpoint_url": endpoint,
        "aws_access_key_id": RAW_ACCESS_KEY,
        "aws_secret_access_key": RAW_SECRET_KEY,
        "config": AioConfig(signature_version="s3v4", s3={"addressing_style": "path"}),
    }
    kwargs.update(overrides)
    return AioSession().create_client("s3", **kwargs)


@pytest_asyncio.fixture
async def s3_client(moto_endpoint: str) -> AsyncIterator[Any]:
    async with raw_client(moto_endpoint) as client:
        yield client


@pytest_asyncio.fixture
async def bucket(s3_client: Any) -> AsyncIterator[str]:
    """A fresh, empty bucket for one test, emptied and removed afterwards."""
    name = f"lexi-{uuid.uuid4().hex[:16]}"
    await s3_client.create_bucket(Bucket=name)
    yield name
    paginator = s3_client.get_paginator("list_objects_v2")
    async for page in paginator.paginate(Bucket=name):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", ())]
        if keys:
            await s3_client.delete_objects(Bucket=name, Delete={"Objects": keys, "Quiet": True})
    uploads = await s3_client.list_multipart_uploads(Bucket=name)
    for up in uploads.get("Uploads", ()):
        await s3_client.abort_multipart_upload(Bucket=name, Key=up["Key"], UploadId=up["UploadId"])
    await s3_client.delete_bucket(Bucket=name)


def s3_settings(endpoint: str, bucket: str, **extra: Any) -> dict[str, Any]:
    """A ``drivers.s3`` mapping pointing at moto."""
    return {
        "bucket": bucket,
        "region": REGION,
        "endpoint_url": endpoint,
        "access_key": ACCESS_KEY,
        "secret_key": SECRET_KEY,
        "addressing_style": "path",
        **extra,
    }


def r2_settings(endpoint: str, bucket: str, **extra: Any) -> dict[str, Any]:
    """A ``drivers.r2`` mapping pointing at moto."""
    return {
        "bucket": bucket,
        "endpoint_url": endpoint,
        "access_key": ACCESS_KEY,
        "secret_key": SECRET_KEY,
        **extra,
    }
