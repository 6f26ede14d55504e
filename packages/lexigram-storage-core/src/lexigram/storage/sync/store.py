"""SyncBlobStore and SyncKVStore: blocking mirrors of the async stores."""

from __future__ import annotations

import weakref
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, overload

if TYPE_CHECKING:
    import os
    from collections.abc import Iterable, Iterator, Mapping
    from datetime import timedelta

    from lexigram.storage.body import BlobData, ProgressCallback
    from lexigram.storage.info import BlobInfo, HealthStatus
    from lexigram.storage.kv.protocol import TTL
    from lexigram.storage.presigned_post import PresignedPost

from lexigram.storage.errors import StoreClosedError
from lexigram.storage.kv.protocol import KVStorageProtocol
from lexigram.storage.protocol import BlobStoreProtocol
from lexigram.storage.readers import DEFAULT_BLOCK_SIZE, BlobWriter
from lexigram.storage.sync.file_objects import SyncBlobReader, SyncBlobWriter
from lexigram.storage.sync.mirror import MirrorBase, mirrored_methods
from lexigram.storage.sync.runner import LoopThread

__all__ = ["SyncBlobStore", "SyncKVStore"]


class SyncBlobStore(MirrorBase):
    """A :class:`~lexigram.storage.protocol.BlobStoreProtocol` store with blocking methods.

    Every public coroutine method of the protocol (``upload``, ``download``, ``info``...)
    is a plain method taking the same arguments and returning the same value; ``stream``
    and ``list`` return plain iterators that pull one item at a time. Errors are the
    same exception classes as in the async API. The methods are generated from the
    protocol, so every method it gains is here too.

    Get one from :meth:`SyncStorageProvider.store` or
    :func:`lexigram.storage.sync.open_store`. ``close()`` (or leaving a ``with`` block)
    closes the store; a store from ``open_store`` also stops its loop thread.
    """

    def __init__(
        self,
        store: BlobStoreProtocol,
        runner: LoopThread,
        *,
        owns_runner: bool = False,
        owner: object = None,
    ) -> None:
        self._target = store
        self._runner = runner
        self._owns_runner = owns_runner
        self._owner = owner  # keeps the provider (and so its loop thread) alive
        self._label = f"SyncBlobStore({store.name!r})"
        if owns_runner:  # a store dropped without close() does not leave its thread behind
            weakref.finalize(self, runner.stop)

    @property
    def name(self) -> str:
        return self._target.name  # type: ignore[no-any-return]

    @property
    def async_store(self) -> BlobStoreProtocol:
        """The async store underneath (use it from async code, on the loop thread only)."""
        return self._target  # type: ignore[no-any-return]

    @property
    def closed(self) -> bool:
        return self._runner.closed or bool(getattr(self._target, "closed", False))

    def __repr__(self) -> str:
        return f"SyncBlobStore({self._target!r})"

    def close(self) -> None:
        """Close the store (and stop its loop thread if it owns one). Idempotent."""
        if not self._runner.closed:
            self._runner.check_caller(f"{self._label}.close()")
            target = self._target
            try:
                self._runner.run(target.close, f"{self._label}.close()")
            finally:
                if self._owns_runner:
                    self._runner.stop()

    def __enter__(self) -> SyncBlobStore:
        if self.closed:
            raise StoreClosedError(f"{self._label} is closed: open a new one")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @overload
    def open(
        self,
        path: str,
        mode: Literal["rb"] = "rb",
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        block_size: int = DEFAULT_BLOCK_SIZE,
    ) -> SyncBlobReader: ...

    @overload
    def open(
        self,
        path: str,
        mode: Literal["wb"],
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        block_size: int = DEFAULT_BLOCK_SIZE,
    ) -> SyncBlobWriter: ...

    @overload
    def open(
        self,
        path: str,
        mode: str,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        block_size: int = DEFAULT_BLOCK_SIZE,
    ) -> SyncBlobReader | SyncBlobWriter: ...

    def open(
        self,
        path: str,
        mode: str = "rb",
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        block_size: int = DEFAULT_BLOCK_SIZE,
    ) -> SyncBlobReader | SyncBlobWriter:
        """A plain binary file object over the object at ``path``.

        ``open(path)`` (mode ``"rb"``): a seekable reader (:class:`io.RawIOBase`:
        ``read``, ``readinto``, ``seek``, ``tell``, ``size``) over ranged reads of
        ``block_size`` bytes, pinned to the version opened: ``zipfile.ZipFile(f)``,
        ``pandas.read_csv(f)``, ``pyarrow.parquet.read_table(f)`` read only what they
        need. ``open(path, "wb", content_type=..., metadata=...)``: a writer streaming
        one upload, stored when closed and aborted (nothing stored) when a ``with``
        block is left by an exception. Use it in a ``with`` block (or ``close()`` it).
        """
        what = f"{self._label}.open({path!r})"
        self._runner.check_caller(what)
        if self._runner.closed:
            raise StoreClosedError(f"{what}: this blocking store is closed: open a new one")
        opened = self._target.open(
            path, mode, content_type=content_type, metadata=metadata, block_size=block_size
        )  # arguments are checked here, before any request
        if isinstance(opened, BlobWriter):

            async def start() -> None:
                opened.start()  # the upload task runs on the loop

            self._runner.run(start, what)
            return SyncBlobWriter(opened, self._runner)
        self._runner.run(opened.start, what)
        return SyncBlobReader(opened, self._runner)

    if TYPE_CHECKING:  # the generated methods, as the type checker sees them

        def upload(
            self,
            path: str,
            data: BlobData | Iterable[bytes],
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
        ) -> BlobInfo: ...
        def download(
            self,
            path: str,
            *,
            range: tuple[int, int | None] | None = None,
            progress: ProgressCallback | None = None,
            if_match: str | None = None,
            if_none_match: str | None = None,
        ) -> bytes: ...
        def download_into(
            self,
            path: str,
            buffer: bytearray | memoryview,
            *,
            range: tuple[int, int | None] | None = None,
            if_match: str | None = None,
            if_none_match: str | None = None,
        ) -> int: ...
        def stream(
            self,
            path: str,
            *,
            chunk_size: int = ...,
            range: tuple[int, int | None] | None = None,
            progress: ProgressCallback | None = None,
            if_match: str | None = None,
            if_none_match: str | None = None,
        ) -> Iterator[bytes]: ...
        def info(
            self,
            path: str,
            *,
            if_match: str | None = None,
            if_none_match: str | None = None,
        ) -> BlobInfo: ...
        def exists(self, path: str) -> bool: ...
        def list(
            self,
            prefix: str = "",
            *,
            delimiter: str | None = None,
            start_after: str | None = None,
            limit: int | None = None,
        ) -> Iterator[BlobInfo]: ...
        def delete(self, path: str, *, if_match: str | None = None) -> None: ...
        def delete_many(self, paths: Iterable[str]) -> None: ...
        def copy(self, src: str, dst: str) -> None: ...
        def delete_prefix(self, prefix: str, *, all: bool = False) -> int: ...
        def move(self, src: str, dst: str) -> None: ...
        def get_url(self, path: str) -> str: ...
        def get_presigned_url(
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
        ) -> str: ...
        def health_check(self, timeout: float = 5.0) -> HealthStatus: ...
        def upload_file(
            self, path: str, source: str | os.PathLike[str], **upload_options: Any
        ) -> BlobInfo: ...
        def download_file(
            self,
            path: str,
            target: str | os.PathLike[str],
            *,
            range: tuple[int, int | None] | None = None,
            progress: ProgressCallback | None = None,
            **conditions: Any,
        ) -> BlobInfo: ...
        def get_presigned_post(
            self,
            path: str,
            *,
            expires_in: timedelta,
            content_type: str | None = None,
            max_size: int | None = None,
            metadata: Mapping[str, str] | None = None,
        ) -> PresignedPost: ...


