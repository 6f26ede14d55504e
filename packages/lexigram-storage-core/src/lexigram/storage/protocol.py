"""BlobStoreProtocol: the public face of every blob store, whatever the backend."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import timedelta
from types import TracebackType
from typing import Literal, Protocol, runtime_checkable

from lexigram.storage.body import BlobData, ProgressCallback
from lexigram.storage.info import BlobInfo, HealthStatus

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
        if_match: str | None = None,
    ) -> BlobInfo:
        """Store ``data`` (bytes, an async iterable of bytes or a binary file object).

        Streams are never read whole. ``mode="create"`` raises ``BlobExistsError`` if the
        key exists, atomically. ``content_type`` is guessed from the extension when not
        given. ``size`` is an optional hint for streams. ``progress(done, total)`` is
        called as bytes go out. A failed upload leaves the previous object untouched.
        ``if_match=etag``: replace the object only if its ETag is ``etag``, atomically;
        else (also when the key is missing) ``PreconditionFailedError``. Not together
        with ``mode="create"``. ETags compare quoted or not.
        """
        ...

    async def download(
        self,
        path: str,
        *,
        range: tuple[int, int | None] | None = None,
        progress: ProgressCallback | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
    ) -> bytes:
        """The whole object, or ``range=(start, end)``: bytes ``start`` up to but not
        including ``end``, as in slicing; ``end=None`` reads to the end.

        ``if_match=etag``: ``PreconditionFailedError`` unless the object is at that ETag;
        ``if_none_match=etag``: ``NotModifiedError`` if it is (a cache revalidates
        without reading). Both checked atomically with the read; so in ``stream``,
        ``download_into`` and ``info``."""
        ...

    async def download_into(
        self,
        path: str,
        buffer: bytearray | memoryview,
        *,
        range: tuple[int, int | None] | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
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
        if_match: str | None = None,
        if_none_match: str | None = None,
    ) -> AsyncIterator[bytes]:
        """The object (or a range of it) in chunks, in bounded memory."""
        ...

    async def info(
        self,
        path: str,
        *,
        if_match: str | None = None,
        if_none_match: str | None = None,
    ) -> BlobInfo:
        """Size, content type, last modified (aware UTC), etag and metadata."""
        ...

    async def exists(self, path: str) -> bool:
        """Whether the object exists."""
        ...

    def list(
        self,
        prefix: str = "",
        *,
        delimiter: str | None = None,
        start_after: str | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[BlobInfo]:
        """Objects under ``prefix`` in lexicographic order; pagination hidden. With
        ``delimiter="/"`` common prefixes are reported too, as ``is_prefix`` entries.
        ``start_after``: only entries strictly after it (pass the last one of the previous
        page); ``limit``: at most that many (> 0). Pages before ``start_after`` (s3, r2,
        gcs) and after the limit are not read."""
        ...

    async def delete(self, path: str, *, if_match: str | None = None) -> None:
        """Delete the object; a missing key is not an error. ``if_match=etag``: only if
        it is at that ETag, atomically (else, also when missing, ``PreconditionFailedError``)."""
        ...

    async def delete_many(self, paths: Iterable[str]) -> None:
        """Delete many objects in batches; ``DeleteManyError`` lists per-key failures."""
        ...

    async def copy(self, src: str, dst: str) -> None:
        """Copy, server-side where the backend has it."""
        ...

    async def delete_prefix(self, prefix: str, *, all: bool = False) -> int:
        """Delete every object under ``prefix`` in batches; return how many. An empty
        prefix is refused (``InvalidArgumentError``) unless ``all=True``."""
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
    ) -> str:
        """A time-limited URL granting GET or PUT on ``path``."""
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
