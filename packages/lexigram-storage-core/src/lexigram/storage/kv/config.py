"""``KVConfig``: the ``kv:`` section of the storage configuration.

Structured by cattrs with ``forbid_extra_keys`` like the rest of ``StorageConfig``;
what cattrs cannot check (``path`` required for the local backend, positive numbers)
is checked by :func:`validate_kv_config`, which :func:`create_kv_store` calls::

    storage:
      kv:
        backend: local          # or "memory" (the default)
        path: ./var/kv.jsonl    # required for "local"
        fsync: true
        sweep_interval: 1.0
        compact_min_bytes: 1048576
        compact_ratio: 2.0
"""

from __future__ import annotations

import math
from typing import Literal

import attrs

from lexigram.storage.errors import ConfigError

__all__ = ["KVConfig", "validate_kv_config"]


@attrs.define(frozen=True, kw_only=True)
class KVConfig:
    """Which KV backend to build and how.

    - ``backend``: ``"memory"`` (:class:`InMemoryKVStorage`, per process, lost on exit)
      or ``"local"`` (:class:`LocalStorage`, a file that survives restarts and crashes
      and may be shared by several processes on one machine).
    - ``path``: the log file of the local backend (``~`` is expanded; the directory is
      created if missing); required for ``"local"``, ignored by ``"memory"``.
    - ``fsync``: local only; ``fdatasync`` every commit so acknowledged writes survive a
      power cut, not just a crash of the process.
    - ``sweep_interval``: seconds between background sweeps that reclaim expired keys.
    - ``compact_min_bytes`` / ``compact_ratio``: local only; rewrite the log once it is
      at least ``compact_min_bytes`` long and over ``compact_ratio`` times its live data.
    """

    backend: Literal["memory", "local"] = "memory"  # other backends: their own config class
    path: str | None = None
    fsync: bool = True
    sweep_interval: float = 1.0
    compact_min_bytes: int = 1 << 20
    compact_ratio: float = 2.0


def validate_kv_config(config: KVConfig, *, where: str = "$.storage.kv") -> None:
    """Raise :class:`ConfigError` naming the path of the first invalid setting."""
    if config.backend not in ("memory", "local"):
        raise ConfigError(
            f"unknown KV backend {config.backend!r} @ {where}.backend: use 'memory' or 'local'"
        )
    if config.backend == "local" and not config.path:
        raise ConfigError(
            f"the local KV backend needs a file path @ {where}.path: set it to where the "
            "store's log file should live, e.g. path: ./var/kv.jsonl "
            "(or use backend: memory)"
        )
    if not (math.isfinite(config.sweep_interval) and config.sweep_interval > 0):
        raise ConfigError(
            f"sweep_interval must be a positive number of seconds, got "
            f"{config.sweep_interval!r} @ {where}.sweep_interval: e.g. 1.0"
        )
    if config.compact_min_bytes < 0:
        raise ConfigError(
            f"compact_min_bytes must be 0 or more, got {config.compact_min_bytes!r} "
            f"@ {where}.compact_min_bytes: e.g. 1048576"
        )
    if not (math.isfinite(config.compact_ratio) and config.compact_ratio > 1):
        raise ConfigError(
            f"compact_ratio must be a number greater than 1, got {config.compact_ratio!r} "
            f"@ {where}.compact_ratio: e.g. 2.0"
        )
