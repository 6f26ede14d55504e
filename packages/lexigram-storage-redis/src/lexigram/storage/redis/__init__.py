"""The Redis / Valkey KV backend, registered as ``redis`` by lexigram-storage-redis.

Light on purpose: the entry point imports this module at config time, so it holds the
:data:`KV_BACKEND` spec and the config class only; ``redis.asyncio`` is imported when a
store is first created.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lexigram.storage.kv.backends import KVBackendSpec
from lexigram.storage.redis.config import RedisKVConfig, validate_config

if TYPE_CHECKING:
    from lexigram.storage.redis.store import RedisKVStorage

__all__ = ["KV_BACKEND", "RedisKVConfig", "create_store"]


def create_store(config: RedisKVConfig) -> RedisKVStorage:
    """Build a :class:`~lexigram.storage.redis.store.RedisKVStorage` (connects lazily)."""
    from lexigram.storage.redis.store import RedisKVStorage

    return RedisKVStorage.from_config(config)


KV_BACKEND = KVBackendSpec(
    name="redis",
    config_type=RedisKVConfig,
    distribution="lexigram-storage-redis",
    create=create_store,
    validate=validate_config,
)
