"""LocalStorage on its own: persistence, recovery, compaction, sharing a file in-process."""

from __future__ import annotations

import asyncio
import json
import os
import warnings
import zlib
from pathlib import Path

import pytest

from lexigram.storage.errors import IntegrityError, StoreClosedError
from lexigram.storage.kv import (
    KVLogCorruptedError,
    KVLogRecoveryWarning,
    LocalStorage,
    LogFormatError,
)
from lexigram.storage.kv.local.log import encode_line, set_record


def _records(path: Path) -> list[dict[str, object]]:
    """Every record of the log, checking the line format, CRC and sequence numbers."""
    records = []
    seqs = []
    for line in path.read_bytes().splitlines(keepends=True):
        assert line.endswith(b"\n")
        crc, *rest = json.loads(line)
        raw = line[line.index(b",") + 1 : -2]
        assert zlib.crc32(raw) == crc
        if not seqs:  # the header: [crc,{header}]
            (header,) = rest
            seqs.append(header["seq"])
            records.append(header)
            continue
        seqs.append(rest[0])
        records.extend(rest[1:])
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    return records


def _header(record: dict[str, object]) -> dict[str, object]:
    """The header record ``record`` should be (its log id and sequence number vary)."""
    assert isinstance(record["log"], str)
    assert isinstance(record["seq"], int)
    return {"op": "header", "format": 2, "log": record["log"], "seq": record["seq"]}


async def _write_sample(path: Path) -> dict[str, object]:
    expected: dict[str, object] = {}
    async with LocalStorage(path, fsync=False) as store:
        for i in range(5):
            await store.set(f"k{i}", {"i": i, "s": "é" * i})
            expected[f"k{i}"] = {"i": i, "s": "é" * i}
        await store.set_many({"m1": [1], "m2": None})
        expected.update({"m1": [1], "m2": None})
        await store.delete("k0")
        del expected["k0"]
        assert await store.increment("n", 3) == 3
        expected["n"] = 3
    return expected


async def test_data_survives_close_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "kv.jsonl"
    expected = await _write_sample(path)
    async with LocalStorage(path) as store:
        assert await store.get_many(list(expected)) == expected
        assert await store.keys() == sorted(expected)
        await store.set("after", 1)
    async with LocalStorage(path) as store:
        assert await store.get("after") == 1


async def test_ttl_survives_reopen_as_an_absolute_time(tmp_path: Path) -> None:
    path = tmp_path / "kv.jsonl"
    async with LocalStorage(path) as store:
        await store.set("short", 1, ttl=0.2)
        await store.set("long", 2, ttl=100)
    async with LocalStorage(path) as store:
        remaining = await store.ttl("long")
        assert remaining is not None
        assert 90 < remaining <= 100
        await asyncio.sleep(0.3)
        assert await store.get("short") is None
        assert await store.keys() == ["long"]


async def test_log_is_json_lines_with_a_crc(tmp_path: Path) -> None:
    path = tmp_path / "kv.jsonl"
    await _write_sample(path)
    records = _records(path)
    assert records[0] == _header(records[0])
    assert {r["op"] for r in records} == {"header", "set", "mset", "del"}


