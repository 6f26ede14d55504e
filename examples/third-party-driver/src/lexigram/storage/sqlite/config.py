"""Settings: ``drivers: {sqlite: {path: ./blobs.sqlite3}}``."""

from __future__ import annotations

import attrs

__all__ = ["StorageSQLiteConfig"]


@attrs.define(frozen=True, kw_only=True)
class StorageSQLiteConfig:
    #: the database file (created if missing); ":memory:" for a private in-memory one.
    path: str
    #: seconds to wait for another connection's lock.
    busy_timeout: float = 5.0
