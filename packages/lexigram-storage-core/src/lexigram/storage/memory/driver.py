"""The memory driver: objects in a dict, for tests and ephemeral use."""

from __future__ import annotations

import bisect
import itertools
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime

import attrs

from lexigram.storage.body import UploadBody
from lexigram.storage.conditions import Conditions, etag_matches
from lexigram.storage.driver import BlobDriver, Capabilities
from lexigram.storage.errors import DriverError, ErrorCode
from lexigram.storage.headers import NO_HEADERS, HttpHeaders
from lexigram.storage.info import BlobInfo
from lexigram.storage.memory.config import MemoryConfig
from lexigram.storage.transfer import RangeRead

__all__ = ["MemoryDriver"]

_etags = itertools.count(1)


class MemoryDriver(BlobDriver):
    """Keeps every object in a dict. Each instance is its own isolated store.

    Safe under concurrent tasks: every check-and-set happens without an ``await``
    between them, so ``mode="create"`` is atomic and a streamed upload replaces the
    old object only once the whole body has arrived.
    """

    name = "memory"
    capabilities = Capabilities(
        native_delimiter=False,
        native_move=True,
        presign_methods=frozenset(),
        native_urls=False,
        http_headers=True,
        conditional_write=True,
        conditional_read=True,
        native_start_after=True,
    )

    def __init__(self, config: MemoryConfig | None = None) -> None:
        self.config = config if config is not None else MemoryConfig()
        self._objects: dict[str, tuple[bytes, BlobInfo]] = {}

    @property
    def location(self) -> str:
        return "process memory"

    async def put(
        self,
        key: str,
        body: UploadBody,
        *,
        content_type: str,
        metadata: Mapping[str, str],
        create_only: bool,
        headers: HttpHeaders = NO_HEADERS,
        if_match: str | None = None,
    ) -> BlobInfo:
        if create_only and key in self._objects:
            raise DriverError(ErrorCode.ALREADY_EXISTS)
        if if_match is not None:
            self._check_match(key, if_match)
        data = await body.read_all()
        # No await from here on: the check and the store are one atomic step.
        if create_only and key in self._objects:
            raise DriverError(ErrorCode.ALREADY_EXISTS)
        if if_match is not None:
            self._check_match(key, if_match)
        info = BlobInfo(
            path=key,
            size=len(data),
            content_type=content_type,
            last_modified=datetime.now(UTC),
            etag=f'"{next(_etags):x}"',
            metadata=dict(metadata),
            cache_control=headers.cache_control,
            content_disposition=headers.content_disposition,
            content_encoding=headers.content_encoding,
            content_language=headers.content_language,
        )
        self._objects[key] = (data, info)
        return _copy(info)

    def _check_match(self, key: str, if_match: str) -> None:
        found = self._objects.get(key)
        if found is None or not etag_matches(found[1].etag, if_match):
            raise DriverError(
                ErrorCode.FAILED_PRECONDITION,
                "the key does not exist" if found is None else f"its ETag is {found[1].etag}",
            )

    def _get(self, key: str, conditions: Conditions | None = None) -> tuple[bytes, BlobInfo]:
        found = self._objects.get(key)
        if found is None:
            raise DriverError(ErrorCode.NOT_FOUND)
        if conditions is not None:
            conditions.check(found[1].etag)
        return found

    async def read(
        self, key: str, *, start: int, end: int | None, conditions: Conditions | None = None
    ) -> bytes:
        data = self._get(key, conditions)[0]
        if start == 0 and end is None:
            return data
        return data[start:end]

    async def read_range(
        self,
        key: str,
        *,
        start: int,
        end: int,
        conditions: Conditions | None = None,
        into: memoryview | None = None,
    ) -> RangeRead:
        data, info = self._get(key, conditions)
        return RangeRead(data[start:end], len(data), info.etag)

    async def stream(
        self,
        key: str,
        *,
        start: int,
        end: int | None,
        chunk_size: int,
        conditions: Conditions | None = None,
    ) -> AsyncIterator[bytes]:
        data = self._get(key, conditions)[0]
        stop = len(data) if end is None else min(end, len(data))
        view = memoryview(data)
        for offset in range(start, stop, chunk_size):
            yield bytes(view[offset : min(offset + chunk_size, stop)])

    async def head(self, key: str, *, conditions: Conditions | None = None) -> BlobInfo:
        return _copy(self._get(key, conditions)[1])

    async def exists(self, key: str) -> bool:
        return key in self._objects

    async def list(
        self, prefix: str, *, delimiter: str | None, start_after: str | None = None
    ) -> AsyncIterator[BlobInfo]:
        keys = sorted(k for k in self._objects if k.startswith(prefix))
        if start_after is not None:
            del keys[: bisect.bisect_right(keys, start_after)]
        for key in keys:
            found = self._objects.get(key)
            if found is not None:  # deleted while we were iterating
                yield _copy(found[1])

    async def delete(self, key: str, *, if_match: str | None = None) -> None:
        if if_match is not None:
            self._check_match(key, if_match)
        self._objects.pop(key, None)

    async def copy(self, src: str, dst: str) -> None:
        data, info = self._get(src)
        self._objects[dst] = (
            data,
            attrs.evolve(
                info, path=dst, last_modified=datetime.now(UTC), etag=f'"{next(_etags):x}"'
            ),
        )

    async def move(self, src: str, dst: str) -> None:
        data, info = self._get(src)
        self._objects[dst] = (data, attrs.evolve(info, path=dst))
        del self._objects[src]

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._objects.clear()


def _copy(info: BlobInfo) -> BlobInfo:
    """``info`` with a metadata dict of its own: a caller that changes the mapping it was
    given does not change the stored object."""
    return attrs.evolve(info, metadata=dict(info.metadata))
