"""BlobStore policy: error mapping, retries, hooks, capability checks, redaction."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar

import pytest

from lexigram.storage import (
    BlobInfo,
    BlobNotFoundError,
    BlobStore,
    BucketNotFoundError,
    Capabilities,
    DeleteManyError,
    DriverError,
    ErrorCode,
    InvalidKeyError,
    NotSupportedError,
    OperationEvent,
    PermissionDeniedError,
    RetryPolicy,
    StorageError,
    StorageUnavailableError,
    UploadBody,
)
from lexigram.storage.memory import MemoryDriver
from lexigram.storage.secrets import Redactor


class SDKError(Exception):
    """Stands for an SDK's own exception type, with a status like botocore's."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status


class FlakyDriver(MemoryDriver):
    """The memory driver with injected failures, and an SDK-style error mapping."""

    name = "flaky"

    def __init__(self) -> None:
        super().__init__()
        self.fail: dict[str, list[BaseException]] = {}
        self.calls: dict[str, int] = {}

    def _maybe_fail(self, op: str) -> None:
        self.calls[op] = self.calls.get(op, 0) + 1
        queue = self.fail.get(op)
        if queue:
            raise queue.pop(0)

    async def put(self, key: str, body: UploadBody, **kw: Any) -> BlobInfo:
        self._maybe_fail("put")
        return await super().put(key, body, **kw)

    async def head(self, key: str) -> BlobInfo:
        self._maybe_fail("head")
        return await super().head(key)

    async def stream(
        self, key: str, *, start: int, end: int | None, chunk_size: int
    ) -> AsyncIterator[bytes]:
        self._maybe_fail("stream")
        async for chunk in super().stream(key, start=start, end=end, chunk_size=chunk_size):
            yield chunk

    async def delete_many(self, keys: Any) -> Mapping[str, BaseException]:
        return {k: SDKError(403, "AccessDenied") for k in keys if k.startswith("locked/")}

    def classify(self, exc: BaseException) -> ErrorCode:
        if isinstance(exc, SDKError):
            return {
                404: ErrorCode.NOT_FOUND,
                403: ErrorCode.PERMISSION_DENIED,
                503: ErrorCode.UNAVAILABLE,
            }.get(exc.status, ErrorCode.UNKNOWN)
        return super().classify(exc)


def make(retry: int = 3, **kw: Any) -> tuple[BlobStore, FlakyDriver]:
    driver = FlakyDriver()
    return BlobStore(
        driver, name="main", retry=RetryPolicy(attempts=retry, base_delay=0), **kw
    ), driver


async def test_sdk_errors_become_typed_errors_with_cause() -> None:
    store, driver = make()
    await store.upload("a", b"x")
    driver.fail["head"] = [SDKError(403, "AccessDenied: no")]
    with pytest.raises(PermissionDeniedError) as caught:
        await store.info("a")
    err = caught.value
    assert isinstance(err.__cause__, SDKError)
    assert (err.backend, err.driver, err.key, err.operation) == ("main", "flaky", "a", "info")
    assert "backend 'main'" in str(err) and "'a'" in str(err) and "credentials" in str(err)


async def test_transient_errors_are_retried() -> None:
    store, driver = make(retry=3)
    await store.upload("a", b"x")
    driver.fail["head"] = [SDKError(503, "SlowDown"), SDKError(503, "SlowDown")]
    assert (await store.info("a")).size == 1
    assert driver.calls["head"] == 3


async def test_retries_give_up_with_unavailable() -> None:
    store, driver = make(retry=2)
    await store.upload("a", b"x")
    driver.fail["head"] = [SDKError(503, "SlowDown")] * 5
    with pytest.raises(StorageUnavailableError, match="after 2 attempts"):
        await store.info("a")
    assert driver.calls["head"] == 2


async def test_in_memory_uploads_are_retried_streams_are_not() -> None:
    store, driver = make(retry=3)
    driver.fail["put"] = [ConnectionResetError("reset")]
    await store.upload("a", b"payload")
    assert await store.download("a") == b"payload"
    assert driver.calls["put"] == 2

    async def gen() -> AsyncIterator[bytes]:
        yield b"abc"

    driver.fail["put"] = [ConnectionResetError("reset")]
    with pytest.raises(StorageUnavailableError):
        await store.upload("b", gen())
    assert not await store.exists("b")


