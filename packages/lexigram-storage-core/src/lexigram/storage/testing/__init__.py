"""Public test kits for driver authors (needs the ``testing`` extra: pytest,
pytest-asyncio): the conformance suites :class:`BlobStoreConformance` and
:class:`KVStoreConformance`; ``lexigram.storage.testing.servers`` to run a real protocol
server on 127.0.0.1; ``lexigram.storage.testing.faults`` to put a fault-injecting proxy
between a driver and that server.

The suites are imported when first used (PEP 562 ``__getattr__``), so the server
launchers (``servers``) and the fault proxy (``faults``) import without pytest: the
benchmarks use them in an environment without the test extra.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lexigram.storage.testing.blob import INVALID_KEYS, UNUSUAL_KEYS, BlobStoreConformance
    from lexigram.storage.testing.kv import KVStoreConformance

__all__ = ["INVALID_KEYS", "UNUSUAL_KEYS", "BlobStoreConformance", "KVStoreConformance"]

_WHERE = {
    "INVALID_KEYS": "lexigram.storage.testing.blob",
    "UNUSUAL_KEYS": "lexigram.storage.testing.blob",
    "BlobStoreConformance": "lexigram.storage.testing.blob",
    "KVStoreConformance": "lexigram.storage.testing.kv",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once imported, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
