"""The blocking API: ``SyncStorageProvider`` and ``SyncBlobStore`` for code without an
event loop (scripts, WSGI apps, worker threads). Imported only when used."""

from lexigram.storage.sync.provider import SyncStorageProvider, open_store
from lexigram.storage.sync.store import SyncBlobStore, SyncKVStore

__all__ = ["SyncBlobStore", "SyncKVStore", "SyncStorageProvider", "open_store"]
