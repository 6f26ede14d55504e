"""A small string-keyed store of JSON values with optional TTL.

For sessions, feature flags and ephemeral state::

    from lexigram.storage.kv import InMemoryKVStorage, LocalStorage

    store = InMemoryKVStorage()
    await store.set("session:abc", {"user": "42"}, ttl=3600)
    value = await store.get("session:abc")

Backends: :class:`InMemoryKVStorage` (a dict, one process), :class:`LocalStorage`
(an append-only JSON-lines file: crash-safe, shared by several processes) and, from
other distributions, any backend of the entry-point group ``lexigram.storage.kv``
(``redis``: ``lexigram-storage-redis``). All follow :class:`KVStorageProtocol`;
:func:`create_kv_store` builds one from the ``kv:`` config section.
"""

from lexigram.storage.kv.backends import (
    KVBackendSpec,
    available_kv_backends,
    get_kv_backend,
    register_kv_backend,
    unregister_kv_backend,
)
from lexigram.storage.kv.config import KVConfig, validate_kv_config
from lexigram.storage.kv.factory import create_kv_store
from lexigram.storage.kv.local import (
    KVLogCorruptedError,
    KVLogRecoveryWarning,
    KVLogTruncatedError,
    LocalStorage,
    LogFormatError,
    RepairReport,
)
from lexigram.storage.kv.memory import InMemoryKVStorage
from lexigram.storage.kv.protocol import TTL, JSONValue, KVStorageProtocol

__all__ = [
    "TTL",
    "InMemoryKVStorage",
    "JSONValue",
    "KVBackendSpec",
    "KVConfig",
    "KVLogCorruptedError",
    "KVLogRecoveryWarning",
    "KVLogTruncatedError",
    "KVStorageProtocol",
    "LocalStorage",
    "LogFormatError",
    "RepairReport",
    "available_kv_backends",
    "create_kv_store",
    "get_kv_backend",
    "register_kv_backend",
    "unregister_kv_backend",
    "validate_kv_config",
]
