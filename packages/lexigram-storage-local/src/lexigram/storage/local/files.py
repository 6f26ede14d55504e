"""The blocking filesystem operations behind the driver; each runs in one worker thread.

Atomic writes: the bytes go to a temporary file (``.lexigram-tmp-<host>-<pid>-<time>-<random>``,
see :mod:`.tempnames`) in the target's directory, are
fsynced, and the file is renamed over the target (``os.rename``: atomic on POSIX) — or,
for ``create_only``, hard-linked to it (``os.link`` fails if the name exists, so exactly
one of several concurrent creators wins) and the temp name unlinked; then the directory
is fsynced. A reader opens either the old file or the new one, never a partial one. A
failed or cancelled write unlinks its temp file and prunes directories it left empty.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
import threading
import time
from collections.abc import Generator, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Protocol

from lexigram.storage.content_types import guess_content_type
from lexigram.storage.errors import DriverError, ErrorCode
from lexigram.storage.headers import NO_HEADERS, HttpHeaders
from lexigram.storage.info import BlobInfo
from lexigram.storage.local.beneath import open_beneath
from lexigram.storage.local.beneath import open_cached as files_open_cached
from lexigram.storage.local.conditional import check_if_match, commit_lock
from lexigram.storage.local.config import DEFAULT_ORPHAN_MAX_AGE, StorageLocalConfig
from lexigram.storage.local.nesting import SELF_NAME
from lexigram.storage.local.nofollow import open_dir
from lexigram.storage.local.orphans import sweep
from lexigram.storage.local.paths import (
    DIR_FLAGS,
    FILE_READ_FLAGS,
    RESERVED_PREFIX,
    Walk,
    close_quietly,
    open_root,
    split_key,
    symlink_refused,
    walk_for_write,
    walk_parent,
)
from lexigram.storage.local.sidecar import (
    META_DIR,
    read_sidecar,
    remove_all,
    remove_one,
    write_sidecar,
)
from lexigram.storage.local.tempnames import temp_name

__all__ = ["CancelFlag", "LocalFiles", "PendingWrite", "WriteCancelled"]

logger = logging.getLogger("lexigram.storage.local")

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC
_ATTEMPTS = 5
#: seconds a root found without any sidecar is taken to have none (see _sidecars_possible).
NO_SIDECARS_FOR = 1.0
#: largest object read on the event loop when it is fully cached (see read_nowait).
INLINE_READ_MAX = 256 * 1024
_NOWAIT: int | None = getattr(os, "RWF_NOWAIT", None)
#: largest single read(2) Linux performs.
_MAX_READ = 0x7FFFF000


class WriteCancelled(Exception):
    """The awaiting task was cancelled before the commit point; nothing was written."""


class CancelFlag(Protocol):
    """Set by the awaiting task when it is cancelled (a ``threading.Event`` will do)."""

    def is_set(self) -> bool: ...


def etag_of(st: os.stat_result) -> str:
    return f'"{st.st_ino:x}-{st.st_mtime_ns:x}-{st.st_size:x}"'


def modified_of(st: os.stat_result) -> datetime:
    return datetime.fromtimestamp(st.st_mtime_ns / 1e9, UTC)


class PendingWrite:
    """A temp file being written in the target's directory.

    ``lock`` is held by every write and by :meth:`LocalFiles.abort` around closing the
    fd: when a task is cancelled while a worker thread still writes a chunk, the abort
    waits for that write instead of closing an fd in use (whose number the OS could hand
    to another file meanwhile)."""

    __slots__ = ("fd", "key", "lock", "seen", "temp", "walk")

    def __init__(
        self, walk: Walk, temp: str, fd: int, key: str, seen: os.stat_result | None = None
    ) -> None:
        self.walk = walk
        self.temp = temp
        self.fd = fd
        self.key = key
        self.lock = threading.Lock()
        #: the object's file when the write began (None: there was none)
        self.seen = seen


class LocalFiles:
    """Blocking operations on the tree under ``config.root_dir``."""

    def __init__(self, config: StorageLocalConfig) -> None:
        self.config = config
        self.root = os.path.abspath(config.root_dir)
        self._root: int = -1
        self._retired: list[int] = []
        self._lock = threading.Lock()
        #: until when (``time.monotonic``) the root is known to hold no sidecar at all
        self._no_sidecars_until = 0.0

    # -- the root -------------------------------------------------------------------------

    def root_fd(self) -> int:
        """The root directory's fd, opened once (created first if missing) and shared by
        every operation: paths are resolved from it, never from the root's path again.
        Borrowed: callers never close it."""
        fd = self._root
        if fd >= 0:
            return fd
        with self._lock:
            if self._root < 0:
                os.makedirs(self.root, self.config.directory_mode, exist_ok=True)
                opened = open_root(self.root)
                max_age = self.config.orphan_max_age
                if max_age is not None:
                    try:
                        self._sweep(opened, max_age)
                    except Exception as exc:  # never fails the operation that opened the root
                        logger.warning("cleanup of %s failed: %r", self.root, exc)
                self._root = opened
            return self._root

    def cleanup(self, max_age: float | None = None) -> int:
        """Remove what crashed writers left below the root (see :mod:`.orphans`): their
        temporary files older than ``max_age`` seconds (default: the config's
        ``orphan_max_age``, or one hour if that is None) and sidecars of files that never
        made it into place. Never a running writer's file. Returns how many were removed."""
        if max_age is None:
            max_age = self.config.orphan_max_age
        return self._sweep(self.root_fd(), DEFAULT_ORPHAN_MAX_AGE if max_age is None else max_age)

    def _sweep(self, root: int, max_age: float) -> int:
        def is_current(key: str, ino: int) -> bool:
            st = _stat_at(root, key)
            return st is not None and st.st_ino == ino

        removed = sweep(root, max_age=max_age, is_current=is_current)
        if removed:
            logger.info("removed %d orphaned temporary file(s) below %s", removed, self.root)
        return removed

    def _sidecars_possible(self, root: int) -> bool:
        """Whether the root may hold sidecars (its metadata directory exists). "No" is
        remembered for a second, and forgotten as soon as this process writes one: a
        sidecar another process writes meanwhile may outlive the file it describes,
        which is the inert orphan :mod:`.sidecar` already allows for (never used for
        another file; removed with the key)."""
        if time.monotonic() < self._no_sidecars_until:
            return False
        try:
            os.stat(META_DIR, dir_fd=root, follow_symlinks=False)
        except FileNotFoundError:
            self._no_sidecars_until = time.monotonic() + NO_SIDECARS_FOR
            return False
        except OSError:
            pass
        return True

    def root_gone(self) -> bool:
        """Whether the root directory was removed (or replaced) since it was opened; if
        it was and ``root_dir`` exists again, later operations use the new one."""
        fd = self._root
        if fd < 0:
            return False
        try:
            gone = os.fstat(fd).st_nlink == 0
        except OSError:
            gone = True
        if gone:
            with self._lock:
                if self._root == fd:
                    # Never close it here: another thread may still be using the number.
                    self._retired.append(fd)
                    self._root = open_root(self.root)  # BUCKET_NOT_FOUND if it is gone
        return gone

    def close(self) -> None:
        with self._lock:
            for fd in [*self._retired, self._root]:
                if fd >= 0:
                    close_quietly(fd)
            self._retired = []
            self._root = -1

    def ping(self) -> None:
        fd = self.root_fd()
        self.root_gone()
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(self.root))
        except FileNotFoundError:
            raise DriverError(
                ErrorCode.BUCKET_NOT_FOUND, f"root_dir {self.root!r} does not exist"
            ) from None
        if not same:
            # the path now names another directory: use it from now on
            with self._lock:
                if self._root == fd:
                    self._retired.append(fd)
                    self._root = open_root(self.root)
        if not os.access(self.root, os.R_OK | os.W_OK | os.X_OK):
            raise DriverError(
                ErrorCode.PERMISSION_DENIED,
                f"root_dir {self.root!r} is not readable and writable by this process",
            )

    # -- reading --------------------------------------------------------------------------

    def _open_read(self, key: str) -> tuple[int, os.stat_result]:
        """An fd of the object ``key`` (a regular file, reached without symlinks)."""
        try:
            return self._open_read_once(key)
        except DriverError as exc:
            if exc.code is ErrorCode.NOT_FOUND and self.root_gone():
                return self._open_read_once(key)
            raise

    def _open_read_once(self, key: str) -> tuple[int, os.stat_result]:
        segments = split_key(key)
        if open_beneath is not None:
            # one system call for the whole path, refusing any symlink on the way
            try:
                fd = open_beneath(self.root_fd(), key, FILE_READ_FLAGS)
            except OSError as exc:
                if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                    raise DriverError(ErrorCode.NOT_FOUND) from None
                if exc.errno in (errno.ELOOP, errno.EXDEV):
                    raise symlink_refused(key) from None
                raise
        else:
            walk = walk_parent(self.root_fd(), segments, create=False)
            try:
                fd = _open_nofollow(walk.name, walk.parent, key)
            finally:
                walk.close()
        try:
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode):
                # `key` is also a directory (a/b exists): the object is a/.lexigram-self
                inner = _open_nofollow(SELF_NAME, fd, key)
                os.close(fd)
                fd = inner
                st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise DriverError(ErrorCode.NOT_FOUND)  # a FIFO, a socket, a device
        except BaseException:
            close_quietly(fd)
            raise
        return fd, st

    def read(self, key: str, start: int, end: int | None) -> bytes:
        fd, st = self._open_read(key)
        try:
            stop = st.st_size if end is None else min(end, st.st_size)
            if start >= stop:
                return b""
            want = stop - start
            data = os.pread(fd, min(want, _MAX_READ), start)
            if len(data) == want or not data:
                return data
            parts = [data]
            got = len(data)
            while got < want:
                more = os.pread(fd, min(want - got, _MAX_READ), start + got)
                if not more:
                    break
                parts.append(more)
                got += len(more)
            return b"".join(parts)
        finally:
            os.close(fd)

    def read_range(
        self, key: str, start: int, end: int, into: memoryview | None = None
    ) -> tuple[bytes | memoryview, int, str]:
        """The bytes ``[start, end)`` (fewer at the end of the file) with the size and
        ETag of that very file (the range-read primitive of the core's parallel reads);
        with ``into``, read into it (``preadv``) and return the part of it filled."""
        fd, st = self._open_read(key)
        try:
            stop = min(end, st.st_size)
            if into is not None:
                filled = 0
                while start + filled < stop:
                    n = os.preadv(fd, [into[filled : stop - start]], start + filled)
                    if not n:
                        break
                    filled += n
                return into[:filled], st.st_size, etag_of(st)
            parts: list[bytes] = []
            got = 0
            while start + got < stop:
                more = os.pread(fd, min(stop - start - got, _MAX_READ), start + got)
                if not more:
                    break
                parts.append(more)
                got += len(more)
            data = parts[0] if len(parts) == 1 else b"".join(parts)
            return data, st.st_size, etag_of(st)
        finally:
            os.close(fd)

    def read_nowait(self, key: str, start: int, end: int | None) -> bytes | None:
        """The bytes of a small object *if* they can be had without waiting for the disk:
        the path is in the dentry cache (``openat2(RESOLVE_CACHED)``) and the bytes in the
        page cache (``preadv2(RWF_NOWAIT)``). Otherwise None: the caller reads in a worker
        thread. Safe to call on the event loop: it never blocks on I/O.
        """
        opener = files_open_cached
        fd_root = self._root
        if opener is None or fd_root < 0 or _NOWAIT is None:
            return None
        split_key(key)  # the same refusals as every other path
        try:
            fd = opener(fd_root, key, FILE_READ_FLAGS)
        except OSError:
            return None  # not cached, missing, a symlink...: the worker thread says which
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                return None
            stop = st.st_size if end is None else min(end, st.st_size)
            want = stop - start
            if want <= 0 or want > INLINE_READ_MAX:
                return None
            buf = bytearray(want)
            try:
                got = os.preadv(fd, [buf], start, _NOWAIT)
            except OSError:
                return None  # EAGAIN (not in the page cache), EOPNOTSUPP...
            return bytes(buf) if got == want else None
        finally:
            os.close(fd)

    def open_stream(self, key: str) -> tuple[int, int]:
        """An fd of the object and its size (the caller closes it; read it with pread)."""
        fd, st = self._open_read(key)
        return fd, st.st_size

    def open_version(self, key: str) -> tuple[int, BlobInfo]:
        """An fd of the object and the info of that very file (size, etag, last modified
        from its ``fstat``; the sidecar matching it), so what is said about the object
        and the bytes read from the fd are of one version even while it is overwritten.
        The caller closes the fd (read it with pread)."""
        fd, st = self._open_read(key)
        try:
            return fd, self.info_of(key, st)
        except BaseException:
            close_quietly(fd)
            raise

    def _stat(self, key: str) -> os.stat_result | None:
        """The stat of ``key``'s file, or None if there is none; refuses symlinks."""
        found = self._stat_once(key)
        if found is None and self.root_gone():
            found = self._stat_once(key)
        return found

    def _stat_once(self, key: str) -> os.stat_result | None:
        return _stat_at(self.root_fd(), key)

    def head(self, key: str) -> BlobInfo:
        st = self._stat(key)
        if st is None:
            raise DriverError(ErrorCode.NOT_FOUND)
        return self.info_of(key, st)

    def info_of(self, key: str, st: os.stat_result) -> BlobInfo:
        """The info of the data file ``st`` of ``key``."""
        side = read_sidecar(self.root_fd(), key, st)
        info = BlobInfo(
            path=key,
            size=st.st_size,
            content_type=side.content_type if side else guess_content_type(key),
            last_modified=modified_of(st),
            etag=etag_of(st),
            metadata=dict(side.metadata) if side else {},
        )
        return info.with_headers(side.headers) if side else info

    def exists(self, key: str) -> bool:
        return self._stat(key) is not None

    # -- writing --------------------------------------------------------------------------

    def begin_write(self, key: str) -> PendingWrite:
        segments = split_key(key)
        for attempt in range(_ATTEMPTS):
            try:
                walk = walk_for_write(
                    self.root_fd(), segments, directory_mode=self.config.directory_mode
                )
            except FileNotFoundError:
                # a directory on the way was pruned by a concurrent delete, or the root
                # itself was removed: walk again
                if attempt == _ATTEMPTS - 1:
                    raise
                self.root_gone()
                continue
            try:
                seen = _resolved_stat(walk, key, for_write=True)
                temp = temp_name()
                fd = os.open(temp, _WRITE_FLAGS, self.config.file_mode, dir_fd=walk.parent)
            except FileNotFoundError:
                # A concurrent delete pruned a directory we had just opened (or the root
                # was replaced): walk again.
                walk.close()
                if attempt == _ATTEMPTS - 1:
                    raise
                self.root_gone()
                continue
            except BaseException:
                walk.close()
                raise
            return PendingWrite(walk, temp, fd, key, seen)
        raise AssertionError("unreachable")

    @staticmethod
    def write_all(pending: PendingWrite, data: memoryview | bytes | bytearray) -> None:
        view = memoryview(data).cast("B")
        written = 0
        total = view.nbytes
        with pending.lock:
            if pending.fd < 0:
                raise DriverError(ErrorCode.UNKNOWN, "the upload was aborted")
            while written < total:
                written += os.write(pending.fd, view[written:])

    def commit(
        self,
        pending: PendingWrite,
        *,
        content_type: str,
        metadata: Mapping[str, str],
        create_only: bool,
        cancelled: CancelFlag | None = None,
        headers: HttpHeaders = NO_HEADERS,
        if_match: str | None = None,
    ) -> BlobInfo:
        """fsync, write the sidecar if needed, then rename/link into place. On any
        failure the temp file is removed and nothing changes. ``if_match``: only if the
        current file is at that ETag (checked and replaced under the key's ``commit_lock``)."""
        key = pending.key
        walk = pending.walk
        sidecar_written: int | None = None
        root = self.root_fd()
        try:
            if self.config.fsync:
                os.fsync(pending.fd)
            st = os.fstat(pending.fd)
            os.close(pending.fd)
            pending.fd = -1
            has_headers = headers is not NO_HEADERS and bool(headers)
            if metadata or has_headers or content_type != guess_content_type(key):
                self._no_sidecars_until = 0.0
                write_sidecar(
                    root,
                    key,
                    st,
                    content_type,
                    metadata,
                    fsync=self.config.fsync,
                    directory_mode=self.config.directory_mode,
                    headers=headers,
                )
                sidecar_written = st.st_ino
            with commit_lock(key):
                if if_match is not None:
                    old = _lstat_or_none(walk.name, walk.parent)
                    check_if_match(old, if_match, etag_of)
                else:
                    # The file replaced, as found when the write began: only its sidecar
                    # is removed after the rename, and should another writer have
                    # replaced it meanwhile, the sidecar left is an inert orphan (a
                    # reader uses a sidecar only for its very file; see .sidecar).
                    old = pending.seen
                if cancelled is not None and cancelled.is_set():
                    raise WriteCancelled()
                # -- the commit point --
                inner = _place(
                    walk.parent, pending.temp, walk.parent, walk.name, key, link=create_only
                )
            try:
                if create_only:
                    os.unlink(pending.temp, dir_fd=walk.parent)
                pending.temp = ""
                sidecar_written = None
                if self.config.fsync:
                    os.fsync(walk.parent if inner is None else inner)
            finally:
                if inner is not None:
                    os.close(inner)
            if old is not None and old.st_ino != st.st_ino and self._sidecars_possible(root):
                remove_one(root, key, old.st_ino)
        except BaseException:
            if sidecar_written is not None:
                remove_one(root, key, sidecar_written)
            self.abort(pending)
            raise
        walk.close()
        info = BlobInfo(
            path=key,
            size=st.st_size,
            content_type=content_type,
            last_modified=modified_of(st),
            etag=etag_of(st),
            metadata=dict(metadata),
        )
        return info.with_headers(headers) if has_headers else info

    def abort(self, pending: PendingWrite) -> None:
        """Remove the temp file and the directories left empty (never raises)."""
        with pending.lock:  # waits for a write still running in a worker thread
            if pending.fd >= 0:
                close_quietly(pending.fd)
                pending.fd = -1
        walk = pending.walk
        if not walk.fds:
            return
        if pending.temp:
            with contextlib.suppress(OSError):
                os.unlink(pending.temp, dir_fd=walk.parent)
            pending.temp = ""
        _prune(walk)
        walk.close()

    def put_bytes(
        self,
        key: str,
        data: memoryview,
        *,
        content_type: str,
        metadata: Mapping[str, str],
        create_only: bool,
        cancelled: CancelFlag,
        headers: HttpHeaders = NO_HEADERS,
        if_match: str | None = None,
    ) -> BlobInfo:
        """A whole in-memory upload in one call (one thread hop)."""
        pending = self.begin_write(key)
        try:
            self.write_all(pending, data)
        except BaseException:
            self.abort(pending)
            raise
        return self.commit(
            pending,
            content_type=content_type,
            metadata=metadata,
            create_only=create_only,
            cancelled=cancelled,
            headers=headers,
            if_match=if_match,
        )

    # -- deleting -------------------------------------------------------------------------

    def delete(self, key: str, if_match: str | None = None) -> None:
        if not self._delete_once(key, if_match) and self.root_gone():
            self._delete_once(key, if_match)

    def _delete_once(self, key: str, if_match: str | None = None) -> bool:
        """Delete ``key``'s file; whether there was one. ``if_match``: only if it is at
        that ETag (else, also when there is none, ``FAILED_PRECONDITION``)."""
        segments = split_key(key)
        root = self.root_fd()
        try:
            walk = walk_parent(root, segments, create=False)
        except DriverError as exc:
            if exc.code is ErrorCode.NOT_FOUND:
                if if_match is not None:
                    check_if_match(None, if_match, etag_of)
                return False
            raise
        try:
            if not _resolve(walk, key, for_write=False):
                if if_match is not None:
                    check_if_match(None, if_match, etag_of)
                return False  # nothing there (a directory alone is not an object)
            with commit_lock(key):
                if if_match is not None:
                    check_if_match(_lstat_or_none(walk.name, walk.parent), if_match, etag_of)
                try:
                    os.unlink(walk.name, dir_fd=walk.parent)
                except FileNotFoundError:
                    return False
            remove_all(root, key)
            _prune(walk)
            return True
        finally:
            walk.close()

    def delete_many(self, keys: Sequence[str]) -> dict[str, BaseException]:
        failures: dict[str, BaseException] = {}
        for key in keys:
            try:
                self.delete(key)
            except Exception as exc:
                failures[key] = exc
        return failures

    # -- copying --------------------------------------------------------------------------

    def copy(self, src: str, dst: str) -> None:
        fd, st = self._open_read(src)
        try:
            side = read_sidecar(self.root_fd(), src, st)
            pending = self.begin_write(dst)
            try:
                _copy_bytes(fd, pending.fd, st.st_size)
            except BaseException:
                self.abort(pending)
                raise
        finally:
            os.close(fd)
        self.commit(
            pending,
            content_type=side.content_type if side else guess_content_type(src),
            metadata=side.metadata if side else {},
            create_only=False,
            headers=side.headers if side else NO_HEADERS,
        )

    def move(self, src: str, dst: str) -> None:
        """Rename ``src`` to ``dst`` (atomic; replaces ``dst``)."""
        src_segments = split_key(src)
        dst_segments = split_key(dst)
        root = self.root_fd()
        src_walk = walk_parent(root, src_segments, create=False)
        try:
            if not _resolve(src_walk, src, for_write=False):
                raise DriverError(ErrorCode.NOT_FOUND)
            st = os.stat(src_walk.name, dir_fd=src_walk.parent, follow_symlinks=False)
            side = read_sidecar(root, src, st)
            ctype = side.content_type if side else guess_content_type(src)
            meta = dict(side.metadata) if side else {}
            kept = side.headers if side else NO_HEADERS
            dst_walk = walk_parent(
                root,
                dst_segments,
                create=True,
                directory_mode=self.config.directory_mode,
            )
            try:
                _resolve(dst_walk, dst, for_write=True)
                # Making dst's parents may have turned src into a directory (moving `b`
                # to `b/a` promotes `b`): find src's file again, now `b/.lexigram-self`.
                if not _resolve(src_walk, src, for_write=False):
                    _prune(dst_walk)
                    raise DriverError(ErrorCode.NOT_FOUND)
                st = os.stat(src_walk.name, dir_fd=src_walk.parent, follow_symlinks=False)
                old = _lstat_or_none(dst_walk.name, dst_walk.parent)
                wrote = meta or kept or ctype != guess_content_type(dst)
                if wrote:
                    self._no_sidecars_until = 0.0
                    write_sidecar(
                        root,
                        dst,
                        st,
                        ctype,
                        meta,
                        fsync=self.config.fsync,
                        directory_mode=self.config.directory_mode,
                        headers=kept,
                    )
                try:
                    inner = _place(
                        src_walk.parent,
                        src_walk.name,
                        dst_walk.parent,
                        dst_walk.name,
                        dst,
                        link=False,
                    )
                except BaseException:
                    if wrote:
                        remove_one(root, dst, st.st_ino)
                    _prune(dst_walk)
                    raise
                try:
                    if self.config.fsync:
                        os.fsync(dst_walk.parent if inner is None else inner)
                        os.fsync(src_walk.parent)
                finally:
                    if inner is not None:
                        os.close(inner)
                if old is not None and old.st_ino != st.st_ino:
                    remove_one(root, dst, old.st_ino)
            finally:
                dst_walk.close()
            remove_all(root, src)
            _prune(src_walk)
        except FileNotFoundError:
            raise DriverError(ErrorCode.NOT_FOUND) from None
        finally:
            src_walk.close()

    # -- listing --------------------------------------------------------------------------

    def iter_list(self, prefix: str, *, rollup: bool) -> Generator[BlobInfo, None, None]:
        """Objects under ``prefix`` in code-point order of key; with ``rollup`` the
        sub-directories at the prefix's level become common prefixes (delimiter "/").

        Order: siblings are sorted by name, a directory as ``name + "/"`` — every key
        inside it starts so, and since no name holds "/", comparing with it decides the
        order against every sibling ("a-b" < "a/..." < "a0"). Symlinks, reserved names
        and names that are not UTF-8 are skipped.
        """
        dir_part, _, partial = prefix.rpartition("/")
        segments = dir_part.split("/") if dir_part else []
        if any(s.startswith(RESERVED_PREFIX) or s in ("", ".", "..") for s in segments):
            return
        self.root_gone()  # removed and made again since we opened it: list the new one
        try:
            walk = walk_parent(self.root_fd(), [*segments, "x"], create=False)
        except DriverError as exc:
            if exc.code in (ErrorCode.NOT_FOUND, ErrorCode.PERMISSION_DENIED):
                return  # nothing there, or reached only through a symlink: refused
            raise
        base = dir_part + "/" if dir_part else ""
        try:
            yield from _walk(walk.parent, base, partial, rollup)
        finally:
            walk.close()


