"""StorageProvider: default and named stores, health, lifecycle."""

from __future__ import annotations

import pytest

from lexigram.storage import ConfigError, StorageConfig, StorageProvider, StoreClosedError


def config() -> StorageConfig:
    return StorageConfig.from_dict(
        {
            "backends": [
                {"name": "avatars", "primary": True, "driver": "memory", "memory": {}},
                {"name": "exports", "driver": "memory", "memory": {}},
            ]
        }
    )


async def test_quick_start() -> None:
    provider = StorageProvider(
        config=StorageConfig(default_driver="memory", drivers={"memory": {}})
    )
    store = provider.store()
    info = await store.upload("avatars/42.jpg", b"\xff\xd8data", content_type="image/jpeg")
    assert info.size == 6 and info.content_type == "image/jpeg"
    assert await store.download("avatars/42.jpg") == b"\xff\xd8data"
    await provider.aclose()


async def test_named_stores_are_lazy_separate_and_reused() -> None:
    async with StorageProvider(config=config()) as provider:
        assert provider.store() is provider.store("avatars")
        assert provider.store("exports") is provider.store("exports")
        await provider.store("avatars").upload("k", b"a")
        assert not await provider.store("exports").exists("k")
        assert provider.store("exports").name == "exports"


async def test_unknown_backend_name() -> None:
    async with StorageProvider(config=config()) as provider:
        with pytest.raises(ConfigError, match=r"'nope'.*avatars, exports"):
            provider.store("nope")


async def test_health_check_maps_every_backend() -> None:
    async with StorageProvider(config=config()) as provider:
        health = await provider.health_check()
        assert set(health) == {"avatars", "exports"}
        assert all(status.healthy for status in health.values())


async def test_aclose_closes_every_store() -> None:
    provider = StorageProvider(config=config())
    store = provider.store("exports")
    await provider.aclose()
    await provider.aclose()
    assert store.closed
    with pytest.raises(StoreClosedError):
        await store.upload("k", b"x")
    with pytest.raises(StoreClosedError):
        provider.store()


async def test_kv_from_config() -> None:
    provider = StorageProvider(
        config=StorageConfig.from_dict({"drivers": {"memory": {}}, "kv": {"backend": "memory"}})
    )
    kv = provider.kv()
    await kv.set("session:1", {"user": "42"}, ttl=60)
    assert await kv.get("session:1") == {"user": "42"}
    assert provider.kv() is kv
    await provider.aclose()


def test_config_type_is_checked() -> None:
    with pytest.raises(ConfigError, match="StorageConfig"):
        StorageProvider(config={"drivers": {}})  # type: ignore[arg-type]