async def test_directory_is_created_and_sidecar_lock_used(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "kv.jsonl"
    async with LocalStorage(path) as store:
        await store.set("k", 1)
        assert store.path == str(path)
    assert path.exists()
    assert path.with_name("kv.jsonl.lock").exists()


async def test_torn_last_record_is_recovered_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "kv.jsonl"
    expected = await _write_sample(path)
    torn = encode_line(99, [set_record("torn", '{"never":"acknowledged"}', None)])
    with path.open("ab") as f:
        f.write(torn[: len(torn) // 2])
    with pytest.warns(KVLogRecoveryWarning, match="torn"):
        store = LocalStorage(path)
        assert await store.get_many(list(expected)) == expected
    assert await store.get("torn") is None
    await store.set("next", 1)  # appended after the cut, not glued to half a line
    await store.aclose()
    _records(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        async with LocalStorage(path) as again:
            assert await again.get("next") == 1


async def test_damaged_record_in_the_middle_is_an_error_not_a_skip(tmp_path: Path) -> None:
    path = tmp_path / "kv.jsonl"
    await _write_sample(path)
    data = path.read_bytes()
    victim = data.index(b'"i":2')
    path.write_bytes(data.replace(b'"i":2', b'"i":7'))  # parses, but the CRC fails
    line_start = data.rindex(b"\n", 0, victim) + 1
    store = LocalStorage(path)
    for _ in range(2):  # stays unopened: every call says so again
        with pytest.raises(KVLogCorruptedError) as caught:
            await store.get("k1")
        assert isinstance(caught.value, IntegrityError)
        assert caught.value.path == str(path)
        assert caught.value.offset == line_start
        assert f"byte {line_start}" in str(caught.value)
        assert "checksum mismatch" in str(caught.value)
        assert "LocalStorage.repair" in str(caught.value)
    with pytest.raises(KVLogCorruptedError):
        await store.set("k", 1)
    await store.aclose()
    assert path.read_bytes() == data.replace(b'"i":2', b'"i":7')  # nothing was changed


async def test_crash_at_every_byte_of_a_write_leaves_a_loadable_file(tmp_path: Path) -> None:
    """Fault injection: cut the log at every offset inside the last write, then reopen."""
    path = tmp_path / "kv.jsonl"
    expected = await _write_sample(path)
    before = path.read_bytes()
    mark_before = path.with_name("kv.jsonl.lock").read_bytes()  # as it is while writing
    async with LocalStorage(path, fsync=False) as store:
        await store.set_many({"last": {"deep": [1, 2, {"x": "y"}]}, "k1": "changed"})
    full = path.read_bytes()
    assert full.startswith(before)
    work = tmp_path / "cut.jsonl"
    for cut in range(len(before), len(full) + 1):
        work.write_bytes(full[:cut])
        work.with_name("cut.jsonl.lock").write_bytes(mark_before)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            async with LocalStorage(work, fsync=False) as store:
                got = await store.get_many([*expected, "last"])
                if cut == len(full):
                    assert got == {
                        **expected,
                        "last": {"deep": [1, 2, {"x": "y"}]},
                        "k1": "changed",
                    }
                else:  # the torn set_many is all or nothing: nothing
                    assert got == expected, cut
                await store.set("after", cut)
        assert all(issubclass(w.category, KVLogRecoveryWarning) for w in caught)
        assert (len(caught) == 1) == (len(before) < cut < len(full))
        _records(work)  # every line is complete and checks out
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            async with LocalStorage(work, fsync=False) as store:
                assert await store.get("after") == cut


async def test_torn_header_of_a_new_file(tmp_path: Path) -> None:
    path = tmp_path / "kv.jsonl"
    path.write_bytes(b'[12345,{"op":"hea')
    with pytest.warns(KVLogRecoveryWarning):
        async with LocalStorage(path) as store:
            await store.set("k", 1)
    header = _records(path)[0]
    assert header == _header(header)


@pytest.mark.parametrize(
    "raw", [b'{"op":"header","format":99}', b'{"op":"header","format":3,"log":"x","seq":1}']
)
async def test_unknown_format_version_is_an_error_not_a_skip(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "kv.jsonl"
    path.write_bytes(b"[%d,%b]\n" % (zlib.crc32(raw), raw))
    store = LocalStorage(path)
    for _ in range(2):  # stays unopened: every call says so again, none sees partial data
        with pytest.raises(LogFormatError, match="upgrade"):
            await store.get("k")
    with pytest.raises(LogFormatError):
        await store.set("k", 1)
    await store.aclose()
    assert path.read_bytes() == b"[%d,%b]\n" % (zlib.crc32(raw), raw)


async def test_compaction_drops_expired_and_overwritten_records(tmp_path: Path) -> None:
    path = tmp_path / "kv.jsonl"
    async with LocalStorage(path, fsync=False) as store:
        for i in range(50):
            await store.set("hot", i)
        await store.set("soon", "gone", ttl=0.1)
        await store.set("later", "kept", ttl=60)
        await store.set("deleted", 1)
        await store.delete("deleted")
        await asyncio.sleep(0.2)
        size_before = path.stat().st_size
        await store.compact()
        assert path.stat().st_size < size_before / 5
        records = _records(path)
        assert records[0] == _header(records[0])
        assert sorted(r["k"] for r in records[1:]) == ["hot", "later"]  # type: ignore[type-var]
        assert await store.get("hot") == 49
        await store.set("after", 1)
        assert (await store.stats())["compactions"] == 1
    async with LocalStorage(path) as store:
        assert await store.keys() == ["after", "hot", "later"]
        remaining = await store.ttl("later")
        assert remaining is not None
        assert remaining > 50
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]


async def test_compaction_starts_by_itself_and_keeps_the_file_parseable(tmp_path: Path) -> None:
    path = tmp_path / "kv.jsonl"
    async with LocalStorage(path, fsync=False, compact_min_bytes=4096) as store:
        for round_ in range(20):
            await asyncio.gather(*(store.set(f"k{i}", round_) for i in range(40)))
        stats = await store.stats()
        assert stats["compactions"] >= 1
        assert stats["file_bytes"] < 3 * stats["live_bytes"] + 4096
    _records(path)
    async with LocalStorage(path) as store:
        assert await store.get_many([f"k{i}" for i in range(40)]) == {
            f"k{i}": 19 for i in range(40)
        }


async def test_stale_compaction_temp_files_are_removed_on_open(tmp_path: Path) -> None:
    path = tmp_path / "kv.jsonl"
    stale = tmp_path / ".kv.jsonl.compact-123-abcd.tmp"
    stale.write_bytes(b"half a compaction")
    other = tmp_path / "unrelated.tmp"
    other.write_bytes(b"")
    async with LocalStorage(path) as store:
        await store.set("k", 1)
    assert not stale.exists()
    assert other.exists()


async def test_concurrent_sets_share_fsyncs(tmp_path: Path) -> None:
    async with LocalStorage(tmp_path / "kv.jsonl") as store:
        await asyncio.gather(*(store.set(f"k{i}", i) for i in range(64)))
        stats = await store.stats()
        assert stats["commit_ops"] == 64
        assert stats["commit_batches"] < 8  # typically 1 or 2


async def test_two_stores_on_one_path_see_each_others_writes(tmp_path: Path) -> None:
    """Two instances use separate file locks, exactly as two processes would."""
    path = tmp_path / "kv.jsonl"
    async with LocalStorage(path) as a, LocalStorage(path) as b:
        await a.set("from-a", 1)
        assert await b.get("from-a") == 1
        await b.set("from-b", 2, ttl=60)
        assert await a.get("from-b") == 2
        assert await a.ttl("from-b") is not None
        await b.delete("from-a")
        assert await a.exists("from-a") is False
        await asyncio.gather(*(x.increment("n") for x in (a, b) for _ in range(50)))
        assert await a.get("n") == await b.get("n") == 100
        await a.compact()  # replaces the file under b's feet
        await b.set("after", 3)
        assert await a.get("after") == 3
        assert await b.keys() == ["after", "from-b", "n"]
        await a.clear()
        assert await b.keys() == []


async def test_expired_keys_are_reclaimed_from_memory_without_a_reader(
    tmp_path: Path,
) -> None:
    async with LocalStorage(tmp_path / "kv.jsonl", sweep_interval=0.05) as store:
        await store.set_many({f"k{i}": i for i in range(100)}, ttl=0.1)
        await store.set("keep", 1)
        engine = store._engine
        assert len(engine.index) == 101
        for _ in range(100):  # up to five seconds; no timing is asserted
            if len(engine.index) == 1:
                break
            await asyncio.sleep(0.05)
        assert list(engine.index) == ["keep"]


async def test_set_after_close_is_refused_and_pending_writes_were_flushed(
    tmp_path: Path,
) -> None:
    path = tmp_path / "kv.jsonl"
    store = LocalStorage(path)
    writes = [asyncio.ensure_future(store.set(f"k{i}", i)) for i in range(20)]
    await asyncio.sleep(0)
    await asyncio.gather(*writes)
    await store.aclose()
    with pytest.raises(StoreClosedError, match="closed"):
        await store.set("k", 1)
    async with LocalStorage(path) as again:
        assert len(await again.keys()) == 20


async def test_file_permissions_survive_compaction(tmp_path: Path) -> None:
    path = tmp_path / "kv.jsonl"
    async with LocalStorage(path) as store:
        await store.set("k", 1)
    os.chmod(path, 0o600)
    async with LocalStorage(path) as store:
        await store.compact()
    assert path.stat().st_mode & 0o777 == 0o600


def test_constructor_checks_its_tuning() -> None:
    with pytest.raises(ValueError, match="compact_ratio"):
        LocalStorage("x", compact_ratio=1)
    with pytest.raises(ValueError, match="sweep_interval"):
        LocalStorage("x", sweep_interval=0)
    with pytest.raises(ValueError, match="compact_min_bytes"):
        LocalStorage("x", compact_min_bytes=-1)
    assert "kv.jsonl" in repr(LocalStorage("kv.jsonl"))
