"""The aiobotocore surface the S3 driver's zero-copy download path relies on.

``transfer.iter_chunks`` reads a GetObject body straight from aiohttp's ``StreamReader``
(``readchunk()``), reached through ``StreamingBody.raw_stream`` (a documented property
since aiobotocore 3.8, the declared minimum) and aiohttp's ``ClientResponse.content``.
Were either to change, the driver would quietly fall back to ``body.read(1 MiB)`` (one
more copy of every byte): this test makes such an SDK upgrade fail loudly instead.
"""

from __future__ import annotations

import inspect

import aiohttp
from aiobotocore.config import AioConfig
from aiobotocore.response import StreamingBody

from lexigram.storage.s3.transfer import _aiohttp_reader, read_chunks

from .conftest import raw_client

#: a body botocore does not check while it is read (the driver's ranged and parallel reads).
UNCHECKED = AioConfig(
    signature_version="s3v4",
    s3={"addressing_style": "path"},
    response_checksum_validation="when_required",
)


def test_streaming_body_documents_raw_stream() -> None:
    assert isinstance(inspect.getattr_static(StreamingBody, "raw_stream"), property)
    assert "raw_stream" in inspect.signature(StreamingBody).parameters
    assert inspect.iscoroutinefunction(aiohttp.StreamReader.readchunk)


async def test_get_object_body_is_read_from_aiohttps_stream(
    moto_endpoint: str, bucket: str
) -> None:
    data = bytes(range(256)) * 4096  # 1 MiB
    async with raw_client(moto_endpoint, config=UNCHECKED) as client:
        await client.put_object(Bucket=bucket, Key="k", Body=data)
        resp = await client.get_object(Bucket=bucket, Key="k")
        async with resp["Body"] as body:
            assert type(body) is StreamingBody
            reader = _aiohttp_reader(body)
            assert reader is not None
            assert reader is body.raw_stream.content
            assert b"".join(await read_chunks(body)) == data
