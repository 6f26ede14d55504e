"""The background task that reclaims expired keys without a reader touching them.

The task is started lazily, from inside a running event loop, the first time a key with
a TTL is stored, and stops by itself when nothing is left to expire (it is started again
by the next TTL). It holds only a weak reference to its store, so a store that is
dropped without being closed is still garbage-collected; ``stop()`` cancels it on close.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Protocol

__all__ = ["Sweepable", "Sweeper"]


class Sweepable(Protocol):
    def sweep_expired(self) -> bool:
        """Drop expired keys; return ``True`` while keys with a TTL remain."""
        ...


class Sweeper:
    """Runs ``owner.sweep_expired()`` every ``interval`` seconds while there is work."""

    __slots__ = ("_interval", "_owner", "_task")

    def __init__(self, owner: Sweepable, interval: float) -> None:
        self._owner = weakref.ref(owner)
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def ensure_started(self) -> None:
        """Start the task if it is not running; a no-op outside a running event loop."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = self._task
        if task is not None and not task.done() and task.get_loop() is loop:
            return
        self._task = loop.create_task(
            _sweep_loop(self._owner, self._interval), name="lexigram-kv-sweeper"
        )

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None or task.done():
            return
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise


async def _sweep_loop(owner_ref: weakref.ref[Sweepable], interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        owner = owner_ref()
        if owner is None or not owner.sweep_expired():
            return
        del owner
