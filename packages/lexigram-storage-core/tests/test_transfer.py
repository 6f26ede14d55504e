"""The core transfer engine: the bounded part pump, range planning, parallel ranged reads."""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from collections.abc import AsyncIterator

import pytest

from lexigram.storage import BlobStore, UploadBody
from lexigram.storage.conditions import Conditions
from lexigram.storage.driver import BlobDriver
from lexigram.storage.errors import (
    BlobNotFoundError,
    DriverError,
    ErrorCode,
    StorageUnavailableError,
)
from lexigram.storage.memory import MemoryDriver
from lexigram.storage.retry import RetryPolicy
from lexigram.storage.transfer import (
    Part,
    RangeRead,
    plan_ranges,
    pump,
    upload_parts,
)

MIB = 1024 * 1024
NO_WAIT = RetryPolicy(attempts=3, base_delay=0, max_delay=0)


async def items(n: int) -> AsyncIterator[bytes]:
    for i in range(n):
        yield bytes([i]) * 4


async def streamed(pieces: int, piece: int) -> AsyncIterator[bytes]:
    for _ in range(pieces):
        yield b"x" * piece


class Recorder:
    """A PartUpload whose sends are counted: in flight now, most in flight at once."""

    def __init__(self, fail: dict[int, int] | None = None, gate: asyncio.Event | None = None):
        self.fail = dict(fail or {})  # part number -> how many sends of it fail
        self.gate = gate
        self.in_flight = 0
        self.most = 0
        self.sends: list[tuple[int, int]] = []  # (number, attempt)
        self.aborted = 0
        self.committed: list[object] | None = None

    async def send(self, part: Part[bytes]) -> tuple[int, bytes]:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        self.sends.append((part.number, part.attempt))
        try:
            if self.gate is not None:
                await self.gate.wait()
            await asyncio.sleep(0)
            if self.fail.get(part.number, 0) > 0:
                self.fail[part.number] -= 1
                raise DriverError(ErrorCode.UNAVAILABLE, f"part {part.number} lost")
            return part.number, bytes(part.data)
        finally:
            self.in_flight -= 1

    async def abort(self) -> None:
        await asyncio.sleep(0)  # an abort that awaits: it must still run to its end
        self.aborted += 1

    async def commit(self, results: list[tuple[int, bytes]]) -> str:
        self.committed = list(results)
        return "done"


def transient(exc: BaseException) -> bool:
    return isinstance(exc, DriverError) and exc.code is ErrorCode.UNAVAILABLE


