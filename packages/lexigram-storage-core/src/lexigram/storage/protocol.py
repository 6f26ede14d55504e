"""BlobStoreProtocol: the public face of every blob store, whatever the backend."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import timedelta
from types import TracebackType
from typing import Any, Literal, Protocol, overload, runtime_checkable

from lexigram.storage.body import BlobData, ProgressCallback
from lexigram.storage.info import BlobInfo, HealthStatus
from lexigram.storage.presigned_post import PresignedPost
from lexigram.storage.readers import BlobReader, BlobWriter

__all__ = ["BlobStoreProtocol"]


@runtime_checkable
class BlobStoreProtocol(Protocol):
    """One async API over S3, R2, GCS, Azure Blob, local disk and memory.

    ``path`` is the object key: non-empty UTF-8 of at most 1024 bytes, ``/``-separated
    segments, no leading ``/``, no empty, ``.`` or ``..`` segment, no control characters.
    Every method raises :class:`~lexigram.storage.errors.StorageError` subclasses only
    (plus ``TypeError`` for data that is not bytes).
    """

    name: str

    async def upload(
        self,
        path: str,
        data: BlobData,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        mode: Literal["overwrite", "create"] = "overwrite",
        size: int | None = None,
        progress: ProgressCallback | None = None,
        cache_control: str | None = None,
        content_disposition: str | None = None,
        content_encoding: str | None = None,
        content_language: str | None = None,
    ) -> BlobInfo:
        """Store ``data`` (bytes, an async iterable of bytes, a binary file object or the
        ``os.PathLike`` path of a local file).

        Streams are never read whole. ``mode="create"`` raises ``BlobExistsError`` if the
        key exists, atomically. ``content_type`` is guessed from the extension when not
        given. ``size`` is an optional hint for streams. ``progress(done, total)`` is
        called as bytes go out. A failed upload leaves the previous object untouched.
        ``cache_control``, ``content_disposition``, ``content_encoding`` and
        ``content_language`` are stored with the object as its HTTP headers (printable
        ASCII; ``InvalidArgumentError`` naming the argument otherwise), served back by
        the backend and returned on :class:`BlobInfo`. A ``content_encoding`` is only a
        label: the bytes are stored and downloaded exactly as given.
        """
        ...

    async def download(
        self,
        path: str,
        *,
        range: tuple[int, int | None] | None = None,
        progress: ProgressCallback | None = None,
    ) -> bytes:
        """The whole object, or ``range=(start, end)``: bytes ``start`` up to but not
        including ``end``, as in slicing; ``end=None`` reads to the end."""
        ...

    async def download_into(
        self,
        path: str,
        buffer: bytearray | memoryview,
        *,
        range: tuple[int, int | None] | None = None,
    ) -> int:
        """Write the object (or ``range`` of it) into ``buffer`` from its start and return
        the number of bytes written: no copy of the object is made beside the buffer.
        A buffer too small for it raises ``InvalidArgumentError`` naming the size needed
        (its contents are then unspecified, as after any failed download)."""
        ...

    def stream(
        self,
        path: str,
        *,
        chunk_size: int = ...,
        range: tuple[int, int | None] | None = None,
        progress: ProgressCallback | None = None,
    ) -> AsyncIterator[bytes]:
        """The object (or a range of it) in chunks, in bounded memory."""
        ...

    async def info(self, path: str) -> BlobInfo:
        """Size, content type, last modified (aware UTC), etag and metadata."""
        ...

    async def exists(self, path: str) -> bool:
        """Whether the object exists."""
        ...

    def list(self, prefix: str = "", *, delimiter: str | None = None) -> AsyncIterator[BlobInfo]:
        """Objects under ``prefix`` in lexicographic order; pagination hidden. With
        ``delimiter="/"`` common prefixes are reported too, as ``is_prefix`` entries."""
        ...

    async def delete(self, path: str) -> None:
        """Delete the object; a missing key is not an error."""
        ...

    async def delete_many(self, paths: Iterable[str]) -> None:
        """Delete many objects in batches; ``DeleteManyError`` lists per-key failures."""
        ...

    async def copy(self, src: str, dst: str) -> None:
        """Copy, server-side where the backend has it."""
        ...

    async def move(self, src: str, dst: str) -> None:
        """Move: native rename, else copy then delete."""
        ...

    async def get_url(self, path: str) -> str:
        """Public URL: ``public_url``/``base_url`` from the config, else the backend's own."""
        ...

    async def get_presigned_url(
        self,
        path: str,
        expires_in: timedelta = ...,
        method: str = "GET",
        *,
        content_type: str | None = None,
        content_disposition: str | None = None,
        cache_control: str | None = None,
        content_encoding: str | None = None,
        content_language: str | None = None,
    ) -> str:
        """A time-limited URL granting GET or PUT on ``path``. For PUT the headers given
        are signed into the URL, so the uploader must send them."""
        ...

    async def health_check(self, timeout: float = 5.0) -> HealthStatus:
        """A real round trip to the backend; never raises, bounded in time."""
        ...

    async def close(self) -> None:
        """Release clients and connection pools."""
        ...

    async def __aenter__(self) -> BlobStoreProtocol: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def upload_file(
        self, path: str, source: str | os.PathLike[str], **upload_options: Any
    ) -> BlobInfo:
        """Upload the local file ``source``: streamed with its size known, never read
        whole; content type guessed from the file's name unless given."""
        ...

    async def download_file(
        self,
        path: str,
        target: str | os.PathLike[str],
        *,
        range: tuple[int, int | None] | None = None,
        progress: ProgressCallback | None = None,
        **conditions: Any,
    ) -> BlobInfo:
        """Download into the local file ``target`` through a temporary file renamed into
        place, so ``target`` is never half-written; its mtime is set from
        ``last_modified``. Returns the object's info."""
        ...

    @overload
    def open(
        self,
        path: str,
        mode: Literal["rb"] = "rb",
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        block_size: int = ...,
    ) -> BlobReader: ...

    @overload
    def open(
        self,
        path: str,
        mode: Literal["wb"],
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        block_size: int = ...,
    ) -> BlobWriter: ...

    @overload
    def open(
        self,
        path: str,
        mode: str,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        block_size: int = ...,
    ) -> BlobReader | BlobWriter: ...

    def open(
        self,
        path: str,
        mode: str = "rb",
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        block_size: int = ...,
    ) -> BlobReader | BlobWriter:
        """``async with store.open(path) as f``: a seekable async reader over ranged
        reads that pins the version opened; ``open(path, "wb", ...)``: a writer streaming
        one upload, aborted (nothing stored) if the block is left by an exception."""
        ...

    async def get_presigned_post(
        self,
        path: str,
        *,
        expires_in: timedelta,
        content_type: str | None = None,
        max_size: int | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> PresignedPost:
        """A form policy a browser can POST an upload of ``path`` with, refused by the
        backend above ``max_size`` bytes, with another content type, or once expired."""
        ...
