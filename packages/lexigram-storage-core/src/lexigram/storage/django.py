"""A Django storage over one configured backend: ``FileField``, ``default_storage``,
``collectstatic`` on S3, GCS, Azure, local disk or memory.

Install the ``django`` extra (``pip install 'lexigram-storage-core[django]'``) and name it
in ``STORAGES``::

    STORAGES = {
        "default": {
            "BACKEND": "lexigram.storage.django.LexigramStorage",
            "OPTIONS": {"backend": "media", "config_path": "storage.yaml"},
        },
    }

``OPTIONS``: ``backend`` (a backend name; the primary backend when omitted) and
``config`` (a ``StorageConfig`` or the mapping of a ``storage:`` section) or
``config_path`` (a YAML file), else the YAML file named by ``$LEXIGRAM_STORAGE_CONFIG``;
``url_expires`` (seconds or a ``timedelta``) makes ``url()`` a presigned GET URL.
Django calls storages from sync code; the async store runs on a private event loop
thread, one per process.
"""

from __future__ import annotations

import asyncio
import io
import os
import tempfile
import threading
from collections.abc import AsyncIterator, Coroutine, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any, TypeVar

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import File
from django.core.files.storage import Storage
from django.utils import timezone
from django.utils.deconstruct import deconstructible

from lexigram.storage.config import StorageConfig
from lexigram.storage.errors import (
    BlobExistsError,
    ConfigError,
    InvalidArgumentError,
    InvalidKeyError,
)
from lexigram.storage.info import BlobInfo
from lexigram.storage.keys import validate_key
from lexigram.storage.provider import StorageProvider
from lexigram.storage.store import BlobStore

__all__ = ["CONFIG_ENV", "LexigramStorage", "UnsafeFileNameError"]

CONFIG_ENV = "LEXIGRAM_STORAGE_CONFIG"
T = TypeVar("T")
_SPOOL = 8 * 1024 * 1024


class UnsafeFileNameError(InvalidKeyError, SuspiciousFileOperation):  # type: ignore[misc]
    """A name that is not a valid object key (``..``, a leading ``/``, ...): both our
    :class:`InvalidKeyError` and Django's ``SuspiciousFileOperation``."""


