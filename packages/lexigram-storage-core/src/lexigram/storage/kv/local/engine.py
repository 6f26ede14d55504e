"""The blocking half of :class:`~lexigram.storage.kv.LocalStorage`: index, catch-up, commit.

Everything here does file I/O and runs in a worker thread (``asyncio.to_thread``),
except :meth:`LogEngine.try_read` and :meth:`LogEngine.sweep_expired`, which never
block and run on the event loop.

State. ``index`` maps each key to ``(value JSON, expiry, line size)``; it reflects the
log up to ``_offset`` (a byte offset at a line boundary) of the file identified by the
open fd ``_fd``. Keeping the fd open pins the inode, so ``fstat(fd).st_nlink == 0``
tells cheaply that another process compacted the log (replaced it): then the index is
rebuilt from the new file.

Locks, always taken in this order, so they cannot deadlock:

1. ``_reader_mutex`` (threads of this process doing a locked read),
2. the ``flock`` on ``<log>.lock``: exclusive for commits and compaction, shared for
   reads that must catch up,
3. ``_state`` (a ``threading.Lock`` guarding the index and the offsets).

Commit (group commit, one call per batch): take the exclusive flock; catch up with
what other processes appended (cutting off a torn tail a crashed writer left); plan
every operation of the batch against the index (``increment`` reads the current value
here, which makes it atomic across tasks and processes); append all of their lines with
one ``write``; ``fdatasync`` once; apply them to the index; compact if due; release.
While the exclusive flock is held and the index is caught up, ``_current`` is set and
readers of this process use the index without touching the file: no other process can
be writing then, and our own batch is not acknowledged until it is applied.

Reads: if ``fstat`` shows the file unchanged since we last caught up, the index is
answered directly (:meth:`try_read`); otherwise :meth:`read_locked` catches up under the
shared flock, so it never reads another process's half-written batch.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import os
import stat
import threading
import time
from collections.abc import Callable
from typing import Literal, NamedTuple, TypeVar

from lexigram.storage.errors import StoreClosedError
from lexigram.storage.kv.expiry import ExpiryHeap
from lexigram.storage.kv.local.compaction import is_temp_name, write_compacted
from lexigram.storage.kv.local.fileio import fsync_dir, sync_data, write_all
from lexigram.storage.kv.local.lock import FileLock
from lexigram.storage.kv.local.log import (
    Record,
    encode_clear,
    encode_delete,
    encode_header,
    encode_set,
    encode_set_many,
    parse_lines,
)
from lexigram.storage.kv.validation import as_counter, decode_value

__all__ = [
    "ClearOp",
    "CompactOp",
    "DeleteOp",
    "Entry",
    "IncrementOp",
    "LogEngine",
    "Miss",
    "Op",
    "SetOp",
]

logger = logging.getLogger("lexigram.storage.kv")

T = TypeVar("T")

_READ_CHUNK = 8 << 20


class Entry(NamedTuple):
    value: str  # JSON text
    expires_at: float | None
    nbytes: int  # bytes of log this entry accounts for


class SetOp(NamedTuple):
    items: list[tuple[str, str, float | None]]


class DeleteOp(NamedTuple):
    key: str


class ClearOp(NamedTuple):
    pass


class IncrementOp(NamedTuple):
    key: str
    by: int


class CompactOp(NamedTuple):
    pass


Op = SetOp | DeleteOp | ClearOp | IncrementOp | CompactOp


class Miss(enum.Enum):
    """Returned by :meth:`LogEngine.try_read` when the file must be caught up first."""

    MISS = enum.auto()


class LogEngine:
    """Index + log file + locks for one :class:`LocalStorage`; see the module docstring."""

    def __init__(
        self, path: str, *, fsync: bool, compact_min_bytes: int, compact_ratio: float
    ) -> None:
        self.path = path
        self._dir, self._name = os.path.split(path)
        self._fsync = fsync
        self._compact_min_bytes = compact_min_bytes
        self._compact_ratio = compact_ratio
        self._writer_lock = FileLock(path + ".lock")
        self._reader_lock = FileLock(path + ".lock")
        self._reader_mutex = threading.Lock()
        self._state = threading.Lock()
        self._open_mutex = threading.Lock()
        self.index: dict[str, Entry] = {}
        self.expiries = ExpiryHeap()
        self.live_bytes = 0
        self.compactions = 0
        self._fd = -1
        self._offset = 0  # bytes of the file reflected in the index (a line boundary)
        self._seen_size = 0  # _offset plus a torn tail we already reported
        self._current = False
        self._notices: list[str] = []
        self._reported: set[tuple[int, int, int]] = set()

    # -- opening and closing ------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._fd >= 0

    def open(self) -> None:
        """Create or load the log, repairing a torn tail; idempotent."""
        with self._open_mutex:
            if self._fd >= 0:
                return
            os.makedirs(self._dir, exist_ok=True)
            with self._writer_lock.exclusive(), self._state:
                self._remove_stale_temps()
                try:
                    self._reload()
                    self._catch_up(exclusive=True)
                except BaseException:
                    if self._fd >= 0:  # stay closed, so the next call tries again
                        os.close(self._fd)
                        self._fd = -1
                    self.index.clear()
                    self.expiries.clear()
                    raise

    def close(self) -> None:
        with self._open_mutex, self._reader_mutex, self._state:
            fd, self._fd = self._fd, -1
            if fd >= 0:
                os.close(fd)
            self._writer_lock.close()
            self._reader_lock.close()
            self.index.clear()
            self.expiries.clear()

    def _check_open(self) -> None:
        if self._fd < 0:
            raise StoreClosedError(
                f"LocalStorage({self.path!r}) is closed: open a new LocalStorage on the "
                "same path to keep using the data",
                operation="kv",
            )

    def take_notices(self) -> list[str]:
        """Recovery messages gathered since the last call (to warn about on the loop)."""
        if not self._notices:
            return []
        with self._state:
            notices, self._notices = self._notices, []
        return notices

    def _remove_stale_temps(self) -> None:
        for name in os.listdir(self._dir):
            if is_temp_name(self._name, name):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(self._dir, name))

    def _reload(self) -> None:
        """Reopen the log by path and forget the index (it is rebuilt by catching up)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        self._fd = os.open(self.path, flags, 0o644)
        self.index.clear()
        self.expiries.clear()
        self.live_bytes = 0
        self._offset = self._seen_size = 0

    # -- catching up with the file ---------------------------------------------------

    def _notice(self, where: tuple[int, int, int], message: str) -> None:
        if where in self._reported:
            return
        self._reported.add(where)
        logger.warning("%s", message)
        self._notices.append(message)

    def _catch_up(self, *, exclusive: bool) -> None:
        """Apply what was appended since ``_offset``; with ``exclusive``, repair the tail.

        Called with ``_state`` and the flock held (shared or exclusive).
        """
        st = os.fstat(self._fd)
        if st.st_nlink == 0 or st.st_size < self._offset:
            self._reload()  # compacted (replaced) or truncated by another process
            st = os.fstat(self._fd)
        ino = st.st_ino
        if st.st_size == 0:
            if exclusive:
                write_all(self._fd, encode_header())
                sync_data(self._fd)
                fsync_dir(self._dir)
                self._offset = self._seen_size = os.fstat(self._fd).st_size
            return
        size = st.st_size
        if size == self._offset:
            self._seen_size = size
            return
        now = time.time()
        pos = self._offset
        carry = b""
        while pos < size:
            chunk = os.pread(self._fd, min(_READ_CHUNK, size - pos), pos)
            if not chunk:
                break
            pos += len(chunk)
            data = carry + chunk if carry else chunk
            parsed = parse_lines(data)
            for start, why in parsed.damaged:
                at = self._offset + start
                self._notice(
                    (ino, at, 0),
                    f"KV log {self.path!r}: skipped a damaged record at byte {at} ({why}); "
                    "the records around it were loaded. The next compaction drops it.",
                )
            for record in parsed.records:
                self._apply(record, now)
            self._offset += parsed.consumed
            carry = data[parsed.consumed :]
        tail = len(carry)
        if not tail:
            self._seen_size = self._offset
            return
        if exclusive:
            os.ftruncate(self._fd, self._offset)
            if self._offset == 0:  # the header itself was torn
                write_all(self._fd, encode_header())
                self._offset = os.fstat(self._fd).st_size
            sync_data(self._fd)
            self._seen_size = self._offset
            self._notice(
                (ino, self._offset, tail),
                f"KV log {self.path!r}: cut off a torn last record ({tail} bytes at byte "
                f"{self._offset}) left by a writer that died mid-write; every complete "
                "record was kept.",
            )
        else:
            self._seen_size = size
            self._notice(
                (ino, self._offset, tail),
                f"KV log {self.path!r}: ignoring a torn last record ({tail} bytes at byte "
                f"{self._offset}) left by a writer that died mid-write; the next write "
                "cuts it off.",
            )

    def _apply(self, record: Record, now: float) -> None:
        if record.op == "set":
            share = record.nbytes // max(1, len(record.items))
            for key, value, expires_at in record.items:
                if expires_at is not None and expires_at <= now:
                    self._drop(key)
                else:
                    self._put(key, Entry(value, expires_at, share))
        elif record.op == "del":
            self._drop(record.items[0][0])
        elif record.op == "clear":
            self.index.clear()
            self.expiries.clear()
            self.live_bytes = 0

    def _put(self, key: str, entry: Entry) -> None:
        old = self.index.get(key)
        if old is not None:
            self.live_bytes -= old.nbytes
        self.index[key] = entry
        self.live_bytes += entry.nbytes
        if entry.expires_at is not None:
            self.expiries.push(key, entry.expires_at)

    def _drop(self, key: str) -> None:
        old = self.index.pop(key, None)
        if old is not None:
            self.live_bytes -= old.nbytes

    # -- reading ----------------------------------------------------------------------

    def lookup(self, key: str, now: float) -> Entry | None:
        """The live entry of ``key`` (call from a read function, under ``_state``)."""
        entry = self.index.get(key)
        if entry is None or (entry.expires_at is not None and entry.expires_at <= now):
            return None
        return entry

    def try_read(self, read: Callable[[], T]) -> T | Literal[Miss.MISS]:
        """Run ``read`` on the index if it is known current without blocking; else MISS."""
        if not self._state.acquire(blocking=False):
            return Miss.MISS
        try:
            self._check_open()
            if not self._current:
                st = os.fstat(self._fd)
                if st.st_nlink == 0 or st.st_size != self._seen_size:
                    return Miss.MISS
            return read()
        finally:
            self._state.release()

    def read_locked(self, read: Callable[[], T]) -> T:
        """Catch up under the shared flock, then run ``read`` on the index (blocking)."""
        with self._reader_mutex, self._reader_lock.shared(), self._state:
            self._check_open()
            self._catch_up(exclusive=False)
            return read()

    def sweep_expired(self) -> bool:
        """Drop expired keys from the index (not from the file: compaction does that).

        Never blocks: if a commit holds the index, it tries again next time. Returns
        ``True`` while keys with a TTL remain.
        """
        if not self._state.acquire(blocking=False):
            return True
        try:
            if self._fd < 0:
                return False
            index = self.index

            def is_current(key: str, expires_at: float) -> bool:
                entry = index.get(key)
                return entry is not None and entry.expires_at == expires_at

            for key in self.expiries.pop_due(time.time(), is_current):
                self._drop(key)
            self.expiries.rebuild_if_sparse(
                ((k, e.expires_at) for k, e in index.items() if e.expires_at is not None),
                len(index),
            )
            return len(self.expiries) > 0
        finally:
            self._state.release()

    # -- writing ----------------------------------------------------------------------

    def commit(self, ops: list[Op]) -> list[object]:
        """Apply a batch of operations durably; one result (or exception) per op."""
        with self._writer_lock.exclusive():
            try:
                return self._commit_locked(ops)
            finally:
                self._current = False

    def _commit_locked(self, ops: list[Op]) -> list[object]:
        results: list[object] = []
        lines: list[bytes] = []
        records: list[Record] = []
        force_compact = False
        with self._state:
            self._check_open()
            self._catch_up(exclusive=True)
            self._current = True
            planner = _Planner(self.index, time.time())
            for op in ops:
                if isinstance(op, CompactOp):
                    force_compact = True
                    results.append(None)
                    continue
                try:
                    results.append(planner.plan(op, lines, records))
                except (TypeError, ValueError) as exc:
                    results.append(exc)
        data = b"".join(lines)
        if data:
            try:
                write_all(self._fd, data)
                if self._fsync:
                    sync_data(self._fd)
            except OSError as exc:
                # take back a partial append so the file stays clean
                with self._state, contextlib.suppress(OSError):
                    os.ftruncate(self._fd, self._offset)
                return [exc for _ in ops]
            with self._state:
                now = time.time()
                for record in records:
                    self._apply(record, now)
                self._offset += len(data)
                self._seen_size = self._offset
        if force_compact or self._compaction_due():
            self._compact()
        return results

    def _compaction_due(self) -> bool:
        size = self._offset
        return size >= self._compact_min_bytes and size > self._compact_ratio * (
            self.live_bytes + 64
        )

    def _compact(self) -> None:
        """Rewrite the log with only live keys (exclusive flock held, ``_current`` set)."""
        with self._state:
            now = time.time()
            live = [
                (key, e.value, e.expires_at)
                for key, e in self.index.items()
                if e.expires_at is None or e.expires_at > now
            ]
            mode = stat.S_IMODE(os.fstat(self._fd).st_mode)
        new = write_compacted(self.path, live, mode=mode, fsync=self._fsync)
        with self._state:
            os.close(self._fd)
            self._fd = new.fd
            self.index = {
                key: Entry(value, expires_at, size)
                for (key, value, expires_at), size in zip(live, new.line_sizes, strict=True)
            }
            self.live_bytes = sum(new.line_sizes)
            self.expiries.clear()
            for key, _, expires_at in live:
                if expires_at is not None:
                    self.expiries.push(key, expires_at)
            self._offset = self._seen_size = new.size
            self.compactions += 1

    # -- introspection (tests, benchmarks) ---------------------------------------------

    def stats(self) -> dict[str, int]:
        with self._state:
            return {
                "keys": len(self.index),
                "file_bytes": self._offset,
                "live_bytes": self.live_bytes,
                "compactions": self.compactions,
            }


