"""``__all__`` is the public surface; the entry-point module stays light."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

MODULES = {
    "lexigram.storage.redis": {"KV_BACKEND", "RedisKVConfig", "create_store"},
    "lexigram.storage.redis.store": {"RedisKVStorage"},
    "lexigram.storage.redis.config": {
        "RedisKVConfig",
        "redact_url",
        "url_secrets",
        "validate_config",
    },
    "lexigram.storage.redis.errors": {"TRANSIENT", "translate"},
}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_all(name: str) -> None:
    assert set(importlib.import_module(name).__all__) == MODULES[name]


def test_the_entry_point_module_does_not_import_the_client() -> None:
    code = (
        "import sys, lexigram.storage.redis; "
        "print('redis.asyncio' in sys.modules, 'lexigram.storage.redis.store' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["False", "False"]


def test_the_store_satisfies_the_protocol() -> None:
    from lexigram.storage.kv import KVStorageProtocol
    from lexigram.storage.redis.store import RedisKVStorage

    assert isinstance(RedisKVStorage("redis://127.0.0.1:1/0"), KVStorageProtocol)