def _stat_at(root_fd: int, key: str) -> os.stat_result | None:
    """The stat of ``key``'s file below ``root_fd``, or None; refuses symlinks."""
    segments = split_key(key)
    try:
        walk = walk_parent(root_fd, segments, create=False)
    except DriverError as exc:
        if exc.code is ErrorCode.NOT_FOUND:
            return None
        raise
    try:
        if not _resolve(walk, key, for_write=False):
            return None
        st = os.stat(walk.name, dir_fd=walk.parent, follow_symlinks=False)
    except (FileNotFoundError, NotADirectoryError):
        return None
    finally:
        walk.close()
    return st if stat.S_ISREG(st.st_mode) else None


def _entries(fd: int, partial: str) -> list[tuple[str, str, os.stat_result | None]]:
    out: list[tuple[str, str, os.stat_result | None]] = []
    with os.scandir(fd) as it:
        for entry in it:
            name = entry.name
            if partial and not name.startswith(partial):
                continue
            if name.startswith(RESERVED_PREFIX):
                continue
            try:
                name.encode("utf-8")
            except UnicodeEncodeError:
                continue  # not a key this driver could have written
            try:
                if entry.is_symlink():
                    continue
                if entry.is_dir(follow_symlinks=False):
                    out.append((name + "/", name, None))
                    own = _self_stat(fd, name)
                    if own is not None:  # object `name` living inside its directory
                        out.append((name, name, own))
                elif entry.is_file(follow_symlinks=False):
                    out.append((name, name, entry.stat(follow_symlinks=False)))
            except FileNotFoundError:
                continue  # removed while we listed
    out.sort(key=lambda entry: entry[0])
    return out


