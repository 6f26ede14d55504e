"""SyncStorageProvider and the blocking open_store: the async API from plain threads."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from lexigram.storage import urls
from lexigram.storage.config import StorageConfig
from lexigram.storage.errors import StoreClosedError
from lexigram.storage.info import HealthStatus
from lexigram.storage.instrumentation import Hook
from lexigram.storage.provider import StorageProvider
from lexigram.storage.retry import RetryPolicy
from lexigram.storage.sync.runner import LoopThread
from lexigram.storage.sync.store import SyncBlobStore, SyncKVStore

__all__ = ["SyncStorageProvider", "open_store"]


class SyncStorageProvider:
    """:class:`~lexigram.storage.provider.StorageProvider` with blocking methods.

    Takes the same arguments (``config``, ``hooks``). The async stores run on one private
    event-loop thread per provider, started here and stopped by :meth:`close` (or at the
    end of a ``with`` block). Safe to use from several threads at once; a call from a
    thread that runs an event loop raises
    :class:`~lexigram.storage.errors.SyncInEventLoopError` (use the async API there).
    """

    def __init__(self, config: StorageConfig | None = None, *, hooks: Iterable[Hook] = ()) -> None:
        self._provider = StorageProvider(config, hooks=hooks)  # validates before a thread starts
        self._runner = LoopThread(name=f"lexigram-storage-sync-{id(self):x}")
        self._lock = threading.Lock()
        self._stores: dict[str, SyncBlobStore] = {}
        self._kv: SyncKVStore | None = None
        # dropped without close(): the loop thread still ends (the stores are not closed)
        weakref.finalize(self, self._runner.stop)

    @classmethod
    def from_yaml(cls, path: str | Path, *, hooks: Iterable[Hook] = ()) -> SyncStorageProvider:
        """A provider configured by the ``storage:`` section of a YAML file."""
        return cls(StorageConfig.from_yaml(path), hooks=hooks)

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any] | None, *, hooks: Iterable[Hook] = ()
    ) -> SyncStorageProvider:
        """A provider configured by the content of a ``storage:`` section."""
        return cls(StorageConfig.from_dict(data), hooks=hooks)

    def __repr__(self) -> str:
        return f"Sync{self._provider!r}"

    @property
    def config(self) -> StorageConfig:
        return self._provider.config

    @property
    def backend_names(self) -> list[str]:
        return self._provider.backend_names

    @property
    def async_provider(self) -> StorageProvider:
        """The async provider underneath (its stores live on the provider's loop thread)."""
        return self._provider

    @property
    def thread(self) -> threading.Thread:
        """The provider's event-loop thread."""
        return self._runner.thread

    def store(self, name: str | None = None) -> SyncBlobStore:
        """The blocking store of backend ``name`` (default: the primary backend)."""
        self._check_open()
        with self._lock:
            store = self._provider.store(name)
            found = self._stores.get(store.name)
            if found is None:
                found = self._stores[store.name] = SyncBlobStore(store, self._runner, owner=self)
            return found

    def kv(self) -> SyncKVStore:
        """The blocking KV store of the ``kv:`` section (in-memory when there is none)."""
        self._check_open()
        with self._lock:
            if self._kv is None:
                self._kv = SyncKVStore(self._provider.kv(), self._runner, owner=self)
            return self._kv

    def health_check(self) -> dict[str, HealthStatus]:
        """Each backend's name mapped to its :class:`HealthStatus`."""
        self._check_open()
        return self._runner.run(self._provider.health_check, "SyncStorageProvider.health_check()")

    def close(self) -> None:
        """Close every store and the KV store, then stop the loop thread. Idempotent."""
        if self._runner.closed:
            return
        self._runner.check_caller("SyncStorageProvider.close()")
        try:
            self._runner.run(self._provider.aclose, "SyncStorageProvider.close()")
        finally:
            self._runner.stop()

    def __enter__(self) -> SyncStorageProvider:
        self._check_open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._runner.closed:
            raise StoreClosedError("this SyncStorageProvider is closed: create a new one")


def open_store(
    url: str, *, retry: RetryPolicy | None = None, name: str | None = None
) -> SyncBlobStore:
    """The blocking store a URL describes (see :func:`lexigram.storage.urls.open_store`),
    on a loop thread of its own that ``close()`` (or the end of a ``with`` block) stops."""
    store = urls.open_store(url, retry=retry, name=name)
    return SyncBlobStore(store, LoopThread(name="lexigram-storage-sync-store"), owns_runner=True)
