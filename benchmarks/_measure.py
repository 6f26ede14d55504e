"""Small measuring helpers shared by the benchmarks (see benchmarks/README.md).

- :func:`time_async` / :func:`time_sync`: per-operation latency in microseconds, the best
  (lowest) of ``rounds`` per-round medians, so one slow round (GC, another process) does
  not decide the number;
- :func:`cpu_seconds` and :class:`Usage`: process CPU time (``time.process_time``, all
  threads of this process, user + system) next to wall time;
- :func:`interleaved` and :class:`Paired`: contenders (ours, the raw SDK, a control) run
  side by side in small alternating blocks of the same operations; ratios are medians
  of the paired blocks;
- :func:`peak_rss_kib`, :func:`reset_peak_rss` and :class:`Usage`: peak resident memory
  growth, from ``VmHWM`` in ``/proc/self/status``. Writing ``5`` to
  ``/proc/self/clear_refs`` resets ``VmHWM`` to the current RSS on Linux (checked on this
  project's machines); where that is not possible the growth is measured against the
  peak so far and :attr:`Usage.peak_reset` says so.
"""

from __future__ import annotations

import asyncio
import gc
import re
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = [
    "Paired",
    "Timing",
    "Usage",
    "cpu_seconds",
    "current_rss_kib",
    "gather_bounded",
    "interleaved",
    "peak_rss_kib",
    "reset_peak_rss",
    "row",
    "time_async",
    "time_sync",
]

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


@dataclass(frozen=True)
class Timing:
    """Latency of one operation, in microseconds."""

    per_op_us: float
    """Best (lowest) of the per-round medians: the number to report."""
    round_medians_us: list[float] = field(default_factory=list)
    mean_us: float = 0.0
    """Mean over every timed call of every round (includes the slow tail)."""
    ops: int = 0
    """Timed calls in all rounds (warm-up calls not counted)."""

    @property
    def ops_per_s(self) -> float:
        return 1e6 / self.per_op_us if self.per_op_us > 0 else float("inf")


def _timing(rounds: list[list[float]]) -> Timing:
    medians = [statistics.median(r) * 1e6 for r in rounds]
    every = [t for r in rounds for t in r]
    return Timing(
        per_op_us=min(medians),
        round_medians_us=medians,
        mean_us=statistics.fmean(every) * 1e6,
        ops=len(every),
    )


def _check(n: int, rounds: int) -> None:
    if n < 1 or rounds < 1:
        raise ValueError(f"n and rounds must be at least 1, got n={n}, rounds={rounds}")


async def time_async(
    op: Callable[[], Awaitable[object]], n: int, *, rounds: int = 5, warmup: int = 1
) -> Timing:
    """Await ``op()`` ``n`` times per round for ``rounds`` rounds, after ``warmup`` calls.

    Each call is timed on its own with ``time.perf_counter``; a round's value is the
    median of its calls and the result's :attr:`Timing.per_op_us` the best round.
    """
    _check(n, rounds)
    for _ in range(warmup):
        await op()
    clock = time.perf_counter
    all_rounds: list[list[float]] = []
    for _ in range(rounds):
        samples: list[float] = []
        for _ in range(n):
            start = clock()
            await op()
            samples.append(clock() - start)
        all_rounds.append(samples)
    return _timing(all_rounds)


def time_sync(op: Callable[[], object], n: int, *, rounds: int = 5, warmup: int = 1) -> Timing:
    """The same as :func:`time_async` for a plain function."""
    _check(n, rounds)
    for _ in range(warmup):
        op()
    clock = time.perf_counter
    all_rounds: list[list[float]] = []
    for _ in range(rounds):
        samples: list[float] = []
        for _ in range(n):
            start = clock()
            op()
            samples.append(clock() - start)
        all_rounds.append(samples)
    return _timing(all_rounds)


def cpu_seconds() -> float:
    """CPU seconds used by this process so far (user + system, every thread)."""
    return time.process_time()


def _status_kib(key: str) -> int | None:
    try:
        text = _STATUS.read_text()
    except OSError:
        return None
    match = re.search(rf"^{key}:\s+(\d+)\s+kB", text, re.MULTILINE)
    return int(match.group(1)) if match else None


def current_rss_kib() -> int | None:
    """Resident set size now, in KiB (``VmRSS``); ``None`` where /proc is missing."""
    return _status_kib("VmRSS")


def peak_rss_kib() -> int | None:
    """Peak resident set size, in KiB (``VmHWM``); ``None`` where /proc is missing."""
    return _status_kib("VmHWM")


def reset_peak_rss() -> bool:
    """Reset ``VmHWM`` to the current RSS (Linux: write ``5`` to /proc/self/clear_refs).

    Returns whether the reset took effect.
    """
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    peak, now = peak_rss_kib(), current_rss_kib()
    # Pages touched between the two reads may lift the peak a little above RSS.
    return peak is not None and now is not None and peak <= now + 1024


