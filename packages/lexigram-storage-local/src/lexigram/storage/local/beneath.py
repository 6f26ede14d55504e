"""``openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)``: a whole key path opened in one
system call, refusing any symlink on the way (Linux >= 5.6).

The fast path of reads: the kernel resolves ``a/b/c`` below the root's fd and fails
with ``ELOOP`` at any symbolic link and ``EXDEV`` at any escape, so a read costs one
``openat2`` instead of an ``openat`` and ``close`` per directory level. Where it is not
available (another OS, an older kernel, a seccomp filter), :func:`open_beneath` is None
or reports ``ENOSYS`` and the driver walks the path one segment at a time instead
(:func:`lexigram.storage.local.paths.walk_parent`), which is just as strict.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import platform
import sys
from collections.abc import Callable

__all__ = ["open_beneath", "open_cached"]

_SYS_OPENAT2 = 437  # the same number on every Linux architecture (unified table)
_RESOLVE_NO_MAGICLINKS = 0x02
_RESOLVE_NO_SYMLINKS = 0x04
_RESOLVE_BENEATH = 0x08
_RESOLVE_CACHED = 0x20


class _OpenHow(ctypes.Structure):
    _fields_ = [
        ("flags", ctypes.c_uint64),
        ("mode", ctypes.c_uint64),
        ("resolve", ctypes.c_uint64),
    ]


def _load() -> tuple[Callable[[int, str, int], int] | None, Callable[[int, str, int], int] | None]:
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "aarch64", "arm64"):
        return None, None
    name = ctypes.util.find_library("c")
    if name is None:
        return None, None
    try:
        syscall = ctypes.CDLL(name, use_errno=True).syscall
    except (OSError, AttributeError):
        return None, None
    syscall.restype = ctypes.c_long
    syscall.argtypes = [
        ctypes.c_long,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_void_p,
        ctypes.c_size_t,
    ]
    size = ctypes.sizeof(_OpenHow)
    strict = _RESOLVE_BENEATH | _RESOLVE_NO_SYMLINKS | _RESOLVE_NO_MAGICLINKS

    def opener(resolve: int) -> Callable[[int, str, int], int]:
        hows: dict[int, _OpenHow] = {}

        def open_at(dir_fd: int, path: str, flags: int) -> int:
            how = hows.get(flags)
            if how is None:
                how = hows[flags] = _OpenHow(flags | os.O_CLOEXEC, 0, resolve)
            fd = int(syscall(_SYS_OPENAT2, dir_fd, os.fsencode(path), ctypes.addressof(how), size))
            if fd < 0:
                code = ctypes.get_errno()
                raise OSError(code, os.strerror(code), path)
            return fd

        return open_at

    def works(open_at: Callable[[int, str, int], int]) -> bool:
        probe = os.open("/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:  # the kernel or a seccomp filter may not have it (or the flag)
            for _ in range(2):  # the second time "." is surely in the dentry cache
                try:
                    os.close(open_at(probe, ".", os.O_RDONLY))
                    return True
                except OSError as exc:
                    if exc.errno != errno.EAGAIN:
                        return False
            return False
        finally:
            os.close(probe)

    beneath = opener(strict)
    if not works(beneath):
        return None, None
    cached = opener(strict | _RESOLVE_CACHED)  # Linux >= 5.12
    return beneath, cached if works(cached) else None


#: ``open_beneath(dir_fd, relative_path, flags) -> fd`` or None where unavailable.
#: ``open_cached``: the same, but fails with ``EAGAIN`` instead of doing I/O when a
#: path component is not in the dentry cache (``RESOLVE_CACHED``), so it never blocks
#: on the disk: the driver may call it on the event loop (see ``LocalFiles.read_nowait``).
open_beneath, open_cached = _load()
