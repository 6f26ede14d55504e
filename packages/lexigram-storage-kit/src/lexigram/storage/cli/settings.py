"""Which configuration the command line uses.

``--config PATH``, else ``./lexigram-storage.yaml``, else ``$LEXIGRAM_STORAGE_CONFIG``,
else the zero-config default: one ``local`` backend under ``./storage/data`` and a local
KV store in ``./storage/kv.jsonl``, so the tool works on a fresh machine, no account.
"""

from __future__ import annotations

import os
from pathlib import Path

from lexigram.storage import ConfigError, StorageConfig

__all__ = [
    "DEFAULT_CONFIG_FILE",
    "ENV_VAR",
    "ZERO_CONFIG",
    "ZERO_CONFIG_SOURCE",
    "load_config",
    "zero_config_exists",
]

DEFAULT_CONFIG_FILE = "lexigram-storage.yaml"
ENV_VAR = "LEXIGRAM_STORAGE_CONFIG"
ZERO_CONFIG = {
    "default_driver": "local",
    "drivers": {"local": {"root_dir": "./storage/data"}},
    "kv": {"backend": "local", "path": "./storage/kv.jsonl"},
}
ZERO_CONFIG_SOURCE = "zero-config default (./storage/data)"


def zero_config_exists() -> bool:
    """Whether the zero-config store was made here already (by a write)."""
    return Path("storage/data").exists() or Path("storage/kv.jsonl").exists()


def load_config(path: str | None) -> tuple[StorageConfig, str]:
    """The config and a description of where it came from."""
    if path is not None:
        return StorageConfig.from_yaml(path), path
    if Path(DEFAULT_CONFIG_FILE).is_file():
        return StorageConfig.from_yaml(DEFAULT_CONFIG_FILE), DEFAULT_CONFIG_FILE
    from_env = os.environ.get(ENV_VAR)
    if from_env:
        if not Path(from_env).is_file():
            raise ConfigError(f"${ENV_VAR} names {from_env!r}, which is not a file")
        return StorageConfig.from_yaml(from_env), f"${ENV_VAR} ({from_env})"
    return StorageConfig.from_dict(ZERO_CONFIG), ZERO_CONFIG_SOURCE
