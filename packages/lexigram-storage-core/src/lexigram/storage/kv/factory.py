"""``create_kv_store``: build the backend a :class:`KVConfig` describes."""

from __future__ import annotations

from lexigram.storage.kv.config import KVConfig, validate_kv_config
from lexigram.storage.kv.local import LocalStorage
from lexigram.storage.kv.memory import InMemoryKVStorage
from lexigram.storage.kv.protocol import KVStorageProtocol

__all__ = ["create_kv_store"]


def create_kv_store(config: KVConfig, *, where: str = "$.storage.kv") -> KVStorageProtocol:
    """A new, not yet opened store for ``config``; raises ``ConfigError`` if it is invalid.

    ``where`` is the config path used in error messages.
    """
    validate_kv_config(config, where=where)
    if config.backend == "local":
        assert config.path is not None
        return LocalStorage(
            config.path,
            fsync=config.fsync,
            compact_min_bytes=config.compact_min_bytes,
            compact_ratio=config.compact_ratio,
            sweep_interval=config.sweep_interval,
        )
    return InMemoryKVStorage(sweep_interval=config.sweep_interval)
