"""One path per operation: with hooks or without, a store makes the same driver calls,
retries the same failures and raises the same errors (there is no hooks-less shortcut
that could drift from the instrumented path)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from lexigram.storage import BlobStore, OperationEvent, RetryPolicy
from lexigram.storage.instrumentation import Hook

from .test_store import FlakyDriver, SDKError


class ReadFlakyDriver(FlakyDriver):
    """FlakyDriver whose whole-object reads fail too."""

    async def read(self, key: str, *, start: int, end: int | None) -> bytes:  # type: ignore[override]
        self._maybe_fail("read")
        return await super().read(key, start=start, end=end)


def make(hooks: list[Hook]) -> tuple[BlobStore, ReadFlakyDriver]:
    driver = ReadFlakyDriver()
    store = BlobStore(driver, retry=RetryPolicy(attempts=3, base_delay=0), hooks=hooks)
    return store, driver


OPERATIONS: dict[str, tuple[str, Callable[[BlobStore], Awaitable[object]]]] = {
    "upload": ("put", lambda s: s.upload("a", b"new")),
    "download": ("read", lambda s: s.download("a")),
    "download range": ("read", lambda s: s.download("a", range=(1, 2))),
    "info": ("head", lambda s: s.info("a")),
    "stream": ("stream", lambda s: _joined(s)),
}


async def _joined(store: BlobStore) -> bytes:
    return b"".join([c async for c in store.stream("a")])


def _outcome(result: Any) -> Any:
    return result.size if hasattr(result, "size") else result


@pytest.mark.parametrize("name", sorted(OPERATIONS))
@pytest.mark.parametrize("failures", [[503], [503, 503], [503, 503, 503], [403], [404]], ids=str)
async def test_same_calls_retries_and_errors_with_hooks_or_without(
    name: str, failures: list[int]
) -> None:
    primitive, call = OPERATIONS[name]
    seen: list[tuple[Any, ...]] = []
    for hooks in ([], [lambda event: None]):
        events: list[OperationEvent] = []
        store, driver = make([*hooks, events.append] if hooks else [])
        await store.upload("a", b"old")
        driver.calls.clear()
        events.clear()
        driver.fail[primitive] = [SDKError(status, f"HTTP {status}") for status in failures]
        try:
            outcome: Any = ("ok", _outcome(await call(store)))
        except Exception as exc:
            outcome = ("error", type(exc), str(exc), type(exc.__cause__))
        seen.append((outcome, driver.calls.get(primitive)))
        if hooks:
            assert [e.attempts for e in events] == [driver.calls[primitive]]
    assert seen[0] == seen[1]
