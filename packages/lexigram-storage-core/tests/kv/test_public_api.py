"""``__all__`` is the public surface of ``lexigram.storage.kv``."""

from __future__ import annotations

import lexigram.storage.kv as kv


def test_all_is_the_public_surface() -> None:
    public = {name for name in vars(kv) if not name.startswith("_")}
    modules = {"config", "expiry", "factory", "local", "memory", "protocol", "sweeper"}
    modules |= {"validation", "backends"}
    assert set(kv.__all__) == public - modules
    assert sorted(kv.__all__) == sorted(set(kv.__all__))
    for name in [
        "KVStorageProtocol",
        "InMemoryKVStorage",
        "LocalStorage",
        "KVConfig",
        "create_kv_store",
    ]:
        assert name in kv.__all__


def test_both_backends_satisfy_the_protocol() -> None:
    assert isinstance(kv.InMemoryKVStorage(), kv.KVStorageProtocol)
    assert isinstance(kv.LocalStorage("unused.jsonl"), kv.KVStorageProtocol)


def test_conformance_class_is_exported_by_the_testing_kit() -> None:
    from lexigram.storage.testing import KVStoreConformance
    from lexigram.storage.testing.kv import KVStoreConformance as direct

    assert KVStoreConformance is direct