def test_plan_ranges() -> None:
    assert plan_ranges(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert plan_ranges(10, 4, start=3) == [(3, 7), (7, 10)]
    assert plan_ranges(8, 4) == [(0, 4), (4, 8)]
    assert plan_ranges(5, 4, start=5) == []
    with pytest.raises(ValueError, match="positive"):
        plan_ranges(10, 0)
    gib = 1024 * MIB
    ranges = plan_ranges(6 * gib + 1, 512 * MIB)
    assert ranges[0] == (0, 512 * MIB) and ranges[-1] == (6 * gib, 6 * gib + 1)
    assert all(b - a == 512 * MIB for a, b in ranges[:-1])


async def test_a_failed_part_cancels_the_others_and_stops_taking_parts() -> None:
    cancelled: list[int] = []
    pulled: list[int] = []

    async def source() -> AsyncIterator[int]:
        for i in range(100):
            pulled.append(i)
            yield i

    async def send(part: Part[int]) -> None:
        if part.data == 2:
            raise RuntimeError("part 3 failed")
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(part.data)
            raise

    with pytest.raises(RuntimeError, match="part 3 failed"):
        await pump(source(), send, concurrency=3)
    assert sorted(cancelled) == [0, 1]
    assert pulled == [0, 1, 2]  # nothing more was taken from the body


async def test_results_in_part_order_whatever_order_parts_finish() -> None:
    async def send(part: Part[bytes]) -> int:
        # later parts finish first
        for _ in range(20 - part.number):
            await asyncio.sleep(0)
        return part.number

    assert await pump(items(12), send, concurrency=5) == list(range(1, 13))


async def test_offsets_and_numbers_of_parts() -> None:
    seen: list[tuple[int, int]] = []

    async def send(part: Part[bytes]) -> None:
        seen.append((part.number, part.offset))

    await pump(items(4), send, concurrency=2)
    assert sorted(seen) == [(1, 0), (2, 4), (3, 8), (4, 12)]


@pytest.mark.parametrize("concurrency", [1, 3, 8])
async def test_in_flight_never_exceeds_concurrency_and_reaches_it(concurrency: int) -> None:
    upload = Recorder()
    pulled_while_in_flight: list[int] = []

    async def parts() -> AsyncIterator[bytes]:
        for i in range(30):
            # every item is taken only once a slot is free
            pulled_while_in_flight.append(upload.in_flight)
            yield bytes([i])

    result = await upload_parts(upload, parts(), concurrency=concurrency, commit=upload.commit)
    assert result == "done"
    assert upload.most == concurrency
    assert max(pulled_while_in_flight) <= concurrency - 1
    assert upload.committed == [(i + 1, bytes([i])) for i in range(30)]
    assert upload.aborted == 0


async def test_memory_bounded_by_part_size_times_concurrency() -> None:
    part, concurrency = MIB, 3
    held = 0
    most_held = 0

    async def send(p: Part[bytearray | memoryview]) -> int:
        nonlocal held, most_held
        held += 1
        most_held = max(most_held, held)
        for _ in range(3):
            await asyncio.sleep(0)
        held -= 1
        return len(p.data)

    gc.collect()
    tracemalloc.start()
    try:
        body = UploadBody.from_data(streamed(pieces=80, piece=256 * 1024))  # 20 MiB
        before = tracemalloc.get_traced_memory()[0]
        sizes = await pump(body.blocks(part), send, concurrency=concurrency)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert sum(sizes) == 20 * MIB
    assert most_held == concurrency
    # the parts held (in flight, or being filled while the others are), plus the
    # source stream's piece being copied and the one made next, and bookkeeping
    assert peak <= part * concurrency + 2 * 256 * 1024 + 64 * 1024, peak
    assert peak >= part * (concurrency - 1), peak  # the measure sees the parts


async def test_one_failed_part_is_retried_and_the_rest_sent_once() -> None:
    upload = Recorder(fail={3: 1})
    result = await upload_parts(
        upload, items(6), concurrency=2, commit=upload.commit, retry=NO_WAIT, retryable=transient
    )
    assert result == "done"
    assert sorted(upload.sends) == [(1, 1), (2, 1), (3, 1), (3, 2), (4, 1), (5, 1), (6, 1)]
    assert upload.committed == [(i + 1, bytes([i]) * 4) for i in range(6)]
    assert upload.aborted == 0


async def test_retries_stop_after_the_policy_attempts_then_abort() -> None:
    upload = Recorder(fail={2: 99})
    with pytest.raises(DriverError, match="part 2 lost"):
        await upload_parts(
            upload,
            items(4),
            concurrency=2,
            commit=upload.commit,
            retry=NO_WAIT,
            retryable=transient,
        )
    assert [a for n, a in upload.sends if n == 2] == [1, 2, 3]
    assert upload.aborted == 1
    assert upload.committed is None
    assert upload.in_flight == 0


async def test_errors_not_retryable_are_not_retried() -> None:
    upload = Recorder(fail={1: 1})
    with pytest.raises(DriverError):
        await upload_parts(upload, items(3), concurrency=1, commit=upload.commit, retry=NO_WAIT)
    assert upload.sends == [(1, 1)]
    assert upload.aborted == 1


async def test_the_backoff_is_the_retry_policy_s(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    real_sleep = asyncio.sleep

    async def sleep(delay: float, result: object = None) -> object:
        if delay:
            slept.append(delay)
        return await real_sleep(0, result)

    class Fixed(RetryPolicy):
        def delay(self, attempt: int) -> float:
            return 10.0 * attempt

    monkeypatch.setattr(asyncio, "sleep", sleep)
    upload = Recorder(fail={1: 2})
    await upload_parts(
        upload,
        items(1),
        concurrency=1,
        commit=upload.commit,
        retry=Fixed(attempts=3),
        retryable=transient,
    )
    assert slept == [10.0, 20.0]


async def test_cancellation_cancels_every_part_and_aborts() -> None:
    gate = asyncio.Event()  # never set: parts hang in flight
    upload = Recorder(gate=gate)
    task = asyncio.ensure_future(
        upload_parts(upload, items(10), concurrency=4, commit=upload.commit)
    )
    for _ in range(100):  # let the pump fill its slots
        await asyncio.sleep(0)
    assert upload.in_flight == 4
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert upload.in_flight == 0
    assert upload.aborted == 1
    assert upload.committed is None
    assert len(upload.sends) == 4  # nothing more was taken from the body


async def test_a_failing_body_aborts() -> None:
    upload = Recorder()

    async def parts() -> AsyncIterator[bytes]:
        yield b"a"
        yield b"b"
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        await upload_parts(upload, parts(), concurrency=2, commit=upload.commit)
    assert upload.aborted == 1
    assert upload.committed is None


async def test_a_failing_commit_aborts() -> None:
    upload = Recorder()

    async def commit(results: list[object]) -> None:
        raise DriverError(ErrorCode.UNKNOWN, "commit refused")

    with pytest.raises(DriverError, match="commit refused"):
        await upload_parts(upload, items(3), concurrency=2, commit=commit)
    assert upload.aborted == 1


async def test_too_many_parts_is_invalid_argument() -> None:
    upload = Recorder()
    with pytest.raises(DriverError, match="raise part_size") as caught:
        await upload_parts(
            upload,
            items(5),
            concurrency=2,
            commit=upload.commit,
            max_parts=3,
            too_many="more than 3 parts: raise part_size",
        )
    assert caught.value.code is ErrorCode.INVALID_ARGUMENT
    assert upload.aborted == 1


# -- parallel ranged reads over the memory driver's read_range -----------------------------


class Counting(MemoryDriver):
    """The memory driver with parallel reads, its ranged reads counted."""

    read = BlobDriver.read  # the core's default, not the memory driver's own
    read_into = BlobDriver.read_into

    def __init__(self, part: int, concurrency: int) -> None:
        super().__init__()
        self.read_part_size = part
        self.read_concurrency = concurrency
        self.ranges: list[tuple[int, int]] = []
        self.in_flight = 0
        self.most = 0
        self.before_range: dict[int, object] = {}  # range number -> a callable to run first

    async def read_range(
        self,
        key: str,
        *,
        start: int,
        end: int,
        conditions: Conditions | None = None,
        into: memoryview | None = None,
    ) -> RangeRead:
        number = len(self.ranges)
        self.ranges.append((start, end))
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            for _ in range(3):
                await asyncio.sleep(0)
            planted = self.before_range.pop(number, None)
            if planted is not None:
                await planted()  # type: ignore[operator]
            return await super().read_range(
                key, start=start, end=end, conditions=conditions, into=into
            )
        finally:
            self.in_flight -= 1


DATA = bytes(range(256)) * 41  # 10,496 bytes


@pytest.mark.parametrize(
    "rng", [None, (0, None), (5, None), (0, 1000), (1000, 5000), (4000, 99_999)]
)
async def test_parallel_download_and_download_into(rng: tuple[int, int | None] | None) -> None:
    driver = Counting(part=1000, concurrency=3)
    store = BlobStore(driver)
    await store.upload("k", DATA)
    start, end = (0, None) if rng is None else rng
    expected = DATA[start:end]
    assert await store.download("k", range=rng) == expected
    assert driver.most <= 3
    buffer = bytearray(len(DATA))
    n = await store.download_into("k", buffer, range=rng)
    assert n == len(expected)
    assert bytes(buffer[:n]) == expected
    assert driver.most <= 3


async def test_parallel_read_asks_each_range_once_and_uses_the_concurrency() -> None:
    driver = Counting(part=1000, concurrency=4)
    store = BlobStore(driver)
    await store.upload("k", DATA)
    buffer = bytearray(len(DATA))
    assert await store.download_into("k", buffer) == len(DATA)
    assert sorted(driver.ranges) == [(a, min(a + 1000, len(DATA))) for a in range(0, 10_496, 1000)]
    assert driver.most == 4


async def test_a_small_object_is_one_ranged_read() -> None:
    driver = Counting(part=1 << 20, concurrency=4)
    store = BlobStore(driver)
    await store.upload("k", b"small")
    assert await store.download("k") == b"small"
    assert driver.ranges == [(0, 1 << 20)]


async def test_an_overwrite_midway_is_never_mixed_into_the_result() -> None:
    driver = Counting(part=1000, concurrency=2)
    store = BlobStore(driver, retry=RetryPolicy(attempts=1))
    await store.upload("k", DATA)

    async def overwrite() -> None:
        await driver.put(
            "k",
            UploadBody.from_data(b"y" * len(DATA)),
            content_type="a/b",
            metadata={},
            create_only=False,
        )

    driver.before_range[3] = overwrite
    with pytest.raises(StorageUnavailableError, match="replaced while it was read"):
        await store.download("k")


async def test_an_overwrite_midway_is_read_again_by_the_store_retry() -> None:
    driver = Counting(part=1000, concurrency=2)
    store = BlobStore(driver, retry=RetryPolicy(attempts=2, base_delay=0))
    await store.upload("k", DATA)

    async def overwrite() -> None:
        await driver.put(
            "k",
            UploadBody.from_data(b"y" * len(DATA)),
            content_type="a/b",
            metadata={},
            create_only=False,
        )

    driver.before_range[3] = overwrite
    buffer = bytearray(len(DATA))
    assert await store.download_into("k", buffer) == len(DATA)
    assert bytes(buffer) == b"y" * len(DATA)


async def test_parallel_read_into_a_small_buffer_is_refused_before_the_rest() -> None:
    driver = Counting(part=1000, concurrency=2)
    store = BlobStore(driver)
    await store.upload("k", DATA)
    with pytest.raises(Exception, match="buffer holds 100 bytes"):
        await store.download_into("k", bytearray(100))
    assert len(driver.ranges) == 1


async def test_parallel_read_keeps_the_caller_conditions() -> None:
    driver = Counting(part=1000, concurrency=2)
    store = BlobStore(driver)
    info = await store.upload("k", DATA)
    assert await store.download("k", if_match=info.etag) == DATA
    with pytest.raises(Exception, match="ETag"):
        await store.download("k", if_match='"nope"')


async def test_a_missing_key_is_not_found() -> None:
    store = BlobStore(Counting(part=1000, concurrency=2))
    with pytest.raises(BlobNotFoundError):
        await store.download("missing")
    with pytest.raises(BlobNotFoundError):
        await store.download_into("missing", bytearray(10))
