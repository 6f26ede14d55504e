"""KV backends as plugins: the entry-point group ``lexigram.storage.kv``.

A backend is a :class:`KVBackendSpec`: its name (the ``backend:`` of the ``kv:`` config
section), its config class (an attrs class with a ``backend`` field, structured from the
section like a driver's settings), the distribution that ships it, and a factory that
builds a store from a config. A distribution publishes it like a storage driver::

    [project.entry-points."lexigram.storage.kv"]
    redis = "lexigram.storage.redis:KV_BACKEND"

Core ships ``memory`` and ``local`` (both configured by :class:`KVConfig`). A backend
that is not installed raises :class:`~lexigram.storage.errors.DriverNotFoundError` naming
the distribution to install (``redis``: ``lexigram-storage-redis``). Discovery and loading
are :class:`~lexigram.storage.plugins.PluginRegistry`'s, shared with the storage drivers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from lexigram.storage.errors import ConfigError, DriverNotFoundError
from lexigram.storage.kv.config import KVConfig, validate_kv_config
from lexigram.storage.kv.protocol import KVStorageProtocol
from lexigram.storage.plugins import PluginRegistry

__all__ = [
    "KV_ENTRY_POINT_GROUP",
    "KV_KNOWN_DISTRIBUTIONS",
    "LOCAL",
    "MEMORY",
    "KVBackendSpec",
    "available_kv_backends",
    "get_kv_backend",
    "register_kv_backend",
    "structure_kv_config",
    "unregister_kv_backend",
]

KV_ENTRY_POINT_GROUP = "lexigram.storage.kv"

#: where the well-known KV backends live, and the extra of ``lexigram-storage-kit``.
KV_KNOWN_DISTRIBUTIONS: dict[str, tuple[str, str]] = {
    "memory": ("lexigram-storage-core", ""),
    "local": ("lexigram-storage-core", ""),
    "redis": ("lexigram-storage-redis", "redis"),
}


@attrs.frozen(kw_only=True)
class KVBackendSpec:
    """One KV backend: ``name``, ``config_type``, ``distribution`` and ``create``.

    ``create(config)`` returns a new, not yet connected store; ``validate(config,
    where)`` (optional) raises :class:`ConfigError` naming the config path of a bad
    setting. ``config_type`` must have a ``backend`` field.
    """

    name: str
    config_type: type[Any]
    distribution: str
    create: Callable[[Any], KVStorageProtocol]
    validate: Callable[[Any, str], None] | None = None


def _create_memory(config: KVConfig) -> KVStorageProtocol:
    from lexigram.storage.kv.memory import InMemoryKVStorage

    return InMemoryKVStorage(sweep_interval=config.sweep_interval)


def _create_local(config: KVConfig) -> KVStorageProtocol:
    from lexigram.storage.kv.local import LocalStorage

    assert config.path is not None
    return LocalStorage(
        config.path,
        fsync=config.fsync,
        compact_min_bytes=config.compact_min_bytes,
        compact_ratio=config.compact_ratio,
        sweep_interval=config.sweep_interval,
    )


def _validate_core(config: KVConfig, where: str) -> None:
    validate_kv_config(config, where=where)


MEMORY = KVBackendSpec(
    name="memory",
    config_type=KVConfig,
    distribution="lexigram-storage-core",
    create=_create_memory,
    validate=_validate_core,
)
LOCAL = KVBackendSpec(
    name="local",
    config_type=KVConfig,
    distribution="lexigram-storage-core",
    create=_create_local,
    validate=_validate_core,
)
_REGISTRY: PluginRegistry[KVBackendSpec] = PluginRegistry(
    KV_ENTRY_POINT_GROUP,
    KVBackendSpec,
    kind="KV backend",
    known=KV_KNOWN_DISTRIBUTIONS,
    register_call="register_kv_backend()",
)
# Core's own backends are also published as entry points (pyproject.toml); registering
# them here keeps them available where core's metadata was not (re)installed.
_REGISTRY.register(MEMORY)
_REGISTRY.register(LOCAL)


def register_kv_backend(spec: KVBackendSpec, *, replace: bool = False) -> None:
    """Register a KV backend in this process without packaging it (apps and tests)."""
    _REGISTRY.register(spec, replace=replace)


def unregister_kv_backend(name: str) -> None:
    """Undo :func:`register_kv_backend`."""
    _REGISTRY.unregister(name)


def available_kv_backends() -> list[str]:
    """Names of every installed or registered KV backend, sorted."""
    return _REGISTRY.available()


def get_kv_backend(name: str) -> KVBackendSpec:
    """The :class:`KVBackendSpec` called ``name``; ``DriverNotFoundError`` if missing."""
    return _REGISTRY.get(name)


def _backend_at(name: str, where: str) -> KVBackendSpec:
    try:
        return get_kv_backend(name)
    except DriverNotFoundError as exc:
        raise DriverNotFoundError(f"{exc} @ {where}.backend") from exc.__cause__


def structure_kv_config(data: Any, where: str = "$.storage.kv") -> Any:
    """Structure and validate the ``kv:`` section with its backend's config class.

    ``data`` is a mapping (``backend`` defaults to ``memory``) or an already built config
    object. Raises :class:`ConfigError` naming the path of a bad setting, and
    :class:`DriverNotFoundError` naming the distribution of a backend not installed.
    """
    from lexigram.storage.config.converter import structure_at

    if isinstance(data, Mapping):
        name = data.get("backend", "memory")
        if not isinstance(name, str) or not name:
            raise ConfigError(
                f"backend must be the name of a KV backend @ {where}.backend: e.g. "
                "'memory', 'local' or 'redis'"
            )
        spec = _backend_at(name, where)
        config = structure_at(dict(data), spec.config_type, where)
    else:
        name = getattr(data, "backend", None)
        if not isinstance(name, str):
            raise ConfigError(
                f"the kv section must be a mapping or a KV config object, got "
                f"{type(data).__name__} @ {where}"
            )
        spec = _backend_at(name, where)
        if not isinstance(data, spec.config_type):
            raise ConfigError(
                f"the kv section is a {type(data).__name__}, but backend {name!r} is "
                f"configured by {spec.config_type.__name__} @ {where}"
            )
        config = data
    if spec.validate is not None:
        spec.validate(config, where)
    return config
