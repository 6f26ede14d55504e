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
        if_match: str | None = None,
    ) -> BlobInfo:
        """Store ``data`` (bytes, an async iterable of bytes, a binary file object or the
        ``os.PathLike`` path of a local file).

        Streams are never read whole. ``mode="create"`` raises ``BlobExistsError`` if the
        key exists, atomically. ``content_type`` is guessed from the extension when not
        given. ``size`` is an optional hint for streams. ``progress(done, total)`` is
        called as bytes go out. A failed upload leaves the previous object untouched.

        Args:
            path: the object key.
            data: ``bytes``/``bytearray``/``memoryview``, an async iterable of bytes, or a
                binary file object opened for reading (read in chunks).
            content_type: the ``Content-Type`` stored with the object; guessed from the
                key's extension when ``None`` (``application/octet-stream`` if unknown).
            metadata: user metadata, ``str`` to ``str``; keys are lower-cased ASCII
                (``[a-z0-9_-]``), at most 2 KiB in all.
            mode: ``"overwrite"`` (the default) replaces an existing object;
                ``"create"`` stores only if the key is free.
            size: the length of a stream, when known (lets a backend pick single-request
                or multipart upload up front).
            progress: ``progress(bytes_done, total_or_None)``, called as bytes go out.
            cache_control: stored as the object's ``Cache-Control`` and served back.
            content_disposition: stored as its ``Content-Disposition``.
            content_encoding: stored as its ``Content-Encoding``; only a label: the bytes
                are stored and downloaded exactly as given.
            content_language: stored as its ``Content-Language``.
            if_match: replace the object only if its ETag is this one, atomically; else
                (also when the key is missing) ``PreconditionFailedError``. Not together
                with ``mode="create"``. ETags compare quoted or not.

        Returns:
            The stored object's [`BlobInfo`][lexigram.storage.info.BlobInfo] (size, etag,
            content type, last modified, metadata).

        Raises:
            InvalidKeyError: ``path`` is not a valid key.
            InvalidArgumentError: bad ``mode``, ``metadata``, ``content_type`` or a header
                value that is not printable ASCII (the error names the argument).
            BlobExistsError: ``mode="create"`` and the key exists.
            PreconditionFailedError: ``if_match`` given and the object is not at that ETag.
            NotSupportedError: ``mode="create"`` on a backend without create-only writes.
            IntegrityError: the bytes stored differ from those sent (the altered object
                is not left in place).
            StorageUnavailableError: the backend could not be reached after retries.
            PermissionDeniedError: the credentials may not write here.

        Example:
            ```python
            info = await store.upload("avatars/42.jpg", data, metadata={"user": "42"})
            async with aiofiles.open("big.bin", "rb") as f:  # or any async iterable
                await store.upload("backups/big.bin", f)
            ```
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

        Args:
            path: the object key.
            range: ``(start, end)`` as in slicing (``end`` exclusive, ``None`` = to the
                end); a range past the end of the object gives the bytes that exist.
            progress: ``progress(bytes_done, total)``, called as bytes arrive.
            if_match: ``PreconditionFailedError`` unless the object is at that ETag.
            if_none_match: ``NotModifiedError`` if the object is at that ETag (a cache
                revalidates without reading). Both are checked atomically with the read;
                the same in ``stream``, ``download_into`` and ``info``.

        Returns:
            The bytes, checked against the checksum the backend reports (whole objects).

        Raises:
            BlobNotFoundError: no object at ``path``.
            PreconditionFailedError: ``if_match`` and the object is at another ETag.
            NotModifiedError: ``if_none_match`` and the object is at that ETag.
            InvalidArgumentError: a negative or reversed ``range``.
            IntegrityError: the bytes received differ from the object's checksum.
            StorageUnavailableError: the backend could not be reached after retries.

        Example:
            ```python
            header = await store.download("reports/q4.csv", range=(0, 100))
            ```
        """
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
        (its contents are then unspecified, as after any failed download).

        Args:
            path: the object key.
            buffer: a writable ``bytearray`` or ``memoryview`` at least as long as the
                object (or the range).
            range: ``(start, end)`` as in slicing.

        Returns:
            The number of bytes written.

        Raises:
            BlobNotFoundError: no object at ``path``.
            InvalidArgumentError: the buffer is too small or read-only.
            IntegrityError: the bytes received differ from the object's checksum.
        """
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
        """The object (or a range of it) in chunks, in bounded memory.

        A whole-object stream is checked as a whole: a mismatch raises
        ``IntegrityError`` at its end, so do not act on the chunks before it completes.

        Args:
            path: the object key.
            chunk_size: about how many bytes each chunk holds.
            range: ``(start, end)`` as in slicing.
            progress: ``progress(bytes_done, total)``, called as bytes arrive.

        Yields:
            Chunks of bytes.

        Raises:
            BlobNotFoundError: no object at ``path`` (at the first iteration).
            IntegrityError: the bytes received differ from the object's checksum.

        Example:
            ```python
            async for chunk in store.stream("videos/intro.mp4", chunk_size=1 << 20):
                await response.write(chunk)
            ```
        """
        ...

    async def info(
        self,
        path: str,
        *,
        if_match: str | None = None,
        if_none_match: str | None = None,
    ) -> BlobInfo:
        """Size, content type, last modified (aware UTC), etag and metadata.

        ``if_match`` / ``if_none_match`` as in ``download``.

        Raises:
            BlobNotFoundError: no object at ``path``.
            PreconditionFailedError: ``if_match`` and the object is at another ETag.
            NotModifiedError: ``if_none_match`` and the object is at that ETag.
        """
        ...

    async def exists(self, path: str) -> bool:
        """Whether the object exists (``False``, not an error, when it does not)."""
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

        Args:
            prefix: a plain string prefix of keys (not a folder: ``"a"`` matches ``ab``).
            delimiter: ``"/"`` to list one level: keys below the next ``/`` are rolled
                up into one ``is_prefix`` entry each.
            start_after: only entries strictly after it (pass the last one of the
                previous page); pages before it are not read on s3, r2 and gcs.
            limit: at most that many entries (> 0); no page after the limit is read.

        Yields:
            One [`BlobInfo`][lexigram.storage.info.BlobInfo] per object or common prefix.

        Example:
            ```python
            async for entry in store.list("avatars/", delimiter="/"):
                print("dir " if entry.is_prefix else "file", entry.path)
            ```
        """
        ...

    async def delete(self, path: str, *, if_match: str | None = None) -> None:
        """Delete the object; a missing key is not an error. ``if_match=etag``: only if
        it is at that ETag, atomically (else, also when missing, ``PreconditionFailedError``).

        Raises:
            InvalidKeyError: ``path`` is not a valid key.
            PermissionDeniedError: the credentials may not delete here.
        """
        ...

    async def delete_many(self, paths: Iterable[str]) -> None:
        """Delete many objects in batches; ``DeleteManyError`` lists per-key failures.

        Missing keys are not errors. Every key is validated before anything is deleted.

        Raises:
            InvalidKeyError: one of the keys is not valid (nothing deleted).
            DeleteManyError: some keys could not be deleted; ``.failures`` maps each to
                its error, ``.deleted`` lists the keys that were.
        """
        ...

    async def copy(self, src: str, dst: str) -> None:
        """Copy ``src`` to ``dst``, server-side where the backend has it (content type
        and metadata come along); ``dst`` is overwritten.

        Raises:
            BlobNotFoundError: no object at ``src``.
        """
        ...

    async def delete_prefix(self, prefix: str, *, all: bool = False) -> int:
        """Delete every object under ``prefix`` in batches; return how many. An empty
        prefix is refused (``InvalidArgumentError``) unless ``all=True``."""
        ...

    async def move(self, src: str, dst: str) -> None:
        """Move ``src`` to ``dst``: native rename where the backend has one, else copy
        then delete (the source is deleted only once the copy succeeded).

        Raises:
            BlobNotFoundError: no object at ``src``.
        """
        ...

    async def get_url(self, path: str) -> str:
        """Public URL: ``public_url``/``base_url`` from the config, else the backend's own.

        The URL is built, not checked: it works only if the object is publicly readable.

        Raises:
            NotSupportedError: no ``public_url``/``base_url`` configured and the backend
                has no URL of its own (memory).
        """
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
        """A time-limited URL granting GET or PUT on ``path``.

        Hand it to a browser or another service: it needs no credentials. On the local
        driver the URL is served by ``lexigram.storage.local.asgi.create_app``.

        Args:
            path: the object key.
            expires_in: how long the URL works (default one hour; at most the
                backend's limit, e.g. 7 days on S3).
            method: ``"GET"`` to download, ``"PUT"`` to upload.
            content_type: PUT: the ``Content-Type`` the upload must send; GET: the
                ``Content-Type`` of the response.
            content_disposition: GET: the ``Content-Disposition`` of the response
                (e.g. ``attachment; filename="report.pdf"``); PUT: a header the upload
                must send, where the backend can bind it.
            cache_control: PUT: signed into the URL; the uploader must send it.
            content_encoding: PUT: signed into the URL; the uploader must send it.
            content_language: PUT: signed into the URL; the uploader must send it.

        Returns:
            The URL.

        Raises:
            InvalidArgumentError: another method, or ``expires_in`` out of range.
            NotSupportedError: the backend cannot sign URLs for ``method`` (or has no
                signing key configured).

        Example:
            ```python
            url = await store.get_presigned_url(
                "uploads/1.jpg", timedelta(minutes=10), "PUT", content_type="image/jpeg"
            )
            # the browser: fetch(url, {method: "PUT", body: file,
            #                          headers: {"Content-Type": "image/jpeg"}})
            ```
        """
        ...

    async def health_check(self, timeout: float = 5.0) -> HealthStatus:
        """A real round trip to the backend; never raises, bounded in time.

        Args:
            timeout: seconds to wait for the backend.

        Returns:
            [`HealthStatus`][lexigram.storage.info.HealthStatus]: healthy or not, the
            latency in milliseconds, and a message naming the backend when not healthy.
        """
        ...

    async def close(self) -> None:
        """Release clients and connection pools. Idempotent; any call after it raises
        ``StoreClosedError``. ``async with store:`` calls it on exit."""
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
