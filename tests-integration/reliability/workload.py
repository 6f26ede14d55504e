"""A mixed-operations workload for the reliability tests, usable against any store.

:class:`Workload` runs a seeded plan of uploads, downloads, streams, info, exists, list,
delete and copy calls at a given concurrency over a small key space, and keeps a model of
what every key may hold: the set of bodies (by SHA-256) or absence it can be in. A
successful write pins the key to its new body; a write that failed with an allowed error
(``StorageUnavailableError`` under faults) may or may not have landed, so the key may hold
the old *or* the new full body afterwards. Every read is checked against that model, so a
partial, mixed or foreign body is counted as corrupted and a missing one as lost; and
:meth:`Workload.verify` reads everything back through a direct store at the end.

Operations on one key are serialised (a lock per key); different keys run concurrently.
Bodies are never kept: only their digests and sizes.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import attrs

from lexigram.storage import BlobNotFoundError, BlobStore, StorageUnavailableError

__all__ = ["DEFAULT_MIX", "DEFAULT_SIZES", "KeyState", "RetryCounter", "Workload"]

#: relative weight of each operation in a plan.
DEFAULT_MIX: dict[str, int] = {
    "upload": 30,
    "download": 18,
    "stream": 7,
    "info": 10,
    "exists": 10,
    "list": 5,
    "delete": 10,
    "copy": 10,
}
#: body sizes drawn for uploads (bytes): empty, tiny, a page, a large single request.
DEFAULT_SIZES: tuple[int, ...] = (0, 1, 1000, 4096, 65_536, 1024 * 1024 + 1)

ABSENT = None  # the "no object" state of a key in the model
#: keys per folder; a list operation lists the folder of its key.
FOLDER = 32


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@attrs.define
class KeyState:
    """What one key may hold: digests of full bodies, or ``None`` for no object."""

    possible: set[str | None] = attrs.field(factory=lambda: {ABSENT})
    #: every size any body of this key ever had (for unlocked checks such as list).
    ever_sizes: set[int] = attrs.field(factory=set)
    lock: asyncio.Lock = attrs.field(factory=asyncio.Lock)
    #: the last operations on this key (for the message when a check fails).
    history: list[str] = attrs.field(factory=list)

    def note(self, event: str) -> None:
        self.history.append(event)
        del self.history[:-8]


@attrs.define
class OpCount:
    tried: int = 0
    ok: int = 0
    failed: Counter[str] = attrs.field(factory=Counter)


class RetryCounter(logging.Handler):
    """Counts retries as the core and the SDKs log them, while installed (``with``).

    The core logs ``retrying <op> ...`` at DEBUG on ``lexigram.storage`` for each retry of
    an operation; botocore logs ``Retry needed, retrying request`` for each retry of one
    HTTP request; the GCS driver logs ``retrying chunk`` for a resumable-upload chunk sent
    again. Retries nobody logs are not counted: the Azure SDK's, and aiohttp's own single
    retry of an idempotent request whose reused keep-alive connection was dropped.
    """

    LOGGERS = ("lexigram.storage", "botocore.retries.standard")

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.core = 0
        self.sdk = 0

    @property
    def total(self) -> int:
        return self.core + self.sdk

    def emit(self, record: logging.LogRecord) -> None:
        message = record.msg if isinstance(record.msg, str) else ""
        if record.name == "lexigram.storage" and message.startswith("retrying "):
            self.core += 1
        elif message.startswith(("Retry needed, retrying", "retrying chunk")):
            self.sdk += 1

    @contextmanager
    def installed(self) -> Iterator[RetryCounter]:
        saved = []
        for name in self.LOGGERS:
            log = logging.getLogger(name)
            saved.append((log, log.level))
            log.setLevel(logging.DEBUG)
            log.addHandler(self)
        try:
            yield self
        finally:
            for log, level in saved:
                log.removeHandler(self)
                log.setLevel(level)


@attrs.define(kw_only=True)
class Workload:
    """A seeded mixed workload over ``keys`` keys under ``prefix``.

    ``allowed``: error types an operation may raise without being a failure of the test
    (e.g. ``StorageUnavailableError`` under injected faults). Anything else is recorded
    in :attr:`unexpected`.
    """

    store: BlobStore
    prefix: str
    keys: int = 64
    seed: int = 0
    sizes: Sequence[int] = DEFAULT_SIZES
    mix: dict[str, int] = attrs.field(factory=lambda: dict(DEFAULT_MIX))
    allowed: tuple[type[BaseException], ...] = (StorageUnavailableError,)

    ops: dict[str, OpCount] = attrs.field(init=False, factory=dict)
    state: dict[str, KeyState] = attrs.field(init=False, factory=dict)
    #: reads that returned a body the key never held in full (partial, mixed, foreign).
    corrupted: list[str] = attrs.field(init=False, factory=list)
    #: keys found missing although every write of them succeeded.
    lost: list[str] = attrs.field(init=False, factory=list)
    #: errors of a type not in ``allowed`` (the first few, with messages).
    unexpected: list[str] = attrs.field(init=False, factory=list)
    #: objects found at the end that the workload never wrote.
    strays: list[str] = attrs.field(init=False, factory=list)
    _version: int = attrs.field(init=False, default=0)
    _size_of: dict[str, int] = attrs.field(init=False, factory=dict)

    def __attrs_post_init__(self) -> None:
        for i in range(self.keys):
            self.state[self.key(i)] = KeyState()

    def key(self, i: int) -> str:
        # Keys in folders of FOLDER, so a list operation reads a folder, not everything.
        return f"{self.prefix}/d{i // FOLDER:03d}/k{i:05d}.bin"

    # -- figures ------------------------------------------------------------------------

    @property
    def tried(self) -> int:
        return sum(c.tried for c in self.ops.values())

    @property
    def failures(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for count in self.ops.values():
            total.update(count.failed)
        return total

    # -- running ------------------------------------------------------------------------

    def plan(self, operations: int) -> list[tuple[str, str, str, int]]:
        """``operations`` (operation, key, second key, size) tuples from the seed."""
        rng = random.Random(self.seed)
        names = list(self.mix)
        weights = [self.mix[n] for n in names]
        out = []
        for _ in range(operations):
            op = rng.choices(names, weights)[0]
            a, b = rng.randrange(self.keys), rng.randrange(self.keys)
            out.append((op, self.key(a), self.key(b), rng.choice(self.sizes)))
        return out

    async def run(self, operations: int, *, concurrency: int) -> None:
        """Run ``operations`` operations of the plan with ``concurrency`` workers."""
        queue = iter(self.plan(operations))

        async def worker() -> None:
            for op, key, other, size in queue:
                await self._one(op, key, other, size)

        await asyncio.gather(*(worker() for _ in range(concurrency)))

    async def _one(self, op: str, key: str, other: str, size: int) -> None:
        count = self.ops.setdefault(op, OpCount())
        count.tried += 1
        try:
            if op == "upload":
                await self._upload(key, size)
            elif op in ("download", "stream"):
                await self._read(key, stream=op == "stream")
            elif op == "info":
                await self._info(key)
            elif op == "exists":
                await self._exists(key)
            elif op == "list":
                await self._list(key.rsplit("/", 1)[0] + "/")
            elif op == "delete":
                await self._delete(key)
            elif op == "copy":
                await self._copy(key, other)
            else:
                raise ValueError(f"unknown operation {op!r}")
        except self.allowed as exc:
            count.failed[type(exc).__name__] += 1
            return
        except Exception as exc:
            count.failed[type(exc).__name__] += 1
            if len(self.unexpected) < 20:
                self.unexpected.append(f"{op} {key}: {type(exc).__name__}: {exc}")
            return
        count.ok += 1

    def _body(self, key: str, size: int) -> bytes:
        self._version += 1
        head = f"{key}#{self._version}#".encode()
        if size <= len(head):
            return head[:size]
        return head + random.Random(f"{self.seed}{key}{self._version}").randbytes(size - len(head))

    async def _upload(self, key: str, size: int) -> None:
        state = self.state[key]
        async with state.lock:
            body = self._body(key, size)
            d = digest(body)
            self._size_of[d] = len(body)
            state.ever_sizes.add(len(body))
            state.note(f"upload {len(body)}")
            try:
                info = await self.store.upload(key, body)
            except BaseException:
                state.possible.add(d)  # it may have landed, whole
                raise
            state.possible = {d}
            if info.size != len(body):
                self._corrupt(key, f"upload reported size {info.size}, sent {len(body)}")

    async def _read(self, key: str, *, stream: bool) -> None:
        state = self.state[key]
        async with state.lock:
            try:
                if stream:
                    data = b"".join([c async for c in self.store.stream(key, chunk_size=16384)])
                else:
                    data = await self.store.download(key)
            except BlobNotFoundError:
                self._absent(key, state)
                return
            self._observed(key, state, digest(data), len(data))

    async def _info(self, key: str) -> None:
        state = self.state[key]
        async with state.lock:
            try:
                info = await self.store.info(key)
            except BlobNotFoundError:
                self._absent(key, state)
                return
            fits = {d for d in state.possible if d is not None and self._size_of[d] == info.size}
            if fits:
                state.possible = fits
            else:
                self._corrupt(key, f"info: size {info.size}, possible {self._sizes(state)}")

    async def _exists(self, key: str) -> None:
        state = self.state[key]
        async with state.lock:
            if await self.store.exists(key):
                if state.possible == {ABSENT}:
                    self._corrupt(key, "exists() is True for a key that was deleted")
                else:
                    state.possible.discard(ABSENT)
            else:
                self._absent(key, state)

    async def _list(self, folder: str) -> None:
        # Not locked: concurrent writes may be seen before or after; so only check that
        # nothing else exists and each size is one this key ever had.
        async for entry in self.store.list(folder):
            state = self.state.get(entry.path)
            if state is None:
                self.strays.append(entry.path)
            elif entry.size not in state.ever_sizes:
                self._corrupt(
                    entry.path,
                    f"list: size {entry.size} never written (sizes {sorted(state.ever_sizes)}, "
                    f"{'locked' if state.lock.locked() else 'idle'}, {entry!r}, "
                    f"history {state.history})",
                )

    async def _delete(self, key: str) -> None:
        state = self.state[key]
        async with state.lock:
            state.note("delete")
            try:
                await self.store.delete(key)
            except BaseException:
                state.possible.add(ABSENT)
                raise
            state.possible = {ABSENT}

    async def _copy(self, src: str, dst: str) -> None:
        if src == dst:
            return await self._info(src)
        first, second = sorted((src, dst))
        s, d = self.state[src], self.state[dst]
        async with self.state[first].lock, self.state[second].lock:
            bodies = s.possible - {ABSENT}
            d.ever_sizes |= s.ever_sizes  # before: an unlocked list may see it in flight
            s.note(f"copy to {dst}")
            d.note(f"copy from {src} {sorted(s.ever_sizes)}")
            try:
                await self.store.copy(src, dst)
            except BlobNotFoundError:
                self._absent(src, s)
                return
            except BaseException:
                d.possible |= bodies
                raise
            if not bodies:
                self._corrupt(src, "copy succeeded from a key that was deleted")
                return
            s.possible = set(bodies)
            d.possible = set(bodies)

    # -- the model ----------------------------------------------------------------------

    def _observed(self, key: str, state: KeyState, got: str, size: int) -> None:
        if got in state.possible:
            state.possible = {got}
        else:
            self._corrupt(key, f"read {size} bytes that are none of {self._sizes(state)}")

    def _absent(self, key: str, state: KeyState) -> None:
        if ABSENT in state.possible:
            state.possible = {ABSENT}
        else:
            self.lost.append(key)

    def _corrupt(self, key: str, detail: str) -> None:
        history = self.state[key].history if key in self.state else []
        self.corrupted.append(f"{key}: {detail} (last operations: {history})")

    def _sizes(self, state: KeyState) -> str:
        sizes = sorted(self._size_of[d] for d in state.possible if d is not None)
        absent = " or absent" if ABSENT in state.possible else ""
        return f"a body of {sizes} bytes{absent}"

    # -- the end ------------------------------------------------------------------------

    async def verify(self, direct: BlobStore) -> int:
        """Read every key back through ``direct`` (a store without faults): each holds
        exactly one of its possible full bodies, or nothing where that is possible, and
        no other object exists under the prefix. Returns the number of objects checked."""
        listed = {entry.path async for entry in direct.list(self.prefix + "/")}
        self.strays.extend(sorted(listed - set(self.state)))
        checked = 0
        for key, state in self.state.items():
            if key not in listed:
                self._absent(key, state)
                continue
            data = await direct.download(key)
            self._observed(key, state, digest(data), len(data))
            checked += 1
        return checked
