"""Backends for the ecosystem integrations (fsspec, OpenTelemetry, Django): a local
directory and a fresh bucket on moto's S3 server, both as ``storage:`` config mappings."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession

from lexigram.storage.testing.servers import ServerProcess

ACCESS_KEY = "AKIAINTEROPACCESSKEY1"
SECRET_KEY = "interop-secret-key-never-in-messages-42"
REGION = "us-east-1"


def _raw_client(endpoint: str) -> Any:
    return AioSession().create_client(
        "s3",
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="AKIAINTEROPRAWCLIENT",
        aws_secret_access_key="interop-raw-client-secret",
        config=AioConfig(signature_version="s3v4", s3={"addressing_style": "path"}),
    )


@pytest_asyncio.fixture
async def s3_bucket(moto_server: ServerProcess) -> AsyncIterator[str]:
    """A fresh bucket on moto, emptied and removed afterwards."""
    name = f"interop-{uuid.uuid4().hex[:16]}"
    async with _raw_client(moto_server.url) as client:
        await client.create_bucket(Bucket=name)
        yield name
        paginator = client.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=name):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", ())]
            if keys:
                await client.delete_objects(Bucket=name, Delete={"Objects": keys, "Quiet": True})
        await client.delete_bucket(Bucket=name)


def local_config(root: Path, name: str = "data") -> dict[str, Any]:
    return {"backends": [{"name": name, "driver": "local", "local": {"root_dir": str(root)}}]}


def s3_config(endpoint: str, bucket: str, name: str = "data", **extra: Any) -> dict[str, Any]:
    settings = {
        "bucket": bucket,
        "region": REGION,
        "endpoint_url": endpoint,
        "access_key": ACCESS_KEY,
        "secret_key": SECRET_KEY,
        "addressing_style": "path",
        **extra,
    }
    return {"backends": [{"name": name, "driver": "s3", "s3": settings}]}


@pytest.fixture(params=["local", "s3"])
def backend_config(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The ``storage:`` mapping of one backend named ``data``: local disk, then S3 (moto)."""
    if request.param == "local":
        yield local_config(tmp_path / "store")
        return
    server: ServerProcess = request.getfixturevalue("moto_server")
    bucket: str = request.getfixturevalue("s3_bucket")
    yield s3_config(server.url, bucket)
