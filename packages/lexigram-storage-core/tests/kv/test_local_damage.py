"""A damaged or truncated KV log: a typed error at open, never a deleted key brought back.

Exhaustive and deterministic: every byte of a small log holding set, set_many, del and
clear records is flipped (three ways), and the log is cut at every byte offset.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path
from typing import Any

import pytest

from lexigram.storage.kv import (
    KVLogCorruptedError,
    KVLogTruncatedError,
    LocalStorage,
    RepairReport,
)
from lexigram.storage.kv.local import repair_log

KEYS = ["a", "b", "c", "d", "e", "f", "g", "n"]
FINAL = {"g": 7, "n": 1}
DELETED = {"a", "b", "c", "d", "e", "f"}  # by del or clear, after having been set


async def _sample(path: Path) -> None:
    """One commit per line: set, del, set_many, clear, then a few more of each."""
    async with LocalStorage(path, fsync=False) as store:
        await store.set("a", 1)
        await store.set("b", {"x": [2]})
        await store.set("c", "three")
        await store.delete("a")
        await store.set_many({"d": 4, "e": 5})
        await store.clear()
        await store.set("f", 6)
        await store.set("g", 7)
        await store.delete("f")
        await store.increment("n")
        assert {k: await store.get(k) for k in KEYS if await store.exists(k)} == FINAL


def _states(data: bytes) -> list[dict[str, Any]]:
    """The store's state after each line of an undamaged log (replayed by hand)."""
    state: dict[str, Any] = {}
    states = []
    for line in data.splitlines():
        for rec in json.loads(line)[2:]:
            if rec["op"] == "set":
                state[rec["k"]] = rec["v"]
            elif rec["op"] == "mset":
                state.update({k: v for k, v, _ in rec["items"]})
            elif rec["op"] == "del":
                del state[rec["k"]]
            elif rec["op"] == "clear":
                state.clear()
        states.append(dict(state))
    return states


async def _state(path: Path) -> dict[str, Any]:
    async with LocalStorage(path, fsync=False) as store:
        return await store.get_many(KEYS)


@pytest.fixture
async def sample(tmp_path: Path) -> tuple[bytes, bytes]:
    """The bytes of the sample log and of its lock file (holding the commit mark)."""
    path = tmp_path / "sample.jsonl"
    await _sample(path)
    return path.read_bytes(), path.with_name("sample.jsonl.lock").read_bytes()


def _read(path: str) -> bytes:
    return Path(path).read_bytes()


def _place(directory: Path, log: bytes, lock: bytes) -> Path:
    path = directory / "kv.jsonl"
    path.write_bytes(log)
    path.with_name("kv.jsonl.lock").write_bytes(lock)
    return path


def _flips(byte: int) -> list[int]:
    """A low bit, the high bit, and a newline (which splits a line in two)."""
    return [byte ^ 0x01, byte ^ 0x80, 0x0A if byte != 0x0A else 0x20]


async def test_no_single_byte_flip_brings_a_deleted_key_back(
    tmp_path: Path, sample: tuple[bytes, bytes]
) -> None:
    data, lock = sample
    states = _states(data)
    assert states[-1] == FINAL
    assert data.count(b"\n") == 11  # the header and ten commits
    opened = refused = 0
    for i in range(len(data)):
        for new in _flips(data[i]):
            damaged = data[:i] + bytes([new]) + data[i + 1 :]
            path = _place(tmp_path, damaged, lock)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a flipped last newline looks torn
                try:
                    got = await _state(path)
                except KVLogCorruptedError as exc:
                    refused += 1
                    assert exc.path == str(path)
                    assert exc.offset <= i  # the damage is reported where it starts
                    assert str(path) in str(exc)
                    assert "LocalStorage.repair" in str(exc)
                    assert path.read_bytes() == damaged  # a refused log is left alone
                    continue
            opened += 1
            assert got == FINAL, (i, new)  # the right state, or an error: nothing between
            assert not DELETED & set(got)
    assert refused + opened == 3 * len(data)
    assert opened == 0  # every byte is covered by a CRC, a sequence number or the mark


