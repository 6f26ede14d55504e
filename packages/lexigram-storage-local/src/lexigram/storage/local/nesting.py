"""Keys that are both an object and a "directory": ``a`` and ``a/b`` side by side.

Cloud stores allow both keys at once; a filesystem cannot have a file and a directory
of one name. So when ``a`` must become a directory while it is an object, the object
moves *into* it as ``a/.lexigram-self`` (a reserved name, never a key), keeping its inode
(a hard link, so its sidecar stays valid). This "promotion" is atomic for readers on
Linux: a temp directory holding the link is swapped with the file in one
``renameat2(RENAME_EXCHANGE)`` call. Elsewhere (no renameat2) there is a moment when
``a`` is missing to a concurrent reader.

A directory is never turned back into a file: ``a`` keeps living at ``a/.lexigram-self``
while ``a/`` holds other keys; when those go, the directory holds only that file.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import stat
import threading
from collections.abc import Callable

from lexigram.storage.local.nofollow import open_dir
from lexigram.storage.local.tempnames import temp_name

__all__ = ["SELF_NAME", "promote"]

#: the file of an object whose key is also a directory (``a`` when ``a/b`` exists).
SELF_NAME = ".lexigram-self"
_RENAME_EXCHANGE = 2
_lock = threading.Lock()


def _load_exchange() -> Callable[[int, str, int, str], None] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int

    def exchange(src_dir: int, src: str, dst_dir: int, dst: str) -> None:
        if fn(src_dir, os.fsencode(src), dst_dir, os.fsencode(dst), _RENAME_EXCHANGE) != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))

    return exchange


_exchange = _load_exchange()


def promote(dir_fd: int, name: str, directory_mode: int, *, path: str) -> None:
    """Turn the regular file ``name`` (in ``dir_fd``) into a directory holding it as
    :data:`SELF_NAME`. Returns quietly if ``name`` is no longer a regular file.
    ``path`` (the key prefix ``name`` stands for) names it in errors.

    Every step names one entry of a directory fd: the temporary directory and ``name``
    are entered through fds opened with ``O_NOFOLLOW``, never through a path ``x/y``, so
    one swapped for a symlink meanwhile is refused (``ELOOP``), not followed.
    """
    with _lock:
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return
        if not stat.S_ISREG(st.st_mode):
            return
        temp = temp_name()
        os.mkdir(temp, directory_mode, dir_fd=dir_fd)
        linked = -1
        try:
            temp_fd = open_dir(temp, dir_fd, f"{path}'s temporary directory {temp}")
        except BaseException:
            with contextlib.suppress(OSError):
                os.rmdir(temp, dir_fd=dir_fd)
            raise
        try:
            try:
                os.link(
                    name, SELF_NAME, src_dir_fd=dir_fd, dst_dir_fd=temp_fd, follow_symlinks=False
                )
                linked = temp_fd
            except FileNotFoundError:
                return  # deleted meanwhile: the caller simply makes the directory
            swapped = False
            if _exchange is not None:
                try:
                    _exchange(dir_fd, temp, dir_fd, name)
                    swapped = True
                except OSError as exc:
                    if exc.errno not in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                        raise
            if not swapped:
                # No atomic exchange: a short moment without `name`.
                os.unlink(name, dir_fd=dir_fd)
                os.rename(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
                linked = -1
                return
            linked = -1  # the directory holding the link is `name` now
            # `temp` now names the file that was at `name` — the one we linked, or a
            # newer one a concurrent overwrite put there meanwhile: the newer one wins.
            out = os.stat(temp, dir_fd=dir_fd, follow_symlinks=False)
            if out.st_ino == st.st_ino:
                os.unlink(temp, dir_fd=dir_fd)
                return
            inner = open_dir(name, dir_fd, path)  # refused if swapped for a link
            try:
                os.rename(temp, SELF_NAME, src_dir_fd=dir_fd, dst_dir_fd=inner)
            finally:
                os.close(inner)
        finally:
            if linked >= 0:  # not swapped: the temp directory still holds our link
                with contextlib.suppress(OSError):
                    os.unlink(SELF_NAME, dir_fd=linked)
            os.close(temp_fd)
            with contextlib.suppress(OSError):
                os.rmdir(temp, dir_fd=dir_fd)
