"""LoopThread: one private event loop on one daemon thread, driven from other threads."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from typing import Any, TypeVar

from lexigram.storage.errors import StoreClosedError, SyncInEventLoopError

__all__ = ["LoopThread"]

T = TypeVar("T")


class LoopThread:
    """Runs coroutines on a private event loop in a thread of its own.

    :meth:`run` may be called from any number of threads at once (the loop serializes
    nothing but its own scheduling: the coroutines interleave on it as in any async
    program). Calling it from a thread that runs an event loop raises
    :class:`~lexigram.storage.errors.SyncInEventLoopError` instead of blocking that loop.
    """

    def __init__(self, name: str = "lexigram-storage-sync") -> None:
        self._loop = asyncio.new_event_loop()
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_forever()
        finally:
            try:
                # operations still running when the loop was stopped end with CancelledError
                # (their callers see StoreClosedError) instead of waiting forever
                pending = asyncio.all_tasks(self._loop)
                for task in pending:
                    task.cancel()
                self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            finally:
                self._loop.close()

    @property
    def thread(self) -> threading.Thread:
        """The loop's thread (alive until :meth:`stop`)."""
        return self._thread

    @property
    def closed(self) -> bool:
        return self._closed

    def check_caller(self, what: str) -> None:
        """Refuse a blocking call from a thread that runs an event loop (or from the
        loop's own thread, e.g. a hook): it would block or deadlock that loop."""
        if threading.current_thread() is self._thread:
            running = True
        else:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                running = False
            else:
                running = True
        if running:
            raise SyncInEventLoopError(
                f"{what} is a blocking call and this thread is running an event loop, which it "
                "would block: in async code use the async API (lexigram.storage.StorageProvider "
                "/ BlobStore and await its methods) instead of lexigram.storage.sync"
            )

    def run(self, factory: Callable[[], Awaitable[T]], what: str) -> T:
        """Run the awaitable ``factory()`` makes on the loop and return its result (or
        raise its exception, the same object). ``factory`` is called on the loop."""
        self.check_caller(what)
        future = self._submit(factory, what)
        try:
            return future.result()
        except concurrent.futures.CancelledError:
            if self._closed:
                raise StoreClosedError(
                    f"{what} was stopped: the blocking store was closed meanwhile"
                ) from None
            raise
        except BaseException:
            if not future.done():  # KeyboardInterrupt while waiting: stop the operation
                future.cancel()
            raise

    def _submit(
        self, factory: Callable[[], Awaitable[T]], what: str
    ) -> concurrent.futures.Future[T]:
        async def call() -> T:
            return await factory()

        with self._lock:
            if self._closed:
                raise StoreClosedError(f"{what}: this blocking store is closed: open a new one")
            return asyncio.run_coroutine_threadsafe(call(), self._loop)

    def iterate(self, factory: Callable[[], AsyncIterator[T]], what: str) -> Iterator[T]:
        """A plain iterator over the async iterator ``factory()`` makes on the loop: each
        ``next()`` pulls one item across (nothing is read ahead); closing the iterator
        (or dropping it) closes the async one."""
        self.check_caller(what)
        holder: list[AsyncIterator[T]] = []

        async def first() -> None:
            holder.append(factory())

        self.run(first, what)
        source = holder[0]

        async def step() -> tuple[bool, T | None]:
            try:
                return True, await source.__anext__()
            except StopAsyncIteration:
                return False, None

        def generate() -> Iterator[T]:
            finished = False
            try:
                while True:
                    more, item = self.run(step, what)
                    if not more:
                        finished = True
                        return
                    yield item  # type: ignore[misc] # T when more is true
            finally:
                if not finished and not self._closed:
                    closer: Callable[[], Coroutine[Any, Any, None]] | None = getattr(
                        source, "aclose", None
                    )
                    if closer is not None:
                        try:
                            self.run(closer, what)
                        except SyncInEventLoopError:  # dropped by a thread with a loop
                            self._submit(closer, what)

        return generate()

    def stop(self) -> None:
        """Stop the loop and wait for its thread to end. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._loop.call_soon_threadsafe(self._loop.stop)
        if threading.current_thread() is not self._thread:
            self._thread.join()
