"""Keys to file names, and directory walking that never leaves ``root_dir``.

Every path is resolved one segment at a time with ``openat``-style calls
(``dir_fd=``) and ``O_NOFOLLOW``: a symbolic link anywhere on the way — planted in the
root by anyone, pointing anywhere — is refused, never followed, so no key reaches a file
outside the root. ``..``, ``.`` and empty segments are refused here too (the core
refuses them first; this is defence in depth). Names starting with ``.lexigram`` are
reserved for the driver's own files (temporary files, the metadata directory) and
refused as key segments, so no user key can collide with them.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat

from lexigram.storage.errors import DriverError, ErrorCode
from lexigram.storage.local.beneath import open_beneath
from lexigram.storage.local.errors import symlink_refused
from lexigram.storage.local.nesting import promote
from lexigram.storage.local.nofollow import DIR_FLAGS

__all__ = [
    "DIR_FLAGS",
    "FILE_READ_FLAGS",
    "NAME_MAX",
    "RESERVED_PREFIX",
    "Walk",
    "close_quietly",
    "open_root",
    "split_key",
    "symlink_refused",
    "walk_for_write",
    "walk_parent",
]

#: names starting with this are the driver's own (temp files, ``.lexigram/`` metadata).
RESERVED_PREFIX = ".lexigram"
#: longest file name (one key segment, in bytes) on Linux, macOS and Windows filesystems.
NAME_MAX = 255
_RETRIES = 50

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
# O_NONBLOCK: opening a FIFO planted in the root must not hang (no effect on regular files).
FILE_READ_FLAGS = os.O_RDONLY | _NOFOLLOW | _CLOEXEC | getattr(os, "O_NONBLOCK", 0)


def split_key(key: str, *, internal: bool = False) -> list[str]:
    """The key's segments (file names), or ``DriverError(INVALID_KEY)``."""
    segments = key.split("/")
    for segment in segments:
        if segment in ("", ".", ".."):
            raise DriverError(
                ErrorCode.INVALID_KEY,
                f"key {key!r} has an empty, '.' or '..' segment, which cannot be a file name",
            )
        if "\x00" in segment:
            raise DriverError(ErrorCode.INVALID_KEY, "a key cannot hold a NUL character")
        if not internal and segment.startswith(RESERVED_PREFIX):
            raise DriverError(
                ErrorCode.INVALID_KEY,
                f"segment {segment[:40]!r} starts with {RESERVED_PREFIX!r}, a name the local "
                "driver reserves for its own files; rename the key",
            )
        if len(segment) * 4 <= NAME_MAX:
            continue  # at most 4 bytes a character: short enough without encoding it
        size = len(segment.encode("utf-8", "surrogateescape"))
        if size > NAME_MAX:
            raise DriverError(
                ErrorCode.INVALID_KEY,
                f"segment {segment[:24]!r}... is {size} bytes, longer than the filesystem "
                f"allows ({NAME_MAX} bytes per file or directory name); shorten it",
            )
    return segments


def close_quietly(fd: int) -> None:
    try:  # noqa: SIM105 - cheaper than contextlib.suppress on every write's path
        os.close(fd)
    except OSError:
        pass


def open_root(root: str) -> int:
    """An fd of the root directory (the root itself may be a symlink: it is configuration)."""
    try:
        return os.open(root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _CLOEXEC)
    except FileNotFoundError:
        raise DriverError(
            ErrorCode.BUCKET_NOT_FOUND,
            f"root_dir {root!r} does not exist (it is created when the store is first used; "
            "was it removed?)",
        ) from None
    except NotADirectoryError:
        raise DriverError(
            ErrorCode.BUCKET_NOT_FOUND, f"root_dir {root!r} is not a directory"
        ) from None


def _lstat_mode(name: str, dir_fd: int) -> int | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
    except OSError:
        return None


