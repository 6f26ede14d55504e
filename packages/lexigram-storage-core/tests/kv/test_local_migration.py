"""Format 1 logs (earlier releases) are migrated to format 2 on open, strictly."""

from __future__ import annotations

import json
import logging
import time
import warnings
import zlib
from pathlib import Path

import pytest

from lexigram.storage.kv import KVLogCorruptedError, LocalStorage


def _v1(record: dict[str, object]) -> bytes:
    raw = json.dumps(record, separators=(",", ":")).encode()
    return b"[%d,%b]\n" % (zlib.crc32(raw), raw)


def _format1_log() -> bytes:
    return b"".join(
        [
            _v1({"op": "header", "format": 1}),
            _v1({"op": "set", "k": "a", "v": {"x": 1}, "e": None}),
            _v1({"op": "set", "k": "gone", "v": 1, "e": time.time() - 10}),
            _v1({"op": "mset", "items": [["b", 2, None], ["c", 3, time.time() + 3600]]}),
            _v1({"op": "del", "k": "a"}),
            _v1({"op": "set", "k": "d", "v": "é", "e": None}),
        ]
    )


async def test_a_format_1_log_is_migrated_on_open(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "kv.jsonl"
    path.write_bytes(_format1_log() + b'[1,{"op":"se')  # with a torn tail
    caplog.set_level(logging.WARNING, logger="lexigram.storage.kv")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        async with LocalStorage(path) as store:
            assert await store.get_many(["a", "b", "c", "d", "gone"]) == {
                "b": 2,
                "c": 3,
                "d": "é",
            }
            remaining = await store.ttl("c")
            assert remaining is not None and remaining > 3000
            await store.set("e", 5)
    assert "migrated from format 1 to format 2 (3 live keys; 12 torn bytes" in caplog.text
    lines = [json.loads(line) for line in path.read_bytes().splitlines()]
    assert lines[0][1]["op"] == "header"
    assert lines[0][1]["format"] == 2
    assert lines[0][1]["seq"] == 1
    assert [line[1] for line in lines[1:]] == list(range(2, len(lines) + 1))
    caplog.clear()
    async with LocalStorage(path) as store:
        assert await store.keys() == ["b", "c", "d", "e"]
    assert "migrated" not in caplog.text


async def test_a_damaged_format_1_log_is_not_migrated_until_repaired(tmp_path: Path) -> None:
    path = tmp_path / "kv.jsonl"
    data = _format1_log()
    damaged = data.replace(b'"op":"del"', b'"op":"dex"')
    path.write_bytes(damaged)
    with pytest.raises(KVLogCorruptedError, match="written by an earlier release") as caught:
        async with LocalStorage(path):
            pass
    assert caught.value.offset == data.rindex(b"\n", 0, data.index(b'"op":"del"')) + 1
    assert path.read_bytes() == damaged
    report = await LocalStorage.repair(path)
    assert report.dropped_lines == 2
    async with LocalStorage(path) as store:  # cut before the del: 'a' is back, as reported
        assert await store.keys() == ["a", "b", "c"]
    assert "may be back" in str(report)
