"""KVConfig structuring and validation, and create_kv_store."""

from __future__ import annotations

from pathlib import Path

import cattrs
import pytest

from lexigram.storage.errors import ConfigError
from lexigram.storage.kv import (
    InMemoryKVStorage,
    KVConfig,
    LocalStorage,
    create_kv_store,
    validate_kv_config,
)


def _structure(data: dict[str, object]) -> KVConfig:
    return cattrs.Converter(forbid_extra_keys=True).structure(data, KVConfig)


def test_defaults_to_memory() -> None:
    config = _structure({})
    assert config == KVConfig(backend="memory", path=None)
    assert isinstance(create_kv_store(config), InMemoryKVStorage)


async def test_local_backend(tmp_path: Path) -> None:
    config = _structure(
        {
            "backend": "local",
            "path": str(tmp_path / "kv.jsonl"),
            "fsync": False,
            "compact_min_bytes": 1024,
            "compact_ratio": 3,
            "sweep_interval": 0.5,
        }
    )
    store = create_kv_store(config)
    assert isinstance(store, LocalStorage)
    async with store:
        await store.set("k", 1)
    assert (tmp_path / "kv.jsonl").exists()


def test_unknown_keys_and_backends_are_refused_by_cattrs() -> None:
    with pytest.raises(cattrs.BaseValidationError):
        _structure({"backend": "memory", "pth": "typo"})
    with pytest.raises(cattrs.BaseValidationError):
        _structure({"backend": "redis"})


def test_local_without_path_names_the_config_path() -> None:
    with pytest.raises(ConfigError, match=r"\$\.storage\.kv\.path") as info:
        create_kv_store(KVConfig(backend="local"))
    assert "set it" in str(info.value)
    with pytest.raises(ConfigError, match=r"\$\.x\.path"):
        validate_kv_config(KVConfig(backend="local", path=""), where="$.x")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("sweep_interval", 0),
        ("sweep_interval", float("nan")),
        ("compact_ratio", 1.0),
        ("compact_min_bytes", -1),
    ],
)
def test_bad_tuning_is_a_config_error(field: str, value: float) -> None:
    config = KVConfig(**{field: value})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=rf"\$\.storage\.kv\.{field}"):
        validate_kv_config(config)


def test_config_is_frozen() -> None:
    config = KVConfig()
    with pytest.raises(AttributeError):
        config.backend = "local"  # type: ignore[misc]


async def test_provider_builds_the_configured_store(tmp_path: Path) -> None:
    from lexigram.storage import StorageConfig, StorageProvider

    config = StorageConfig.from_dict(
        {
            "default_driver": "memory",
            "drivers": {"memory": {}},
            "kv": {"backend": "local", "path": str(tmp_path / "kv.jsonl"), "fsync": False},
        }
    )
    async with StorageProvider(config=config) as provider:
        store = provider.kv()
        assert isinstance(store, LocalStorage)
        assert provider.kv() is store
        await store.set("k", {"v": 1})
    async with StorageProvider(config=config) as provider:
        assert await provider.kv().get("k") == {"v": 1}


async def test_provider_without_kv_section_uses_memory() -> None:
    from lexigram.storage import StorageProvider

    async with StorageProvider() as provider:
        assert isinstance(provider.kv(), InMemoryKVStorage)


def test_kv_section_typos_are_config_errors() -> None:
    from lexigram.storage import StorageConfig

    with pytest.raises(ConfigError, match=r"\$\.storage\.kv"):
        StorageConfig.from_dict({"drivers": {"memory": {}}, "kv": {"bakend": "local"}})
