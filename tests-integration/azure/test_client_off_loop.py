"""Making the Azure client never blocks the event loop: the SDK's service client (its
pipeline, and an azure-identity credential when one is configured) is built in a worker
thread. Planted deterministically: the SDK's ``BlobServiceClient`` constructor blocks (in
whatever worker thread it runs) until the test releases it, after a local store did its
work on the same loop; a client built on the loop's own thread is recorded as the
failure."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from azure.storage.blob.aio import BlobServiceClient

from lexigram.storage import BlobStore
from lexigram.storage.azure.driver import AzureBlobDriver
from lexigram.storage.local.config import StorageLocalConfig
from lexigram.storage.local.driver import LocalDriver


async def test_building_the_client_leaves_the_loop_free(
    make_config: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = asyncio.get_running_loop()
    loop_thread = threading.get_ident()
    built_in: list[int] = []
    entered: asyncio.Future[None] = loop.create_future()
    release = threading.Event()
    original = BlobServiceClient.__init__

    def init(self: BlobServiceClient, *args: Any, **kwargs: Any) -> None:
        built_in.append(threading.get_ident())
        if threading.get_ident() != loop_thread and not release.is_set():
            loop.call_soon_threadsafe(lambda: entered.done() or entered.set_result(None))
            release.wait()
        original(self, *args, **kwargs)

    monkeypatch.setattr(BlobServiceClient, "__init__", init)

    local = BlobStore(LocalDriver(StorageLocalConfig(root_dir=str(tmp_path))), name="local")
    azure = BlobStore(AzureBlobDriver(make_config()), name="azure")
    try:
        building = asyncio.create_task(azure.upload("first.txt", b"azure body"))
        await asyncio.wait({entered, building}, return_when=asyncio.FIRST_COMPLETED)
        assert loop_thread not in built_in, "the Azure client was built on the event loop"
        assert entered.done() and not building.done()
        # the client is half built in a worker; the loop serves the local store meanwhile
        await local.upload("a.txt", b"local body")
        assert await local.download("a.txt") == b"local body"
        assert (await local.health_check()).healthy
        assert not building.done()
        release.set()
        await building
        assert await azure.download("first.txt") == b"azure body"
        assert len(built_in) == 1 and built_in[0] != loop_thread
    finally:
        release.set()
        await azure.close()
        await local.close()
