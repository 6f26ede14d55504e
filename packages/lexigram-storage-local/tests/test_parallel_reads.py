"""download_into on local disk: the core's parallel ranged reads over ``read_range``,
each range read straight into the caller's buffer (``preadv``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lexigram.storage import BlobStore
from lexigram.storage.conditions import Conditions
from lexigram.storage.errors import StorageUnavailableError
from lexigram.storage.local.config import StorageLocalConfig
from lexigram.storage.local.driver import LocalDriver
from lexigram.storage.retry import RetryPolicy
from lexigram.storage.transfer import RangeRead

PART = 64 * 1024


class Recording(LocalDriver):
    """The local driver with small parts, its ranged reads recorded."""

    read_part_size = PART
    read_concurrency = 3

    def __init__(self, config: StorageLocalConfig) -> None:
        super().__init__(config)
        self.ranges: list[tuple[int, int, bool]] = []  # start, end, read in place
        self.before: dict[int, object] = {}  # call number -> run first
        self.calls = 0

    async def read_range(
        self,
        key: str,
        *,
        start: int,
        end: int,
        conditions: Conditions | None = None,
        into: memoryview | None = None,
    ) -> RangeRead:
        number = self.calls
        self.calls += 1
        planted = self.before.pop(number, None)
        if planted is not None:
            planted()  # type: ignore[operator]
        got = await super().read_range(key, start=start, end=end, conditions=conditions, into=into)
        in_place = (
            into is not None and isinstance(got.data, memoryview) and got.data.obj is into.obj
        )
        self.ranges.append((start, end, in_place))
        return got


@pytest.mark.parametrize("rng", [None, (1000, None), (5, 200_001), (PART, 3 * PART)])
async def test_download_into_reads_ranges_in_place(
    config: StorageLocalConfig, rng: tuple[int, int | None] | None
) -> None:
    driver = Recording(config)
    store = BlobStore(driver)
    data = os.urandom(5 * PART + 123)
    await store.upload("big.bin", data)
    start, end = (0, None) if rng is None else rng
    buffer = bytearray(len(data) + 10)
    n = await store.download_into("big.bin", buffer, range=rng)
    assert bytes(buffer[:n]) == data[start:end]
    assert len(driver.ranges) > 1
    assert all(in_place for _, _, in_place in driver.ranges)  # no copy of any range
    await store.close()


async def test_a_file_replaced_midway_is_read_again_not_mixed(
    config: StorageLocalConfig,
) -> None:
    driver = Recording(config)
    store = BlobStore(driver, retry=RetryPolicy(attempts=1))
    old, new = b"a" * (4 * PART), b"b" * (4 * PART)
    await store.upload("big.bin", old)
    target = Path(driver.files.root) / "big.bin"

    def replace() -> None:
        spare = target.with_name("spare")
        spare.write_bytes(new)
        os.replace(spare, target)

    driver.before[2] = replace
    with pytest.raises(StorageUnavailableError, match="replaced while it was read"):
        await store.download_into("big.bin", bytearray(len(old)))
    await store.close()
