"""The few low-level file operations the log needs, with their durability rules."""

from __future__ import annotations

import os

__all__ = ["fsync_dir", "sync_data", "write_all"]


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` (``os.write`` may write fewer than asked)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def sync_data(fd: int) -> None:
    """Flush the file's data (and its size) to stable storage.

    ``fdatasync`` where the platform has it (it skips timestamps, which the log does not
    need), else ``fsync``.
    """
    fdatasync = getattr(os, "fdatasync", None)
    if fdatasync is not None:
        fdatasync(fd)
    else:  # pragma: no cover - macOS
        os.fsync(fd)


def fsync_dir(directory: str) -> None:
    """Make a file creation or a rename in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
