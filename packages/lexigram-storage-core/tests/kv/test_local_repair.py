"""LocalStorage.repair / repair_log: the explicit way out of a damaged log."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

from lexigram.storage.kv import KVLogCorruptedError, LocalStorage


def _read(path: str) -> bytes:
    return Path(path).read_bytes()


def _damage(path: Path, old: bytes, new: bytes) -> tuple[bytes, bytes]:
    """Replace ``old`` by ``new`` in the log; (the damaged bytes, the original)."""
    data = path.read_bytes()
    damaged = data.replace(old, new)
    path.write_bytes(damaged)
    return damaged, data


async def _log_with_a_damaged_delete(path: Path) -> tuple[bytes, int]:
    async with LocalStorage(path) as store:
        await store.set("a", 1)
        await store.set("b", 2)
        await store.delete("a")
        await store.set("c", "secret-c")
    damaged, data = _damage(path, b'"op":"del"', b'"op":"dEl"')
    return damaged, data.rindex(b"\n", 0, data.index(b'"op":"del"')) + 1


async def test_a_damaged_delete_is_cut_off_with_what_follows_and_reported(
    tmp_path: Path,
) -> None:
    path = tmp_path / "kv.jsonl"
    damaged, line_start = await _log_with_a_damaged_delete(path)
    with pytest.raises(KVLogCorruptedError) as caught:
        async with LocalStorage(path):
            pass
    assert caught.value.offset == line_start

    report = await LocalStorage.repair(path)
    assert report.changed
    assert report.cut_at == line_start
    assert report.dropped_lines == 2  # the damaged del and the set after it: never kept
    assert report.dropped_bytes == len(damaged) - line_start
    assert report.unverified_lines == 1
    assert report.dropped[0].startswith(f"byte {line_start}: damaged (")
    assert report.affected_keys == ("a", "c")
    assert report.backup is not None
    assert _read(report.backup) == damaged  # nothing is lost
    assert "may be back" in str(report)
    assert report.backup in str(report)
    assert "secret-c" not in repr(report) + str(report)  # operations and keys, never values
    assert path.read_bytes() == damaged[:line_start]

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        async with LocalStorage(path) as store:
            assert await store.get_many(["a", "b", "c"]) == {"a": 1, "b": 2}
            await store.set("d", 4)
    async with LocalStorage(path) as store:
        assert await store.get("d") == 4


async def test_a_damaged_clear_says_any_key_may_be_back(tmp_path: Path) -> None:
    path = tmp_path / "kv.jsonl"
    async with LocalStorage(path) as store:
        await store.set_many({f"k{i}": i for i in range(40)})
        await store.clear()
    data = path.read_bytes()
    path.write_bytes(data.replace(b'"op":"clear"', b'"op":"clean"'))
    with pytest.raises(KVLogCorruptedError):
        async with LocalStorage(path):
            pass
    report = await LocalStorage.repair(path)
    assert report.dropped_clear is False  # the damaged line does not read as a clear
    assert report.unverified_lines == 1
    assert "may be back" in str(report)


async def test_a_sound_log_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "kv.jsonl"
    async with LocalStorage(path) as store:
        await store.set("k", 1)
    before = path.read_bytes()
    report = await LocalStorage.repair(path)
    assert not report.changed
    assert report.backup is None
    assert "sound" in str(report)
    assert path.read_bytes() == before
    assert [name for name in os.listdir(tmp_path) if "damaged" in name] == []
    missing = await LocalStorage.repair(tmp_path / "no" / "such.jsonl")
    assert (missing.found, missing.changed) == (False, False)
    assert "does not exist" in str(missing)
    assert not (tmp_path / "no").exists()  # nothing is created


async def test_a_damaged_header_cuts_everything_but_keeps_the_backup(tmp_path: Path) -> None:
    path = tmp_path / "kv.jsonl"
    async with LocalStorage(path) as store:
        await store.set("k", 1)
    data = path.read_bytes()
    damaged = data.replace(b'"format":2', b'"format":4')
    path.write_bytes(damaged)
    with pytest.raises(KVLogCorruptedError, match="byte 0"):
        async with LocalStorage(path):
            pass
    report = await LocalStorage.repair(path)
    assert report.cut_at == 0
    assert report.backup is not None
    assert _read(report.backup) == damaged
    async with LocalStorage(path) as store:
        assert await store.keys() == []


async def test_a_torn_tail_alone_is_cut_like_an_open_would(tmp_path: Path) -> None:
    path = tmp_path / "kv.jsonl"
    async with LocalStorage(path) as store:
        await store.set("k", 1)
    data = path.read_bytes()
    path.write_bytes(data + b'[123,3,{"op":"se')
    report = await LocalStorage.repair(path)
    assert report.changed
    assert report.cut_at == len(data)
    assert report.unverified_lines == 0
    assert report.dropped == (f"byte {len(data)}: torn (16 bytes, never committed)",)
    assert path.read_bytes() == data