async def test_create_mode_is_not_retried() -> None:
    store, driver = make(retry=3)
    driver.fail["put"] = [TimeoutError()]
    with pytest.raises(StorageUnavailableError):
        await store.upload("c", b"x", mode="create")
    assert driver.calls["put"] == 1


async def test_stream_retries_only_before_first_chunk() -> None:
    store, driver = make(retry=3)
    await store.upload("s", b"x" * 10)
    driver.fail["stream"] = [SDKError(503, "busy")]
    assert b"".join([c async for c in store.stream("s", chunk_size=3)]) == b"x" * 10
    assert driver.calls["stream"] == 2


async def test_driver_error_detail_and_bucket_missing() -> None:
    store, driver = make()
    driver.fail["head"] = [
        DriverError(ErrorCode.BUCKET_NOT_FOUND, "bucket 'photos' does not exist")
    ]
    with pytest.raises(BucketNotFoundError) as caught:
        await store.info("k")
    assert "photos" in str(caught.value) and "Create it" in str(caught.value)
    driver.fail["head"] = [
        DriverError(ErrorCode.BUCKET_NOT_FOUND, "bucket 'photos' does not exist")
    ]
    status = await store.health_check()
    assert status.healthy  # memory's ping does not call head


async def test_health_check_never_raises_and_is_bounded() -> None:
    store, driver = make()

    async def slow() -> None:
        await asyncio.sleep(30)

    driver.ping = slow  # type: ignore[method-assign]
    status = await store.health_check(timeout=0.05)
    assert not status.healthy and "within" in status.detail

    async def broken() -> None:
        raise SDKError(403, "denied")

    driver.ping = broken  # type: ignore[method-assign]
    status = await store.health_check()
    assert not status.healthy and "denied" in status.detail


async def test_secrets_are_scrubbed_from_messages() -> None:
    store, driver = make(redactor=Redactor(["SUPERSECRETKEY123"]))
    driver.fail["head"] = [SDKError(500, "signature mismatch for key SUPERSECRETKEY123")]
    with pytest.raises(StorageError) as caught:
        await store.info("k")
    assert "SUPERSECRETKEY123" not in str(caught.value)
    assert "***" in str(caught.value)


class SecretDriver(FlakyDriver):
    """A driver that names its secrets and describes its SDK's errors itself."""

    def __init__(self, *secrets: str) -> None:
        super().__init__()
        self._secrets = list(secrets)

    def secrets(self) -> list[str]:
        return self._secrets

    def describe(self, exc: BaseException) -> str:
        if isinstance(exc, SDKError):
            return f"HTTP {exc.status}: {exc}"
        return super().describe(exc)


async def test_a_store_built_directly_redacts_the_driver_secrets() -> None:
    driver = SecretDriver("SUPERSECRETKEY123")
    store = BlobStore(driver, name="direct", retry=RetryPolicy(attempts=1))  # no redactor
    driver.fail["head"] = [SDKError(403, "denied for key SUPERSECRETKEY123")]
    with pytest.raises(PermissionDeniedError) as caught:
        await store.info("k")
    err = caught.value
    # the driver's description, redacted
    assert "HTTP 403: denied for key ***" in str(err)
    # the SDK's exception showed the secret: the cause is its redacted description
    cause = err.__cause__
    assert isinstance(cause, DriverError) and cause.code is ErrorCode.PERMISSION_DENIED
    assert cause.detail == "HTTP 403: denied for key ***" and cause.__cause__ is None
    assert "SUPERSECRETKEY123" not in f"{err!r}{cause!r}"
    # a secret the driver learns later (a credential chain) is redacted too
    driver.fail["head"] = [SDKError(403, "denied for LATERSECRET99")]
    driver._secrets.append("LATERSECRET99")
    with pytest.raises(PermissionDeniedError) as caught:
        await store.info("k")
    assert "LATERSECRET99" not in str(caught.value)


