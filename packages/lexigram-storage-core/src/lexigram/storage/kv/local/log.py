"""The on-disk record format of :class:`~lexigram.storage.kv.LocalStorage`, and recovery.

The store is one append-only file of JSON lines. Each line is a JSON array of two
elements, a CRC-32 and a record, and ends with ``\\n``::

    [2215874432,{"op":"header","format":1}]
    [1436275066,{"op":"set","k":"session:abc","v":{"user":"42"},"e":1735689600.25}]
    [3020271436,{"op":"mset","items":[["a",1,null],["b",2,null]]}]
    [2862479911,{"op":"del","k":"a"}]
    [1040384386,{"op":"clear"}]

The CRC is ``zlib.crc32`` of the record's exact bytes (everything between the first
comma and the closing ``]``), so a line that was torn or damaged but still happens to
parse is detected. ``e`` is the absolute expiry as a Unix timestamp (``null``: none).
An ``mset`` is one line, so a ``set_many`` is applied all or nothing.

Recovery rules (:func:`parse_lines`): complete lines (ending in ``\\n``) are applied in
order; a complete line that does not parse, fails its CRC or has an unknown ``op`` is
skipped and reported; bytes after the last ``\\n`` are a torn tail (a writer died
mid-write) and are never applied. The writer that next holds the exclusive lock cuts
the torn tail off before appending, so records are never glued onto half a line.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from typing import Any, NamedTuple

from lexigram.storage.errors import StorageError
from lexigram.storage.kv.validation import encode_value

__all__ = [
    "FORMAT_VERSION",
    "KVLogRecoveryWarning",
    "LogFormatError",
    "ParsedChunk",
    "Record",
    "encode_clear",
    "encode_delete",
    "encode_header",
    "encode_set",
    "encode_set_many",
    "parse_lines",
]

FORMAT_VERSION = 1


class KVLogRecoveryWarning(RuntimeWarning):
    """A KV log had a torn tail or damaged records; they were skipped, the rest was loaded."""


class LogFormatError(StorageError):
    """The log was written in a format this version cannot read; nothing is skipped."""


class Record(NamedTuple):
    """One decoded log record. ``items`` holds ``(key, value JSON text, expiry)``."""

    op: str  # "set" (one or more items), "del", "clear", "header"
    items: list[tuple[str, str, float | None]]
    nbytes: int  # the length of the line, for compaction accounting


class ParsedChunk(NamedTuple):
    records: list[Record]
    consumed: int  # bytes up to and including the last complete line
    tail: int  # bytes after the last newline (a torn or in-progress write)
    damaged: list[tuple[int, str]]  # (offset of the line within the chunk, why)


_encode_key = json.JSONEncoder(separators=(",", ":")).encode


def _line(record: str) -> bytes:
    raw = record.encode("ascii")
    return b"[%d,%b]\n" % (zlib.crc32(raw), raw)


def _expiry(expires_at: float | None) -> str:
    return "null" if expires_at is None else repr(float(expires_at))


def encode_header() -> bytes:
    return _line('{"op":"header","format":' + str(FORMAT_VERSION) + "}")


def encode_set(key: str, value_json: str, expires_at: float | None) -> bytes:
    return _line(
        '{"op":"set","k":'
        + _encode_key(key)
        + ',"v":'
        + value_json
        + ',"e":'
        + _expiry(expires_at)
        + "}"
    )


def encode_set_many(items: list[tuple[str, str, float | None]]) -> bytes:
    body = ",".join(f"[{_encode_key(k)},{v},{_expiry(e)}]" for k, v, e in items)
    return _line('{"op":"mset","items":[' + body + "]}")


def encode_delete(key: str) -> bytes:
    return _line('{"op":"del","k":' + _encode_key(key) + "}")


def encode_clear() -> bytes:
    return _line('{"op":"clear"}')


def _expiry_of(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise ValueError("expiry is not a number")


def _decode(raw: bytes, nbytes: int) -> Record:
    rec = json.loads(raw)
    if not isinstance(rec, dict):
        raise ValueError("record is not an object")
    op = rec.get("op")
    if op == "set":
        key = rec["k"]
        if not isinstance(key, str):
            raise ValueError("key is not a string")
        return Record("set", [(key, encode_value(key, rec["v"]), _expiry_of(rec["e"]))], nbytes)
    if op == "mset":
        items: list[tuple[str, str, float | None]] = []
        for key, value, expires_at in rec["items"]:
            if not isinstance(key, str):
                raise ValueError("key is not a string")
            items.append((key, encode_value(key, value), _expiry_of(expires_at)))
        return Record("set", items, nbytes)
    if op == "del":
        key = rec["k"]
        if not isinstance(key, str):
            raise ValueError("key is not a string")
        return Record("del", [(key, "", None)], nbytes)
    if op == "clear":
        return Record("clear", [], nbytes)
    if op == "header":
        version = rec.get("format")
        if version != FORMAT_VERSION:
            raise LogFormatError(
                f"KV log format {version!r} is not supported by this version, which reads "
                f"format {FORMAT_VERSION}: upgrade lexigram-storage-core to open this file"
            )
        return Record("header", [], nbytes)
    raise ValueError(f"unknown op {op!r}")


def _split(data: bytes) -> Iterator[tuple[int, bytes]]:
    start = 0
    while True:
        end = data.find(b"\n", start)
        if end < 0:
            return
        yield start, data[start : end + 1]
        start = end + 1


def parse_lines(data: bytes) -> ParsedChunk:
    """Decode the complete lines of ``data``; see the module docstring for the rules."""
    records: list[Record] = []
    damaged: list[tuple[int, str]] = []
    consumed = 0
    for start, line in _split(data):
        consumed = start + len(line)
        try:
            comma = line.index(b",")
            if line[:1] != b"[" or line[-2:] != b"]\n":
                raise ValueError("not a [crc,record] line")
            raw = line[comma + 1 : -2]
            if int(line[1:comma]) != zlib.crc32(raw):
                raise ValueError("checksum mismatch")
            records.append(_decode(raw, len(line)))
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            damaged.append((start, str(exc) or type(exc).__name__))
    return ParsedChunk(records, consumed, len(data) - consumed, damaged)
