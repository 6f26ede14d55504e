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
here, which makes it atomic across tasks and processes); append their records as one
line (one commit, next sequence number) with one ``write``; ``fdatasync`` once; apply
them to the index; update the commit mark in the lock file; compact if due; release.

While the exclusive flock is held and the index is caught up, ``_current`` is set and
readers of this process use the index without touching the file: no other process can
be writing then, and our own batch is not acknowledged until it is applied.

Failures. A damaged line, a sequence gap or a log shorter than its commit mark is a
:class:`~lexigram.storage.kv.local.errors.KVLogCorruptedError` (never skipped: that
could bring back a deleted key); only a torn tail after the last complete line is cut
off. An ``OSError`` while appending (a full disk) takes the partial append back with
``ftruncate`` and fails every write of the batch with a typed error: a write that
raises was not applied. A failed compaction never fails the writes that triggered it:
it is logged at WARNING (no keys, no values) and retried after the log has grown
further, with a backoff that doubles per failure.

Reads: if ``fstat`` shows the file unchanged since we last caught up, the index is
answered directly (:meth:`try_read`); otherwise :meth:`read_locked` catches up under the
shared flock, so it never reads another process's half-written batch.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import os
import secrets
import stat
import threading
import time
from collections.abc import Callable, Iterator
from typing import Literal, TypeVar

from lexigram.storage.errors import StorageError, StoreClosedError
from lexigram.storage.kv.expiry import ExpiryHeap
from lexigram.storage.kv.local.compaction import is_temp_name, write_compacted
from lexigram.storage.kv.local.errors import (
    REPAIR_HINT,
    KVLogCorruptedError,
    KVLogTruncatedError,
    LogFormatError,
    errno_name,
    os_failure,
)
from lexigram.storage.kv.local.fileio import fsync_dir, sync_data, write_all
from lexigram.storage.kv.local.lock import FileLock
from lexigram.storage.kv.local.log import (
    FORMAT_VERSION,
    Record,
    encode_header,
    encode_line,
    header_format,
    parse_lines,
    unsupported_format,
)
from lexigram.storage.kv.local.mark import (
    MARK_BYTES,
    NO_MARK,
    CommitMark,
    decode_mark,
    encode_mark,
)
from lexigram.storage.kv.local.migration import scan_format1
from lexigram.storage.kv.local.ops import (
    CompactOp,
    Entry,
    Op,
    Planner,
    describe,
)

__all__ = ["LogEngine", "Miss", "new_log_id"]

logger = logging.getLogger("lexigram.storage.kv")

T = TypeVar("T")

_READ_CHUNK = 8 << 20
_MIN_COMPACT_RETRY_BYTES = 64 << 10  # a failed compaction is retried this much later, at least


class Miss(enum.Enum):
    """Returned by :meth:`LogEngine.try_read` when the file must be caught up first."""

    MISS = enum.auto()


def new_log_id() -> str:
    """A fresh random log id for a new log's header (and its commit mark)."""
    return secrets.token_hex(8)


def _failure(exc: OSError, path: str, op: Op, what: str) -> StorageError:
    label, key = describe(op)
    error = os_failure(exc, path=path, what=f"{label} failed: {what}", key=key)
    error.__cause__ = exc
    return error


