"""Removing what a crashed writer left below the root: temporary files and directories,
and sidecars of files that never made it into place.

A writer killed between creating its temporary file and renaming it over the key (a
``kill -9``, an OOM kill, a power loss) leaves ``.lexigram-tmp-...`` behind, and
possibly the sidecar it wrote just before the rename. :func:`sweep` walks the whole tree
(through directory fds, never following a link) and removes such a temporary name when

* it is older than ``max_age`` seconds — counted from its last write, so a slow upload
  on another host is not cut off while its bytes still arrive — **and**
* its writer is gone: the host tag and process id in the name (see :mod:`.tempnames`)
  name a process of this host and PID namespace that no longer runs. A temporary file of
  another host (a shared filesystem) is judged by its age alone; one of the older,
  ownerless format too.

A sidecar ``<inode>.json`` is removed when it is older than ``max_age``, describes no
current file of its key (the caller's ``is_current``) and no temporary file seen in the
walk (a writer about to rename). Everything is best effort: an entry that changes or
vanishes meanwhile is left alone.
"""

from __future__ import annotations

import contextlib
import os
import stat
import time
from collections.abc import Callable, Iterator

from lexigram.storage.local.nofollow import DIR_FLAGS
from lexigram.storage.local.sidecar import read_payload
from lexigram.storage.local.tempnames import TEMP_PREFIX, host_tag, parse

__all__ = ["pid_alive", "sweep"]

_META_DIR = ".lexigram"
_DEPTH_MAX = 512


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` of this PID namespace still runs (a zombie does not)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, owned by another user
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc: kill(0) said it exists
    return state not in (b"Z", b"X")


def _live(name: str, st: os.stat_result, *, max_age: float, now: float, host: str) -> bool:
    """Whether the temporary entry ``name`` may still belong to a running writer."""
    owner = parse(name)
    if owner is not None and owner.host == host and pid_alive(owner.pid):
        return True
    return now - st.st_mtime < max_age


def _entries(fd: int) -> list[tuple[str, os.stat_result]]:
    out: list[tuple[str, os.stat_result]] = []
    with contextlib.suppress(OSError), os.scandir(fd) as it:
        for entry in it:
            with contextlib.suppress(OSError):
                out.append((entry.name, entry.stat(follow_symlinks=False)))
    return out


def _remove(name: str, st: os.stat_result, dir_fd: int) -> bool:
    """Remove a temporary file, or a temporary directory of a promotion (which holds at
    most a hard link of an object that still has its own name)."""
    try:
        if stat.S_ISREG(st.st_mode):
            os.unlink(name, dir_fd=dir_fd)
            return True
        if not stat.S_ISDIR(st.st_mode):
            return False
        sub = os.open(name, DIR_FLAGS, dir_fd=dir_fd)
        try:
            for inner, inner_st in _entries(sub):
                if stat.S_ISREG(inner_st.st_mode):
                    os.unlink(inner, dir_fd=sub)
        finally:
            os.close(sub)
        os.rmdir(name, dir_fd=dir_fd)
        return True
    except OSError:
        return False


def _subdirs(fd: int, entries: list[tuple[str, os.stat_result]]) -> Iterator[tuple[str, int]]:
    for name, st in entries:
        if not stat.S_ISDIR(st.st_mode) or name.startswith(TEMP_PREFIX):
            continue
        try:
            sub = os.open(name, DIR_FLAGS, dir_fd=fd)
        except OSError:
            continue  # gone, or swapped for a link: not followed
        try:
            yield name, sub
        finally:
            os.close(sub)


class _Sweep:
    def __init__(self, max_age: float, now: float, is_current: Callable[[str, int], bool]) -> None:
        self.max_age = max_age
        self.now = now
        self.is_current = is_current
        self.host = host_tag()
        self.removed = 0
        #: inodes of the temporary files that may still be renamed into place
        self.pending_inodes: set[int] = set()

    def temp(self, fd: int, name: str, st: os.stat_result) -> None:
        if _live(name, st, max_age=self.max_age, now=self.now, host=self.host):
            self.pending_inodes.add(st.st_ino)
        elif _remove(name, st, fd):
            self.removed += 1

    def root(self, fd: int) -> None:
        """The keyspace first (collecting the pending inodes), then ``.lexigram/``."""
        entries = _entries(fd)
        self.data(fd, entries, 1)
        for name, meta in _subdirs(fd, entries):
            if name == _META_DIR:
                self.meta(meta)

    def data(self, fd: int, entries: list[tuple[str, os.stat_result]], depth: int) -> None:
        """A directory of the keyspace."""
        for name, st in entries:
            if name.startswith(TEMP_PREFIX):
                self.temp(fd, name, st)
        if depth >= _DEPTH_MAX:
            return
        for name, sub in _subdirs(fd, entries):
            if depth > 1 or name != _META_DIR:
                self.data(sub, _entries(sub), depth + 1)

    def meta(self, fd: int) -> None:
        """``.lexigram/``: ``meta/<h[:2]>/<h>/`` hold the sidecars of one key each."""
        for name, meta in _subdirs(fd, _entries(fd)):
            if name != "meta":
                continue
            for _, shard in _subdirs(meta, _entries(meta)):
                for _, key_dir in _subdirs(shard, _entries(shard)):
                    self.sidecar_dir(key_dir)

    def sidecar_dir(self, fd: int) -> None:
        for name, st in _entries(fd):
            if name.startswith(TEMP_PREFIX) or name.endswith(".tmp"):  # ".tmp": older format
                self.temp(fd, name, st)
            elif (
                name.endswith(".json")
                and stat.S_ISREG(st.st_mode)
                and self.now - st.st_mtime >= self.max_age
                and self.orphaned(fd, name)
            ):
                with contextlib.suppress(OSError):
                    os.unlink(name, dir_fd=fd)
                    self.removed += 1

    def orphaned(self, fd: int, name: str) -> bool:
        """Whether the sidecar ``name`` describes neither its key's file nor a file about
        to become it."""
        try:
            described = _sidecar_inode(fd, name)
            if described is None:
                return False  # not ours to judge
            key, ino = described
            return ino not in self.pending_inodes and not self.is_current(key, ino)
        except Exception:
            return False  # best effort: a sidecar that cannot be judged stays


def _sidecar_inode(fd: int, name: str) -> tuple[str, int] | None:
    """The key and data-file inode a sidecar describes, or None if it is not readable."""
    data = read_payload(fd, name)
    if data is None:
        return None
    key, ino = data.get("key"), data.get("ino")
    if not isinstance(key, str) or not isinstance(ino, int):
        return None
    return key, ino


def sweep(
    root_fd: int,
    *,
    max_age: float,
    is_current: Callable[[str, int], bool],
    now: float | None = None,
) -> int:
    """Remove the orphans below ``root_fd`` (borrowed); how many entries were removed.

    ``is_current(key, inode)``: whether ``key``'s object is now the file ``inode`` (its
    sidecar is then in use)."""
    work = _Sweep(max_age, time.time() if now is None else now, is_current)
    work.root(root_fd)
    return work.removed
