"""Load, on every cloud driver: 10,000 mixed operations at concurrency 128, every body
verified by hash; no file-descriptor or connection leak, memory flat.

Resources are this process's own: open fds (``/proc/self/fd``), TCP connections to the
server's port (psutil), resident memory (``VmRSS``). No timing bound: the durations go to
the figures table only.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator

import psutil
import pytest

from lexigram.storage.testing.progress import announce

from .conftest import Backend
from .report import Figures
from .workload import RetryCounter, Workload

OPERATIONS = 10_000
CONCURRENCY = 128
WARM_UP = 1_000
#: small bodies: the point is many concurrent requests, not bandwidth.
SIZES = (0, 1, 100, 1000, 4096, 16_384, 65_536)
MIB = 1024 * 1024
#: growth of resident memory allowed between the warm-up and the end (generous: the
#: allocator keeps freed memory; a leak of the bodies alone would be ~200 MiB).
RSS_SLACK = 64 * MIB
#: fds that may differ after closing (the event loop's, pytest's, a lazily opened file).
FD_SLACK = 3
#: what a run took on the 2-core test machine (docs/reliability.md), for the start line.
ABOUT_SECONDS = {"s3": "1-2 min", "r2": "1-2 min", "gcs": "10-20 s", "azure": "1-1.5 min"}
#: bound on the whole run, so a hang fails instead of blocking the suite.
HANG = 900


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def rss() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def connections_to(port: int) -> int:
    """This process's TCP connections to ``port`` on 127.0.0.1 that are not closed yet."""
    return sum(
        1
        for c in psutil.Process().net_connections(kind="tcp")
        if c.raddr and c.raddr.port == port and c.status != psutil.CONN_CLOSE
    )


async def settled(measure: Callable[[], int], target: int, *, seconds: float = 10.0) -> int:
    """``measure()`` once it is at most ``target``, or its value after ``seconds``
    (sockets closed by a pool are released on the loop's next turns, not at once)."""
    deadline = time.monotonic() + seconds
    value = measure()
    while value > target and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        gc.collect()
        value = measure()
    return value


@pytest.fixture(autouse=True)
def _sdk_debug_lines_not_kept() -> Iterator[None]:
    """The canary sweep turns the root logger to DEBUG for the session, and pytest keeps
    every captured record of a test in memory: 10,000 requests of botocore's debug lines
    are ~750 MB of the harness's own memory, which the RSS bound below would count as
    ours. The secrets sweep covers those lines in the other suites; here, INFO."""
    level = logging.root.level
    logging.root.setLevel(logging.INFO)
    yield
    logging.root.setLevel(level)


async def test_ten_thousand_mixed_operations_at_concurrency_128(
    backend: Backend, figures: Callable[..., Figures], pytestconfig: pytest.Config
) -> None:
    announce(
        pytestconfig,
        f"load: {OPERATIONS:,} mixed operations at concurrency {CONCURRENCY} on "
        f"{backend.driver} (about {ABOUT_SECONDS[backend.driver]})",
    )
    # The truth store's connection is made first, so it is part of the baseline.
    direct = backend.store()
    assert await direct.exists("nothing/here") is False
    gc.collect()
    fds_before = open_fds()
    conns_before = connections_to(backend.port)

    store = backend.store()  # the driver's default settings (pool sizes and all)
    prefix = f"load-{uuid.uuid4().hex[:8]}"
    row = figures(driver=backend.label, test="load: 10,000 mixed ops, concurrency 128")

    warm = Workload(store=store, prefix=prefix + "-warm", keys=256, seed=1, sizes=SIZES, allowed=())
    await asyncio.wait_for(warm.run(WARM_UP, concurrency=CONCURRENCY), HANG)
    gc.collect()
    rss_warm = rss()

    work = Workload(store=store, prefix=prefix, keys=1024, seed=2, sizes=SIZES, allowed=())
    started = time.perf_counter()
    with RetryCounter().installed() as retries:
        await asyncio.wait_for(work.run(OPERATIONS, concurrency=CONCURRENCY), HANG)
    seconds = time.perf_counter() - started
    conns_open = connections_to(backend.port)
    gc.collect()
    rss_end = rss()
    checked = await work.verify(direct)

    await store.close()
    conns_after = await settled(lambda: connections_to(backend.port), conns_before)
    fds_after = await settled(open_fds, fds_before + FD_SLACK)

    row.operations = work.tried
    row.retries_core, row.retries_sdk = retries.core, retries.sdk
    row.failures = work.failures
    row.lost, row.corrupted = len(work.lost), len(work.corrupted)
    row.notes.update(
        {
            "seconds": f"{seconds:.1f}",
            "ops/s": f"{work.tried / seconds:.0f}",
            "fds before/after": f"{fds_before}/{fds_after}",
            "conns open/after close": f"{conns_open}/{conns_after}",
            "RSS growth": f"{(rss_end - rss_warm) / MIB:+.1f} MiB",
            "objects checked": str(checked),
        }
    )

    assert work.tried == OPERATIONS
    assert warm.unexpected == [] and work.unexpected == []
    assert not work.failures, work.failures
    assert work.corrupted == [] and warm.corrupted == []
    assert work.lost == [] and work.strays == []
    assert checked > 0
    # Every body read was checked by hash against what was written.
    reads = sum(work.ops[op].ok for op in ("download", "stream") if op in work.ops)
    assert reads > 2_000
    # No leak: connections released by close(), fds back to the baseline.
    assert conns_open <= CONCURRENCY + conns_before
    assert conns_after <= conns_before
    assert fds_after <= fds_before + FD_SLACK
    # Memory flat: no growth with the number of operations beyond the slack.
    assert rss_end - rss_warm < RSS_SLACK
