"""The provider creates stores off the event loop: ``async with provider`` and
``health_check()`` build every backend's driver (which imports its SDK) in a worker
thread. Planted: a driver whose factory records the thread it runs in."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import attrs
import pytest

from lexigram.storage import ConfigError, DriverSpec, StorageConfig, StorageProvider
from lexigram.storage.driver import BlobDriver
from lexigram.storage.errors import DriverNotFoundError
from lexigram.storage.memory import MemoryDriver
from lexigram.storage.registry import register_driver, unregister_driver


@attrs.define(frozen=True, kw_only=True)
class PlantedConfig:
    fail: bool = False


BUILT_IN: list[int] = []


def _build(config: PlantedConfig) -> BlobDriver:
    BUILT_IN.append(threading.get_ident())
    if config.fail:
        raise DriverNotFoundError("planted: this driver cannot be built")
    return MemoryDriver()


@pytest.fixture(autouse=True)
def planted() -> Iterator[None]:
    BUILT_IN.clear()
    register_driver(
        DriverSpec(name="planted", config_class=PlantedConfig, factory=_build, distribution="t"),
        replace=True,
    )
    yield
    unregister_driver("planted")


def config(*, broken: bool = False) -> StorageConfig:
    backends: list[dict[str, object]] = [
        {"name": "a", "primary": True, "driver": "planted", "planted": {}},
        {"name": "b", "driver": "planted", "planted": {}},
    ]
    if broken:
        backends.append({"name": "broken", "driver": "planted", "planted": {"fail": True}})
    return StorageConfig.from_dict({"backends": backends})


async def test_async_with_creates_every_store_in_a_worker_thread() -> None:
    loop_thread = threading.get_ident()
    async with StorageProvider(config()) as provider:
        assert len(BUILT_IN) == 2 and loop_thread not in BUILT_IN
        a = provider.store("a")
        assert provider.store() is a and provider.store("b") is not a
        await a.upload("k", b"v")
        assert await provider.store().download("k") == b"v"
        assert len(BUILT_IN) == 2  # store() only looked them up


async def test_health_check_creates_the_stores_in_a_worker_thread() -> None:
    loop_thread = threading.get_ident()
    provider = StorageProvider(config())
    health = await provider.health_check()
    assert set(health) == {"a", "b"} and all(h.healthy for h in health.values())
    assert len(BUILT_IN) == 2 and loop_thread not in BUILT_IN
    await provider.aclose()


async def test_a_backend_that_cannot_be_created_fails_where_it_is_used() -> None:
    async with StorageProvider(config(broken=True)) as provider:
        assert await provider.store("a").exists("k") is False
        with pytest.raises(DriverNotFoundError, match="planted: this driver cannot be built"):
            provider.store("broken")
        with pytest.raises(ConfigError):
            provider.store("nope")
