"""Opening one directory entry of a directory fd as a directory, never through a symlink.

The building block of every path step below the root: ``openat(dir_fd, name,
O_DIRECTORY | O_NOFOLLOW)``. A symlink there fails the call (Linux reports ``ELOOP`` or,
with ``O_DIRECTORY``, ``ENOTDIR``); :func:`open_dir` then tells a symlink (refused:
``PERMISSION_DENIED``) from a file (the ``OSError`` is raised as it is).
"""

from __future__ import annotations

import errno
import os
import stat

from lexigram.storage.local.errors import symlink_refused

__all__ = ["DIR_FLAGS", "open_dir"]

DIR_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_DIRECTORY", 0)
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
)


def open_dir(name: str, dir_fd: int, path: str) -> int:
    """An fd of the directory ``name`` in ``dir_fd``; a symlink there is refused
    (``DriverError(PERMISSION_DENIED)`` naming ``path``), never followed."""
    try:
        return os.open(name, DIR_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
            raise
        try:
            mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
        except OSError:
            raise exc from None
        if stat.S_ISLNK(mode):
            raise symlink_refused(path) from None
        raise
