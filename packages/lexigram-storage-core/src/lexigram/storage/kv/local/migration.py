"""Reading format 1 logs (earlier releases), which are migrated to format 2 on open.

Format 1 is one record per line, ``[crc,record]``, with no sequence numbers::

    [2215874432,{"op":"header","format":1}]
    [1436275066,{"op":"set","k":"session:abc","v":{"user":"42"},"e":1735689600.25}]

The first writer that opens such a log (``LocalStorage`` opens under the exclusive
lock) reads it strictly — a damaged complete line stops the migration with
:class:`~lexigram.storage.kv.local.errors.KVLogCorruptedError`, as it would in format 2;
a torn last line is dropped — and writes the live keys as a format-2 log in its place,
atomically (:func:`~lexigram.storage.kv.local.compaction.write_compacted`). Earlier
versions refuse the migrated file with their own ``LogFormatError``.
"""

from __future__ import annotations

import json
import zlib
from typing import NamedTuple

from lexigram.storage.kv.local.log import Record, decode_record

__all__ = ["Format1Scan", "scan_format1"]


class Format1Scan(NamedTuple):
    records: list[Record]
    consumed: int  # bytes up to and including the last good complete line
    damage: tuple[int, str] | None  # (offset of the first bad complete line, why)


def _decode(line: bytes, first: bool) -> Record:
    comma = line.index(b",")
    if line[:1] != b"[" or line[-2:] != b"]\n":
        raise ValueError("not a [crc,record] line")
    raw = line[comma + 1 : -2]
    if int(line[1:comma]) != zlib.crc32(raw):
        raise ValueError("checksum mismatch")
    record = decode_record(json.loads(raw), len(line))
    if first and record.op != "header":
        raise ValueError("the first line is not a header")
    return record


def scan_format1(data: bytes) -> Format1Scan:
    """The records of a whole format-1 log, up to its first bad complete line."""
    records: list[Record] = []
    start = 0
    while True:
        end = data.find(b"\n", start)
        if end < 0:
            return Format1Scan(records, start, None)
        try:
            records.append(_decode(data[start : end + 1], first=start == 0))
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            return Format1Scan(records, start, (start, str(exc) or "malformed"))
        start = end + 1