async def test_an_exception_without_secret_stays_the_cause() -> None:
    driver = SecretDriver("SUPERSECRETKEY123")
    store = BlobStore(driver, name="direct", retry=RetryPolicy(attempts=1))
    failure = SDKError(403, "denied")
    driver.fail["head"] = [failure]
    with pytest.raises(PermissionDeniedError) as caught:
        await store.info("k")
    assert caught.value.__cause__ is failure
    assert "HTTP 403: denied" in str(caught.value)


async def test_a_long_description_is_cut_after_its_secrets_are_redacted() -> None:
    secret = "S" * 40
    driver = SecretDriver(secret)
    store = BlobStore(driver, name="direct", retry=RetryPolicy(attempts=1))
    # the secret straddles the 300th character of the description
    driver.fail["head"] = [SDKError(500, "x" * 280 + secret)]
    with pytest.raises(StorageError) as caught:
        await store.info("k")
    assert "S" * 8 not in str(caught.value)


async def test_url_query_strings_are_left_out_of_messages() -> None:
    store, driver = make(retry=1)
    driver.fail["head"] = [
        SDKError(
            403,
            "GET https://bucket.test/k?X-Amz-Credential=AKIAQUERYKEY&X-Amz-Signature=abc refused",
        )
    ]
    with pytest.raises(PermissionDeniedError) as caught:
        await store.info("k")
    assert "https://bucket.test/k?<query removed> refused" in str(caught.value)
    assert "AKIAQUERYKEY" not in str(caught.value)


def test_the_default_secrets_are_the_config_secret_fields() -> None:
    import attrs

    from lexigram.storage.config.fields import secret_field

    @attrs.frozen
    class Config:
        token: str | None = secret_field()
        region: str = "eu"

    class Configured(MemoryDriver):
        def __init__(self) -> None:
            super().__init__()
            self.config = Config(token="TOKEN-0123456789")  # type: ignore[assignment]

    assert list(Configured().secrets()) == ["TOKEN-0123456789"]
    assert list(MemoryDriver().secrets()) == []


async def test_hooks_see_every_operation() -> None:
    events: list[OperationEvent] = []
    store, _ = make(hooks=[events.append])
    await store.upload("h", b"x")
    with pytest.raises(BlobNotFoundError):
        await store.info("missing")
    _ = [c async for c in store.stream("h")]
    assert [(e.operation, e.key, e.error is None) for e in events] == [
        ("upload", "h", True),
        ("info", "missing", False),
        ("stream", "h", True),
    ]
    assert all(e.duration_s >= 0 and e.backend == "main" for e in events)


async def test_a_failing_hook_does_not_break_the_operation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def bad(event: OperationEvent) -> None:
        raise RuntimeError("hook bug")

    store, _ = make(hooks=[bad])
    await store.upload("x", b"1")
    assert await store.download("x") == b"1"
    assert "hook" in caplog.text


async def test_delete_many_reports_per_key_failures() -> None:
    store, _ = make()
    for key in ["a", "locked/b", "c", "locked/d"]:
        await store.upload(key, b"x")
    with pytest.raises(DeleteManyError) as caught:
        await store.delete_many(["a", "locked/b", "c", "locked/d"])
    err = caught.value
    assert set(err.failures) == {"locked/b", "locked/d"}
    assert all(isinstance(e, PermissionDeniedError) for e in err.failures.values())
    assert err.deleted == ["a", "c"]


async def test_delete_many_batches_by_capability() -> None:
    class Small(MemoryDriver):
        capabilities = Capabilities(
            native_delimiter=False,
            delete_batch_size=3,
            presign_methods=frozenset(),
            native_urls=False,
        )
        batches: ClassVar[list[int]] = []

        async def delete_many(self, keys: Any) -> Mapping[str, BaseException]:
            self.batches.append(len(keys))
            return await super().delete_many(keys)

    driver = Small()
    store = BlobStore(driver)
    await store.delete_many([f"k{i}" for i in range(8)])
    assert driver.batches == [3, 3, 2]