def _self_stat(fd: int, name: str) -> os.stat_result | None:
    try:
        sub = os.open(name, DIR_FLAGS, dir_fd=fd)
    except OSError:
        return None
    try:
        st = os.stat(SELF_NAME, dir_fd=sub, follow_symlinks=False)
    except OSError:
        return None
    finally:
        os.close(sub)
    return st if stat.S_ISREG(st.st_mode) else None


def _walk(fd: int, base: str, partial: str, rollup: bool) -> Iterator[BlobInfo]:
    for _, name, st in _entries(fd, partial):
        if st is not None:
            yield BlobInfo(
                path=base + name,
                size=st.st_size,
                last_modified=modified_of(st),
                etag=etag_of(st),
            )
            continue
        try:
            sub = os.open(name, DIR_FLAGS, dir_fd=fd)
        except OSError:
            continue  # removed meanwhile, or replaced by a symlink: not followed
        try:
            if rollup:
                if _holds_object(sub):
                    yield BlobInfo(path=base + name + "/", size=0, is_prefix=True)
            else:
                yield from _walk(sub, base + name + "/", "", False)
        finally:
            os.close(sub)


def _holds_object(fd: int) -> bool:
    """Whether a directory holds an object at any depth (empty trees are no prefix)."""
    for _, name, st in _entries(fd, ""):
        if st is not None:
            return True
        try:
            sub = os.open(name, DIR_FLAGS, dir_fd=fd)
        except OSError:
            continue
        try:
            if _holds_object(sub):
                return True
        finally:
            os.close(sub)
    return False


