"""What the operation events carry for instrumentation: attempts, bytes, location; hooks
given to every new store; hooks added to a provider."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lexigram.storage import OperationEvent, StorageProvider
from lexigram.storage.instrumentation import (
    add_default_hook,
    default_hooks,
    remove_default_hook,
)

from .test_store import SDKError, make


async def test_events_count_attempts_and_bytes() -> None:
    events: list[OperationEvent] = []
    store, driver = make(retry=3, hooks=[events.append])
    await store.upload("a", b"12345")
    driver.fail["head"] = [SDKError(503, "SlowDown")]
    await store.info("a")
    assert await store.download("a", range=(1, 3)) == b"23"
    buffer = bytearray(8)
    assert await store.download_into("a", buffer) == 5
    assert b"".join([c async for c in store.stream("a")]) == b"12345"
    driver.fail["head"] = [SDKError(503, "SlowDown")] * 3
    with pytest.raises(Exception, match="after 3 attempts"):
        await store.info("a")

    assert [(e.operation, e.attempts, e.nbytes) for e in events] == [
        ("upload", 1, 5),
        ("info", 2, None),
        ("download", 1, 2),
        ("download", 1, 5),
        ("stream", 1, 5),
        ("info", 3, None),
    ]
    assert {e.location for e in events} == {driver.location}


@pytest.fixture
def no_default_hooks() -> Iterator[None]:
    before = default_hooks()
    yield
    for hook in default_hooks():
        if hook not in before:
            remove_default_hook(hook)


async def test_default_hooks_go_to_stores_created_afterwards(no_default_hooks: None) -> None:
    events: list[OperationEvent] = []
    earlier, _ = make()
    add_default_hook(events.append)
    add_default_hook(events.append)  # once only
    later, _ = make()
    await earlier.upload("x", b"1")
    await later.upload("y", b"1")
    remove_default_hook(events.append)
    await make()[0].upload("z", b"1")
    assert [e.key for e in events] == ["y"]


async def test_provider_hooks_reach_existing_and_new_stores() -> None:
    events: list[OperationEvent] = []
    async with StorageProvider() as provider:
        existing = provider.store()
        provider.add_hook(events.append)
        await existing.upload("a", b"1")
        await provider.store().upload("b", b"22")
    assert [(e.key, e.nbytes) for e in events] == [("a", 1), ("b", 2)]
