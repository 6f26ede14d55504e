"""Advisory file locks (``fcntl.flock``) on the sidecar ``<log>.lock`` file.

The lock lives in its own file, not on the log, because compaction replaces the log
with ``os.replace``: a lock held on the old log's inode would not exclude a process
that opened the new one. The sidecar is created on first use and never removed; its
first line holds the commit mark (:mod:`~lexigram.storage.kv.local.mark`), which the
lock itself ignores.

``flock`` locks belong to an open file description, so two :class:`FileLock` objects
on the same path conflict with each other even inside one process; LocalStorage uses one
for its writer (exclusive) and one for readers (shared) and orders them so they never
deadlock. The locks are advisory: only processes that use them are excluded. They do
not work reliably on network file systems (NFS); keep the log on a local disk.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["FileLock"]


class FileLock:
    """An ``flock`` lock on ``path``, opened lazily, released by :meth:`close`."""

    __slots__ = ("_fd", "_mutex", "_path")

    def __init__(self, path: str) -> None:
        self._path = path
        self._fd: int | None = None
        self._mutex = threading.Lock()  # the fd is opened once, by whichever thread is first

    def _open(self) -> int:
        with self._mutex:
            if self._fd is None:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            return self._fd

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the lock exclusively (blocks until no other holder is left)."""
        fd = self._open()
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    @contextmanager
    def shared(self) -> Iterator[None]:
        """Hold the lock shared (blocks while an exclusive holder is there)."""
        fd = self._open()
        fcntl.flock(fd, fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def read_head(self, size: int) -> bytes:
        """The first ``size`` bytes of the lock file (where the commit mark lives)."""
        return os.pread(self._open(), size, 0)

    def write_head(self, data: bytes) -> None:
        """Overwrite the start of the lock file with ``data`` (not synced)."""
        os.pwrite(self._open(), data, 0)

    def close(self) -> None:
        with self._mutex:
            fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