def _open_nofollow(name: str, dir_fd: int, key: str) -> int:
    """Open ``name`` for reading without following a symlink (or blocking on a FIFO)."""
    try:
        return os.open(name, FILE_READ_FLAGS, dir_fd=dir_fd)
    except FileNotFoundError:
        raise DriverError(ErrorCode.NOT_FOUND) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise symlink_refused(key) from None
        raise


def _resolve(walk: Walk, key: str, *, for_write: bool) -> bool:
    """Point ``walk`` at the file of object ``key``: ``name`` itself, or
    ``name/.lexigram-self`` when ``name`` is a directory (see :mod:`.nesting`).

    Returns whether the object exists (always True for writes: the file may be new).
    A symlink → ``PERMISSION_DENIED``; something that is not a regular file or a
    directory (FIFO, socket, device) → ``INVALID_ARGUMENT`` for writes, absent for reads.
    """
    return _resolved_stat(walk, key, for_write=for_write) is not None or for_write


def _resolved_stat(walk: Walk, key: str, *, for_write: bool) -> os.stat_result | None:
    """:func:`_resolve`, returning the lstat of the object's file (None if there is none)."""
    try:
        st = os.stat(walk.name, dir_fd=walk.parent, follow_symlinks=False)
    except FileNotFoundError:
        return None
    mode = st.st_mode
    if stat.S_ISLNK(mode):
        raise symlink_refused(key)
    if stat.S_ISDIR(mode) and walk.name != SELF_NAME:
        walk.fds.append(open_dir(walk.name, walk.parent, key))
        walk.segments.append(SELF_NAME)
        return _resolved_stat(walk, key, for_write=for_write)
    if stat.S_ISREG(mode):
        return st
    if for_write:
        raise DriverError(
            ErrorCode.INVALID_ARGUMENT, f"{key!r} exists and is not a regular file or directory"
        )
    return None


