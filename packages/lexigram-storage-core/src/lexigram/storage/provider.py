"""StorageProvider: the configured backends of an application, created lazily."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from types import TracebackType
from typing import TYPE_CHECKING

from lexigram.storage import registry
from lexigram.storage.config import StorageConfig, secret_values
from lexigram.storage.errors import ConfigError, StoreClosedError
from lexigram.storage.info import HealthStatus
from lexigram.storage.instrumentation import Hook
from lexigram.storage.secrets import Redactor
from lexigram.storage.store import BlobStore

if TYPE_CHECKING:
    from lexigram.storage.kv import KVStorageProtocol

__all__ = ["StorageProvider"]


class StorageProvider:
    """Hands out one :class:`BlobStore` per configured backend name.

    ``store()`` is the default/primary backend, ``store("avatars")`` a named one; each is
    created on first use and reused. ``kv()`` is the configured KV store. Use
    ``async with provider:`` or ``await provider.aclose()`` to close them all.

    Creating a store imports its driver's SDK (hundreds of milliseconds for some). ``async
    with provider:`` and ``health_check()`` create the stores in a worker thread, so the
    event loop never waits for that; ``store()`` then only looks them up.
    """

    def __init__(self, config: StorageConfig | None = None, *, hooks: Iterable[Hook] = ()) -> None:
        self.config = (
            config
            if config is not None
            else StorageConfig(default_driver="memory", drivers={"memory": {}})
        )
        if not isinstance(self.config, StorageConfig):
            raise ConfigError(
                "StorageProvider(config=...) takes a StorageConfig, not "
                f"{type(self.config).__name__}: "
                "build one with StorageConfig.from_dict(...) or StorageConfig.from_yaml(...)"
            )
        self._backends = self.config.resolved_backends()
        self._stores: dict[str, BlobStore] = {}
        self._hooks = list(hooks)
        self._kv: KVStorageProtocol | None = None
        self._closed = False

    def __repr__(self) -> str:
        primary = self.config.primary_backend
        return f"StorageProvider(backends={list(self._backends)!r}, primary={primary!r})"

    @property
    def backend_names(self) -> list[str]:
        """Every configured backend name."""
        return list(self._backends)

    def store(self, name: str | None = None) -> BlobStore:
        """The store of backend ``name`` (default: the primary backend)."""
        self._check_open()
        if name is None:
            name = self.config.primary_backend
            if name is None:
                raise ConfigError(
                    "no storage backend is configured: add drivers: {memory: {}} (or another "
                    "driver) to the storage config"
                )
        found = self._stores.get(name)
        if found is not None:
            return found
        backend = self._backends.get(name)
        if backend is None:
            raise ConfigError(
                f"no storage backend named {name!r} is configured (configured: "
                f"{', '.join(self._backends) or 'none'}): add it under storage.backends or "
                "storage.drivers"
            )
        spec = registry.get_driver(backend.driver)
        driver = spec.build(backend.settings)
        store = BlobStore(
            driver,
            name=name,
            retry=backend.retry or self.config.retry,
            hooks=self._hooks,
            redactor=Redactor(secret_values(backend.settings)),
        )
        # another thread (the one of _create) may have made it meanwhile: keep one
        return self._stores.setdefault(name, store)

    def kv(self) -> KVStorageProtocol:
        """The KV store of the ``kv:`` section (in-memory when there is none)."""
        self._check_open()
        if self._kv is None:
            from lexigram.storage.kv import KVConfig, create_kv_store

            self._kv = create_kv_store(self.config.kv if self.config.kv is not None else KVConfig())
        return self._kv

    async def health_check(self) -> dict[str, HealthStatus]:
        """Each backend's name mapped to its :class:`HealthStatus`, checked concurrently."""
        self._check_open()
        names = list(self._backends)
        timeout = self.config.health_timeout
        await self._create(names)
        results = await asyncio.gather(*(self.store(n).health_check(timeout) for n in names))
        return dict(zip(names, results, strict=True))

    async def aclose(self) -> None:
        """Close every store created so far (and the KV store). Idempotent."""
        if self._closed:
            return
        self._closed = True
        stores, self._stores = list(self._stores.values()), {}
        errors = await asyncio.gather(*(s.close() for s in stores), return_exceptions=True)
        if self._kv is not None:
            await self._kv.aclose()
        for err in errors:
            if isinstance(err, BaseException):
                raise err

    close = aclose

    async def __aenter__(self) -> StorageProvider:
        self._check_open()
        await self._create(list(self._backends))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def add_hook(self, hook: Hook) -> None:
        """Call ``hook(event)`` after every operation of every store, those created so far
        and those created later (see :mod:`lexigram.storage.instrumentation`)."""
        self._hooks.append(hook)
        for store in self._stores.values():
            store.add_hook(hook)

    async def _create(self, names: list[str]) -> None:
        """Create the stores of ``names`` not created yet, in a worker thread: importing a
        driver's SDK and building the driver never block the event loop. A backend that
        cannot be created is left for ``store()`` to raise about, where it is used."""
        missing = [name for name in names if name not in self._stores]
        if missing:
            await asyncio.to_thread(self._create_now, missing)

    def _create_now(self, names: list[str]) -> None:
        for name in names:
            with contextlib.suppress(Exception):
                self.store(name)

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError("this StorageProvider is closed: create a new one")