class _Planner:
    """Turns operations into log lines against the index plus the batch's own effects."""

    __slots__ = ("_cleared", "_index", "_now", "_overlay")

    def __init__(self, index: dict[str, Entry], now: float) -> None:
        self._index = index
        self._now = now
        self._overlay: dict[str, Entry | None] = {}
        self._cleared = False

    def _lookup(self, key: str) -> Entry | None:
        if key in self._overlay:
            entry = self._overlay[key]
        elif self._cleared:
            return None
        else:
            entry = self._index.get(key)
        if entry is None or (entry.expires_at is not None and entry.expires_at <= self._now):
            return None
        return entry

    def plan(self, op: Op, lines: list[bytes], records: list[Record]) -> object:
        if isinstance(op, SetOp):
            items = op.items
            line = encode_set(*items[0]) if len(items) == 1 else encode_set_many(items)
            self._emit(line, Record("set", items, len(line)), lines, records)
            for key, value, expires_at in items:
                self._overlay[key] = Entry(value, expires_at, 0)
            return None
        if isinstance(op, IncrementOp):
            entry = self._lookup(op.key)
            if entry is None:
                result, expires_at = op.by, None
            else:
                current = as_counter(op.key, decode_value(entry.value))
                result, expires_at = current + op.by, entry.expires_at
            value = str(result)
            line = encode_set(op.key, value, expires_at)
            item = (op.key, value, expires_at)
            self._emit(line, Record("set", [item], len(line)), lines, records)
            self._overlay[op.key] = Entry(value, expires_at, 0)
            return result
        if isinstance(op, DeleteOp):
            if self._lookup(op.key) is None:
                return False
            line = encode_delete(op.key)
            self._emit(line, Record("del", [(op.key, "", None)], len(line)), lines, records)
            self._overlay[op.key] = None
            return True
        if isinstance(op, ClearOp):
            line = encode_clear()
            self._emit(line, Record("clear", [], len(line)), lines, records)
            self._overlay.clear()
            self._cleared = True
            return None
        raise AssertionError(f"unknown op {op!r}")

    @staticmethod
    def _emit(line: bytes, record: Record, lines: list[bytes], records: list[Record]) -> None:
        lines.append(line)
        records.append(record)