def _place(src_dir: int, src: str, dst_dir: int, dst: str, key: str, *, link: bool) -> int | None:
    """Rename (or, with ``link``, hard-link: fails if the name exists) the file ``src``
    to object ``key``'s name ``dst``.

    If ``dst`` is a directory (``key/...`` was written meanwhile, see :mod:`.nesting`)
    the file goes inside it as :data:`SELF_NAME`, through an fd of that directory opened
    with ``O_NOFOLLOW``, never through the path ``dst/...``: a directory swapped for a
    symlink in between is refused (``PERMISSION_DENIED``), not followed out of the root.
    Returns that directory's fd (the caller fsyncs and closes it), or None when the file
    landed in ``dst_dir``.
    """
    for _ in range(_ATTEMPTS):
        try:
            if link:
                os.link(src, dst, src_dir_fd=src_dir, dst_dir_fd=dst_dir, follow_symlinks=False)
            else:
                os.rename(src, dst, src_dir_fd=src_dir, dst_dir_fd=dst_dir)
            return None
        except (IsADirectoryError, FileExistsError):
            if dst == SELF_NAME or (link and not _is_dir(dst, dst_dir)):
                if link:
                    raise DriverError(ErrorCode.ALREADY_EXISTS) from None
                raise
        try:
            inner = open_dir(dst, dst_dir, key)
        except (FileNotFoundError, NotADirectoryError):
            continue  # removed, or replaced by a file, meanwhile: try the name again
        try:
            if link:
                os.link(src, SELF_NAME, src_dir_fd=src_dir, dst_dir_fd=inner, follow_symlinks=False)
            else:
                os.rename(src, SELF_NAME, src_dir_fd=src_dir, dst_dir_fd=inner)
        except FileExistsError:
            os.close(inner)
            raise DriverError(ErrorCode.ALREADY_EXISTS) from None
        except BaseException:
            os.close(inner)
            raise
        return inner
    raise DriverError(ErrorCode.UNAVAILABLE, f"{key!r} kept changing while being written")


