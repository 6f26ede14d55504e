"""``InMemoryKVStorage``: a dict-backed KV store for one process and one event loop.

Every value is kept as its JSON text, so a ``set`` validates and copies the value in one
step and every ``get`` decodes a fresh object: callers cannot change what is stored by
mutating what they passed in or got back.

No method awaits between reading and writing its state, so each call is atomic with
respect to other tasks on the loop (``increment`` included) without a lock.

Expiry: each entry keeps its absolute wall-clock expiry (``time.time()``); readers
treat an entry whose expiry has passed as absent, and drop it. Keys with a TTL also go
into an :class:`~lexigram.storage.kv.expiry.ExpiryHeap`; a background
:class:`~lexigram.storage.kv.sweeper.Sweeper` pops the due ones every
``sweep_interval`` seconds, so memory is reclaimed without a reader touching the key
and without scanning every key.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, Self

from lexigram.storage.errors import StoreClosedError
from lexigram.storage.kv.expiry import ExpiryHeap
from lexigram.storage.kv.protocol import TTL
from lexigram.storage.kv.sweeper import Sweeper
from lexigram.storage.kv.validation import (
    as_counter,
    check_increment,
    check_key,
    check_keys,
    decode_value,
    encode_value,
    expiry_from_ttl,
    touch_expiry,
)

__all__ = ["InMemoryKVStorage"]


class InMemoryKVStorage:
    """A KV store held in a dict; see :class:`~lexigram.storage.kv.KVStorageProtocol`.

    ``sweep_interval`` is how often, in seconds, the background sweeper reclaims
    expired keys.
    """

    def __init__(self, *, sweep_interval: float = 1.0) -> None:
        if not sweep_interval > 0:
            raise ValueError(
                f"sweep_interval must be a positive number of seconds, got {sweep_interval!r}"
            )
        # Two dicts rather than one of tuples: a set without TTL allocates nothing
        # but the JSON text, which keeps the garbage collector out of the hot path.
        self._values: dict[str, str] = {}  # key -> value as JSON text
        self._expiry: dict[str, float] = {}  # key -> absolute expiry, for keys with a TTL
        self._expiries = ExpiryHeap()
        self._sweeper = Sweeper(self, sweep_interval)
        self._closed = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._values)} keys"
        return f"InMemoryKVStorage({state})"

    # -- internals ---------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError(
                "InMemoryKVStorage is closed: create a new store (its data is gone)",
                operation="kv",
            )

    def _live(self, key: str) -> str | None:
        """The JSON text of ``key`` if it is there and not expired (dropping it if expired)."""
        text = self._values.get(key)
        if text is None or not self._expiry:
            return text
        expires_at = self._expiry.get(key)
        if expires_at is not None and expires_at <= time.time():
            del self._values[key], self._expiry[key]
            return None
        return text

    def _put(self, key: str, text: str, expires_at: float | None) -> None:
        self._values[key] = text
        if expires_at is None:
            if self._expiry:
                self._expiry.pop(key, None)
            return
        self._expiry[key] = expires_at
        self._expiries.push(key, expires_at)
        if not self._sweeper.running:
            self._sweeper.ensure_started()

    def _is_current(self, key: str, expires_at: float) -> bool:
        return self._expiry.get(key) == expires_at

    def sweep_expired(self) -> bool:
        """Drop every expired key now; ``True`` while keys with a TTL remain."""
        if self._closed:
            return False
        for key in self._expiries.pop_due(time.time(), self._is_current):
            del self._values[key], self._expiry[key]
        self._expiries.rebuild_if_sparse(self._expiry.items(), len(self._expiry))
        return len(self._expiries) > 0

    # -- the protocol ------------------------------------------------------------

    async def get(self, key: str, default: Any = None) -> Any:
        self._check_open()
        text = self._live(check_key(key))
        return default if text is None else decode_value(text)

    async def set(self, key: str, value: object, ttl: TTL | None = None) -> None:
        self._check_open()
        key = check_key(key)
        text = encode_value(key, value)
        expires_at = None if ttl is None else expiry_from_ttl(key, ttl, time.time())
        self._put(key, text, expires_at)

    async def delete(self, key: str) -> bool:
        self._check_open()
        key = check_key(key)
        if self._live(key) is None:
            return False
        del self._values[key]
        self._expiry.pop(key, None)
        return True

    async def exists(self, key: str) -> bool:
        self._check_open()
        return self._live(check_key(key)) is not None

    async def keys(self, prefix: str = "") -> list[str]:
        self._check_open()
        if not isinstance(prefix, str):
            raise TypeError(f"keys() prefix must be a str, got {type(prefix).__name__}")
        now = time.time()
        expiry = self._expiry
        return sorted(
            k for k in self._values if k.startswith(prefix) and (k not in expiry or expiry[k] > now)
        )

    async def ttl(self, key: str) -> float | None:
        self._check_open()
        key = check_key(key)
        if self._live(key) is None:
            return None
        expires_at = self._expiry.get(key)
        return None if expires_at is None else expires_at - time.time()

    async def clear(self) -> None:
        self._check_open()
        self._values.clear()
        self._expiry.clear()
        self._expiries.clear()

    async def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        self._check_open()
        if isinstance(keys, str):
            raise TypeError("get_many() takes an iterable of keys, not a single str")
        found: dict[str, Any] = {}
        for key in [check_key(k) for k in keys]:
            text = self._live(key)
            if text is not None:
                found[key] = decode_value(text)
        return found

    async def set_many(self, items: Mapping[str, object], ttl: TTL | None = None) -> None:
        self._check_open()
        encoded = [(check_key(k), v) for k, v in items.items()]
        texts = [(k, encode_value(k, v)) for k, v in encoded]
        label = texts[0][0] if texts else "<set_many>"
        expires_at = None if ttl is None else expiry_from_ttl(label, ttl, time.time())
        for key, text in texts:
            self._put(key, text, expires_at)

    async def increment(self, key: str, by: int = 1) -> int:
        self._check_open()
        key = check_key(key)
        step = check_increment(key, by)
        text = self._live(key)
        result = step if text is None else as_counter(key, decode_value(text)) + step
        self._values[key] = str(result)  # the expiry, if any, is kept
        return result

    async def add(self, key: str, value: object, ttl: TTL | None = None) -> bool:
        self._check_open()
        key = check_key(key)
        text = encode_value(key, value)
        expires_at = None if ttl is None else expiry_from_ttl(key, ttl, time.time())
        if self._live(key) is not None:
            return False
        self._put(key, text, expires_at)
        return True

    async def touch(self, key: str, ttl: TTL) -> bool:
        self._check_open()
        key = check_key(key)
        expires_at = touch_expiry(key, ttl, time.time())
        text = self._live(key)
        if text is None:
            return False
        self._put(key, text, expires_at)
        return True

    async def delete_many(self, keys: Iterable[str]) -> int:
        self._check_open()
        checked = check_keys(keys, "delete_many")
        removed = 0
        for key in dict.fromkeys(checked):
            if self._live(key) is not None:
                del self._values[key]
                self._expiry.pop(key, None)
                removed += 1
        return removed

    # -- lifecycle ---------------------------------------------------------------

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._sweeper.stop()
        self._values.clear()
        self._expiry.clear()
        self._expiries.clear()

    async def close(self) -> None:
        await self.aclose()

    async def __aenter__(self) -> Self:
        self._check_open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
