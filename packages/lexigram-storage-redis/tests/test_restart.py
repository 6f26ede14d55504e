"""A Redis restart under load: typed errors, retries for idempotent operations only.

Each test runs its own server (with an append-only file, so acknowledged writes survive
the restart) and restarts it on the same port. The retry policy's ``delay`` is the hook:
it is called exactly when the store decided to try again, so a test can restart the
server at that step, and count the retries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest
import redis.asyncio as aioredis

from lexigram.storage.errors import StorageUnavailableError
from lexigram.storage.redis.store import RedisKVStorage
from lexigram.storage.retry import RetryPolicy
from lexigram.storage.testing.faults import Fault, FaultProxy
from lexigram.storage.testing.servers import ServerProcess


@attrs.frozen(kw_only=True)
class HookedPolicy(RetryPolicy):
    """A retry policy that calls ``on_retry`` (at most ``attempts - 1`` times) and waits 0."""

    on_retry: Callable[[int], None] = attrs.field(default=lambda attempt: None)
    calls: list[int] = attrs.field(factory=list)

    def delay(self, attempt: int) -> float:
        self.calls.append(attempt)
        self.on_retry(attempt)
        return 0.0


@pytest.fixture
def own_server(
    make_server: Callable[..., ServerProcess], tmp_path: Path
) -> Iterator[Callable[[], ServerProcess]]:
    """A persistent server, and a function that makes a new one on the same port."""
    servers: list[ServerProcess] = []

    def new() -> ServerProcess:
        port = servers[0].port if servers else None
        server = make_server("redis", tmp_path, port=port, persist=True)
        servers.append(server)
        return server.start()

    yield new
    for server in servers:
        server.stop()


def _url(server: ServerProcess) -> str:
    return f"redis://127.0.0.1:{server.port}/0"


async def test_idempotent_operations_are_retried_across_a_restart(
    own_server: Callable[[], ServerProcess],
) -> None:
    server = own_server()
    policy = HookedPolicy(attempts=3, on_retry=lambda attempt: own_server() and None)
    async with RedisKVStorage(_url(server), retry=policy) as store:
        await store.set("k", {"v": 1})
        server.stop()
        # the first try fails on the dead connection; the policy restarts the server
        assert await store.get("k") == {"v": 1}
        assert policy.calls == [1]


@pytest.mark.parametrize("operation", ["get", "set", "delete", "keys", "exists"])
async def test_idempotent_operations_give_up_with_a_typed_error(
    own_server: Callable[[], ServerProcess], operation: str
) -> None:
    server = own_server()
    policy = HookedPolicy(attempts=3)
    async with RedisKVStorage(_url(server), retry=policy) as store:
        await store.set("k", 1)
        server.stop()
        calls = {
            "get": lambda: store.get("k"),
            "set": lambda: store.set("k", 2),
            "delete": lambda: store.delete("k"),
            "keys": lambda: store.keys(),
            "exists": lambda: store.exists("k"),
        }
        with pytest.raises(StorageUnavailableError, match="unavailable") as caught:
            await calls[operation]()
        assert policy.calls == [1, 2]
        assert caught.value.operation == operation


@pytest.mark.parametrize("operation", ["increment", "add"])
async def test_increment_and_add_are_never_retried(
    own_server: Callable[[], ServerProcess], operation: str
) -> None:
    server = own_server()
    policy = HookedPolicy(attempts=5, on_retry=lambda attempt: own_server() and None)
    async with RedisKVStorage(_url(server), retry=policy) as store:
        await store.set("n", 1)
        server.stop()
        call = store.increment("n") if operation == "increment" else store.add("lock", 1)
        with pytest.raises(StorageUnavailableError):
            await call
        assert policy.calls == []
        own_server()
        assert await store.increment("n") == 2


@pytest.mark.parametrize("operation", ["increment", "add"])
async def test_a_reply_lost_after_the_server_applied_it_is_not_applied_twice(
    own_server: Callable[[], ServerProcess], operation: str
) -> None:
    server = own_server()
    policy = HookedPolicy(attempts=5)
    with FaultProxy(upstream_port=server.port) as proxy:
        store = RedisKVStorage(f"redis://127.0.0.1:{proxy.port}/0", retry=policy)
        raw = aioredis.Redis.from_url(_url(server), decode_responses=True)
        try:
            assert await store.get("warm-up") is None  # the pooled connection is open
            proxy.add(Fault.RESET, per="exchange", limit=1)  # the next reply is lost
            with pytest.raises(StorageUnavailableError):
                if operation == "increment":
                    await store.increment("n")
                else:
                    await store.add("lock", "me")
            assert proxy.stats.faults_injected == 1
            # the server did apply it, once; the store did not send it again
            if operation == "increment":
                assert await raw.get("n") == "1"
            else:
                assert await raw.get("lock") == '"me"'
            assert policy.calls == []
            # and a lost reply to a get is retried
            proxy.add(Fault.RESET, per="exchange", limit=1)
            assert await store.get("n" if operation == "increment" else "lock") is not None
            assert policy.calls == [1]
        finally:
            await store.aclose()
            await raw.aclose()


async def test_a_restart_in_the_middle_of_a_workload(
    own_server: Callable[[], ServerProcess],
) -> None:
    server = own_server()
    store = RedisKVStorage(_url(server), retry=RetryPolicy(attempts=3, base_delay=0.001))
    errors: list[BaseException] = []
    counted = 0  # increments acknowledged
    failed_increments = 0
    down = asyncio.Event()
    enough_failures = asyncio.Event()
    back = asyncio.Event()

    async def worker(w: int) -> None:
        nonlocal counted, failed_increments
        for i in range(600):
            if back.is_set() and i > 400:
                return
            try:
                await store.set(f"w{w}", i)
                assert await store.get(f"w{w}") == i
                await store.increment("counter")
                counted += 1
            except StorageUnavailableError as exc:
                errors.append(exc)
                if "increment" in str(exc):
                    failed_increments += 1
                if len(errors) >= 20:
                    enough_failures.set()
                await asyncio.sleep(0.001)
            except Exception as exc:  # anything untyped fails the test
                errors.append(exc)
            if i == 100 and w == 0:
                down.set()

    async def chaos() -> None:
        await down.wait()
        server.stop()
        await enough_failures.wait()
        await asyncio.to_thread(own_server)
        back.set()

    async with store:
        await asyncio.gather(chaos(), *(worker(w) for w in range(8)))
        assert errors, "the restart caused no error"
        assert all(isinstance(e, StorageUnavailableError) for e in errors), errors
        final = await store.get("counter")
        # no increment counted twice: each acknowledged one once, a failed one at most once
        assert counted <= final <= counted + failed_increments
        # the store works again after the restart
        assert await store.increment("counter") == final + 1
