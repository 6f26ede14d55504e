"""``create_kv_store``: build the backend a KV config describes."""

from __future__ import annotations

from typing import Any

from lexigram.storage.kv.backends import structure_kv_config
from lexigram.storage.kv.protocol import KVStorageProtocol

__all__ = ["create_kv_store"]


def create_kv_store(config: Any, *, where: str = "$.storage.kv") -> KVStorageProtocol:
    """A new, not yet opened store for ``config``; raises ``ConfigError`` if it is invalid.

    ``config`` is a :class:`KVConfig` (``memory``, ``local``), another backend's config
    object, or the ``kv:`` section as a mapping (``{"backend": "redis", ...}``). A backend
    that is not installed raises ``DriverNotFoundError`` naming its distribution.
    ``where`` is the config path used in error messages.
    """
    from lexigram.storage.kv.backends import get_kv_backend

    config = structure_kv_config(config, where)
    return get_kv_backend(config.backend).create(config)