for _name, _method in mirrored_methods(BlobStoreProtocol).items():
    setattr(SyncBlobStore, _name, _method)


class SyncKVStore(MirrorBase):
    """The provider's KV store with blocking methods (``get``, ``set``, ``increment``...),
    generated from :class:`~lexigram.storage.kv.KVStorageProtocol`. The provider closes
    it."""

    def __init__(self, kv: KVStorageProtocol, runner: LoopThread, *, owner: object = None) -> None:
        self._target = kv
        self._runner = runner
        self._owner = owner
        self._label = "SyncKVStore"

    @property
    def async_store(self) -> KVStorageProtocol:
        return self._target  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"SyncKVStore({self._target!r})"

    if TYPE_CHECKING:  # the generated methods, as the type checker sees them

        def get(self, key: str, default: Any = None) -> Any: ...
        def set(self, key: str, value: object, ttl: TTL | None = None) -> None: ...
        def delete(self, key: str) -> bool: ...
        def exists(self, key: str) -> bool: ...
        def keys(self, prefix: str = "") -> list[str]: ...
        def ttl(self, key: str) -> float | None: ...
        def clear(self) -> None: ...
        def get_many(self, keys: Iterable[str]) -> dict[str, Any]: ...
        def set_many(self, items: Mapping[str, object], ttl: TTL | None = None) -> None: ...
        def increment(self, key: str, by: int = 1) -> int: ...
        def add(self, key: str, value: object, ttl: TTL | None = None) -> bool: ...
        def touch(self, key: str, ttl: TTL) -> bool: ...
        def delete_many(self, keys: Iterable[str]) -> int: ...


for _name, _method in mirrored_methods(KVStorageProtocol).items():
    setattr(SyncKVStore, _name, _method)
del _name, _method
