"""Content type, user metadata and HTTP headers, kept in sidecar files outside the keyspace.

Layout: ``<root>/.lexigram/meta/<h[:2]>/<h>/<inode>.json`` where ``h`` is the SHA-256
of the key. A sidecar describes one *file* (inode) of one key: it records the key, the
inode number, size and mtime of the data file, and a reader uses it only when all of
them match the file it found. So:

* Ordering: a writer writes the sidecar of its new file *before* the file is renamed
  into place, and removes the sidecar of the file it replaced *after*; a reader always
  finds the sidecar of the file it sees, never a stale one of an older version.
* Nothing to store: when the content type is the one guessed from the key's extension
  and there is no metadata nor header, no sidecar is written (the common case costs nothing).
* A sidecar orphaned by a crash or by two concurrent overwrites of one key is never
  used for another file (inode, size and mtime must all match) and goes when the key
  is deleted.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
from collections.abc import Mapping
from typing import Any

import attrs

from lexigram.storage.headers import NO_HEADERS, HttpHeaders
from lexigram.storage.local.beneath import open_beneath
from lexigram.storage.local.paths import (
    DIR_FLAGS,
    FILE_READ_FLAGS,
    RESERVED_PREFIX,
    close_quietly,
    walk_parent,
)
from lexigram.storage.local.tempnames import temp_name

__all__ = [
    "META_DIR",
    "Sidecar",
    "read_payload",
    "read_sidecar",
    "remove_all",
    "remove_one",
    "write_sidecar",
]

#: the driver's own directory under the root (reserved: no key segment may start so).
META_DIR = RESERVED_PREFIX
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_ATTEMPTS = 5


@attrs.frozen
class Sidecar:
    content_type: str
    metadata: Mapping[str, str]
    headers: HttpHeaders = NO_HEADERS


def _segments(key: str) -> list[str]:
    digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()
    return [META_DIR, "meta", digest[:2], digest]


def write_sidecar(
    root_fd: int,
    key: str,
    st: os.stat_result,
    content_type: str,
    metadata: Mapping[str, str],
    *,
    fsync: bool,
    directory_mode: int,
    headers: HttpHeaders = NO_HEADERS,
) -> None:
    """Write the sidecar of the data file ``st`` of ``key`` (atomically: temp + rename)."""
    payload = json.dumps(
        {
            "v": 1,
            "key": key,
            "ino": st.st_ino,
            "size": st.st_size,
            "mtime_ns": st.st_mtime_ns,
            "content_type": content_type,
            "metadata": dict(metadata),
            **({"headers": dict(headers.set_items())} if headers else {}),
        },
        separators=(",", ":"),
    ).encode()
    for attempt in range(_ATTEMPTS):
        try:
            _write_once(root_fd, key, st.st_ino, payload, fsync, directory_mode)
            return
        except FileNotFoundError:
            # a concurrent delete pruned the directory between our mkdir and our write
            if attempt == _ATTEMPTS - 1:
                raise


def _write_once(
    root_fd: int, key: str, ino: int, payload: bytes, fsync: bool, directory_mode: int
) -> None:
    walk = walk_parent(root_fd, [*_segments(key), "x"], create=True, directory_mode=directory_mode)
    try:
        final = f"{ino}.json"
        temp = temp_name()
        fd = os.open(
            temp,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC,
            0o644,
            dir_fd=walk.parent,
        )
        try:
            os.write(fd, payload)
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.rename(temp, final, src_dir_fd=walk.parent, dst_dir_fd=walk.parent)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp, dir_fd=walk.parent)
            raise
    finally:
        walk.close()


def read_payload(dir_fd: int, name: str) -> dict[str, Any] | None:
    """The JSON object in the sidecar file ``name`` of ``dir_fd``, or None if it is not a
    readable regular file holding one (a symlink or a FIFO planted there is never
    followed and never waited on)."""
    try:
        fd = os.open(name, FILE_READ_FLAGS, dir_fd=dir_fd)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        raw = os.read(fd, 1 << 16)
    except OSError:
        return None
    finally:
        close_quietly(fd)
    try:
        data: Any = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def read_sidecar(root_fd: int, key: str, st: os.stat_result) -> Sidecar | None:
    """The sidecar of data file ``st`` of ``key``, or None (then: guessed type, no metadata)."""
    try:
        walk = walk_parent(root_fd, [*_segments(key), f"{st.st_ino}.json"], create=False)
    except Exception:
        return None
    try:
        data = read_payload(walk.parent, walk.name)
    finally:
        walk.close()
    if (
        data is None
        or data.get("key") != key
        or data.get("ino") != st.st_ino
        or data.get("size") != st.st_size
        or data.get("mtime_ns") != st.st_mtime_ns
        or not isinstance(data.get("content_type"), str)
        or not isinstance(data.get("metadata"), dict)
    ):
        return None
    return Sidecar(
        data["content_type"],
        {str(k): str(v) for k, v in data["metadata"].items()},
        HttpHeaders.from_mapping(data.get("headers")),
    )


def remove_one(root_fd: int, key: str, ino: int) -> None:
    """Remove the sidecar of file ``ino`` of ``key`` if there is one (best effort)."""
    segments = _segments(key)
    if open_beneath is not None:
        # Most keys have no sidecar directory: one openat2 tells, without a walk.
        try:
            close_quietly(open_beneath(root_fd, "/".join(segments), DIR_FLAGS))
        except OSError:
            return
    try:
        walk = walk_parent(root_fd, [*segments, "x"], create=False)
    except Exception:
        return
    try:
        with contextlib.suppress(OSError):
            os.unlink(f"{ino}.json", dir_fd=walk.parent)
        with contextlib.suppress(OSError):
            os.rmdir(walk.segments[-2], dir_fd=walk.fds[-2])  # only if now empty
    finally:
        walk.close()


def remove_all(root_fd: int, key: str) -> None:
    """Remove every sidecar of ``key`` and its directory (best effort)."""
    try:
        walk = walk_parent(root_fd, [*_segments(key), "x"], create=False)
    except Exception:
        return
    try:
        with contextlib.suppress(OSError):
            for name in os.listdir(walk.parent):
                with contextlib.suppress(OSError):
                    os.unlink(name, dir_fd=walk.parent)
        with contextlib.suppress(OSError):
            os.rmdir(walk.segments[-2], dir_fd=walk.fds[-2])
    finally:
        walk.close()