class Walk:
    """The open directory chain of a key's parents: ``fds[i]`` is the directory that
    holds ``segments[i]``. Close it with :meth:`close` (``fds[0]`` is the borrowed root).

    ``shortcut``: the key's parent directory was opened in one ``openat2`` call
    (:func:`lexigram.storage.local.beneath.open_beneath`), so ``segments[0]`` is the
    parent's whole relative path (``"a/b"``) and the directories between the root and
    the parent are not in ``fds``; whoever needs them (pruning) walks them again."""

    __slots__ = ("fds", "segments", "shortcut")

    def __init__(self, fds: list[int], segments: list[str], *, shortcut: bool = False) -> None:
        self.fds = fds
        self.segments = segments
        self.shortcut = shortcut

    @property
    def parent(self) -> int:
        return self.fds[-1]

    @property
    def name(self) -> str:
        return self.segments[-1]

    def close(self) -> None:
        """Close the directories opened by the walk (``fds[0]``, the root, is borrowed)."""
        for fd in self.fds[1:]:
            close_quietly(fd)
        self.fds = []


def walk_parent(
    root_fd: int,
    segments: list[str],
    *,
    create: bool,
    directory_mode: int = 0o755,
) -> Walk:
    """Open each parent directory of ``segments[-1]`` below ``root_fd`` (borrowed: the
    walk never closes it), creating missing ones when ``create``.

    Errors: a symlink on the way → ``PERMISSION_DENIED``; a missing directory or a file
    where a directory should be (reading) → ``NOT_FOUND``. Writing below an object
    (``a/b`` while ``a`` is a file) promotes it (see :mod:`.nesting`); anything else in
    the way (a FIFO, a socket) → ``INVALID_ARGUMENT``.
    """
    fds = [root_fd]
    try:
        for depth, segment in enumerate(segments[:-1]):
            here = fds[-1]
            for _ in range(_RETRIES):
                try:
                    fds.append(os.open(segment, DIR_FLAGS, dir_fd=here))
                    break
                except FileNotFoundError:
                    if not create:
                        raise DriverError(ErrorCode.NOT_FOUND) from None
                    # FileExistsError: made meanwhile by another writer; open it
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(segment, directory_mode, dir_fd=here)
                except OSError as exc:
                    if exc.errno not in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
                        raise
                    path = "/".join(segments[: depth + 1])
                    mode = _lstat_mode(segment, here)
                    if mode is not None and stat.S_ISLNK(mode):
                        raise symlink_refused(path) from None
                    if not create:
                        raise DriverError(ErrorCode.NOT_FOUND) from None
                    if mode is None or stat.S_ISDIR(mode):
                        continue  # changed meanwhile (promoted, or removed): look again
                    if stat.S_ISREG(mode):
                        # `a` is an object and `a/...` is being written: move it in as
                        # a/.lexigram-self (atomically for readers) and open the directory.
                        promote(here, segment, directory_mode, path=path)
                        continue
                    raise DriverError(
                        ErrorCode.INVALID_ARGUMENT,
                        f"{path!r} is neither a directory nor a regular file, so no key can "
                        f"live under {path + '/'!r}",
                    ) from None
            else:
                raise DriverError(
                    ErrorCode.UNAVAILABLE,
                    f"{'/'.join(segments[: depth + 1])!r} kept changing while being opened",
                )
    except BaseException:
        for fd in fds[1:]:
            close_quietly(fd)
        raise
    return Walk(fds, segments)


def walk_for_write(root_fd: int, segments: list[str], *, directory_mode: int = 0o755) -> Walk:
    """:func:`walk_parent` with ``create=True``, in one system call when it can be: a
    key's parent directory that exists is opened with one ``openat2(RESOLVE_BENEATH |
    RESOLVE_NO_SYMLINKS)`` (a :attr:`Walk.shortcut` walk), as strict about symlinks as
    the walk one level at a time. Anything else — no ``openat2``, a missing directory to
    create, a file to promote, a symlink to refuse with its typed error — takes the walk.
    """
    if open_beneath is not None and len(segments) > 1:
        parent = "/".join(segments[:-1])
        try:
            fd = open_beneath(root_fd, parent, DIR_FLAGS)
        except OSError:
            pass
        else:
            return Walk([root_fd, fd], [parent, segments[-1]], shortcut=True)
    return walk_parent(root_fd, segments, create=True, directory_mode=directory_mode)
