"""``LocalStorage``: a persistent, crash-safe KV store in one JSON-lines file.

The async face of :class:`~lexigram.storage.kv.local.engine.LogEngine`: it validates
arguments on the event loop (a bad key, TTL or value fails before anything is queued),
sends writes through a :class:`~lexigram.storage.kv.local.group_commit.GroupCommitter`
and answers reads from the in-memory index, catching up with the file in a worker
thread only when another process changed it.

Durability: ``set`` (and every other write) returns only after its record was appended
and, with ``fsync=True`` (the default), ``fdatasync``-ed. A process killed right after
a write returned loses nothing; with ``fsync=True`` neither does a power cut.

The file is opened lazily by the first operation (or ``async with``), in a thread.
A torn last record (a writer died mid-write; never acknowledged) is cut off and
reported once with a :class:`~lexigram.storage.kv.local.errors.KVLogRecoveryWarning`
and a log record on the ``lexigram.storage.kv`` logger. A damaged record or a missing
commit is a :class:`~lexigram.storage.kv.local.errors.KVLogCorruptedError` instead
(skipping it could bring back a deleted key): :meth:`LocalStorage.repair` is the way out.
A write that raises was not applied; a full disk or another ``OSError`` is a
``StorageUnavailableError`` (``PermissionDeniedError`` for a permission) naming the key,
the path and the errno.
"""

from __future__ import annotations

import asyncio
import os
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

from lexigram.storage.errors import StoreClosedError
from lexigram.storage.kv.local.engine import LogEngine, Miss
from lexigram.storage.kv.local.errors import KVLogRecoveryWarning
from lexigram.storage.kv.local.group_commit import GroupCommitter
from lexigram.storage.kv.local.ops import (
    AddOp,
    ClearOp,
    CompactOp,
    DeleteManyOp,
    DeleteOp,
    IncrementOp,
    Op,
    SetOp,
    TouchOp,
)
from lexigram.storage.kv.local.repair import RepairReport, repair_log
from lexigram.storage.kv.protocol import TTL
from lexigram.storage.kv.sweeper import Sweeper
from lexigram.storage.kv.validation import (
    check_increment,
    check_key,
    check_keys,
    decode_value,
    encode_value,
    expiry_from_ttl,
    touch_expiry,
)

__all__ = ["LocalStorage"]

T = TypeVar("T")

DEFAULT_COMPACT_MIN_BYTES = 1 << 20
DEFAULT_COMPACT_RATIO = 2.0


