"""The on-disk record format of :class:`~lexigram.storage.kv.LocalStorage` (format 2).

The store is one append-only file of JSON lines. The first line is the header, a JSON
array of a CRC-32 and the header record (the shape format 1 used, so that earlier
releases refuse the file as a newer format rather than skip its lines as damaged). Every
other line is one commit: a JSON array of a CRC-32, a sequence number, then the
commit's records, ending with ``\\n``::

    [1025119930,{"op":"header","format":2,"log":"5d0e5b7a1f3c9e21","seq":1}]
    [1155991303,2,{"op":"set","k":"session:abc","v":{"user":"42"},"e":1735689600.25}]
    [697893471,3,{"op":"mset","items":[["a",1,null],["b",2,null]]},{"op":"del","k":"c"}]
    [1418000576,4,{"op":"clear"}]

The CRC is ``zlib.crc32`` of the line's exact bytes after the first comma up to the
closing ``]`` (sequence number and records), so any damaged byte is detected. The
sequence numbers of a file are consecutive, starting after its header's ``seq``
(the header counts as a line): a line missing
in the middle is detected too. ``e`` is the absolute expiry as a Unix timestamp
(``null``: none). The records of a group-commit batch share one line, so a batch is
applied all or nothing, and so is a ``set_many`` (one ``mset`` record). The header names
the log (``log``, a random id kept by compaction) for the commit mark kept in
``<log>.lock`` (:mod:`~lexigram.storage.kv.local.mark`), which records the last
committed sequence number: a log that ends before it was truncated.

Reading rules (:func:`parse_lines`): complete lines (ending in ``\\n``) are applied in
order; the first complete line that does not parse, fails its CRC, breaks the sequence
or has an unknown ``op`` stops the parse and is reported as damage (the engine raises
:class:`~lexigram.storage.kv.local.errors.KVLogCorruptedError`: skipping it could bring
back a deleted key); bytes after the last ``\\n`` are a torn tail (a writer died
mid-write; never acknowledged) and are never applied.

Format 1 (earlier releases: ``[crc,record]`` lines, no sequence numbers) is migrated
to format 2 when a writer opens it (:mod:`~lexigram.storage.kv.local.migration`).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from typing import Any, NamedTuple

from lexigram.storage.kv.local.errors import KVLogRecoveryWarning, LogFormatError
from lexigram.storage.kv.validation import encode_value

__all__ = [
    "CLEAR",
    "FORMAT_VERSION",
    "Header",
    "KVLogRecoveryWarning",
    "LogFormatError",
    "ParsedChunk",
    "Record",
    "decode_record",
    "delete_record",
    "encode_header",
    "encode_line",
    "header_format",
    "parse_lines",
    "set_many_record",
    "set_record",
    "unsupported_format",
]

FORMAT_VERSION = 2

CLEAR = '{"op":"clear"}'
"""The text of a ``clear`` record."""


class Record(NamedTuple):
    """One decoded log record. ``items`` holds ``(key, value JSON text, expiry)``."""

    op: str  # "set" (one or more items), "del", "clear", "header"
    items: list[tuple[str, str, float | None]]
    nbytes: int  # this record's share of its line, for compaction accounting


class Header(NamedTuple):
    log_id: str  # random, kept by compaction: ties the file to its commit mark
    seq: int  # the sequence number of the header line, the first of the file


class ParsedChunk(NamedTuple):
    records: list[Record]
    consumed: int  # bytes up to and including the last good complete line
    seq: int  # sequence number of the last good line (unchanged if none)
    header: Header | None  # when the chunk started the file and its header was good
    damage: tuple[int, str] | None  # (offset of the first bad complete line, why)


_encode_key = json.JSONEncoder(separators=(",", ":")).encode


def _expiry(expires_at: float | None) -> str:
    return "null" if expires_at is None else repr(float(expires_at))


def set_record(key: str, value_json: str, expires_at: float | None) -> str:
    return (
        '{"op":"set","k":'
        + _encode_key(key)
        + ',"v":'
        + value_json
        + ',"e":'
        + _expiry(expires_at)
        + "}"
    )


def set_many_record(items: Sequence[tuple[str, str, float | None]]) -> str:
    body = ",".join(f"[{_encode_key(k)},{v},{_expiry(e)}]" for k, v, e in items)
    return '{"op":"mset","items":[' + body + "]}"


def delete_record(key: str) -> str:
    return '{"op":"del","k":' + _encode_key(key) + "}"


def encode_line(seq: int, records: Sequence[str]) -> bytes:
    """One commit: ``records`` (texts from the ``*_record`` functions) under ``seq``."""
    body = (str(seq) + "," + ",".join(records)).encode("ascii")
    return b"[%d,%b]\n" % (zlib.crc32(body), body)


def encode_header(log_id: str, seq: int) -> bytes:
    """The first line of a log: ``[crc,{header}]``, the shape format 1 used for its header.

    Earlier releases read it as a header and refuse the file with their
    ``LogFormatError`` ("upgrade"), instead of skipping every line as damaged.
    """
    raw = (
        '{"op":"header","format":'
        + str(FORMAT_VERSION)
        + ',"log":'
        + _encode_key(log_id)
        + ',"seq":'
        + str(seq)
        + "}"
    ).encode("ascii")
    return b"[%d,%b]\n" % (zlib.crc32(raw), raw)


def _expiry_of(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise ValueError("expiry is not a number")


def _key_of(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("key is not a string")
    return value


def unsupported_format(version: object) -> LogFormatError:
    """The error for a log whose header declares a format this version cannot read."""
    return LogFormatError(
        f"KV log format {version!r} is not supported by this version, which reads "
        f"format {FORMAT_VERSION} (and migrates format 1): upgrade lexigram-storage-core "
        "to open this file"
    )


def decode_record(rec: Any, nbytes: int) -> Record:
    """Check and decode one record object (``json.loads`` of its text); ``ValueError``,
    ``KeyError`` or ``TypeError`` when it is malformed."""
    if not isinstance(rec, dict):
        raise ValueError("record is not an object")
    op = rec.get("op")
    if op == "set":
        key = _key_of(rec["k"])
        return Record("set", [(key, encode_value(key, rec["v"]), _expiry_of(rec["e"]))], nbytes)
    if op == "mset":
        items: list[tuple[str, str, float | None]] = []
        for key, value, expires_at in rec["items"]:
            items.append((_key_of(key), encode_value(key, value), _expiry_of(expires_at)))
        return Record("set", items, nbytes)
    if op == "del":
        return Record("del", [(_key_of(rec["k"]), "", None)], nbytes)
    if op == "clear":
        return Record("clear", [], nbytes)
    if op == "header":
        return Record("header", [], nbytes)
    raise ValueError(f"unknown op {op!r}")


def header_format(line: bytes) -> int | None:
    """The format version the first line of a log declares, or ``None`` if unreadable.

    Every format's header line is ``[crc,{header}]``. Only a line whose CRC checks out
    counts.
    """
    try:
        comma = line.index(b",")
        if line[:1] != b"[" or line[-2:] != b"]\n":
            return None
        if int(line[1:comma]) != zlib.crc32(line[comma + 1 : -2]):
            return None
        decoded = json.loads(line)
        header = decoded[1] if len(decoded) == 2 else None
        if not isinstance(header, dict) or header.get("op") != "header":
            return None
        version = header.get("format")
        return version if isinstance(version, int) and not isinstance(version, bool) else -1
    except (ValueError, IndexError, TypeError, RecursionError):
        return None


def _checked(line: bytes) -> list[Any]:
    """The JSON array of a complete line whose CRC checks out; ``ValueError`` if not."""
    comma = line.index(b",")
    if line[:1] != b"[" or line[-2:] != b"]\n":
        raise ValueError("not a [crc,...] line")
    if int(line[1:comma]) != zlib.crc32(line[comma + 1 : -2]):
        raise ValueError("checksum mismatch")
    decoded = json.loads(line)
    if not isinstance(decoded, list):
        raise ValueError("not a [crc,...] line")
    return decoded


def _decode_header(decoded: list[Any]) -> Header:
    head = decoded[1] if len(decoded) == 2 else None
    if not isinstance(head, dict) or head.get("op") != "header":
        raise ValueError("the first line is not a header")
    if head.get("format") != FORMAT_VERSION:
        raise unsupported_format(head.get("format"))
    log_id, seq = head.get("log"), head.get("seq")
    if not isinstance(log_id, str) or type(seq) is not int or seq < 1:
        raise ValueError("malformed header")
    return Header(log_id, seq)


def _decode_line(line: bytes, expected_seq: int) -> list[Record]:
    decoded = _checked(line)
    if len(decoded) < 3:
        raise ValueError("not a [crc,seq,records...] line")
    seq = decoded[1]
    if type(seq) is not int:
        raise ValueError("sequence number is not an integer")
    if seq != expected_seq:
        raise ValueError(f"sequence number {seq} where {expected_seq} was due")
    share = len(line) // (len(decoded) - 2)
    records = [decode_record(rec, share) for rec in decoded[2:]]
    if any(r.op == "header" for r in records):
        raise ValueError("a header after the first line")
    return records


def parse_lines(data: bytes, seq: int | None) -> ParsedChunk:
    """Decode the complete lines of ``data`` up to the first bad one; see the module doc.

    ``seq`` is the sequence number of the line before ``data``, or ``None`` when ``data``
    starts the file (its first line must be the header).
    """
    records: list[Record] = []
    header: Header | None = None
    consumed = 0
    last = 0 if seq is None else seq
    expected = None if seq is None else seq + 1
    start = 0
    while True:
        end = data.find(b"\n", start)
        if end < 0:
            break
        line = data[start : end + 1]
        try:
            if expected is None:
                header = _decode_header(_checked(line))
                last = header.seq
            else:
                records.extend(_decode_line(line, expected))
                last = expected
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            return ParsedChunk(records, consumed, last, header, (start, str(exc) or "malformed"))
        expected = last + 1
        start = consumed = end + 1
    return ParsedChunk(records, consumed, last, header, None)
