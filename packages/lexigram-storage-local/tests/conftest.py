"""Shared fixtures of the local driver's tests (no network; files under tmp_path)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from lexigram.storage import BlobStore
from lexigram.storage.local import files, paths, sidecar
from lexigram.storage.local.config import StorageLocalConfig
from lexigram.storage.local.driver import LocalDriver

SIGNING_KEY = "test-signing-key-0123456789abcdef-canary"
BASE_URL = "http://127.0.0.1:8765/files"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "root"


@pytest.fixture
def config(root: Path) -> StorageLocalConfig:
    return StorageLocalConfig(root_dir=str(root), base_url=BASE_URL, signing_key=SIGNING_KEY)


@pytest.fixture(params=["inline", "openat2", "walk"])
def read_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run each test with every way of reading a key: on the event loop when cached
    (``openat2(RESOLVE_CACHED)`` + ``preadv2(RWF_NOWAIT)``), in a worker thread with one
    ``openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)``, and segment by segment."""
    if request.param == "inline" and files.files_open_cached is None:
        pytest.skip("openat2(RESOLVE_CACHED) is not available here (the others are tested)")
    if request.param == "openat2" and files.open_beneath is None:
        pytest.skip("openat2 is not available on this system (the walk is tested)")
    if request.param != "inline":
        monkeypatch.setattr(files, "files_open_cached", None)
    if request.param == "walk":
        # every openat2 shortcut off: reads, the parent directory of writes, sidecar probes
        monkeypatch.setattr(files, "open_beneath", None)
        monkeypatch.setattr(paths, "open_beneath", None)
        monkeypatch.setattr(sidecar, "open_beneath", None)
    return str(request.param)


@pytest_asyncio.fixture
async def store(config: StorageLocalConfig, read_path: str) -> AsyncIterator[BlobStore]:
    store = BlobStore(LocalDriver(config), name=f"local-test-{read_path}")
    yield store
    await store.close()