class LocalStorage:
    """A KV store persisted to the JSON-lines log at ``path``; several processes may share it.

    ``fsync``: make each acknowledged write survive a power cut, not just a process
    crash (default ``True``). ``compact_min_bytes`` and ``compact_ratio``: the log is
    rewritten with only the live keys once it is at least ``compact_min_bytes`` long
    and more than ``compact_ratio`` times the size of the live records.
    ``sweep_interval``: seconds between background sweeps of expired keys.
    The sidecar ``<path>.lock`` is used for the file locks.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        fsync: bool = True,
        compact_min_bytes: int = DEFAULT_COMPACT_MIN_BYTES,
        compact_ratio: float = DEFAULT_COMPACT_RATIO,
        sweep_interval: float = 1.0,
    ) -> None:
        if not sweep_interval > 0:
            raise ValueError(
                f"sweep_interval must be a positive number of seconds, got {sweep_interval!r}"
            )
        if not compact_ratio > 1:
            raise ValueError(f"compact_ratio must be greater than 1, got {compact_ratio!r}")
        if compact_min_bytes < 0:
            raise ValueError(f"compact_min_bytes must be >= 0, got {compact_min_bytes!r}")
        self._path = os.path.abspath(os.path.expanduser(os.fspath(path)))
        self._engine = LogEngine(
            self._path,
            fsync=fsync,
            compact_min_bytes=compact_min_bytes,
            compact_ratio=compact_ratio,
        )
        self._committer: GroupCommitter[Op] = GroupCommitter(self._engine.commit)
        self._sweeper = Sweeper(self, sweep_interval)
        self._open_lock = asyncio.Lock()
        self._closed = False

    def __repr__(self) -> str:
        return f"LocalStorage(path={self._path!r}{', closed' if self._closed else ''})"

    @property
    def path(self) -> str:
        """The absolute path of the log file."""
        return self._path

    # -- internals ---------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError(
                f"LocalStorage({self._path!r}) is closed: open a new LocalStorage on the "
                "same path to keep using the data",
                operation="kv",
            )

    async def _ready(self) -> LogEngine:
        self._check_open()
        engine = self._engine
        if not engine.is_open:
            async with self._open_lock:
                self._check_open()
                if not engine.is_open:
                    await asyncio.to_thread(engine.open)
            self._after()
        return engine

    def _after(self) -> None:
        """Report recovery notices; make sure keys with a TTL get swept."""
        engine = self._engine
        for message in engine.take_notices():
            warnings.warn(message, KVLogRecoveryWarning, stacklevel=4)
        if len(engine.expiries) and not self._sweeper.running and not self._closed:
            self._sweeper.ensure_started()

    async def _read(self, read: Callable[[], T]) -> T:
        engine = await self._ready()
        result = engine.try_read(read)
        if result is not Miss.MISS:
            return result
        locked = await asyncio.to_thread(engine.read_locked, read)
        self._after()
        return locked

    async def _write(self, op: Op) -> object:
        await self._ready()
        result = await self._committer.submit(op)
        self._after()
        return result

    def sweep_expired(self) -> bool:
        """Drop expired keys from memory now; ``True`` while keys with a TTL remain."""
        if self._closed or not self._engine.is_open:
            return False
        return self._engine.sweep_expired()

    # -- the protocol ------------------------------------------------------------

    async def get(self, key: str, default: Any = None) -> Any:
        key = check_key(key)
        engine = self._engine
        entry = await self._read(lambda: engine.lookup(key, time.time()))
        return default if entry is None else decode_value(entry.value)

    async def set(self, key: str, value: object, ttl: TTL | None = None) -> None:
        self._check_open()
        key = check_key(key)
        text = encode_value(key, value)
        expires_at = None if ttl is None else expiry_from_ttl(key, ttl, time.time())
        await self._write(SetOp([(key, text, expires_at)]))

    async def delete(self, key: str) -> bool:
        self._check_open()
        return bool(await self._write(DeleteOp(check_key(key))))

    async def exists(self, key: str) -> bool:
        key = check_key(key)
        engine = self._engine
        return await self._read(lambda: engine.lookup(key, time.time()) is not None)

    async def keys(self, prefix: str = "") -> list[str]:
        if not isinstance(prefix, str):
            raise TypeError(f"keys() prefix must be a str, got {type(prefix).__name__}")
        engine = self._engine

        def read() -> list[str]:
            now = time.time()
            return [
                k
                for k, e in engine.index.items()
                if k.startswith(prefix) and (e.expires_at is None or e.expires_at > now)
            ]

        return sorted(await self._read(read))

    async def ttl(self, key: str) -> float | None:
        key = check_key(key)
        engine = self._engine

        def read() -> float | None:
            now = time.time()
            entry = engine.lookup(key, now)
            if entry is None or entry.expires_at is None:
                return None
            return entry.expires_at - now

        return await self._read(read)

    async def clear(self) -> None:
        self._check_open()
        await self._write(ClearOp())

    async def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        if isinstance(keys, str):
            raise TypeError("get_many() takes an iterable of keys, not a single str")
        checked = [check_key(k) for k in keys]
        engine = self._engine

        def read() -> list[tuple[str, str]]:
            now = time.time()
            found = []
            for key in checked:
                entry = engine.lookup(key, now)
                if entry is not None:
                    found.append((key, entry.value))
            return found

        return {key: decode_value(text) for key, text in await self._read(read)}

    async def set_many(self, items: Mapping[str, object], ttl: TTL | None = None) -> None:
        self._check_open()
        texts = [(k, encode_value(k, v)) for k, v in ((check_key(k), v) for k, v in items.items())]
        label = texts[0][0] if texts else "<set_many>"
        expires_at = None if ttl is None else expiry_from_ttl(label, ttl, time.time())
        if texts:
            await self._write(SetOp([(k, text, expires_at) for k, text in texts]))

    async def increment(self, key: str, by: int = 1) -> int:
        self._check_open()
        key = check_key(key)
        result = await self._write(IncrementOp(key, check_increment(key, by)))
        assert isinstance(result, int)
        return result

    async def add(self, key: str, value: object, ttl: TTL | None = None) -> bool:
        self._check_open()
        key = check_key(key)
        text = encode_value(key, value)
        expires_at = None if ttl is None else expiry_from_ttl(key, ttl, time.time())
        # planned under the log's exclusive lock after catching up with other processes,
        # so of racing add() calls in any process exactly one finds the key absent
        return bool(await self._write(AddOp(key, text, expires_at)))

    async def touch(self, key: str, ttl: TTL) -> bool:
        self._check_open()
        key = check_key(key)
        expires_at = touch_expiry(key, ttl, time.time())
        return bool(await self._write(TouchOp(key, expires_at)))

    async def delete_many(self, keys: Iterable[str]) -> int:
        self._check_open()
        checked = check_keys(keys, "delete_many")
        if not checked:
            return 0
        result = await self._write(DeleteManyOp(checked))
        assert isinstance(result, int)
        return result

    # -- LocalStorage only ----------------------------------------------------------

    async def compact(self) -> None:
        """Rewrite the log now with only the live, unexpired keys."""
        self._check_open()
        await self._write(CompactOp())

    @staticmethod
    async def repair(path: str | os.PathLike[str]) -> RepairReport:
        """Repair a log that failed to open with ``KVLogCorruptedError``.

        Stop every process using the store first. The log is copied to
        ``<path>.damaged-<UTC time>``, cut at its first bad record (that record and
        every later one are dropped, never skipped over) and its commit mark reset; the
        :class:`~lexigram.storage.kv.local.repair.RepairReport` says what was dropped
        and which keys may show an older value or be back. A sound log is left as is.
        See :func:`~lexigram.storage.kv.local.repair.repair_log`.
        """
        return await asyncio.to_thread(repair_log, path)

    async def stats(self) -> dict[str, int]:
        """Counters for monitoring: keys, file and live bytes, compactions (and failed
        ones), commit batches."""
        engine = await self._ready()
        stats = await asyncio.to_thread(engine.stats)
        stats["commit_batches"] = self._committer.batches
        stats["commit_ops"] = self._committer.ops
        return stats

    # -- lifecycle ---------------------------------------------------------------

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._committer.drain()
        await self._sweeper.stop()
        async with self._open_lock:
            await asyncio.to_thread(self._engine.close)

    async def close(self) -> None:
        await self.aclose()

    async def __aenter__(self) -> Self:
        await self._ready()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