class LogEngine:
    """Index + log file + locks for one :class:`LocalStorage`; see the module docstring."""

    def __init__(
        self, path: str, *, fsync: bool, compact_min_bytes: int, compact_ratio: float
    ) -> None:
        self.path = path
        self._dir, self._name = os.path.split(path)
        self._lock_path = path + ".lock"
        self._fsync = fsync
        self._compact_min_bytes = compact_min_bytes
        self._compact_ratio = compact_ratio
        self._writer_lock = FileLock(self._lock_path)
        self._reader_lock = FileLock(self._lock_path)
        self._reader_mutex = threading.Lock()
        self._state = threading.Lock()
        self._open_mutex = threading.Lock()
        self.index: dict[str, Entry] = {}
        self.expiries = ExpiryHeap()
        self.live_bytes = 0
        self.compactions = 0
        self.compaction_failures = 0
        self._compact_retry_at = 0  # after a failed compaction: the log size to wait for
        self._fd = -1
        self._offset = 0  # bytes of the file reflected in the index (a line boundary)
        self._seen_size = 0  # _offset plus a torn tail we already reported
        self._log_id = ""  # from the header; "" until a complete header was read
        self._seq = 0  # sequence number of the last line reflected in the index
        self._current = False
        self._notices: list[str] = []
        self._reported: set[tuple[int, int, int]] = set()

    # -- opening and closing ------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._fd >= 0

    def open(self) -> None:
        """Create or load the log (migrating format 1), cutting a torn tail; idempotent.

        Raises :class:`KVLogCorruptedError` for a damaged or truncated log and
        :class:`LogFormatError` for one of a newer format; the engine then stays closed,
        so every later call tries again and raises again.
        """
        with self._open_mutex:
            if self._fd >= 0:
                return
            try:
                os.makedirs(self._dir, exist_ok=True)
                with self._writer_lock.exclusive(), self._state:
                    self._remove_stale_temps()
                    try:
                        self._reload()
                        self._catch_up(exclusive=True)
                        if self._read_mark() != CommitMark(self._log_id, self._seq):
                            self._write_mark()
                    except BaseException:
                        if self._fd >= 0:  # stay closed, so the next call tries again
                            os.close(self._fd)
                            self._fd = -1
                        self.index.clear()
                        self.expiries.clear()
                        raise
            except OSError as exc:
                raise os_failure(exc, path=self.path, what="could not open the KV log") from exc

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
        """Reopen the log by path and forget the index (it is rebuilt by catching up).

        A log that does not exist is created, after resetting the commit mark: whatever
        the mark said was about a log that is gone.
        """
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        flags = os.O_RDWR | os.O_APPEND | os.O_CLOEXEC
        try:
            self._fd = os.open(self.path, flags)
        except FileNotFoundError:
            self._writer_lock.write_head(encode_mark(NO_MARK))
            self._fd = os.open(self.path, flags | os.O_CREAT, 0o644)
        self.index.clear()
        self.expiries.clear()
        self.live_bytes = 0
        self._offset = self._seen_size = 0
        self._log_id = ""
        self._seq = 0

    # -- the commit mark ------------------------------------------------------------

    def _read_mark(self) -> CommitMark | None:
        return decode_mark(self._writer_lock.read_head(MARK_BYTES))

    def _write_mark(self) -> None:
        """Record the last committed line (exclusive flock held). Never fails a write."""
        try:
            self._writer_lock.write_head(encode_mark(CommitMark(self._log_id, self._seq)))
        except OSError as exc:
            logger.warning(
                "KV log %r: could not update the commit mark in %r (%s: %s); a truncation "
                "of the latest commits would go unnoticed until the next update",
                self.path,
                self._lock_path,
                errno_name(exc),
                exc.strerror or exc,
            )

    def _check_mark(self, tail: int) -> None:
        """Raise :class:`KVLogTruncatedError` if the log ends before its commit mark."""
        mark = self._read_mark()
        if mark is None or mark.seq == 0:
            return
        if not self._log_id:
            raise KVLogTruncatedError(
                f"KV log {self.path!r} has no complete header ({tail} bytes), "
                f"but {self._lock_path!r} records {mark.seq} committed lines: the "
                f"file was emptied or truncated, and the store refuses to start empty. "
                f"{REPAIR_HINT}",
                path=self.path,
                offset=0,
            )
        if mark.log_id == self._log_id and mark.seq > self._seq:
            raise KVLogTruncatedError(
                f"KV log {self.path!r} ends after line {self._seq} (byte {self._offset}), "
                f"but {self._lock_path!r} records line {mark.seq} as committed: "
                f"{mark.seq - self._seq} acknowledged commit(s) are missing (the file was "
                "truncated, or replaced by an older copy); the store refuses to load it "
                f"without them. {REPAIR_HINT}",
                path=self.path,
                offset=self._offset,
            )

    # -- catching up with the file ---------------------------------------------------

    def _notice(self, where: tuple[int, int, int], message: str) -> None:
        if where in self._reported:
            return
        self._reported.add(where)
        logger.warning("%s", message)
        self._notices.append(message)

    def _chunks(self, size: int) -> Iterator[bytes]:
        pos = self._offset
        while pos < size:
            chunk = os.pread(self._fd, min(_READ_CHUNK, size - pos), pos)
            if not chunk:
                return
            pos += len(chunk)
            yield chunk

    def _catch_up(self, *, exclusive: bool) -> None:
        """Apply what was appended since ``_offset``; with ``exclusive``, repair the tail.

        Called with ``_state`` and the flock held (shared or exclusive).
        """
        st = os.fstat(self._fd)
        if st.st_nlink == 0 or st.st_size < self._offset:
            self._reload()  # compacted (replaced) or truncated by another process
            st = os.fstat(self._fd)
        if self._offset == 0 and st.st_size > 0 and self._check_format(exclusive=exclusive):
            st = os.fstat(self._fd)  # migrated: a new file
        size = st.st_size
        if size == self._offset and self._log_id:
            self._seen_size = size
            return
        ino = st.st_ino
        now = time.time()
        carry = b""
        for chunk in self._chunks(size):
            data = carry + chunk if carry else chunk
            parsed = parse_lines(data, self._seq if self._log_id else None)
            if parsed.header is not None:
                self._log_id = parsed.header.log_id
            for record in parsed.records:
                self._apply(record, now)
            self._seq = parsed.seq
            self._offset += parsed.consumed
            if parsed.damage is not None:
                raise KVLogCorruptedError(
                    f"KV log {self.path!r} has a damaged line at byte {self._offset} "
                    f"({parsed.damage[1]}); the store refuses to load past it, because "
                    f"skipping a record could bring back a deleted key. {REPAIR_HINT}",
                    path=self.path,
                    offset=self._offset,
                )
            carry = data[parsed.consumed :]
        tail = len(carry)
        self._check_mark(tail)
        if not self._log_id:  # an empty file, or its header was torn
            if exclusive:
                self._start_log(tail, ino)
            else:
                self._seen_size = size
            return
        if not tail:
            self._seen_size = self._offset
            return
        if exclusive:
            os.ftruncate(self._fd, self._offset)
            sync_data(self._fd)
            self._seen_size = self._offset
            self._notice(
                (ino, self._offset, tail),
                f"KV log {self.path!r}: cut off a torn last record ({tail} bytes at byte "
                f"{self._offset}) left by a writer that died mid-write; it was never "
                "acknowledged, and every complete record was kept.",
            )
        else:
            self._seen_size = size
            self._notice(
                (ino, self._offset, tail),
                f"KV log {self.path!r}: ignoring a torn last record ({tail} bytes at byte "
                f"{self._offset}) left by a writer that died mid-write; the next write "
                "cuts it off.",
            )

    def _start_log(self, torn: int, ino: int) -> None:
        """Write the header of a new log (exclusive flock held; the file is empty or torn)."""
        if torn:
            os.ftruncate(self._fd, 0)
            self._notice(
                (ino, 0, torn),
                f"KV log {self.path!r}: cut off a torn header ({torn} bytes) left by a "
                "writer that died while creating the log; the log starts empty.",
            )
        log_id = new_log_id()
        write_all(self._fd, encode_header(log_id, 1))
        sync_data(self._fd)
        fsync_dir(self._dir)
        # only now: had the header failed, the next catch-up finds it torn, or whole
        self._log_id, self._seq = log_id, 1
        self._offset = self._seen_size = os.fstat(self._fd).st_size
        self._write_mark()

    def _check_format(self, *, exclusive: bool) -> bool:
        """Refuse a log of a newer format; migrate format 1. ``True`` if migrated."""
        head = os.pread(self._fd, 512, 0)
        end = head.find(b"\n")
        version = None if end < 0 else header_format(head[: end + 1])
        if version is None or version == FORMAT_VERSION:
            return False  # (an unreadable header is reported by the parser)
        if version != 1:
            raise unsupported_format(version)
        if not exclusive:
            raise LogFormatError(
                f"KV log {self.path!r} is in format 1 (an earlier release); it is migrated "
                "to format 2 when a LocalStorage opens it: open one on this path"
            )
        self._migrate_format1()
        return True

    def _migrate_format1(self) -> None:
        """Rewrite a format-1 log as format 2, atomically (exclusive flock held)."""
        data = b"".join(self._chunks(os.fstat(self._fd).st_size))
        scan = scan_format1(data)
        if scan.damage is not None:
            at, why = scan.damage
            raise KVLogCorruptedError(
                f"KV log {self.path!r} (format 1, written by an earlier release) has a "
                f"damaged record at byte {at} ({why}); it is not migrated to format 2, "
                f"because skipping a record could bring back a deleted key. {REPAIR_HINT}",
                path=self.path,
                offset=at,
            )
        now = time.time()
        for record in scan.records:
            self._apply(record, now)
        live = self._live(now)
        mode = stat.S_IMODE(os.fstat(self._fd).st_mode)
        self._log_id = new_log_id()
        new = write_compacted(self.path, live, log_id=self._log_id, seq=1, mode=mode, fsync=True)
        os.close(new.fd)
        self._seq = new.seq
        self._write_mark()
        logger.warning(
            "KV log %r: migrated from format 1 to format %d (%d live keys; %d torn bytes "
            "dropped); earlier releases of lexigram-storage-core cannot open it any more",
            self.path,
            FORMAT_VERSION,
            len(live),
            len(data) - scan.consumed,
        )
        self._reload()

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

    def _live(self, now: float) -> list[tuple[str, str, float | None]]:
        return [
            (key, e.value, e.expires_at)
            for key, e in self.index.items()
            if e.expires_at is None or e.expires_at > now
        ]

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
        try:
            with self._reader_mutex, self._reader_lock.shared(), self._state:
                self._check_open()
                self._catch_up(exclusive=False)
                return read()
        except OSError as exc:
            raise os_failure(exc, path=self.path, what="could not read the KV log") from exc

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
        """Apply a batch of operations durably; one result (or exception) per op.

        An ``OSError`` before the batch was appended (taking the lock, catching up)
        fails every op of it with a typed error; nothing of it was written.
        """
        try:
            with self._writer_lock.exclusive():
                try:
                    return self._commit_locked(ops)
                finally:
                    self._current = False
        except OSError as exc:
            what = "could not prepare the KV log for writing, so nothing was written"
            return [_failure(exc, self.path, op, what) for op in ops]

    def _commit_locked(self, ops: list[Op]) -> list[object]:
        results: list[object] = []
        texts: list[str] = []
        records: list[Record] = []
        force_compact = False
        with self._state:
            self._check_open()
            self._catch_up(exclusive=True)
            self._current = True
            planner = Planner(self.index, time.time())
            for op in ops:
                if isinstance(op, CompactOp):
                    force_compact = True
                    results.append(None)
                    continue
                try:
                    results.append(planner.plan(op, texts, records))
                except (TypeError, ValueError) as exc:
                    results.append(exc)
        if texts:
            seq = self._seq + 1
            line = encode_line(seq, texts)
            try:
                write_all(self._fd, line)
                if self._fsync:
                    sync_data(self._fd)
            except OSError as exc:
                return self._append_failed(exc, ops, results)
            share = len(line) // len(records)
            with self._state:
                now = time.time()
                for record in records:
                    self._apply(record._replace(nbytes=share), now)
                self._offset += len(line)
                self._seen_size = self._offset
                self._seq = seq
            self._write_mark()
        if force_compact or self._compaction_due():
            try:
                self._compact()
            except OSError as exc:
                self._compaction_failed(exc)
                if force_compact:
                    what = "the log could not be rewritten and was left as it was"
                    results = [
                        _failure(exc, self.path, op, what) if isinstance(op, CompactOp) else r
                        for op, r in zip(ops, results, strict=True)
                    ]
        return results

    def _append_failed(self, exc: OSError, ops: list[Op], results: list[object]) -> list[object]:
        """Take back a partial append; fail every op of the batch that was to be written."""
        with self._state:
            try:
                os.ftruncate(self._fd, self._offset)
            except OSError:
                what = (
                    "its append failed and could not be taken back, so it may or may "
                    "not have been applied"
                )
            else:
                what = "could not append it to the log, so nothing was written"
        return [
            r if isinstance(r, BaseException) else _failure(exc, self.path, op, what)
            for op, r in zip(ops, results, strict=True)
        ]

    def _compaction_due(self) -> bool:
        size = self._offset
        return size >= max(self._compact_min_bytes, self._compact_retry_at) and (
            size > self._compact_ratio * (self.live_bytes + 64)
        )

    def _compaction_failed(self, exc: OSError) -> None:
        """Log a failed compaction and put off the next automatic one (doubling)."""
        self.compaction_failures += 1
        wait = max(self._compact_min_bytes, _MIN_COMPACT_RETRY_BYTES)
        wait <<= min(self.compaction_failures - 1, 6)
        self._compact_retry_at = self._offset + wait
        logger.warning(
            "KV log %r: compaction failed (%s: %s); the log was left as it was and every "
            "write stays committed. The next automatic attempt is after %d more bytes "
            "of log.",
            self.path,
            errno_name(exc),
            exc.strerror or exc,
            wait,
        )

    def _compact(self) -> None:
        """Rewrite the log with only live keys (exclusive flock held, ``_current`` set)."""
        with self._state:
            live = self._live(time.time())
            mode = stat.S_IMODE(os.fstat(self._fd).st_mode)
        new = write_compacted(
            self.path, live, log_id=self._log_id, seq=self._seq + 1, mode=mode, fsync=self._fsync
        )
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
            self._seq = new.seq
            self.compactions += 1
            self._compact_retry_at = 0
        self._write_mark()

    # -- introspection (tests, benchmarks) ---------------------------------------------

    def stats(self) -> dict[str, int]:
        with self._state:
            return {
                "keys": len(self.index),
                "file_bytes": self._offset,
                "live_bytes": self.live_bytes,
                "compactions": self.compactions,
                "compaction_failures": self.compaction_failures,
            }