class _LoopThread:
    """One event loop on a daemon thread, where the storages' stores live."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None

    def reset_after_fork(self) -> None:
        """A forked child has no copy of the thread: start a new one on next use."""
        self._lock = threading.Lock()
        self._loop = None

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        loop = self._start()
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            coro.close()
            raise RuntimeError("LexigramStorage was called from its own event loop thread")
        return asyncio.run_coroutine_threadsafe(coro, loop).result()

    def _start(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name="lexigram-storage-django", daemon=True
                )
                thread.start()
                self._loop = loop
            return self._loop


_LOOP = _LoopThread()
os.register_at_fork(after_in_child=_LOOP.reset_after_fork)


def _load_config(
    config: StorageConfig | Mapping[str, Any] | None, config_path: Any
) -> StorageConfig:
    where = "Django STORAGES OPTIONS for lexigram.storage.django.LexigramStorage"
    if config is not None and config_path is not None:
        raise ConfigError(f"{where}: give config or config_path, not both")
    if isinstance(config, StorageConfig):
        return config
    if isinstance(config, Mapping):
        return StorageConfig.from_dict(config, path="$.STORAGES.OPTIONS.config")
    if config is not None:
        raise ConfigError(
            f"{where}: config must be a StorageConfig or the mapping of a 'storage:' section, "
            f"not {type(config).__name__}"
        )
    if config_path is None:
        config_path = os.environ.get(CONFIG_ENV)
        if not config_path:
            raise ConfigError(
                f"{where}: no storage configuration: set config or config_path, or "
                f"${CONFIG_ENV} to a YAML file"
            )
    if not isinstance(config_path, str | Path):
        raise ConfigError(f"{where}: config_path must be a path, not {type(config_path).__name__}")
    return StorageConfig.from_yaml(config_path)


@deconstructible(path="lexigram.storage.django.LexigramStorage")
class LexigramStorage(Storage):  # type: ignore[misc]
    """``django.core.files.storage.Storage`` over one backend of a storage config."""

    def __init__(
        self,
        backend: str | None = None,
        config: StorageConfig | Mapping[str, Any] | None = None,
        config_path: str | Path | None = None,
        url_expires: int | float | timedelta | None = None,
    ) -> None:
        self._config = _load_config(config, config_path)
        self._backend = backend
        self._url_expires = _url_expiry(url_expires)
        self._open_provider()

    def _open_provider(self) -> None:
        self._pid = os.getpid()
        self._provider = StorageProvider(self._config)
        self._current = self._provider.store(self._backend)

    @property
    def _store(self) -> BlobStore:
        if self._pid != os.getpid():
            # a forked worker (gunicorn --preload, ...): the parent's clients belong to a
            # loop that does not run here, so this process gets clients of its own
            self._open_provider()
        return self._current

    def __repr__(self) -> str:
        return f"LexigramStorage(backend={self._store.name!r})"

    @property
    def store(self) -> BlobStore:
        """The async store underneath (use it from async code on its own loop only)."""
        return self._store

    def _key(self, name: str) -> str:
        key = str(name).replace("\\", "/")
        try:
            validate_key(key)
        except InvalidKeyError as exc:
            raise UnsafeFileNameError(
                f"Django file name {name!r} cannot be stored in backend {self._store.name!r}: "
                f"{exc} Use a relative name without '..' segments.",
                backend=self._store.name,
                key=key,
            ) from None
        return key

    # -- Storage API ----------------------------------------------------------------------

    def _open(self, name: str, mode: str = "rb") -> File:
        if any(c in mode for c in "wax+"):
            raise InvalidArgumentError(
                f"LexigramStorage opens files for reading only, not mode {mode!r} ({name!r}): "
                "write with storage.save(name, content)",
                backend=self._store.name,
                key=str(name),
            )
        key = self._key(name)
        spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL)  # noqa: SIM115
        try:
            _LOOP.run(self._download(key, spool))
        except BaseException:
            spool.close()
            raise
        spool.seek(0)
        return File(spool, name=name)

    async def _download(self, key: str, out: IO[bytes]) -> None:
        async for chunk in self._store.stream(key):
            out.write(chunk)

    def _save(self, name: str, content: Any) -> str:
        key = self._key(name)
        create = self._store.driver.capabilities.create_only
        while True:
            if hasattr(content, "seek") and getattr(content, "seekable", lambda: True)():
                content.seek(0)
            try:
                _LOOP.run(
                    self._store.upload(
                        key,
                        _chunks(content),
                        size=_byte_size(content),
                        mode="create" if create else "overwrite",
                    )
                )
            except BlobExistsError:
                # taken meanwhile by another writer: pick another free name, as Django's
                # FileSystemStorage does on O_EXCL failures
                name = self.get_available_name(name)
                key = self._key(name)
                continue
            return name

    def delete(self, name: str) -> None:
        if not name:
            raise ValueError("The name must be given to delete().")
        _LOOP.run(self._store.delete(self._key(name)))

    def exists(self, name: str) -> bool:
        key = self._key(name)
        return _LOOP.run(self._exists(key))

    async def _exists(self, key: str) -> bool:
        if await self._store.exists(key):
            return True
        async for _ in self._store.list(key.rstrip("/") + "/"):
            return True  # a virtual directory
        return False

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        prefix = str(path).replace("\\", "/").strip("/")
        if prefix:
            self._key(prefix)
            prefix += "/"
        return _LOOP.run(self._listdir(prefix))

    async def _listdir(self, prefix: str) -> tuple[list[str], list[str]]:
        directories: list[str] = []
        files: list[str] = []
        async for info in self._store.list(prefix, delimiter="/"):
            rest = info.path[len(prefix) :]
            if info.is_prefix:
                directories.append(rest.rstrip("/"))
            else:
                files.append(rest)
        return directories, files

    def size(self, name: str) -> int:
        return self._info(name).size

    def url(self, name: str | None) -> str:
        if name is None:
            raise ValueError("url() needs a file name")
        key = self._key(name)
        if self._url_expires is not None:
            return _LOOP.run(self._store.get_presigned_url(key, self._url_expires))
        return _LOOP.run(self._store.get_url(key))

    def get_modified_time(self, name: str) -> datetime:
        return self._datetime(name)

    def get_created_time(self, name: str) -> datetime:
        """When this version of the object was written: objects are replaced whole, so it
        is also the modified time."""
        return self._datetime(name)

    def _info(self, name: str) -> BlobInfo:
        return _LOOP.run(self._store.info(self._key(name)))

    def _datetime(self, name: str) -> datetime:
        info = self._info(name)
        when = info.last_modified
        if when is None:
            raise NotImplementedError(
                f"backend {self._store.name!r} keeps no modification time for {name!r}"
            )
        if settings.USE_TZ:
            return when
        naive: datetime = timezone.make_naive(when)
        return naive

    def close(self) -> None:
        """Close the backend's clients (the storage cannot be used afterwards)."""
        _LOOP.run(self._provider.aclose())


def _url_expiry(value: int | float | timedelta | None) -> timedelta | None:
    """``url_expires`` as a positive ``timedelta``, or None for public URLs."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        expires = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        expires = timedelta(seconds=value)
    else:
        raise ConfigError(
            "Django STORAGES OPTIONS for lexigram.storage.django.LexigramStorage: url_expires "
            f"must be seconds or a timedelta, not {type(value).__name__}"
        )
    if expires <= timedelta(0):
        raise ConfigError(
            "Django STORAGES OPTIONS for lexigram.storage.django.LexigramStorage: url_expires "
            f"must be positive, not {value!r}: give how long a presigned URL stays valid"
        )
    return expires


def _byte_size(content: Any) -> int | None:
    """The size in bytes when known: a text file's ``size`` counts characters."""
    if isinstance(getattr(content, "file", content), io.TextIOBase):
        return None
    size = getattr(content, "size", None)
    return size if isinstance(size, int) else None


async def _chunks(content: Any) -> AsyncIterator[bytes]:
    chunks = (
        content.chunks() if hasattr(content, "chunks") else iter(lambda: content.read(65536), b"")
    )
    for chunk in chunks:
        yield chunk.encode() if isinstance(chunk, str) else bytes(chunk)