def _is_dir(name: str, dir_fd: int) -> bool:
    st = _lstat_or_none(name, dir_fd)
    return st is not None and stat.S_ISDIR(st.st_mode)


def _lstat_or_none(name: str, dir_fd: int) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError:
        return None


def _prune(walk: Walk) -> None:
    """Remove the key's parent directories that are now empty, deepest first (never the
    root); stops at the first one that is not empty."""
    # A shortcut walk holds no fds of the directories above the parent: those are walked
    # again (one level at a time, never through a symlink) once the levels below are gone.
    last = 2 if walk.shortcut else 1
    for depth in range(len(walk.fds) - 1, last - 1, -1):
        try:
            os.rmdir(walk.segments[depth - 1], dir_fd=walk.fds[depth - 1])
        except OSError:
            return
    if walk.shortcut and walk.fds:
        try:
            full = walk_parent(walk.fds[0], [*walk.segments[0].split("/"), "x"], create=False)
        except (DriverError, OSError):
            return
        try:
            _prune(full)
        finally:
            full.close()


def _copy_bytes(src: int, dst: int, size: int) -> None:
    offset = 0
    copy_range = getattr(os, "copy_file_range", None)
    if copy_range is not None:
        try:
            while offset < size:
                n = copy_range(src, dst, min(size - offset, 1 << 30), offset)
                if n == 0:
                    break
                offset += n
            if offset >= size:
                return
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                raise
    while True:
        chunk = os.pread(src, 1 << 20, offset)
        if not chunk:
            return
        view = memoryview(chunk)
        while view:
            view = view[os.write(dst, view) :]
        offset += len(chunk)
