"""Public test kits for driver authors (needs the ``testing`` extra: pytest,
pytest-asyncio): the conformance suites :class:`BlobStoreConformance` and
:class:`KVStoreConformance`; ``lexigram.storage.testing.servers`` to run a real protocol
server on 127.0.0.1; ``lexigram.storage.testing.faults`` to put a fault-injecting proxy
between a driver and that server."""

from lexigram.storage.testing.blob import INVALID_KEYS, UNUSUAL_KEYS, BlobStoreConformance
from lexigram.storage.testing.kv import KVStoreConformance

__all__ = ["INVALID_KEYS", "UNUSUAL_KEYS", "BlobStoreConformance", "KVStoreConformance"]