async def test_unsupported_operations_name_driver_and_operation() -> None:
    class Bare(MemoryDriver):
        name = "bare"
        capabilities = Capabilities(
            create_only=False,
            server_side_copy=False,
            native_delimiter=False,
            presign_methods=frozenset(),
            native_urls=False,
            metadata=False,
        )

    store = BlobStore(Bare(), name="b")
    with pytest.raises(NotSupportedError, match=r"'bare'.*mode='create'"):
        await store.upload("k", b"x", mode="create")
    with pytest.raises(NotSupportedError, match="metadata"):
        await store.upload("k", b"x", metadata={"a": "b"})
    with pytest.raises(NotSupportedError, match="get_presigned_url"):
        await store.get_presigned_url("k")
    with pytest.raises(NotSupportedError, match="get_url"):
        await store.get_url("k")
    # copy falls back to streaming through the client
    await store.upload("src", b"data" * 1000, content_type="text/plain")
    await store.copy("src", "dst")
    assert await store.download("dst") == b"data" * 1000
    assert (await store.info("dst")).content_type == "text/plain"


async def test_move_without_native_rename_is_copy_then_delete() -> None:
    class NoRename(MemoryDriver):
        capabilities = Capabilities(
            native_move=False,
            native_delimiter=False,
            presign_methods=frozenset(),
            native_urls=False,
        )

    store = BlobStore(NoRename())
    await store.upload("a", b"1")
    await store.move("a", "b")
    assert not await store.exists("a")
    assert await store.download("b") == b"1"


async def test_exceptions_from_the_callers_stream_propagate_unchanged() -> None:
    store, _ = make()

    class Boom(Exception):
        pass

    async def gen() -> AsyncIterator[bytes]:
        yield b"part"
        raise Boom("caller's bug")

    with pytest.raises(Boom):
        await store.upload("k", gen())

    async def bad_chunks() -> AsyncIterator[Any]:
        yield "text"

    with pytest.raises(TypeError, match="must yield bytes"):
        await store.upload("k", bad_chunks())
    assert not await store.exists("k")


async def test_public_url_from_config() -> None:
    class WithBase(MemoryDriver):
        @property
        def public_base_url(self) -> str | None:
            return "https://cdn.example.test/assets/"

    store = BlobStore(WithBase())
    assert await store.get_url("a b/ü.txt") == "https://cdn.example.test/assets/a%20b/%C3%BC.txt"


async def test_repr_has_no_secrets() -> None:
    store, _ = make(redactor=Redactor(["TOPSECRET"]))
    assert "TOPSECRET" not in repr(store)
    assert "main" in repr(store)


async def test_keys_a_backend_would_alias_are_refused() -> None:
    class Backslashless(MemoryDriver):
        name = "nobackslash"
        capabilities = Capabilities(
            native_delimiter=False,
            presign_methods=frozenset(),
            native_urls=False,
            forbidden_key_chars="\\",
        )

    store = BlobStore(Backslashless(), name="b")
    await store.upload("a/b", b"the other object")
    with pytest.raises(InvalidKeyError, match="'nobackslash' cannot store") as caught:
        await store.upload("a\\b", b"x")
    assert caught.value.key == "a\\b"
    for call in (store.download("a\\b"), store.info("a\\b"), store.delete("a\\b")):
        with pytest.raises(InvalidKeyError):
            await call
    with pytest.raises(InvalidKeyError):
        await store.copy("a/b", "c\\d")
    assert await store.download("a/b") == b"the other object"
    await store.upload("plain/key", b"fine")  # other keys are unaffected


async def test_a_store_built_directly_scrubs_its_driver_config_secrets() -> None:
    import attrs

    from lexigram.storage import secret_field

    @attrs.define(frozen=True)
    class Settings:
        token: str | None = secret_field()

    driver = FlakyDriver()
    driver.config = Settings(token="DIRECT-CANARY-TOKEN")  # type: ignore[assignment]
    store = BlobStore(driver, name="direct")
    driver.fail["head"] = [SDKError(401, "bad token DIRECT-CANARY-TOKEN")]
    with pytest.raises(StorageError) as caught:
        await store.info("k")
    assert "DIRECT-CANARY-TOKEN" not in str(caught.value)
