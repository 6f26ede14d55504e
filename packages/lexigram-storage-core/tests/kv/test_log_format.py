"""The record format and its parser, without any file."""

from __future__ import annotations

from lexigram.storage.kv.local.log import (
    encode_clear,
    encode_delete,
    encode_header,
    encode_set,
    encode_set_many,
    parse_lines,
)


def test_round_trip_of_every_record_kind() -> None:
    data = b"".join(
        [
            encode_header(),
            encode_set("a", '{"x":[1,2]}', None),
            encode_set("b\n\u00e9", '"v"', 1700000000.5),
            encode_set_many([("c", "1", None), ("d", "null", 2.0)]),
            encode_delete("a"),
            encode_clear(),
        ]
    )
    parsed = parse_lines(data)
    assert parsed.damaged == []
    assert parsed.tail == 0
    assert parsed.consumed == len(data)
    assert [r.op for r in parsed.records] == ["header", "set", "set", "set", "del", "clear"]
    assert parsed.records[1].items == [("a", '{"x":[1,2]}', None)]
    assert parsed.records[2].items == [("b\n\u00e9", '"v"', 1700000000.5)]
    assert parsed.records[3].items == [("c", "1", None), ("d", "null", 2.0)]
    assert data.count(b"\n") == 6  # one line per record, newlines in keys are escaped
    assert data.isascii()


def test_torn_tail_is_not_consumed() -> None:
    line = encode_set("a", "1", None)
    parsed = parse_lines(line + line[:-3])
    assert len(parsed.records) == 1
    assert parsed.consumed == len(line)
    assert parsed.tail == len(line) - 3


def test_a_line_that_parses_but_fails_its_crc_is_damaged() -> None:
    line = encode_set("a", "1", None).replace(b'"v":1', b'"v":2')
    parsed = parse_lines(line)
    assert parsed.records == []
    assert parsed.damaged == [(0, "checksum mismatch")]


def test_unknown_op_and_bad_shapes_are_damaged_not_fatal() -> None:
    import zlib

    def line(raw: bytes) -> bytes:
        return b"[%d,%b]\n" % (zlib.crc32(raw), raw)

    data = b"".join(
        [
            line(b'{"op":"frobnicate"}'),
            line(b'{"op":"set","k":1,"v":1,"e":null}'),
            line(b'{"op":"set","k":"a","v":1,"e":"soon"}'),
            line(b"[1,2]"),
            b"{}\n",
            b"\n",
            encode_set("ok", "1", None),
        ]
    )
    parsed = parse_lines(data)
    assert len(parsed.damaged) == 6
    assert [r.items for r in parsed.records] == [[("ok", "1", None)]]