async def test_repair_after_any_flip_keeps_a_prefix_and_says_what_may_be_back(
    tmp_path: Path, sample: tuple[bytes, bytes]
) -> None:
    data, lock = sample
    states = _states(data)
    for i in range(len(data)):
        damaged = data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :]
        case = tmp_path / str(i)
        case.mkdir()
        path = _place(case, damaged, lock)
        report = repair_log(path)
        assert report.changed
        assert report.backup is not None
        assert _read(report.backup) == damaged
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the repaired log opens cleanly
            got = await _state(path)
        assert got in states  # the state after some commit: nothing skipped over
        differs = {k for k in set(got) | set(FINAL) if got.get(k) != FINAL.get(k)}
        if differs:  # an older state (deleted keys back, perhaps): never without saying so
            assert "may be back" in str(report) or differs <= set(report.affected_keys), i
        shutil.rmtree(case)


async def test_a_cut_at_any_byte_of_committed_data_is_detected(
    tmp_path: Path, sample: tuple[bytes, bytes]
) -> None:
    data, lock = sample
    boundaries = {0} | {i + 1 for i, byte in enumerate(data) if byte == 0x0A}
    for cut in range(len(data)):
        path = _place(tmp_path, data[:cut], lock)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with pytest.raises(KVLogTruncatedError) as caught:
                await _state(path)
        if cut in boundaries:  # a clean cut between commits: only the mark shows it
            assert caught.value.offset == cut
        assert str(path) in str(caught.value)
        assert path.read_bytes() == data[:cut]


async def test_a_clean_cut_names_how_many_commits_are_missing(
    tmp_path: Path, sample: tuple[bytes, bytes]
) -> None:
    data, lock = sample
    lines = data.splitlines(keepends=True)
    path = _place(tmp_path, b"".join(lines[:-3]), lock)
    with pytest.raises(KVLogTruncatedError, match=r"3 acknowledged commit\(s\) are missing"):
        await _state(path)
    report: RepairReport = await LocalStorage.repair(path)
    assert report.missing_commits == 3
    assert report.cut_at is None
    assert "may be back" in str(report)
    assert await _state(path) == _states(data)[-4]  # 'f' is back, as the report warned


async def test_a_deleted_or_replaced_log_is_not_taken_for_a_truncated_one(
    tmp_path: Path, sample: tuple[bytes, bytes]
) -> None:
    data, lock = sample
    path = _place(tmp_path, data, lock)
    path.unlink()  # deleting the log is how to reset a store: not a truncation
    async with LocalStorage(path) as store:
        assert await store.keys() == []
        await store.set("g", 1)
    assert await _state(path) == {"g": 1}
    other = tmp_path / "other" / "kv.jsonl"
    async with LocalStorage(other) as store:
        await store.set("x", 1)
    path.write_bytes(other.read_bytes())  # another store's (shorter) log, same lock file
    async with LocalStorage(path) as store:
        assert await store.keys() == ["x"]


async def test_a_damaged_record_appended_by_another_process_fails_the_reader(
    tmp_path: Path,
) -> None:
    path = tmp_path / "kv.jsonl"
    async with LocalStorage(path) as reader, LocalStorage(path) as writer:
        await writer.set("k", 1)
        assert await reader.get("k") == 1
        await writer.delete("k")
        data = path.read_bytes()
        at = data.rindex(b'"op":"del"')
        path.write_bytes(data[:at] + b'"op":"DEL"' + data[at + 10 :])
        with pytest.raises(KVLogCorruptedError, match="checksum mismatch"):
            await reader.get("k")  # never 1 again
        with pytest.raises(KVLogCorruptedError):
            await reader.set("k", 2)
