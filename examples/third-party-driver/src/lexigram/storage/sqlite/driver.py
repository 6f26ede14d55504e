"""SQLiteDriver: translates the driver SPI to SQL. The core does all the policy."""

from __future__ import annotations

import asyncio
import itertools
import json
import sqlite3
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any

from lexigram.storage import BlobDriver, BlobInfo, Capabilities, DriverError, ErrorCode, UploadBody
from lexigram.storage.sqlite.config import StorageSQLiteConfig

__all__ = ["SQLiteDriver"]

_COLUMNS = "key, length(data), content_type, metadata, modified, etag"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS blobs (
    key TEXT PRIMARY KEY,          -- BINARY collation: UTF-8 byte order = code point order
    data BLOB NOT NULL,
    content_type TEXT NOT NULL,
    metadata TEXT NOT NULL,
    modified REAL NOT NULL,
    etag TEXT NOT NULL
)
"""


class SQLiteDriver(BlobDriver):
    name = "sqlite"
    # What SQLite cannot do natively, the core emulates or refuses with NotSupportedError.
    capabilities = Capabilities(
        native_delimiter=False,  # the core rolls up common prefixes from a flat listing
        presign_methods=frozenset(),  # no URLs: get_presigned_url raises NotSupportedError
        native_urls=False,
    )

    def __init__(self, config: StorageSQLiteConfig) -> None:
        self.config = config
        self._db: sqlite3.Connection | None = None
        self._lock = asyncio.Lock()  # one connection, one statement at a time
        self._etags = itertools.count(1)

    @property
    def location(self) -> str:
        return f"database {self.config.path!r}"

    async def _call(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        async with self._lock:
            return await asyncio.to_thread(self._execute, sql, params)

    def _execute(self, sql: str, params: tuple[object, ...]) -> list[tuple[Any, ...]]:
        if self._db is None:
            self._db = sqlite3.connect(
                self.config.path, timeout=self.config.busy_timeout, check_same_thread=False
            )
            self._db.execute(_SCHEMA)
        with self._db:  # one transaction per statement
            return self._db.execute(sql, params).fetchall()

    async def put(
        self,
        key: str,
        body: UploadBody,
        *,
        content_type: str,
        metadata: Mapping[str, str],
        create_only: bool,
    ) -> BlobInfo:
        # read_all() is fine for an example; a production driver streams large bodies.
        data = await body.read_all()
        now = datetime.now(UTC)
        etag = f'"{next(self._etags):x}"'
        verb = "INSERT" if create_only else "INSERT OR REPLACE"
        try:
            await self._call(
                f"{verb} INTO blobs VALUES (?, ?, ?, ?, ?, ?)",
                (key, data, content_type, json.dumps(dict(metadata)), now.timestamp(), etag),
            )
        except sqlite3.IntegrityError:
            raise DriverError(ErrorCode.ALREADY_EXISTS) from None
        return BlobInfo(key, len(data), content_type, now, etag, dict(metadata))

    async def stream(
        self, key: str, *, start: int, end: int | None, chunk_size: int
    ) -> AsyncIterator[bytes]:
        size = (await self.head(key)).size
        stop = size if end is None else min(end, size)
        for offset in range(start, stop, chunk_size):
            rows = await self._call(
                "SELECT substr(data, ?, ?) FROM blobs WHERE key = ?",
                (offset + 1, min(chunk_size, stop - offset), key),
            )
            if not rows:
                raise DriverError(ErrorCode.NOT_FOUND)  # deleted while we were reading
            yield bytes(rows[0][0])

    async def head(self, key: str) -> BlobInfo:
        rows = await self._call(
            f"SELECT {_COLUMNS} FROM blobs WHERE key = ?",
            (key,),
        )
        if not rows:
            raise DriverError(ErrorCode.NOT_FOUND)
        return _info(rows[0])

    async def list(self, prefix: str, *, delimiter: str | None) -> AsyncIterator[BlobInfo]:
        after = ""
        while True:  # pages of 500, so a huge table is never held in memory
            rows = await self._call(
                f"SELECT {_COLUMNS} FROM blobs "
                "WHERE key > ? AND substr(key, 1, ?) = ? ORDER BY key LIMIT 500",
                (after, len(prefix), prefix),
            )
            for row in rows:
                yield _info(row)
            if len(rows) < 500:
                return
            after = str(rows[-1][0])

    async def delete(self, key: str) -> None:
        await self._call("DELETE FROM blobs WHERE key = ?", (key,))

    async def copy(self, src: str, dst: str) -> None:
        rows = await self._call(
            "INSERT OR REPLACE INTO blobs SELECT ?, data, content_type, metadata, ?, ? FROM blobs "
            "WHERE key = ? RETURNING key",
            (dst, datetime.now(UTC).timestamp(), f'"{next(self._etags):x}"', src),
        )
        if not rows:
            raise DriverError(ErrorCode.NOT_FOUND)

    async def ping(self) -> None:
        await self._call("SELECT 1")

    async def close(self) -> None:
        async with self._lock:
            if self._db is not None:
                await asyncio.to_thread(self._db.close)
                self._db = None

    def classify(self, exc: BaseException) -> ErrorCode:
        if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
            return ErrorCode.UNAVAILABLE  # transient: the core retries it
        return super().classify(exc)


def _info(row: tuple[Any, ...]) -> BlobInfo:
    key, size, content_type, metadata, modified, etag = row
    return BlobInfo(
        path=str(key),
        size=int(size),
        content_type=str(content_type),
        last_modified=datetime.fromtimestamp(float(modified), UTC),
        etag=str(etag),
        metadata=json.loads(str(metadata)),
    )
