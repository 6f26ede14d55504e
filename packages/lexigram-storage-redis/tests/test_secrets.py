"""The password of a Redis server: used, and never shown in errors, reprs or logs."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lexigram.storage.errors import PermissionDeniedError
from lexigram.storage.kv import create_kv_store
from lexigram.storage.redis.store import RedisKVStorage
from lexigram.storage.testing.servers import ServerProcess

PASSWORD = "redis-password-canary-7f3a"
WRONG = "wrong-password-canary-91bd"


@pytest.fixture
def protected(make_server: Callable[..., ServerProcess], tmp_path: Path) -> Iterator[ServerProcess]:
    server = make_server("redis", tmp_path)
    server.argv += ["--requirepass", PASSWORD]
    with server:
        yield server


async def test_the_password_opens_the_server_and_stays_hidden(
    protected: ServerProcess, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    store = create_kv_store(
        {
            "backend": "redis",
            "url": f"redis://127.0.0.1:{protected.port}/0",
            "password": PASSWORD,
        }
    )
    async with store:
        await store.set("k", 1)
        assert await store.get("k") == 1
        logging.getLogger("test").warning("connected with %s", PASSWORD)
    assert PASSWORD not in repr(store)
    assert PASSWORD not in caplog.text
    assert "***" in caplog.text


@pytest.mark.parametrize("in_url", [False, True])
async def test_a_wrong_password_is_permission_denied_without_the_password(
    protected: ServerProcess, in_url: bool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    if in_url:
        store = RedisKVStorage(f"redis://default:{WRONG}@127.0.0.1:{protected.port}/0")
    else:
        store = RedisKVStorage(f"redis://127.0.0.1:{protected.port}/0", password=WRONG)
    async with store:
        with pytest.raises(PermissionDeniedError, match="password") as caught:
            await store.get("k")
        with pytest.raises(PermissionDeniedError):
            await store.increment("k")
        logging.getLogger("test").error("failed", exc_info=caught.value)
    for text in (str(caught.value), repr(store), caplog.text):
        assert WRONG not in text
