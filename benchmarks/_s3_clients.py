"""The S3 clients the benchmarks compare, built one way whether they run in the
benchmark's own process or each in a fresh process of its own.

Kinds: ``ours`` (``BlobStore`` over the S3 driver, default ``checksums: true``), ``raw``
(aiobotocore with exactly ours' client settings), and the peers users compare us with:
``obstore`` (Rust ``object_store``), ``opendal`` (Rust OpenDAL), ``s3fs`` (fsspec over
aiobotocore), each with its own defaults. A peer that is not installed is reported by
:func:`missing` (its rows then say so) instead of failing the run.

Run as a script, it is the fresh-process client of :func:`outside`::

    python benchmarks/_s3_clients.py '{"kind": "raw", "endpoint": ..., "bucket": ...,
                                        "n": 2000, "concurrency": 64}'

which does ``n`` 4 KiB PUTs, then ``n`` GETs of them (after a short warm-up) and prints
one JSON line: per verb the CPU seconds of this process (``getrusage``: user + system,
every thread) and the wall seconds of those ops alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.metadata
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
KEY = "S3RVER"  # s3rver's built-in credentials (it verifies signatures with them)
PEERS = ("obstore", "opendal", "s3fs")
KINDS = ("ours", "raw", *PEERS)
SMALL = bytes(range(256)) * 16  # 4 KiB


def missing(kind: str) -> str | None:
    """Why ``kind`` cannot run here (its package is not installed), or None."""
    module = {"ours": "lexigram.storage.s3", "raw": "aiobotocore"}.get(kind, kind)
    try:
        importlib.import_module(module)
    except ImportError as exc:
        return f"{kind} is not installed ({exc}); `pip install {kind}` to get its rows"
    return None


def version(kind: str) -> str:
    dist = {"ours": "lexigram-storage-s3", "raw": "aiobotocore"}.get(kind, kind)
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "?"


MIB = 1024 * 1024


async def source(total: int, piece: int = MIB) -> AsyncIterator[bytes]:
    """``total`` bytes in pieces of ``piece``: the body of the large uploads."""
    chunk = bytes(range(256)) * (piece // 256)
    sent = 0
    while sent < total:
        n = min(piece, total - sent)
        yield chunk if n == piece else chunk[:n]
        sent += n


@dataclass
class Client:
    """One client's operations on keys of one bucket."""

    kind: str
    put: Callable[[str, bytes], Awaitable[Any]]
    get: Callable[[str], Awaitable[Any]]
    list: Callable[[str], Awaitable[int]]  # how many keys under the prefix
    #: ``(key, total, part_size, concurrency)``: upload ``source(total)`` the way this
    #: client uploads a large body (see ``how``)
    big_put: Callable[[str, int, int, int], Awaitable[Any]] | None = None
    #: ``key -> bytes received``: download a large object the way this client does
    big_get: Callable[[str], Awaitable[int]] | None = None
    how: str = ""


def s3_config(endpoint: str, bucket: str, **more: Any) -> Any:
    from lexigram.storage.s3 import StorageS3Config

    return StorageS3Config(
        bucket=bucket,
        endpoint_url=endpoint,
        access_key=KEY,
        secret_key=KEY,
        addressing_style="path",
        **more,
    )


