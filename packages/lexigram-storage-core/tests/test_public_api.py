"""``__all__`` is the public surface, and the namespace line comes first."""

from __future__ import annotations

import ast
import importlib
import types
from pathlib import Path

import pytest

import lexigram.storage

MODULES = [
    "lexigram.storage",
    "lexigram.storage.errors",
    "lexigram.storage.keys",
    "lexigram.storage.info",
    "lexigram.storage.body",
    "lexigram.storage.driver",
    "lexigram.storage.store",
    "lexigram.storage.protocol",
    "lexigram.storage.registry",
    "lexigram.storage.config",
    "lexigram.storage.provider",
    "lexigram.storage.memory",
    "lexigram.storage.testing",
    "lexigram.storage.kv",
    "lexigram.storage.urls",
    "lexigram.storage.prefixed",
    "lexigram.storage.sync",
    "lexigram.storage.sync.runner",
    "lexigram.storage.sync.mirror",
    "lexigram.storage.sync.store",
    "lexigram.storage.sync.provider",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_the_public_surface(name: str) -> None:
    module = importlib.import_module(name)
    exported = set(module.__all__)
    for item in exported:
        assert hasattr(module, item), f"{name}.__all__ names {item} which does not exist"
    # Every public class and function defined in the module is exported.
    defined_here = {
        k
        for k, v in vars(module).items()
        if not k.startswith("_")
        and isinstance(v, type | types.FunctionType)
        and v.__module__ == name
    }
    assert defined_here <= exported, f"{name}: public but not in __all__: {defined_here - exported}"


def test_everything_documented_is_importable_from_the_root() -> None:
    from lexigram.storage import (  # noqa: F401
        BlobExistsError,
        BlobNotFoundError,
        BlobStoreProtocol,
        ConfigError,
        DriverNotFoundError,
        InvalidKeyError,
        NotSupportedError,
        PermissionDeniedError,
        PreconditionFailedError,
        StorageConfig,
        StorageError,
        StorageProvider,
        StorageUnavailableError,
    )


def test_extend_path_is_the_first_statement() -> None:
    source = Path(lexigram.storage.__file__).read_text()
    first = ast.parse(source).body[0]
    assert ast.unparse(first) == "__path__ = __import__('pkgutil').extend_path(__path__, __name__)"


def test_blob_store_satisfies_the_protocol() -> None:
    from lexigram.storage import BlobStore, BlobStoreProtocol
    from lexigram.storage.memory import MemoryDriver

    assert isinstance(BlobStore(MemoryDriver()), BlobStoreProtocol)
