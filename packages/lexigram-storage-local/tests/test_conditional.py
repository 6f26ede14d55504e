"""Compare-and-set on local disk: the race of an if_match write with a plain overwrite is
planted at its vulnerable step, between the ETag check and the rename."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from lexigram.storage import BlobStore, PreconditionFailedError
from lexigram.storage.local import files
from lexigram.storage.local.config import StorageLocalConfig
from lexigram.storage.local.driver import LocalDriver


class _SpyLock:
    """A key's commit lock, telling when a given thread is waiting for it."""

    def __init__(self, real: threading.Lock) -> None:
        self.real = real
        self.intruder: threading.Thread | None = None
        self.intruder_waiting = threading.Event()

    def __enter__(self) -> None:
        if threading.current_thread() is self.intruder:
            self.intruder_waiting.set()
        self.real.acquire()

    def __exit__(self, *exc: object) -> None:
        self.real.release()


def _plant_intruder(
    monkeypatch: pytest.MonkeyPatch, driver: LocalDriver, key: str, body: bytes
) -> threading.Event:
    """Right after the if_match check passes, a plain overwrite of ``key`` runs in another
    thread; the check's caller goes on once that overwrite is either done or waiting for
    the commit lock. Without the lock around check + rename, the overwrite lands between
    them and the if_match write silently replaces it (a lost update)."""
    spy = _SpyLock(files.commit_lock(key))
    real_lock = files.commit_lock
    # the key's lock is the spy; other keys keep theirs
    monkeypatch.setattr(files, "commit_lock", lambda k: spy if k == key else real_lock(k))
    real_check = files.check_if_match
    done = threading.Event()

    def overwrite() -> None:
        driver.files.put_bytes(
            key,
            memoryview(body),
            content_type="application/octet-stream",
            metadata={},
            create_only=False,
            cancelled=threading.Event(),
        )
        done.set()

    def check_then_race(*args: Any, **kwargs: Any) -> None:
        real_check(*args, **kwargs)
        if spy.intruder is not None:
            return  # only the first conditional commit is raced
        spy.intruder = threading.Thread(target=overwrite)
        spy.intruder.start()
        while not (done.is_set() or (spy.intruder_waiting.is_set() and spy.real.locked())):
            time.sleep(0.001)  # until the overwrite is done or queued behind us

    monkeypatch.setattr(files, "check_if_match", check_then_race)
    return done


@pytest.mark.asyncio
async def test_if_match_write_is_atomic_against_an_overwrite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    driver = LocalDriver(StorageLocalConfig(root_dir=str(tmp_path)))
    store = BlobStore(driver, name="local-cas")
    etag = (await store.upload("k", b"base")).etag
    assert etag
    done = _plant_intruder(monkeypatch, driver, "k", b"intruder")
    await store.upload("k", b"compare-and-set", if_match=etag)
    done.wait()
    # The overwrite came after the compare-and-set, so it is what stays: not lost.
    assert await store.download("k") == b"intruder"
    await store.close()


@pytest.mark.asyncio
async def test_if_match_delete_is_atomic_against_an_overwrite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    driver = LocalDriver(StorageLocalConfig(root_dir=str(tmp_path)))
    store = BlobStore(driver, name="local-cas")
    etag = (await store.upload("k", b"base")).etag
    assert etag
    done = _plant_intruder(monkeypatch, driver, "k", b"intruder")
    await store.delete("k", if_match=etag)
    done.wait()
    # The overwrite came after the conditional delete: the new object exists.
    assert await store.download("k") == b"intruder"
    with pytest.raises(PreconditionFailedError):
        await store.delete("k", if_match=etag)
    await store.close()
