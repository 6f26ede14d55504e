"""Configuration: :class:`StorageConfig`, structured from dicts or YAML with cattrs."""

from lexigram.storage.config.converter import structure_at, structure_value
from lexigram.storage.config.fields import (
    FileMode,
    connection_string_parts,
    secret_field,
    secret_values,
)
from lexigram.storage.config.interpolate import interpolate
from lexigram.storage.config.model import BackendConfig, StorageConfig

__all__ = [
    "BackendConfig",
    "FileMode",
    "StorageConfig",
    "connection_string_parts",
    "interpolate",
    "secret_field",
    "secret_values",
    "structure_at",
    "structure_value",
]
