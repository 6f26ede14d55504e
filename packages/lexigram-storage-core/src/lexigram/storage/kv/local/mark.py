"""The commit mark: which log, and its last committed sequence number, in ``<log>.lock``.

After each commit (and each compaction) the writer, still holding the exclusive lock,
writes one short line at the start of the sidecar lock file::

    lexigram-kv-mark 5d0e5b7a1f3c9e21 1234 752162be

(the log's id from its header, the sequence number of the last line, a CRC-32 of the
two). A log that ends before that sequence number lost whole commits (a truncation
exactly at a line boundary, which the log alone cannot show). The mark is written after
the commit's ``fdatasync`` and is not synced itself: after a power cut it may be behind
the log, which only means less is checked, never a false alarm (with ``fsync=True``).
A mark naming another log id (the log was deleted and created anew, or replaced by
another store's file) is ignored. An unreadable mark is treated as absent.
"""

from __future__ import annotations

import zlib
from typing import NamedTuple

__all__ = ["MARK_BYTES", "NO_MARK", "CommitMark", "decode_mark", "encode_mark"]

_MAGIC = b"lexigram-kv-mark"
MARK_BYTES = 128
"""How many bytes of the lock file to read to get the mark (the line is far shorter)."""


class CommitMark(NamedTuple):
    log_id: str  # "" before the log has a header
    seq: int  # the last committed line's sequence number (0: none)


NO_MARK = CommitMark("", 0)
"""Written before a log file is created: nothing is committed yet."""


def encode_mark(mark: CommitMark) -> bytes:
    body = b"%b %d" % (mark.log_id.encode("ascii") or b"-", mark.seq)
    return b"%b %b %08x\n" % (_MAGIC, body, zlib.crc32(body))


def decode_mark(data: bytes) -> CommitMark | None:
    """The mark at the start of ``data`` (the lock file's first bytes), or ``None``."""
    line, newline, _ = data[:MARK_BYTES].partition(b"\n")
    parts = line.split(b" ")
    if not newline or len(parts) != 4 or parts[0] != _MAGIC:
        return None
    body = parts[1] + b" " + parts[2]
    try:
        if int(parts[3], 16) != zlib.crc32(body):
            return None
        log_id = parts[1].decode("ascii")
        seq = int(parts[2])
    except ValueError:
        return None
    return CommitMark("" if log_id == "-" else log_id, seq)
