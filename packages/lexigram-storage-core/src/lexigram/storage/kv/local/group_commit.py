"""Group commit: concurrent writes of one process share one append and one fsync.

Each write is queued with a future. If no flush is under way, the write starts a flusher
task (the first waiter, in effect, leads); the flusher takes the whole queue as one
batch, hands it to the blocking ``commit`` function in a worker thread (one thread hop
per batch), and resolves every future with its result. Writes queued while a batch is
being committed form the next batch, so under load the batch size grows by itself and
the fsyncs per write shrink, while a lone write is committed at once.

Cancelling a waiting caller does not withdraw its write once the batch was taken: it
may still be committed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["GroupCommitter"]

OpT = TypeVar("OpT")


class GroupCommitter(Generic[OpT]):
    """Batches ``submit`` calls into calls of ``commit(ops) -> results`` in a thread."""

    def __init__(self, commit: Callable[[list[OpT]], list[object]]) -> None:
        self._commit = commit
        self._queue: list[tuple[OpT, asyncio.Future[object]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self.batches = 0
        self.ops = 0

    async def submit(self, op: OpT) -> object:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[object] = loop.create_future()
        self._queue.append((op, future))
        flusher = self._flusher
        if flusher is None or flusher.done():
            self._flusher = loop.create_task(self._flush(), name="lexigram-kv-commit")
        return await future

    async def drain(self) -> None:
        """Wait until every write queued so far is committed (or has failed)."""
        while self._flusher is not None and not self._flusher.done():
            await asyncio.shield(self._flusher)

    async def _flush(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                results = await asyncio.to_thread(self._commit, [op for op, _ in batch])
            except asyncio.CancelledError:
                for _, future in batch:
                    future.cancel()
                raise
            except Exception as exc:  # e.g. the disk or the lock failed: the whole batch
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            self.batches += 1
            self.ops += len(batch)
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)
