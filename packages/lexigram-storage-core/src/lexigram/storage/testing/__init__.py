"""Public conformance kits for driver authors (needs the ``testing`` extra: pytest,
pytest-asyncio): :class:`BlobStoreConformance` and :class:`KVStoreConformance`."""

from lexigram.storage.testing.blob import INVALID_KEYS, UNUSUAL_KEYS, BlobStoreConformance
from lexigram.storage.testing.kv import KVStoreConformance

__all__ = ["INVALID_KEYS", "UNUSUAL_KEYS", "BlobStoreConformance", "KVStoreConformance"]
