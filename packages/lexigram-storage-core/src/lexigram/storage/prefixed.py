"""A driver seen under a key prefix: the store of ``s3://bucket/reports/2024``.

:class:`PrefixedDriver` wraps any :class:`~lexigram.storage.driver.BlobDriver`: every key
the core hands it is put under the prefix on the way in, and the prefix is taken off
every key it reports (``list``, ``head``...) on the way out. Because it sits beneath
:class:`~lexigram.storage.store.BlobStore`, all the core's policy (key validation, error
mapping, retries, defaults) applies unchanged, and a key outside the prefix can never be
reached: keys are validated before the prefix is added, so ``..`` cannot climb out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import attrs

from lexigram.storage.body import UploadBody
from lexigram.storage.conditions import Conditions
from lexigram.storage.driver import BlobDriver, PresignRequest
from lexigram.storage.errors import ConfigError, ErrorCode, InvalidKeyError
from lexigram.storage.headers import NO_HEADERS, HttpHeaders
from lexigram.storage.info import BlobInfo
from lexigram.storage.keys import validate_key
from lexigram.storage.presigned_post import PostPolicyRequest, PresignedPost
from lexigram.storage.transfer import RangeRead

__all__ = ["PrefixedDriver", "normalize_prefix", "prefixed"]


def normalize_prefix(prefix: str) -> str:
    """``"a/b"``, ``"/a/b/"`` -> ``"a/b/"``; ``""`` and ``"/"`` -> ``""``.

    The prefix must be a valid key once its slashes at both ends are dropped (no empty,
    ``.`` or ``..`` segment): otherwise :class:`ConfigError`.
    """
    if not isinstance(prefix, str):
        raise ConfigError(f"a store prefix must be a string, not {type(prefix).__name__}")
    stripped = prefix.strip("/")
    if not stripped:
        return ""
    try:
        validate_key(stripped)
    except InvalidKeyError as exc:
        raise ConfigError(
            f"invalid store prefix: {exc.message} Give a prefix such as 'reports/2024'."
        ) from None
    return stripped + "/"


class PrefixedDriver(BlobDriver):
    """``inner`` with every key under ``prefix`` (normalized to end with ``/``).

    It has the inner driver's ``name`` and ``capabilities``. Attributes it does not
    define (a driver's own extras, such as ``LocalDriver.cleanup``) are looked up on the
    inner driver.
    """

    def __init__(self, inner: BlobDriver, prefix: str) -> None:
        self.inner = inner
        self.prefix = normalize_prefix(prefix)
        self.delete_concurrency = inner.delete_concurrency
        self.read_part_size = inner.read_part_size
        self.read_concurrency = inner.read_concurrency
        # the inner driver's name and capabilities, per instance (class variables of the SPI)
        vars(self).update(name=inner.name, capabilities=inner.capabilities)

    def __getattr__(self, name: str) -> Any:
        if name == "inner":  # not set yet (during unpickling or a failed __init__)
            raise AttributeError(name)
        return getattr(self.inner, name)

    def _in(self, key: str) -> str:
        return self.prefix + key

    def _out(self, info: BlobInfo) -> BlobInfo:
        path = info.path
        if path.startswith(self.prefix):
            path = path[len(self.prefix) :]
        return attrs.evolve(info, path=path)

    # -- description ----------------------------------------------------------------------

    @property
    def location(self) -> str:
        if not self.prefix:
            return self.inner.location
        return f"{self.inner.location} under prefix {self.prefix!r}"

    @property
    def public_base_url(self) -> str | None:
        base = self.inner.public_base_url
        if not base or not self.prefix:
            return base
        return base.rstrip("/") + "/" + quote(self.prefix.rstrip("/"), safe="/")

    # -- operations -----------------------------------------------------------------------

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
        # optional arguments only when set: the store passes them only to drivers whose
        # capabilities say they take them
        extra: dict[str, Any] = {"headers": headers} if headers else {}
        if if_match is not None:
            extra["if_match"] = if_match
        info = await self.inner.put(
            self._in(key),
            body,
            content_type=content_type,
            metadata=metadata,
            create_only=create_only,
            **extra,
        )
        return self._out(info)

    def stream(
        self,
        key: str,
        *,
        start: int,
        end: int | None,
        chunk_size: int,
        conditions: Conditions | None = None,
    ) -> AsyncIterator[bytes]:
        return self.inner.stream(
            self._in(key), start=start, end=end, chunk_size=chunk_size, **_given(conditions)
        )

    async def read(
        self, key: str, *, start: int, end: int | None, conditions: Conditions | None = None
    ) -> bytes:
        return await self.inner.read(self._in(key), start=start, end=end, **_given(conditions))

    async def read_into(
        self,
        key: str,
        buffer: memoryview,
        *,
        start: int,
        end: int | None,
        conditions: Conditions | None = None,
    ) -> int:
        return await self.inner.read_into(
            self._in(key), buffer, start=start, end=end, **_given(conditions)
        )

    async def read_range(
        self,
        key: str,
        *,
        start: int,
        end: int,
        conditions: Conditions | None = None,
        into: memoryview | None = None,
    ) -> RangeRead:
        return await self.inner.read_range(
            self._in(key), start=start, end=end, into=into, **_given(conditions)
        )

    async def check_whole(self, first: RangeRead, data: memoryview) -> None:
        await self.inner.check_whole(first, data)

    async def head(self, key: str, *, conditions: Conditions | None = None) -> BlobInfo:
        return self._out(await self.inner.head(self._in(key), **_given(conditions)))

    async def exists(self, key: str) -> bool:
        return await self.inner.exists(self._in(key))

    async def list(
        self, prefix: str, *, delimiter: str | None, start_after: str | None = None
    ) -> AsyncIterator[BlobInfo]:
        extra = {} if start_after is None else {"start_after": self._in(start_after)}
        async for info in self.inner.list(self._in(prefix), delimiter=delimiter, **extra):
            yield self._out(info)

    async def delete(self, key: str, *, if_match: str | None = None) -> None:
        extra = {} if if_match is None else {"if_match": if_match}
        await self.inner.delete(self._in(key), **extra)

    async def delete_many(self, keys: Sequence[str]) -> Mapping[str, BaseException]:
        failures = await self.inner.delete_many([self._in(k) for k in keys])
        n = len(self.prefix)
        return {(k[n:] if k.startswith(self.prefix) else k): e for k, e in failures.items()}

    async def copy(self, src: str, dst: str) -> None:
        await self.inner.copy(self._in(src), self._in(dst))

    async def move(self, src: str, dst: str) -> None:
        await self.inner.move(self._in(src), self._in(dst))

    def native_url(self, key: str) -> str:
        return self.inner.native_url(self._in(key))

    async def presign(self, key: str, request: PresignRequest) -> str:
        return await self.inner.presign(self._in(key), request)

    async def presign_post(self, key: str, request: PostPolicyRequest) -> PresignedPost:
        # the form names the backend's full key: the browser posts to the backend itself
        return await self.inner.presign_post(self._in(key), request)

    async def ping(self) -> None:
        await self.inner.ping()

    async def close(self) -> None:
        await self.inner.close()

    def classify(self, exc: BaseException) -> ErrorCode:
        return self.inner.classify(exc)

    def is_retryable(self, exc: BaseException, code: ErrorCode) -> bool:
        return self.inner.is_retryable(exc, code)

    def describe(self, exc: BaseException) -> str:
        return self.inner.describe(exc)

    def secrets(self) -> Sequence[str]:
        return self.inner.secrets()


def prefixed(inner: BlobDriver, prefix: str) -> BlobDriver:
    """``inner`` itself for an empty prefix, else a :class:`PrefixedDriver` over it."""
    normalized = normalize_prefix(prefix)
    return PrefixedDriver(inner, normalized) if normalized else inner


def _given(conditions: Conditions | None) -> dict[str, Conditions]:
    """``conditions=`` only when there are some (a driver without conditional reads
    takes none)."""
    return {} if conditions is None else {"conditions": conditions}