class Usage:
    """Measure wall time, CPU time and peak RSS growth of a block.

    ::

        with Usage() as usage:
            await do_work()
        usage.cpu_s, usage.wall_s, usage.peak_growth_kib
    """

    def __init__(self) -> None:
        self.wall_s = 0.0
        self.cpu_s = 0.0
        self.peak_growth_kib: int | None = None
        self.peak_reset = False
        self._baseline_kib: int | None = None
        self._wall0 = 0.0
        self._cpu0 = 0.0

    def __enter__(self) -> Usage:
        gc.collect()
        self.peak_reset = reset_peak_rss()
        # Without a reset, growth is counted from the peak so far (an underestimate).
        self._baseline_kib = current_rss_kib() if self.peak_reset else peak_rss_kib()
        self._cpu0 = time.process_time()
        self._wall0 = time.perf_counter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.wall_s = time.perf_counter() - self._wall0
        self.cpu_s = time.process_time() - self._cpu0
        peak = peak_rss_kib()
        if peak is not None and self._baseline_kib is not None:
            self.peak_growth_kib = max(0, peak - self._baseline_kib)

    def as_dict(self) -> dict[str, float | int | bool | None]:
        """The measurements, for a row's ``extra``."""
        return {
            "wall_s": round(self.wall_s, 6),
            "cpu_s": round(self.cpu_s, 6),
            "peak_rss_growth_kib": self.peak_growth_kib,
            "peak_reset": self.peak_reset,
        }


def row(
    case: str, ours: float, baseline: float, unit: str, target: str, **extra: object
) -> dict[str, object]:
    """One result row in the runner's format (see benchmarks/README.md)."""
    return {
        "case": case,
        "ours": ours,
        "baseline": baseline,
        "unit": unit,
        "ratio": ours / baseline,
        "target": target,
        "extra": extra,
    }


async def gather_bounded(n: int, concurrency: int, op: Callable[[int], Awaitable[Any]]) -> None:
    """Run ``op(0) .. op(n - 1)``, at most ``concurrency`` at a time (in order at 1)."""
    if concurrency == 1:
        for i in range(n):
            await op(i)
        return
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            await op(i)

    await asyncio.gather(*(one(i) for i in range(n)))


@dataclass
class Paired:
    """Figures of contenders run side by side in alternating blocks (:func:`interleaved`)."""

    cpu_ms: dict[str, float]  # client CPU seconds per 1,000 ops, over all blocks
    ops_s: dict[str, float]  # ops/s, over all blocks
    blocks: dict[str, list[tuple[float, float]]]  # (CPU s, wall s) of each block

    def cpu_ratio(self, name: str, baseline: str) -> float:
        """Median over blocks of ``name``'s CPU / ``baseline``'s CPU in the same block."""
        return statistics.median(
            a[0] / b[0] for a, b in zip(self.blocks[name], self.blocks[baseline], strict=True)
        )

    def ops_ratio(self, name: str, baseline: str) -> float:
        """Median over blocks of ``name``'s ops/s / ``baseline``'s ops/s in the same block."""
        return statistics.median(
            b[1] / a[1] for a, b in zip(self.blocks[name], self.blocks[baseline], strict=True)
        )


async def interleaved(
    n: int,
    concurrency: int,
    rounds: int,
    contenders: dict[str, Callable[[int], Awaitable[Any]]],
    *,
    block: int | None = None,
) -> Paired:
    """Run the contenders side by side; see :class:`Paired`.

    The machine's speed drifts (other processes, CPU frequency, the server's garbage
    collector), so the contenders run in small alternating blocks of the same ops: each
    block of ours sits next to a block of each baseline, under the same conditions. The
    ratios are medians of these paired blocks (robust to a block that met a hiccup);
    the absolute figures are sums over ``rounds`` passes of all ``n`` ops. ``block``:
    ops per block (default ``max(100, 4 * concurrency)``); smaller blocks give more
    pairs where each op is slow (an fsync) and the machine's load changes quickly.
    """
    if block is None:
        block = max(100, 4 * concurrency)
    blocks: dict[str, list[tuple[float, float]]] = {name: [] for name in contenders}
    order = list(contenders.items())
    turn = 0
    for _ in range(rounds):
        for lo in range(0, n, block):
            count = min(block, n - lo)
            turn += 1
            for name, op in order if turn % 2 else order[::-1]:

                async def shifted(
                    i: int, op: Callable[[int], Awaitable[Any]] = op, lo: int = lo
                ) -> Any:
                    return await op(lo + i)

                cpu0, wall0 = time.process_time(), time.perf_counter()
                await gather_bounded(count, concurrency, shifted)
                blocks[name].append((time.process_time() - cpu0, time.perf_counter() - wall0))
    total = n * rounds
    return Paired(
        cpu_ms={k: sum(c for c, _ in v) / total * 1000 for k, v in blocks.items()},
        ops_s={k: total / sum(w for _, w in v) for k, v in blocks.items()},
        blocks=blocks,
    )