@contextlib.asynccontextmanager
async def open_client(kind: str, endpoint: str, bucket: str) -> AsyncIterator[Client]:
    """``kind``'s client against the bucket at ``endpoint`` (closed on exit)."""
    if kind in ("ours", "raw"):
        from aiobotocore.session import AioSession

        from lexigram.storage import BlobStore
        from lexigram.storage.s3.driver import S3Driver

        driver = S3Driver.from_config(s3_config(endpoint, bucket))
        if kind == "ours":
            store = BlobStore(driver, name="bench")

            async def count_ours(prefix: str) -> int:
                return sum([1 async for _ in store.list(prefix)])

            try:
                yield Client(kind, store.upload, store.download, count_ours)
            finally:
                await store.close()
            return
        async with AioSession().create_client("s3", **driver.client_kwargs()) as raw:

            async def raw_put(key: str, data: bytes) -> Any:
                return await raw.put_object(
                    Bucket=bucket, Key=key, Body=data, ContentType="application/octet-stream"
                )

            async def raw_get(key: str) -> bytes:
                resp = await raw.get_object(Bucket=bucket, Key=key)
                async with resp["Body"] as stream:
                    data: bytes = await stream.read()
                return data

            async def raw_list(prefix: str) -> int:
                n = 0
                async for page in raw.get_paginator("list_objects_v2").paginate(
                    Bucket=bucket, Prefix=prefix
                ):
                    n += len(page.get("Contents", ()))
                return n

            yield Client(kind, raw_put, raw_get, raw_list)
        return
    if kind == "obstore":
        import obstore
        from obstore.store import S3Store

        obs = S3Store(
            bucket,
            endpoint=endpoint,
            access_key_id=KEY,
            secret_access_key=KEY,
            region="us-east-1",
            virtual_hosted_style_request=False,
            client_options={"allow_http": True},
        )

        async def obs_get(key: str) -> Any:
            result = await obstore.get_async(obs, key)
            return await result.bytes_async()

        async def obs_list(prefix: str) -> int:
            n = 0
            async for batch in obstore.list(obs, prefix=prefix):
                n += len(batch)
            return n

        async def obs_big_put(key: str, total: int, part: int, conc: int) -> Any:
            return await obstore.put_async(
                obs, key, source(total), chunk_size=part, max_concurrency=conc
            )

        async def obs_big_get(key: str) -> int:
            result = await obstore.get_async(obs, key)
            n = 0
            async for chunk in result:
                n += len(chunk)
            return n

        yield Client(
            kind,
            lambda k, d: obstore.put_async(obs, k, d),
            obs_get,
            obs_list,
            obs_big_put,
            obs_big_get,
            "put_async of an async iterator (multipart, chunk_size = part size, "
            "max_concurrency = concurrency); streamed get_async",
        )
        return
    if kind == "opendal":
        import opendal

        op = opendal.AsyncOperator(
            "s3",
            bucket=bucket,
            endpoint=endpoint,
            region="us-east-1",
            access_key_id=KEY,
            secret_access_key=KEY,
            disable_config_load="true",
            disable_ec2_metadata="true",
        )

        async def dal_list(prefix: str) -> int:
            n = 0
            async for entry in await op.list(prefix, recursive=True):
                n += not entry.path.endswith("/")
            return n

        async def dal_big_put(key: str, total: int, part: int, conc: int) -> Any:
            async with await op.open(key, "wb", chunk=part, concurrent=conc) as f:
                async for piece in source(total):
                    await f.write(piece)

        async def dal_big_get(key: str) -> int:
            return len(await op.read(key))

        yield Client(
            kind,
            op.write,
            op.read,
            dal_list,
            dal_big_put,
            dal_big_get,
            "open(wb, chunk = part size, concurrent = concurrency) written piece by piece; "
            "read() of the whole object",
        )
        return
    if kind == "s3fs":
        import s3fs

        fs = s3fs.S3FileSystem(
            key=KEY,
            secret=KEY,
            endpoint_url=endpoint,
            asynchronous=True,
            skip_instance_cache=True,
        )
        session = await fs.set_session()

        async def fs_list(prefix: str) -> int:
            return len(await fs._find(f"{bucket}/{prefix}"))

        async def fs_big_put(key: str, total: int, part: int, conc: int) -> Any:
            # s3fs's async API has no streamed writer: the body goes in whole
            data = b"".join([piece async for piece in source(total)])
            await fs._pipe_file(f"{bucket}/{key}", data, chunksize=part, max_concurrency=conc)

        async def fs_big_get(key: str) -> int:
            return len(await fs._cat_file(f"{bucket}/{key}"))

        try:
            yield Client(
                kind,
                lambda k, d: fs._pipe_file(f"{bucket}/{k}", d),
                lambda k: fs._cat_file(f"{bucket}/{k}"),
                fs_list,
                fs_big_put,
                fs_big_get,
                "_pipe_file of the whole body (no streamed async writer; multipart with "
                "chunksize = part size); _cat_file of the whole object",
            )
        finally:
            await session.close()
        return
    raise ValueError(f"unknown client kind {kind!r}: one of {', '.join(KINDS)}")


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _timed(n: int, concurrency: int, op: Callable[[int], Awaitable[Any]]) -> dict[str, float]:
    from _measure import gather_bounded

    cpu0, wall0 = _cpu(), time.perf_counter()
    await gather_bounded(n, concurrency, op)
    return {"cpu_s": _cpu() - cpu0, "wall_s": time.perf_counter() - wall0}


async def _worker(spec: dict[str, Any]) -> dict[str, Any]:
    n, conc, prefix = int(spec["n"]), int(spec["concurrency"]), str(spec.get("prefix", "fresh"))
    async with open_client(spec["kind"], spec["endpoint"], spec["bucket"]) as client:
        keys = [f"{prefix}/{i}.bin" for i in range(n)]
        for key in keys[: min(n, 20)]:  # warm-up: connections, lazy imports, first signing
            await client.put(key, SMALL)
            await client.get(key)
        out = {
            "PUT": await _timed(n, conc, lambda i: client.put(keys[i], SMALL)),
            "GET": await _timed(n, conc, lambda i: client.get(keys[i])),
        }
    return out


def outside(
    kind: str, endpoint: str, bucket: str, n: int, concurrency: int, prefix: str
) -> dict[str, Any]:
    """Run ``kind``'s client in a fresh Python process (see the module docstring) and
    return what it measured."""
    spec = {
        "kind": kind,
        "endpoint": endpoint,
        "bucket": bucket,
        "n": n,
        "concurrency": concurrency,
        "prefix": prefix,
    }
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), *sys.path])}
    done = subprocess.run(
        [sys.executable, str(Path(__file__)), json.dumps(spec)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=900,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the {kind} client process failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    print(json.dumps(asyncio.run(_worker(json.loads(sys.argv[1])))))
