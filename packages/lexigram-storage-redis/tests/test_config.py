"""The ``kv:`` section with ``backend: redis``: structured, validated, built, redacted."""

from __future__ import annotations

import pytest

from lexigram.storage.config.model import StorageConfig
from lexigram.storage.errors import ConfigError, DriverNotFoundError
from lexigram.storage.kv import create_kv_store, get_kv_backend
from lexigram.storage.kv.backends import _REGISTRY
from lexigram.storage.redis import KV_BACKEND, RedisKVConfig
from lexigram.storage.redis.store import RedisKVStorage

SECRET = "hunter2-redis-canary"


def test_the_entry_point_names_the_backend() -> None:
    assert get_kv_backend("redis") is KV_BACKEND
    assert KV_BACKEND.distribution == "lexigram-storage-redis"
    assert KV_BACKEND.config_type is RedisKVConfig


async def test_the_kv_section_builds_a_working_redis_store(redis_url: str, prefix: str) -> None:
    config = StorageConfig.from_dict(
        {"kv": {"backend": "redis", "url": redis_url, "prefix": prefix, "socket_timeout": 2}}
    )
    assert isinstance(config.kv, RedisKVConfig)
    assert config.kv.prefix == prefix
    store = create_kv_store(config.kv)
    assert isinstance(store, RedisKVStorage)
    async with store:
        await store.set("k", {"v": 1})
        assert await store.get("k") == {"v": 1}


def test_existing_kv_configs_keep_working() -> None:
    from lexigram.storage.kv import KVConfig

    assert StorageConfig.from_dict({"kv": {}}).kv == KVConfig()
    local = StorageConfig.from_dict({"kv": {"backend": "local", "path": "x.jsonl"}}).kv
    assert local == KVConfig(backend="local", path="x.jsonl")


@pytest.mark.parametrize(
    ("settings", "where"),
    [
        ({"url": "http://127.0.0.1:6379"}, "$.storage.kv.url"),
        ({"url": "redis://"}, "$.storage.kv.url"),
        ({"url": "redis://127.0.0.1:6379/x"}, "$.storage.kv.url"),
        ({"socket_timeout": 0}, "$.storage.kv.socket_timeout"),
        ({"connect_timeout": -1}, "$.storage.kv.connect_timeout"),
        ({"max_connections": 0}, "$.storage.kv.max_connections"),
        ({"ssl_ca_file": "/ca.pem"}, "$.storage.kv.ssl_ca_file"),
        ({"path": "x.jsonl"}, "(path) @ $.storage.kv"),
        ({"prefix": 3}, "$.storage.kv.prefix"),
    ],
)
def test_bad_settings_name_their_path(settings: dict[str, object], where: str) -> None:
    with pytest.raises(ConfigError) as caught:
        StorageConfig.from_dict({"kv": {"backend": "redis", **settings}})
    assert where in str(caught.value)


def test_secrets_never_show_in_reprs_or_config_errors() -> None:
    url = f"redis://alice:{SECRET}@127.0.0.1:6379/0"
    config = StorageConfig.from_dict(
        {"kv": {"backend": "redis", "url": url, "username": "alice", "password": SECRET}}
    )
    assert SECRET not in repr(config)
    assert SECRET not in repr(config.kv)
    assert SECRET not in repr(create_kv_store(config.kv))
    with pytest.raises(ConfigError) as caught:
        StorageConfig.from_dict(
            {"kv": {"backend": "redis", "url": f"http://u:{SECRET}@h", "password": SECRET}}
        )
    assert SECRET not in str(caught.value)


def test_rediss_urls_use_tls_with_the_given_ca() -> None:
    store = create_kv_store(
        {"backend": "redis", "url": "rediss://127.0.0.1:6380/0", "ssl_ca_file": "/ca.pem"}
    )
    assert isinstance(store, RedisKVStorage)
    kwargs = store._pool.connection_kwargs
    assert store._pool.connection_class.__name__ == "SSLConnection"
    assert kwargs["ssl_ca_certs"] == "/ca.pem"


def test_a_missing_backend_names_the_distribution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_REGISTRY, "_find", dict)
    monkeypatch.setattr(_REGISTRY, "_loaded", {})
    with pytest.raises(DriverNotFoundError) as caught:
        StorageConfig.from_dict({"kv": {"backend": "redis", "url": "redis://127.0.0.1"}})
    message = str(caught.value)
    assert "pip install lexigram-storage-redis" in message
    assert "lexigram-storage-kit[redis]" in message
    assert "$.storage.kv.backend" in message
