"""A min-heap of expiry times, so reclaiming expired keys never scans every key.

Each ``set`` with a TTL pushes ``(expires_at, key)``. Entries are never removed in
place: when a key is overwritten or deleted its old heap entry goes stale, and
:meth:`ExpiryHeap.pop_due` asks the owner whether an entry is still current before
reporting the key. When stale entries outnumber live ones the heap is rebuilt, so it
stays within a constant factor of the number of keys with a TTL.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable

__all__ = ["ExpiryHeap"]


class ExpiryHeap:
    """Expiry times of keys, earliest first."""

    __slots__ = ("_heap",)

    def __init__(self) -> None:
        self._heap: list[tuple[float, str]] = []

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, key: str, expires_at: float) -> None:
        heapq.heappush(self._heap, (expires_at, key))

    def clear(self) -> None:
        self._heap.clear()

    def next_due(self) -> float | None:
        """The earliest expiry time in the heap (possibly stale), or ``None`` if empty."""
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float, is_current: Callable[[str, float], bool]) -> list[str]:
        """Pop every entry due at ``now``; return the keys whose entry was still current.

        ``is_current(key, expires_at)`` tells whether the key still has that expiry
        (it was not overwritten or deleted since the entry was pushed).
        """
        heap = self._heap
        due: list[str] = []
        while heap and heap[0][0] <= now:
            expires_at, key = heapq.heappop(heap)
            if is_current(key, expires_at):
                due.append(key)
        return due

    def rebuild_if_sparse(self, live: Iterable[tuple[str, float]], live_count: int) -> None:
        """Rebuild from ``live`` when stale entries make up most of the heap."""
        if len(self._heap) > 64 and len(self._heap) > 2 * live_count:
            self._heap = [(expires_at, key) for key, expires_at in live]
            heapq.heapify(self._heap)
