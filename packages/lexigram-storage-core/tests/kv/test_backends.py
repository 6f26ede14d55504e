"""KV backends as plugins: core's own, registered ones, missing ones."""

from __future__ import annotations

from collections.abc import Iterator

import attrs
import pytest

from lexigram.storage.config.model import StorageConfig
from lexigram.storage.errors import ConfigError, DriverNotFoundError
from lexigram.storage.kv import (
    InMemoryKVStorage,
    KVBackendSpec,
    KVConfig,
    LocalStorage,
    available_kv_backends,
    create_kv_store,
    get_kv_backend,
    register_kv_backend,
    unregister_kv_backend,
)
from lexigram.storage.kv.backends import _REGISTRY


@attrs.define(frozen=True, kw_only=True)
class ToyConfig:
    backend: str = "toy"
    size: int = 1


def _validate_toy(config: ToyConfig, where: str) -> None:
    if config.size < 1:
        raise ConfigError(f"size must be 1 or more @ {where}.size")


TOY = KVBackendSpec(
    name="toy",
    config_type=ToyConfig,
    distribution="toy-dist",
    create=lambda config: InMemoryKVStorage(sweep_interval=config.size),
    validate=_validate_toy,
)


@pytest.fixture
def toy() -> Iterator[KVBackendSpec]:
    register_kv_backend(TOY)
    yield TOY
    unregister_kv_backend("toy")


def test_core_backends_are_there() -> None:
    assert {"memory", "local"} <= set(available_kv_backends())
    assert get_kv_backend("memory").config_type is KVConfig
    assert isinstance(create_kv_store(KVConfig()), InMemoryKVStorage)
    local = create_kv_store({"backend": "local", "path": "kv.jsonl"})
    assert isinstance(local, LocalStorage)


def test_a_registered_backend_is_configured_by_its_own_class(toy: KVBackendSpec) -> None:
    config = StorageConfig.from_dict({"kv": {"backend": "toy", "size": 3}})
    assert config.kv == ToyConfig(size=3)
    assert "toy" in available_kv_backends()
    with pytest.raises(ConfigError, match=r"\$\.storage\.kv\.size"):
        StorageConfig.from_dict({"kv": {"backend": "toy", "size": 0}})
    with pytest.raises(ConfigError, match="path"):
        StorageConfig.from_dict({"kv": {"backend": "toy", "path": "x"}})


def test_registering_twice_or_the_wrong_type_is_refused(toy: KVBackendSpec) -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_kv_backend(TOY)
    with pytest.raises(TypeError, match="KVBackendSpec"):
        register_kv_backend(object())  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["redis", "nosuch"])
def test_a_missing_backend_says_what_to_install(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_REGISTRY, "_find", dict)
    monkeypatch.setattr(_REGISTRY, "_loaded", {})
    with pytest.raises(DriverNotFoundError) as caught:
        StorageConfig.from_dict({"kv": {"backend": name}})
    message = str(caught.value)
    assert f"No KV backend named {name!r}" in message
    assert "$.storage.kv.backend" in message
    assert "local, memory" in message
    if name == "redis":
        assert "pip install lexigram-storage-redis" in message
    else:
        assert "lexigram.storage.kv" in message


def test_a_kv_config_object_of_the_wrong_class_is_refused(toy: KVBackendSpec) -> None:
    @attrs.define(frozen=True)
    class Other:
        backend: str = "toy"

    with pytest.raises(ConfigError, match="ToyConfig"):
        create_kv_store(Other())
