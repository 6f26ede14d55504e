"""The public face of every KV backend: :class:`KVStorageProtocol`.

Semantics shared by :class:`~lexigram.storage.kv.InMemoryKVStorage` and
:class:`~lexigram.storage.kv.LocalStorage` (and checked for both by
``lexigram.storage.testing.KVStoreConformance``):

- Keys are non-empty ``str`` of at most 1024 UTF-8 bytes, else ``InvalidKeyError``.
- Values are anything JSON can hold; they are copied in and out, so mutating a value
  after ``set`` or after ``get`` never changes what is stored. Anything else is a
  ``TypeError`` raised before anything is written.
- ``ttl`` is in seconds (``int``, ``float`` or ``timedelta``); it must be positive.
  Expiry is exact for readers: a key is absent from the moment its expiry passes, and
  its memory is reclaimed in the background without a reader touching it.
- Writes are atomic per call: ``set_many`` stores all of its items or none of them, and
  ``increment`` is a read-modify-write no other writer can interleave with.
- ``add`` stores only if the key is absent, atomically (exactly one of racing callers
  wins); ``touch`` resets the TTL of a live key; ``delete_many`` removes keys at once.
- After ``aclose()`` every method raises ``StoreClosedError``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from types import TracebackType
from typing import Any, Protocol, Self, TypeAlias, runtime_checkable

__all__ = ["TTL", "JSONValue", "KVStorageProtocol"]

JSONValue: TypeAlias = "bool | int | float | str | list[JSONValue] | dict[str, JSONValue] | None"
"""What a KV value may be (documentation: the methods accept any ``object`` and check)."""

TTL: TypeAlias = float | timedelta
"""A time to live: seconds as ``int``/``float``, or a ``timedelta``."""


@runtime_checkable
class KVStorageProtocol(Protocol):
    """A small string-keyed store of JSON values with optional expiry."""

    async def get(self, key: str, default: Any = None) -> Any:
        """The value stored under ``key``, or ``default`` if absent or expired."""
        ...

    async def set(self, key: str, value: object, ttl: TTL | None = None) -> None:
        """Store ``value`` under ``key``; with ``ttl``, it expires after that many seconds."""
        ...

    async def delete(self, key: str) -> bool:
        """Remove ``key``; ``True`` if it was there (and not expired)."""
        ...

    async def exists(self, key: str) -> bool:
        """Whether ``key`` holds a value that has not expired."""
        ...

    async def keys(self, prefix: str = "") -> list[str]:
        """The live keys starting with ``prefix``, sorted."""
        ...

    async def ttl(self, key: str) -> float | None:
        """Seconds until ``key`` expires; ``None`` if it has no TTL or does not exist."""
        ...

    async def clear(self) -> None:
        """Remove every key."""
        ...

    async def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        """The live keys among ``keys`` mapped to their values; absent keys are left out."""
        ...

    async def set_many(self, items: Mapping[str, object], ttl: TTL | None = None) -> None:
        """Store every item, all or nothing, with the same ``ttl``."""
        ...

    async def increment(self, key: str, by: int = 1) -> int:
        """Atomically add ``by`` to the int under ``key`` (absent: 0) and return the result.

        A key's TTL is kept. A value that is not an int raises ``TypeError``.
        """
        ...

    async def aclose(self) -> None:
        """Flush pending writes, stop background tasks, release files. Idempotent."""
        ...

    async def close(self) -> None:
        """Alias of :meth:`aclose`."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def add(self, key: str, value: object, ttl: TTL | None = None) -> bool:
        """Store ``value`` only if ``key`` is absent (or expired); ``True`` if it was stored.

        Atomic: of several concurrent ``add`` calls for one key (from any task, process
        or machine sharing the store), exactly one returns ``True``. For locks and
        idempotency keys.
        """
        ...

    async def touch(self, key: str, ttl: TTL) -> bool:
        """Give the live ``key`` a new TTL of ``ttl`` seconds; ``False`` if it is absent."""
        ...

    async def delete_many(self, keys: Iterable[str]) -> int:
        """Remove every key of ``keys``, at once; how many were there (and not expired)."""
        ...
