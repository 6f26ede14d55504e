"""The record format (2) and its parser, without any file."""

from __future__ import annotations

import json
import zlib

import pytest

from lexigram.storage.kv.local.errors import LogFormatError
from lexigram.storage.kv.local.log import (
    CLEAR,
    Header,
    delete_record,
    encode_header,
    encode_line,
    header_format,
    parse_lines,
    set_many_record,
    set_record,
)
from lexigram.storage.kv.local.mark import CommitMark, decode_mark, encode_mark


def _line(raw: bytes) -> bytes:
    return b"[%d,%b]\n" % (zlib.crc32(raw), raw)


def test_round_trip_of_every_record_kind() -> None:
    data = b"".join(
        [
            encode_header("abc123", 7),
            encode_line(8, [set_record("a", '{"x":[1,2]}', None)]),
            encode_line(9, [set_record("b\n\u00e9", '"v"', 1700000000.5)]),
            encode_line(10, [set_many_record([("c", "1", None), ("d", "null", 2.0)])]),
            encode_line(11, [delete_record("a"), CLEAR, set_record("e", "5", None)]),
        ]
    )
    parsed = parse_lines(data, None)
    assert parsed.damage is None
    assert parsed.consumed == len(data)
    assert parsed.header == Header("abc123", 7)
    assert parsed.seq == 11
    assert [r.op for r in parsed.records] == ["set", "set", "set", "del", "clear", "set"]
    assert parsed.records[0].items == [("a", '{"x":[1,2]}', None)]
    assert parsed.records[1].items == [("b\n\u00e9", '"v"', 1700000000.5)]
    assert parsed.records[2].items == [("c", "1", None), ("d", "null", 2.0)]
    assert data.count(b"\n") == 5  # one line per commit, newlines in keys are escaped
    assert data.isascii()
    assert header_format(data[: data.index(b"\n") + 1]) == 2


def test_parsing_continues_from_a_sequence_number() -> None:
    data = encode_line(5, [set_record("a", "1", None)]) + encode_line(6, [CLEAR])
    parsed = parse_lines(data, 4)
    assert parsed.seq == 6
    assert parsed.header is None
    assert parsed.damage is None


def test_torn_tail_is_not_consumed() -> None:
    line = encode_line(2, [set_record("a", "1", None)])
    parsed = parse_lines(line + line[:-3], 1)
    assert len(parsed.records) == 1
    assert parsed.consumed == len(line)
    assert parsed.damage is None


def test_a_line_that_parses_but_fails_its_crc_stops_the_parse() -> None:
    good = encode_line(2, [set_record("a", "1", None)])
    bad = encode_line(3, [delete_record("a")]).replace(b'"k":"a"', b'"k":"b"')
    after = encode_line(4, [set_record("c", "1", None)])
    parsed = parse_lines(good + bad + after, 1)
    assert [r.items for r in parsed.records] == [[("a", "1", None)]]
    assert parsed.damage == (len(good), "checksum mismatch")
    assert parsed.consumed == len(good)
    assert parsed.seq == 2


def test_a_missing_line_is_a_sequence_gap() -> None:
    data = encode_line(2, [set_record("a", "1", None)]) + encode_line(4, [CLEAR])
    parsed = parse_lines(data, 1)
    assert parsed.damage is not None
    assert "sequence number 4 where 3 was due" in parsed.damage[1]


@pytest.mark.parametrize(
    "line",
    [
        _line(b'7,{"op":"frobnicate"}'),
        _line(b'7,{"op":"set","k":1,"v":1,"e":null}'),
        _line(b'7,{"op":"set","k":"a","v":1,"e":"soon"}'),
        _line(b"7,[1,2]"),
        _line(b'"7",{"op":"clear"}'),
        _line(b"7"),
        _line(b'7,{"op":"header","format":2,"log":"x"}'),
        b"{}\n",
        b"\n",
    ],
)
def test_bad_shapes_are_damage(line: bytes) -> None:
    parsed = parse_lines(line + encode_line(7, [CLEAR]), 6)
    assert parsed.damage is not None
    assert parsed.damage[0] == 0
    assert parsed.records == []


def test_the_first_line_must_be_a_header_of_this_format() -> None:
    parsed = parse_lines(encode_line(1, [CLEAR]), None)
    assert parsed.damage == (0, "the first line is not a header")
    with pytest.raises(LogFormatError, match="format 3"):
        parse_lines(_line(b'{"op":"header","format":3,"log":"x","seq":1}'), None)
    for bad in [b'{"op":"header","format":2,"log":"x"}', b'{"op":"header","format":2,"seq":1}']:
        assert parse_lines(_line(bad), None).damage == (0, "malformed header")


def test_the_header_has_the_shape_earlier_releases_read_as_a_header() -> None:
    """Format 1 readers take ``[crc,record]`` with the CRC of the record: they meet
    ``"format":2`` and refuse the file ("upgrade") instead of skipping every line."""
    line = encode_header("x", 1)
    crc, record = json.loads(line)
    assert crc == zlib.crc32(line[line.index(b",") + 1 : -2])
    assert record == {"op": "header", "format": 2, "log": "x", "seq": 1}


def test_header_format_reads_every_format() -> None:
    assert header_format(_line(b'{"op":"header","format":1}')) == 1
    assert header_format(encode_header("x", 1)) == 2
    assert header_format(_line(b'{"op":"header","format":1}').replace(b"1}", b"2}")) is None
    assert header_format(b"garbage\n") is None


def test_commit_mark_round_trip_and_damage() -> None:
    mark = CommitMark("5d0e5b7a1f3c9e21", 1234)
    data = encode_mark(mark)
    assert decode_mark(data + b"leftover of a longer mark\n") == mark
    assert decode_mark(encode_mark(CommitMark("", 0))) == CommitMark("", 0)
    for i in range(len(data) - 1):
        flipped = data[:i] + bytes([data[i] ^ 1]) + data[i + 1 :]
        assert decode_mark(flipped) is None, i
    assert decode_mark(b"") is None
