"""SyncBlobStore and SyncKVStore: blocking mirrors of the async stores."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any

from lexigram.storage.errors import StoreClosedError
from lexigram.storage.kv.protocol import KVStorageProtocol
from lexigram.storage.protocol import BlobStoreProtocol
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
        self, store: BlobStoreProtocol, runner: LoopThread, *, owns_runner: bool = False
    ) -> None:
        self._target = store
        self._runner = runner
        self._owns_runner = owns_runner
        self._label = f"SyncBlobStore({store.name!r})"

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

    if TYPE_CHECKING:  # the generated methods

        def __getattr__(self, name: str) -> Any: ...


for _name, _method in mirrored_methods(BlobStoreProtocol).items():
    setattr(SyncBlobStore, _name, _method)


class SyncKVStore(MirrorBase):
    """The provider's KV store with blocking methods (``get``, ``set``, ``increment``...),
    generated from :class:`~lexigram.storage.kv.KVStorageProtocol`. The provider closes
    it."""

    def __init__(self, kv: KVStorageProtocol, runner: LoopThread) -> None:
        self._target = kv
        self._runner = runner
        self._label = "SyncKVStore"

    @property
    def async_store(self) -> KVStorageProtocol:
        return self._target  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"SyncKVStore({self._target!r})"

    if TYPE_CHECKING:

        def __getattr__(self, name: str) -> Any: ...


for _name, _method in mirrored_methods(KVStorageProtocol).items():
    setattr(SyncKVStore, _name, _method)
del _name, _method
