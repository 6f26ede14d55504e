"""Compaction: rewrite the log as one ``set`` line per live key, atomically.

Runs with the exclusive lock held. The live, unexpired entries are written to a
temporary file in the log's directory (``.<name>.compact-<pid>-<random>.tmp``), which
is synced, then renamed over the log with ``os.replace`` and the directory is synced.
A crash at any moment leaves either the old log or the new one in place, both complete;
a leftover temporary file is removed by the next :meth:`LogEngine.open`. The new log
keeps the old one's id and continues its sequence numbers, so the commit mark stays
meaningful. Expired keys are dropped. The same function writes the format-2 log that
replaces a migrated format-1 one.

Every write and sync goes through :mod:`~lexigram.storage.kv.local.fileio`; an
``OSError`` (a full disk) leaves the old log in place and the temporary file removed.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterable

from lexigram.storage.kv.local.fileio import fsync_dir, sync_data, write_all
from lexigram.storage.kv.local.log import encode_header, encode_line, set_record

__all__ = ["CompactedLog", "is_temp_name", "write_compacted"]

_BUFFER = 1 << 20


def _temp_prefix(log_name: str) -> str:
    return f".{log_name}.compact-"


def is_temp_name(log_name: str, name: str) -> bool:
    """Whether ``name`` is a compaction temporary file of the log named ``log_name``."""
    return name.startswith(_temp_prefix(log_name)) and name.endswith(".tmp")


class CompactedLog:
    """The new log after :func:`write_compacted`: its open fd, size, per-line sizes and
    the sequence number of its last line."""

    __slots__ = ("fd", "line_sizes", "seq", "size")

    def __init__(self, fd: int, size: int, line_sizes: list[int], seq: int) -> None:
        self.fd = fd
        self.size = size
        self.line_sizes = line_sizes
        self.seq = seq


def write_compacted(
    path: str,
    live: Iterable[tuple[str, str, float | None]],
    *,
    log_id: str,
    seq: int,
    mode: int,
    fsync: bool,
) -> CompactedLog:
    """Write ``live`` (key, value JSON, expiry) as a fresh log and put it in place of ``path``.

    The header gets sequence number ``seq``, the key lines the numbers after it. The
    returned fd is open on the new log (read/write, append); the caller owns it.
    """
    directory, name = os.path.split(path)
    directory = directory or "."
    temp = os.path.join(directory, f"{_temp_prefix(name)}{os.getpid()}-{secrets.token_hex(4)}.tmp")
    flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    fd = os.open(temp, flags, mode)
    try:
        os.fchmod(fd, mode)  # not narrowed by the umask: same permissions as the old log
        header = encode_header(log_id, seq)
        chunks = [header]
        buffered = len(header)
        sizes: list[int] = []
        for key, value_json, expires_at in live:
            seq += 1
            line = encode_line(seq, [set_record(key, value_json, expires_at)])
            chunks.append(line)
            sizes.append(len(line))
            buffered += len(line)
            if buffered >= _BUFFER:
                write_all(fd, b"".join(chunks))
                chunks.clear()
                buffered = 0
        if chunks:
            write_all(fd, b"".join(chunks))
        size = os.fstat(fd).st_size
        if fsync:
            sync_data(fd)
        os.replace(temp, path)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    if fsync:
        try:
            fsync_dir(directory)
        except BaseException:  # the new log is in place; the caller reloads it by path
            os.close(fd)
            raise
    return CompactedLog(fd, size, sizes, seq)
