"""``RedisKVStorage``: the KV store on a Redis (6 or later) or Valkey server.

Every value is kept as its JSON text in a Redis string under ``prefix + key``:

- ``set`` is ``SET key text [PX ms]`` (TTLs to the millisecond);
- ``increment`` is ``INCRBY``: atomic on the server for every client and process, and it
  keeps the key's TTL. The JSON text of an integer is exactly the decimal text Redis
  counts with, so a stored ``1.5``, ``"1"``, ``true`` or ``[1]`` is refused by Redis itself
  and reported as a ``TypeError``; nothing is written;
- ``add`` is ``SET NX``, ``touch`` is ``PEXPIRE``, ``delete_many`` one ``DEL``;
- ``set_many`` is one ``MULTI``/``EXEC`` transaction: all of its items or none;
- ``keys(prefix)`` and ``clear()`` walk ``SCAN MATCH`` over this store's namespace, with the
  glob characters of the prefix escaped; ``clear()`` deletes only keys under ``prefix``
  (never ``FLUSHDB``).

Connection failures and timeouts are :class:`StorageUnavailableError`; idempotent
operations are tried again under the store's :class:`RetryPolicy` first, ``increment`` and
``add`` never (a command that reached the server before the connection broke would count
twice or take a lock twice). redis-py's own retries are switched off so the policy is the
one place that decides.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

from lexigram.storage.errors import InvalidArgumentError, StorageError, StoreClosedError
from lexigram.storage.kv.protocol import TTL
from lexigram.storage.kv.validation import (
    as_counter,
    check_increment,
    check_key,
    check_keys,
    encode_value,
    expiry_from_ttl,
    touch_expiry,
)
from lexigram.storage.log_redaction import hide_in_logs
from lexigram.storage.redis.config import RedisKVConfig, redact_url, url_secrets
from lexigram.storage.redis.errors import TRANSIENT, translate
from lexigram.storage.retry import RetryPolicy
from lexigram.storage.secrets import Redactor
from redis import exceptions as rx
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

__all__ = ["RedisKVStorage"]

T = TypeVar("T")

_INT64 = 1 << 63
_MAX_PX = 1 << 62
_SCAN_COUNT = 1000
_FAILURES: tuple[type[BaseException], ...] = (rx.RedisError, *TRANSIENT)
_GLOB = str.maketrans({c: "\\" + c for c in "\\*?[]"})


def _escape_glob(text: str) -> str:
    """``text`` as a literal in a Redis glob pattern (``SCAN MATCH``)."""
    return text.translate(_GLOB)


def _px(key: str, ttl: TTL) -> int:
    """A TTL as whole milliseconds for ``PX``/``PEXPIRE`` (at least 1)."""
    seconds = expiry_from_ttl(key, ttl, 0.0)
    assert seconds is not None
    ms = max(1, round(seconds * 1000))
    if ms >= _MAX_PX:
        raise InvalidArgumentError(
            f"ttl for KV key {key!r} is too long for Redis ({ttl!r} s): pass ttl=None for "
            "no expiry",
            key=key,
        )
    return ms


class RedisKVStorage:
    """A KV store on Redis; see :class:`~lexigram.storage.kv.KVStorageProtocol`.

    Build it from a :class:`RedisKVConfig` (:meth:`from_config`, or ``create_kv_store``
    with ``backend: redis``) or directly with the same settings as keyword arguments.
    It connects lazily, on the first operation, through a pool of at most
    ``max_connections`` connections.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "",
        username: str | None = None,
        password: str | None = None,
        socket_timeout: float = 5.0,
        connect_timeout: float = 5.0,
        max_connections: int = 64,
        ssl_ca_file: str | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a str, got {type(prefix).__name__}")
        self._prefix = prefix
        self._where = redact_url(url)
        self._retry = retry if retry is not None else RetryPolicy()
        secrets = [s for s in (username, password) if s] + url_secrets(url)
        self._redactor = Redactor(secrets)
        options: dict[str, Any] = {
            "username": username,
            "password": password,
            "socket_timeout": socket_timeout,
            "socket_connect_timeout": connect_timeout,
            "max_connections": max_connections,
            "timeout": connect_timeout,  # waiting for a free connection of the pool
            "decode_responses": True,
            "retry": Retry(NoBackoff(), 0),
        }
        if ssl_ca_file is not None:
            options["ssl_ca_certs"] = ssl_ca_file
        try:
            self._pool: BlockingConnectionPool = BlockingConnectionPool.from_url(url, **options)
        except (ValueError, TypeError) as exc:
            raise InvalidArgumentError(
                f"cannot use Redis url {self._where!r}: "
                f"{self._redactor.redact(str(exc))}: use redis://host:port/db or rediss://"
            ) from None
        self._client: Redis = Redis(connection_pool=self._pool, retry=Retry(NoBackoff(), 0))
        self._hidden = hide_in_logs(secrets)
        self._closed = False

    @classmethod
    def from_config(cls, config: RedisKVConfig) -> RedisKVStorage:
        return cls(
            config.url,
            prefix=config.prefix,
            username=config.username,
            password=config.password,
            socket_timeout=config.socket_timeout,
            connect_timeout=config.connect_timeout,
            max_connections=config.max_connections,
            ssl_ca_file=config.ssl_ca_file,
            retry=config.retry,
        )

    def __repr__(self) -> str:
        closed = ", closed" if self._closed else ""
        return f"RedisKVStorage(url={self._where!r}, prefix={self._prefix!r}{closed})"

    @property
    def prefix(self) -> str:
        """What every key of this store is stored under in Redis."""
        return self._prefix

    # -- internals ---------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError(
                f"RedisKVStorage({self._where}) is closed: create a new store to keep "
                "using the data (it stays on the server)",
                operation="kv",
            )

    def _error(self, exc: BaseException, operation: str, key: str | None) -> StorageError:
        return translate(
            exc, where=self._where, operation=operation, key=key, redactor=self._redactor
        )

    async def _run(self, operation: str, key: str | None, call: Callable[[], Awaitable[T]]) -> T:
        """``call()``, tried again under the retry policy on a transient failure."""
        try:
            return await call()
        except _FAILURES as exc:
            return await self._recover(exc, operation, key, call)

    async def _recover(
        self,
        exc: BaseException,
        operation: str,
        key: str | None,
        call: Callable[[], Awaitable[T]],
    ) -> T:
        """After the first try of ``call()`` failed with ``exc``: try again while the
        policy allows and the failure is transient, else raise the typed error."""
        attempt = 1
        while True:
            if (
                isinstance(exc, rx.AuthenticationError)
                or not isinstance(exc, TRANSIENT)
                or attempt >= self._retry.attempts
                or self._closed
            ):
                raise self._error(exc, operation, key) from None
            await asyncio.sleep(self._retry.delay(attempt))
            attempt += 1
            try:
                return await call()
            except _FAILURES as again:
                exc = again

    async def _once(self, operation: str, key: str | None, call: Awaitable[T]) -> T:
        """``call``, never tried again: it may have been applied when the reply was lost."""
        try:
            return await call
        except _FAILURES as exc:
            raise self._error(exc, operation, key) from None

    def _decode(self, key: str, text: str | bytes) -> Any:
        try:
            return json.loads(text)
        except ValueError:
            raise StorageError(
                f"KV key {key!r} holds a value that is not JSON text in Redis at "
                f"{self._where} (written by another client?): set it again or delete it",
                driver="redis",
                key=key,
                operation="get",
            ) from None

    # -- the protocol ------------------------------------------------------------

    async def get(self, key: str, default: Any = None) -> Any:
        self._check_open()
        full = self._prefix + check_key(key)
        try:
            text = await self._client.get(full)
        except _FAILURES as exc:
            text = await self._recover(exc, "get", key, lambda: self._client.get(full))
        return default if text is None else self._decode(key, text)

    async def set(self, key: str, value: object, ttl: TTL | None = None) -> None:
        self._check_open()
        key = check_key(key)
        text = encode_value(key, value)
        px = None if ttl is None else _px(key, ttl)
        full = self._prefix + key
        try:
            await self._client.set(full, text, px=px)
        except _FAILURES as exc:
            await self._recover(exc, "set", key, lambda: self._client.set(full, text, px=px))

    async def delete(self, key: str) -> bool:
        self._check_open()
        full = self._prefix + check_key(key)
        return bool(await self._run("delete", key, lambda: self._client.delete(full)))

    async def exists(self, key: str) -> bool:
        self._check_open()
        full = self._prefix + check_key(key)
        return bool(await self._run("exists", key, lambda: self._client.exists(full)))

    async def _scan(self, prefix: str) -> list[str]:
        pattern = _escape_glob(self._prefix + prefix) + "*"
        cut = len(self._prefix)
        found: set[str] = set()
        async for name in self._client.scan_iter(match=pattern, count=_SCAN_COUNT):
            found.add(name[cut:])
        return sorted(found)

    async def keys(self, prefix: str = "") -> list[str]:
        self._check_open()
        if not isinstance(prefix, str):
            raise TypeError(f"keys() prefix must be a str, got {type(prefix).__name__}")
        if not prefix.isascii():
            try:
                prefix.encode("utf-8")
            except UnicodeEncodeError:
                return []  # no valid key starts with a lone surrogate
        return await self._run("keys", None, lambda: self._scan(prefix))

    async def ttl(self, key: str) -> float | None:
        self._check_open()
        full = self._prefix + check_key(key)
        ms = await self._run("ttl", key, lambda: self._client.pttl(full))
        return None if ms < 0 else ms / 1000

    async def _clear(self) -> None:
        pattern = _escape_glob(self._prefix) + "*"
        batch: list[str] = []
        async for name in self._client.scan_iter(match=pattern, count=_SCAN_COUNT):
            batch.append(name)
            if len(batch) >= _SCAN_COUNT:
                await self._client.unlink(*batch)
                batch.clear()
        if batch:
            await self._client.unlink(*batch)

    async def clear(self) -> None:
        """Remove every key under this store's ``prefix`` (and nothing else)."""
        self._check_open()
        await self._run("clear", None, self._clear)

    async def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        self._check_open()
        checked = check_keys(keys, "get_many")
        if not checked:
            return {}
        fulls = [self._prefix + k for k in checked]
        label = checked[0]
        texts = await self._run("get_many", label, lambda: self._client.mget(fulls))
        return {
            key: self._decode(key, text)
            for key, text in zip(checked, texts, strict=True)
            if text is not None
        }

    async def set_many(self, items: Mapping[str, object], ttl: TTL | None = None) -> None:
        self._check_open()
        texts = [(k, encode_value(k, v)) for k, v in ((check_key(k), v) for k, v in items.items())]
        label = texts[0][0] if texts else "<set_many>"
        px = None if ttl is None else _px(label, ttl)
        if not texts:
            return
        prefix = self._prefix

        async def transaction() -> None:
            async with self._client.pipeline(transaction=True) as pipe:
                for key, text in texts:
                    pipe.set(prefix + key, text, px=px)
                await pipe.execute()

        await self._run("set_many", label, transaction)

    async def increment(self, key: str, by: int = 1) -> int:
        self._check_open()
        key = check_key(key)
        step = check_increment(key, by)
        if not -_INT64 <= step < _INT64:
            raise InvalidArgumentError(
                f"increment of KV key {key!r} by {step} is outside the 64-bit range Redis "
                "counts in: use a smaller step",
                key=key,
            )
        full = self._prefix + key
        try:
            return int(await self._client.incrby(full, step))
        except rx.ResponseError as exc:
            if "not an integer" not in str(exc) and "overflow" not in str(exc):
                raise self._error(exc, "increment", key) from None
        except _FAILURES as exc:
            raise self._error(exc, "increment", key) from None
        # Redis refused: find out why (the value is not an integer, or it would overflow)
        text = await self._run("increment", key, lambda: self._client.get(full))
        if text is not None:
            as_counter(key, self._decode(key, text))  # TypeError unless an int
        raise InvalidArgumentError(
            f"cannot increment KV key {key!r} by {step}: the result would leave the 64-bit "
            "range Redis counts in; nothing was written",
            key=key,
        )

    # -- sessions and locks ----------------------------------------------------------

    async def add(self, key: str, value: object, ttl: TTL | None = None) -> bool:
        self._check_open()
        key = check_key(key)
        text = encode_value(key, value)
        px = None if ttl is None else _px(key, ttl)
        full = self._prefix + key
        return bool(await self._once("add", key, self._client.set(full, text, px=px, nx=True)))

    async def touch(self, key: str, ttl: TTL) -> bool:
        self._check_open()
        key = check_key(key)
        touch_expiry(key, ttl, 0.0)  # TypeError for None, like every backend
        px = _px(key, ttl)
        full = self._prefix + key
        return bool(await self._run("touch", key, lambda: self._client.pexpire(full, px)))

    async def delete_many(self, keys: Iterable[str]) -> int:
        self._check_open()
        checked = check_keys(keys, "delete_many")
        if not checked:
            return 0
        fulls = [self._prefix + k for k in checked]
        return int(await self._run("delete_many", checked[0], lambda: self._client.delete(*fulls)))

    # -- lifecycle ---------------------------------------------------------------

    async def ping(self) -> None:
        """Check the server answers; ``StorageUnavailableError`` if not."""
        self._check_open()
        await self._run("ping", None, self._client.ping)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self._pool.disconnect()
        finally:
            self._hidden.release()

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
