"""Making the GCS client never blocks the event loop: the credentials' files (the key file,
or those Application Default Credentials look for) are read and the SDK objects built in a
worker thread. Planted deterministically: gcloud-aio-auth's read of the credentials blocks
(in whatever worker thread it happens) until the test releases it, after a local store did
its work on the same loop; a read or an SDK client built on the loop's own thread is
recorded as the failure."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import gcloud.aio.auth.token as gcloud_token
import pytest
from gcloud.aio.storage import Storage

from lexigram.storage import BlobStore
from lexigram.storage.local.config import StorageLocalConfig
from lexigram.storage.local.driver import LocalDriver
from lexigram.storage.testing.servers import ServerProcess

from .conftest import make_driver


@pytest.mark.parametrize("key_file", [True, False], ids=["key-file", "default-credentials"])
async def test_building_the_client_leaves_the_loop_free(
    fake_gcs: ServerProcess,
    bucket: str,
    service_account: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    key_file: bool,
) -> None:
    loop = asyncio.get_running_loop()
    loop_thread = threading.get_ident()
    on_loop: list[str] = []
    built_in: list[int] = []
    entered: asyncio.Future[None] = loop.create_future()
    release = threading.Event()
    read_credentials = gcloud_token.get_service_data
    build_storage = Storage.__init__

    def get_service_data(service: Any) -> dict[str, Any]:
        if threading.get_ident() == loop_thread:
            on_loop.append(f"credentials read: {service!r}")
        elif not release.is_set():
            loop.call_soon_threadsafe(lambda: entered.done() or entered.set_result(None))
            release.wait()
        return read_credentials(service)

    def storage_init(self: Storage, *args: Any, **kwargs: Any) -> None:
        built_in.append(threading.get_ident())
        build_storage(self, *args, **kwargs)

    monkeypatch.setattr(gcloud_token, "get_service_data", get_service_data)
    monkeypatch.setattr(Storage, "__init__", storage_init)
    # Without a key file the SDK looks for Application Default Credentials: under an empty
    # home directory (never in this machine's own credentials). Not through CLOUDSDK_CONFIG:
    # gcloud-aio-auth < 5.x treats a missing file in a directory named there as an error.
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.delenv("CLOUDSDK_CONFIG", raising=False)
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    settings = {"credentials_path": service_account["path"]} if key_file else {}

    local = BlobStore(LocalDriver(StorageLocalConfig(root_dir=str(tmp_path / "l"))), name="local")
    gcs = BlobStore(make_driver(fake_gcs.url, bucket, **settings), name="gcs")
    try:
        building = asyncio.create_task(gcs.upload("first.txt", b"gcs body"))
        await asyncio.wait({entered, building}, return_when=asyncio.FIRST_COMPLETED)
        assert on_loop == [], "the GCS credentials were read on the event loop"
        assert entered.done() and not building.done()
        # the client is half built in a worker; the loop serves the local store meanwhile
        await local.upload("a.txt", b"local body")
        assert await local.download("a.txt") == b"local body"
        assert (await local.health_check()).healthy
        assert not building.done()
        release.set()
        await building
        assert await gcs.download("first.txt") == b"gcs body"
        assert on_loop == []
        assert len(built_in) == 1 and built_in[0] != loop_thread
    finally:
        release.set()
        await gcs.close()
        await local.close()
