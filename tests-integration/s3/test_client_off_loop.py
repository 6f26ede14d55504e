"""Making the S3 client never blocks the event loop: botocore's model files are read in a
worker thread. Planted deterministically: the first model file read blocks (in whatever
worker thread it happens) until the test releases it, after a local store did its work
on the same loop; a read on the loop's own thread is recorded as the failure."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest
from botocore.loaders import JSONFileLoader  # type: ignore[import-untyped]

from lexigram.storage import BlobStore
from lexigram.storage.config.converter import structure_at
from lexigram.storage.local.config import StorageLocalConfig
from lexigram.storage.local.driver import LocalDriver
from lexigram.storage.s3 import StorageS3Config
from lexigram.storage.s3.driver import S3Driver

from .conftest import s3_settings


async def test_building_the_client_leaves_the_loop_free(
    moto_endpoint: str, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = asyncio.get_running_loop()
    loop_thread = threading.get_ident()
    read_on_loop: list[str] = []
    entered: asyncio.Future[None] = loop.create_future()
    release = threading.Event()
    original = JSONFileLoader.load_file

    def load_file(self: Any, file_path: str) -> Any:
        if threading.get_ident() == loop_thread:
            read_on_loop.append(file_path)
        elif not release.is_set():
            loop.call_soon_threadsafe(lambda: entered.done() or entered.set_result(None))
            release.wait()
        return original(self, file_path)

    monkeypatch.setattr(JSONFileLoader, "load_file", load_file)

    local = BlobStore(LocalDriver(StorageLocalConfig(root_dir=str(tmp_path))), name="local")
    config = structure_at(s3_settings(moto_endpoint, bucket), StorageS3Config, "$.s3")
    s3 = BlobStore(S3Driver.from_config(config), name="s3")
    try:
        building = asyncio.create_task(s3.upload("first.txt", b"s3 body"))
        await asyncio.wait({entered, building}, return_when=asyncio.FIRST_COMPLETED)
        assert read_on_loop == [], "botocore read its model files on the event loop"
        assert entered.done() and not building.done()
        # the client is half built in a worker; the loop serves the local store meanwhile
        await local.upload("a.txt", b"local body")
        assert await local.download("a.txt") == b"local body"
        assert (await local.health_check()).healthy
        assert not building.done()
        release.set()
        await building
        assert await s3.download("first.txt") == b"s3 body"
        assert read_on_loop == []
    finally:
        release.set()
        await s3.close()
        await local.close()
