"""Local files in and out of a store: ``upload_file``, ``download_file`` and ``upload``
of a path. Built on ``upload`` / ``stream``, so every driver has them.

* Uploads open the file and hand the core a file object with a known size: it is
  streamed (multipart / resumable / block-staged for large files), never read whole.
* Downloads are written to a temporary file beside the target and renamed into place
  only once every byte has arrived, so the target is never half-written — also when
  the download is cancelled or fails midway; the temporary file is removed then. The
  file's modification time is set from the object's ``last_modified``; where the driver
  reads conditionally, the transfer is pinned (``if_match``) to the version looked up,
  so an overwrite in between raises ``PreconditionFailedError`` instead of pairing new
  bytes with the old mtime.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import mimetypes
import os
import secrets
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lexigram.storage.body import ProgressCallback
from lexigram.storage.errors import InvalidArgumentError
from lexigram.storage.info import BlobInfo

if TYPE_CHECKING:
    from lexigram.storage.store import BlobStore

__all__ = ["download_to_file", "upload_from_file", "upload_path"]

_OPEN_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def _local_path(store: BlobStore, key: str, argument: str, value: object) -> Path:
    if isinstance(value, str | os.PathLike) and not isinstance(value, bytes):
        path = os.fspath(value)
        if isinstance(path, str) and path:
            return Path(path)
    raise InvalidArgumentError(
        f"{argument} must be a file path (a non-empty str or os.PathLike), not "
        f"{type(value).__name__}.",
        backend=store.name,
        key=key,
    )


async def upload_path(
    store: BlobStore, key: str, source: object, *, argument: str = "data", **options: Any
) -> BlobInfo:
    """``store.upload(key, <the file at source>, **options)``, streamed with its size."""
    path = _local_path(store, key, argument, source)
    try:
        fileobj = await asyncio.to_thread(_open_regular, path)
    except OSError as exc:
        raise InvalidArgumentError(
            f"{argument}={str(path)!r} cannot be read ({exc.strerror or type(exc).__name__}): "
            "give the path of an existing, readable file.",
            backend=store.name,
            key=key,
        ) from exc
    try:
        options.pop("size", None)
        return await store.upload(key, fileobj, size=_size_left(fileobj), **options)
    finally:
        fileobj.close()


async def upload_from_file(store: BlobStore, key: str, source: object, **options: Any) -> BlobInfo:
    """``upload_file``: the content type is guessed from the file's name unless given."""
    path = _local_path(store, key, "source", source)
    if options.get("content_type") is None:
        guessed, _ = mimetypes.guess_type(path.name, strict=False)
        options["content_type"] = guessed  # None: guessed from the key, as upload() does
    return await upload_path(store, key, path, argument="source", **options)


async def download_to_file(
    store: BlobStore,
    key: str,
    target: object,
    *,
    range: tuple[int, int | None] | None,
    progress: ProgressCallback | None,
    conditions: dict[str, Any],
) -> BlobInfo:
    """Stream ``key`` into a temporary file beside ``target`` and rename it into place."""
    dest = _local_path(store, key, "target", target)
    parent = dest.parent
    if dest.is_dir():
        raise InvalidArgumentError(
            f"target={str(dest)!r} is a directory: give the path of the file to write.",
            backend=store.name,
            key=key,
        )
    if not parent.is_dir():
        raise InvalidArgumentError(
            f"target={str(dest)!r}: its directory {str(parent)!r} does not exist; create it first.",
            backend=store.name,
            key=key,
        )
    info = await store.info(key, **conditions)
    transfer = dict(conditions)
    if info.etag is not None and store.driver.capabilities.conditional_read:
        # the bytes streamed are those of the version looked up (whose mtime the file
        # gets): an overwrite in between fails the stream instead of being paired with it
        transfer["if_match"] = info.etag
        transfer.pop("if_none_match", None)  # already checked by the lookup
    total = _range_length(info.size, range)
    temp = parent / f".{dest.name}.{secrets.token_hex(6)}.part"
    fd = await asyncio.to_thread(os.open, temp, _OPEN_FLAGS, 0o666)
    done = 0
    try:
        with os.fdopen(fd, "wb", buffering=0) as out:
            async for chunk in store.stream(key, range=range, **transfer):
                await asyncio.to_thread(_write_all, out.fileno(), chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
            await asyncio.to_thread(os.fsync, out.fileno())
        if info.last_modified is not None:
            stamp = int(info.last_modified.timestamp() * 1_000_000_000)
            os.utime(temp, ns=(stamp, stamp))
        os.replace(temp, dest)
    except BaseException:
        # also on cancellation: the target is untouched, the temp file goes
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    if progress is not None and done == 0:
        progress(0, total if total is not None else 0)
    return info


def _range_length(size: int, rng: Any) -> int | None:
    if rng is None:
        return size
    try:
        start: Any
        end: Any
        start, end = rng
        stop = size if end is None else min(int(end), size)
        return max(0, stop - int(start))
    except (TypeError, ValueError):
        return None  # the store's own check names the bad range


def _write_all(fd: int, chunk: bytes) -> None:
    view = memoryview(chunk)
    while view.nbytes:
        view = view[os.write(fd, view) :]


def _size_left(fileobj: Any) -> int | None:
    try:
        left: int = os.fstat(fileobj.fileno()).st_size - fileobj.tell()
        return max(0, left)
    except (OSError, ValueError, AttributeError):
        return None


def _open_regular(path: Path) -> Any:
    """Open a regular file for reading (a FIFO or device is refused, never waited on)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise IsADirectoryError(errno.EISDIR, "not a regular file")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
