"""LocalStorage on a full disk: ENOSPC planted at the exact write or sync step.

A compaction that fails never fails the writes that triggered it (they were committed
before it started); a write whose own append fails raises a typed error and was not
applied, also for a later reader of the file.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
from pathlib import Path

import pytest

from lexigram.storage.errors import StorageUnavailableError
from lexigram.storage.kv import LocalStorage
from lexigram.storage.kv.local import compaction, engine
from lexigram.storage.kv.local.lock import FileLock

SECRET_VALUE = "value-that-must-not-be-logged"


def _enospc() -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("step", ["write_all", "sync_data"])
async def test_a_failed_compaction_never_fails_the_writes_that_triggered_it(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    step: str,
) -> None:
    attempts: list[int] = []

    def full(*args: object) -> None:
        attempts.append(1)
        raise _enospc()

    monkeypatch.setattr(compaction, step, full)
    caplog.set_level(logging.WARNING, logger="lexigram.storage.kv")
    path = tmp_path / "kv.jsonl"
    # compact after every commit, were it not for the backoff
    async with LocalStorage(path, compact_min_bytes=0, compact_ratio=1.01) as store:
        await store.set("secret", SECRET_VALUE)
        results = await asyncio.gather(
            *(store.increment("n") for _ in range(40)), return_exceptions=True
        )
        assert [r for r in results if isinstance(r, BaseException)] == []
        assert sorted(results) == list(range(1, 41))  # type: ignore[type-var]
        assert await store.get("n") == 40
        assert len(attempts) == 1  # not retried on every commit: after the log grew
        stats = await store.stats()
        assert (stats["compactions"], stats["compaction_failures"]) == (0, 1)

        big = "x" * (70 << 10)  # past the first retry point (64 KiB more of log)
        await store.set("big", big)
        assert len(attempts) == 2  # retried, failed again: next wait 128 KiB
        await store.set("big", big)
        assert len(attempts) == 2
        monkeypatch.undo()  # disk space freed: the next attempt, once due, succeeds
        for _ in range(3):
            await store.set("big", big)
        stats = await store.stats()
        assert stats["compactions"] >= 1
        assert stats["compaction_failures"] == 2
        assert path.stat().st_size < 2 * len(big)

    failures = [r for r in caplog.records if "compaction failed" in r.getMessage()]
    assert len(failures) == 2
    assert all(r.levelno == logging.WARNING for r in failures)
    assert "ENOSPC" in failures[0].getMessage()
    assert str(path) in failures[0].getMessage()
    assert SECRET_VALUE not in caplog.text
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]
    async with LocalStorage(path) as store:
        assert await store.get_many(["secret", "n"]) == {"secret": SECRET_VALUE, "n": 40}


async def test_an_explicit_compact_on_a_full_disk_raises_typed_and_keeps_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "kv.jsonl"
    async with LocalStorage(path) as store:
        for i in range(5):
            await store.set("k", i)
        before = path.read_bytes()

        def full(*args: object) -> None:
            raise _enospc()

        monkeypatch.setattr(compaction, "write_all", full)
        set_result, compact_result = await asyncio.gather(
            store.set("other", 1), store.compact(), return_exceptions=True
        )
        assert set_result is None  # the write in the same batch is committed
        assert isinstance(compact_result, StorageUnavailableError)
        assert "compact failed" in str(compact_result)
        assert "ENOSPC" in str(compact_result)
        assert str(path) in str(compact_result)
        assert isinstance(compact_result.__cause__, OSError)
        assert path.read_bytes().startswith(before)
        assert await store.get_many(["k", "other"]) == {"k": 4, "other": 1}


@pytest.mark.parametrize("step", ["write_all", "sync_data"])
async def test_a_write_whose_append_fails_raises_typed_and_is_not_applied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    path = tmp_path / "kv.jsonl"
    store = LocalStorage(path)
    await store.set("k", "old")
    await store.set("n", 5)
    size = path.stat().st_size
    real_write = engine.write_all

    def half_then_full(fd: int, data: bytes) -> None:  # part of the line reaches the file
        real_write(fd, data[: len(data) // 2])
        raise _enospc()

    def sync_full(fd: int) -> None:  # the whole line was written, the sync fails
        raise _enospc()

    monkeypatch.setattr(engine, step, half_then_full if step == "write_all" else sync_full)
    results = await asyncio.gather(
        store.set("k", "new"),
        store.increment("n"),
        store.delete("k"),
        store.set_many({"a": 1, "b": 2}),
        store.clear(),
        return_exceptions=True,
    )
    for result in results:
        assert isinstance(result, StorageUnavailableError), result
        assert "ENOSPC" in str(result)
        assert str(path) in str(result)
        assert "nothing was written" in str(result)
        assert isinstance(result.__cause__, OSError)
    assert [r.key for r in results] == ["k", "n", "k", "a", None]  # type: ignore[union-attr]
    assert "set of key 'k'" in str(results[0])
    assert "increment of key 'n'" in str(results[1])
    assert path.stat().st_size == size  # the partial append was taken back
    assert await store.get_many(["k", "n", "a"]) == {"k": "old", "n": 5}

    monkeypatch.undo()
    assert await store.increment("n") == 6
    await store.aclose()
    async with LocalStorage(path) as again:
        assert await again.get_many(["k", "n", "a", "b"]) == {"k": "old", "n": 6}


async def test_a_full_disk_while_creating_the_log_is_a_typed_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(fd: int, data: bytes) -> None:
        raise _enospc()

    monkeypatch.setattr(engine, "write_all", full)
    path = tmp_path / "kv.jsonl"
    store = LocalStorage(path)
    with pytest.raises(StorageUnavailableError, match=r"could not open the KV log \(ENOSPC"):
        await store.set("k", 1)
    monkeypatch.undo()
    await store.set("k", 1)  # stays unopened until it works, then opens
    assert await store.get("k") == 1
    await store.aclose()


async def test_a_commit_mark_that_cannot_be_updated_never_fails_a_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "kv.jsonl"
    async with LocalStorage(path) as store:
        await store.set("k", 1)

        def full(self: FileLock, data: bytes) -> None:
            raise _enospc()

        monkeypatch.setattr(FileLock, "write_head", full)
        await store.set("k", 2)
        assert "could not update the commit mark" in caplog.text
    monkeypatch.undo()
    async with LocalStorage(path) as store:
        assert await store.get("k") == 2  # a mark behind the log is not an error


async def test_a_header_whose_sync_failed_is_adopted_by_the_next_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The log is deleted under a running store (a reset); the new header's sync fails."""
    path = tmp_path / "kv.jsonl"
    async with LocalStorage(path) as store:
        await store.set("old", 1)
        path.unlink()

        def sync_full(fd: int) -> None:
            raise _enospc()

        monkeypatch.setattr(engine, "sync_data", sync_full)
        with pytest.raises(StorageUnavailableError, match="nothing was written"):
            await store.set("k", 1)
        monkeypatch.undo()
        await store.set("k", 2)  # the header that was written is read, not taken for damage
        assert await store.keys() == ["k"]
    async with LocalStorage(path) as store:
        assert await store.get_many(["old", "k"]) == {"k": 2}
