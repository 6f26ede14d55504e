"""The blocking API: a mirror of every async method, one loop thread per provider, safe
from many threads, refused inside a running event loop, and a clean shutdown."""

from __future__ import annotations

import ast
import asyncio
import inspect
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from lexigram.storage import (
    BlobExistsError,
    BlobInfo,
    BlobNotFoundError,
    BlobStoreProtocol,
    InvalidKeyError,
    StorageError,
    StoreClosedError,
    SyncInEventLoopError,
)
from lexigram.storage.kv import KVStorageProtocol
from lexigram.storage.sync import SyncBlobStore, SyncKVStore, SyncStorageProvider, open_store
from lexigram.storage.sync.mirror import protocol_methods
from lexigram.storage.sync.runner import LoopThread


@pytest.fixture
def provider() -> Iterator[SyncStorageProvider]:
    with SyncStorageProvider() as p:
        yield p


def _async_methods(protocol: type) -> set[str]:
    out = set()
    for name, fn in inspect.getmembers(protocol, inspect.isfunction):
        if name.startswith("_") or name in {"close", "aclose"}:
            continue
        if inspect.iscoroutinefunction(fn) or "AsyncIterator" in str(
            fn.__annotations__.get("return")
        ):
            out.add(name)
    return out


@pytest.mark.parametrize(
    ("protocol", "mirror"), [(BlobStoreProtocol, SyncBlobStore), (KVStorageProtocol, SyncKVStore)]
)
def test_every_async_method_of_the_protocol_has_a_blocking_counterpart(
    protocol: type, mirror: type
) -> None:
    wanted = _async_methods(protocol)
    assert wanted >= {"get", "set"} or wanted >= {"upload", "download", "stream", "list"}
    assert set(protocol_methods(protocol)) == wanted
    for name in wanted:
        method = getattr(mirror, name, None)
        assert callable(method), f"{mirror.__name__} lacks {name}"
        assert not inspect.iscoroutinefunction(method), name
        assert method.__doc__ == getattr(protocol, name).__doc__
        # the same parameters as the async method
        sync_params = list(inspect.signature(method).parameters)
        assert sync_params == list(inspect.signature(getattr(protocol, name)).parameters)


def test_a_method_added_to_the_protocol_is_mirrored_too() -> None:
    class Grown(BlobStoreProtocol):
        async def checksum(self, path: str) -> str:
            """A new operation."""
            return ""

        def walk(self, prefix: str = "") -> AsyncIterator[BlobInfo]:
            """Another."""
            raise NotImplementedError

    assert protocol_methods(Grown)["checksum"] == "call"
    assert protocol_methods(Grown)["walk"] == "iterate"


def test_round_trip_with_plain_iterators(provider: SyncStorageProvider) -> None:
    store = provider.store()
    info = store.upload("docs/a.txt", b"hello world", metadata={"k": "v"})
    assert isinstance(info, BlobInfo) and info.size == 11
    store.upload("docs/b.txt", b"x")
    assert store.download("docs/a.txt") == b"hello world"
    assert store.download("docs/a.txt", range=(6, None)) == b"world"
    buffer = bytearray(11)
    assert store.download_into("docs/a.txt", buffer) == 11 and bytes(buffer) == b"hello world"
    chunks = store.stream("docs/a.txt", chunk_size=4)
    assert isinstance(chunks, Iterator)
    assert list(chunks) == [b"hell", b"o wo", b"rld"]
    listing = store.list("docs/")
    assert isinstance(listing, Iterator)
    assert [i.path for i in listing] == ["docs/a.txt", "docs/b.txt"]
    assert store.info("docs/a.txt").metadata == {"k": "v"}
    assert store.exists("docs/a.txt")
    store.copy("docs/a.txt", "c.txt")
    store.move("c.txt", "d.txt")
    store.delete_many(["docs/b.txt"])
    store.delete("d.txt")
    assert [i.path for i in store.list()] == ["docs/a.txt"]
    assert store.health_check().healthy
    assert provider.health_check()["memory"].healthy
    assert provider.store() is store


def test_errors_keep_their_types(provider: SyncStorageProvider) -> None:
    store = provider.store()
    store.upload("k", b"1")
    with pytest.raises(BlobNotFoundError):
        store.download("missing")
    with pytest.raises(BlobExistsError):
        store.upload("k", b"2", mode="create")
    with pytest.raises(InvalidKeyError):
        store.info("../up")
    with pytest.raises(BlobNotFoundError):
        next(store.stream("missing"))
    assert store.download("k") == b"1"


def test_kv_is_mirrored(provider: SyncStorageProvider) -> None:
    kv = provider.kv()
    assert provider.kv() is kv
    kv.set("a", {"n": 1})
    assert kv.get("a") == {"n": 1}
    assert kv.increment("count", 2) == 2
    assert sorted(kv.keys()) == ["a", "count"]
    assert kv.delete("a") is True


def test_concurrent_uploads_and_downloads_from_many_threads(
    provider: SyncStorageProvider,
) -> None:
    store = provider.store()

    def work(n: int) -> list[bytes]:
        out = []
        for i in range(20):
            body = f"{n}-{i}".encode() * (n + 1)
            store.upload(f"t{n}/{i}", body)
            out.append(store.download(f"t{n}/{i}"))
            assert [c for c in store.stream(f"t{n}/{i}", chunk_size=3)]
        return out

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(work, range(16)))
    for n, got in enumerate(results):
        assert got == [f"{n}-{i}".encode() * (n + 1) for i in range(20)]
    assert len(list(store.list())) == 16 * 20


def test_many_threads_ask_for_the_store_at_once_and_share_one() -> None:
    with SyncStorageProvider() as provider, ThreadPoolExecutor(max_workers=8) as pool:
        stores = list(pool.map(lambda _: provider.store(), range(32)))
    assert all(s is stores[0] for s in stores)


async def test_a_call_from_a_thread_running_an_event_loop_is_refused(
    provider: SyncStorageProvider,
) -> None:
    store = provider.store()
    with pytest.raises(SyncInEventLoopError) as caught:
        store.upload("k", b"1")
    assert isinstance(caught.value, StorageError) and isinstance(caught.value, RuntimeError)
    assert "async API" in str(caught.value)
    with pytest.raises(SyncInEventLoopError):
        store.list()
    with pytest.raises(SyncInEventLoopError):
        provider.kv().get("x")
    with pytest.raises(SyncInEventLoopError):
        provider.close()
    assert provider.thread.is_alive()  # nothing was closed


def test_a_call_from_the_loop_thread_itself_is_refused(provider: SyncStorageProvider) -> None:
    store = provider.store()
    runner: LoopThread = store._runner

    async def nested() -> Any:
        return store.download("k")  # e.g. a hook calling back into the blocking API

    with pytest.raises(SyncInEventLoopError):
        runner.run(nested, "test")
    store.upload("k", b"still works")
    assert store.download("k") == b"still works"


def test_close_stops_the_thread_is_idempotent_and_later_use_is_a_clear_error() -> None:
    provider = SyncStorageProvider()
    store = provider.store()
    kv = provider.kv()
    thread = provider.thread
    store.upload("k", b"1")
    assert thread.is_alive()
    provider.close()
    assert not thread.is_alive()
    assert thread not in threading.enumerate()
    provider.close()  # idempotent
    for call in (
        lambda: store.download("k"),
        lambda: store.list(),
        lambda: kv.get("k"),
        lambda: provider.store(),
        lambda: provider.kv(),
        lambda: provider.health_check(),
    ):
        with pytest.raises(StoreClosedError) as caught:
            call()
        assert "closed" in str(caught.value)
    with pytest.raises(StoreClosedError):
        provider.__enter__()


def test_the_with_block_closes_the_provider() -> None:
    with SyncStorageProvider() as provider:
        provider.store().upload("k", b"1")
        thread = provider.thread
    assert not thread.is_alive()


def test_a_store_closed_directly_reports_closed(provider: SyncStorageProvider) -> None:
    store = provider.store()
    with store:
        store.upload("k", b"1")
    assert store.closed
    with pytest.raises(StoreClosedError):
        store.download("k")
    store.close()  # idempotent
    with pytest.raises(StoreClosedError):
        store.__enter__()


class _Slow:
    """An async store whose download waits until released, and whose stream counts."""

    name = "slow"

    def __init__(self) -> None:
        self.started = threading.Event()
        self.produced = 0
        self.stream_closed = False

    async def download(self, path: str) -> bytes:
        self.started.set()
        await asyncio.Event().wait()  # never released: only closing ends it
        return b""

    async def stream(self, path: str, *, chunk_size: int = 1) -> AsyncIterator[bytes]:
        try:
            for i in range(1000):
                self.produced += 1
                yield bytes([i % 256])
        finally:
            self.stream_closed = True

    async def close(self) -> None:
        pass


def test_an_operation_in_flight_when_the_store_is_closed_ends_with_store_closed() -> None:
    slow = _Slow()
    store = SyncBlobStore(slow, LoopThread(), owns_runner=True)  # type: ignore[arg-type]
    errors: list[BaseException] = []

    def call() -> None:
        try:
            store.download("k")
        except BaseException as exc:
            errors.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    slow.started.wait()
    store.close()
    caller.join()
    assert len(errors) == 1 and isinstance(errors[0], StoreClosedError)
    assert not store._runner.thread.is_alive()


def test_iterators_pull_lazily_and_close_the_async_iterator_when_dropped() -> None:
    slow = _Slow()
    with SyncBlobStore(slow, LoopThread(), owns_runner=True) as store:  # type: ignore[arg-type]
        chunks = store.stream("k")
        assert slow.produced == 0  # nothing is read before it is asked for
        assert next(chunks) == b"\x00" and next(chunks) == b"\x01"
        assert slow.produced == 2  # one item per next(), no read-ahead
        chunks.close()
        assert slow.stream_closed


def test_from_yaml_takes_the_same_config(tmp_path: Path) -> None:
    path = tmp_path / "app.yaml"
    path.write_text("storage:\n  drivers:\n    memory: {}\n")
    with SyncStorageProvider.from_yaml(path) as provider:
        assert provider.backend_names == ["memory"]
        provider.store().upload("a", b"1")
    with SyncStorageProvider.from_dict({"drivers": {"memory": {}}}) as provider:
        assert provider.store().name == "memory"


def test_open_store_from_a_url_owns_its_thread() -> None:
    with open_store("memory://pre/fix") as store:
        store.upload("k", b"v")
        assert [i.path for i in store.list()] == ["k"]
        thread = store._runner.thread
        assert thread.is_alive()
    assert not thread.is_alive()
    with pytest.raises(StoreClosedError):
        store.download("k")


@pytest.mark.parametrize(
    ("protocol", "mirror"),
    [(BlobStoreProtocol, "SyncBlobStore"), (KVStorageProtocol, "SyncKVStore")],
)
def test_the_typed_declarations_match_the_protocol(protocol: type, mirror: str) -> None:
    """What the type checker sees (the TYPE_CHECKING block of sync/store.py) declares
    every public method the protocol has, with its parameters in order, of the same
    kind and with a default where the protocol has one: a method or parameter the
    protocol gains fails here until it is declared, instead of drifting silently."""

    import lexigram.storage.sync.store as module

    tree = ast.parse(Path(module.__file__).read_text())
    (cls,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == mirror]
    (block,) = [n for n in cls.body if isinstance(n, ast.If)]
    declared = {
        f.name: _ast_parameters(f)
        for f in block.body
        if isinstance(f, ast.FunctionDef) and not f.name.startswith("_")
    }
    generated = protocol_methods(protocol)
    assert set(declared) == set(generated), (
        f"undeclared: {set(generated) - set(declared)}, stale: {set(declared) - set(generated)}"
    )
    for name in declared:
        params = inspect.signature(getattr(protocol, name)).parameters.values()
        wanted = [(p.name, p.kind.name, p.default is not p.empty) for p in params]
        assert declared[name] == wanted, name
    # nothing typed loosely: a misspelt method is a type error, not Any
    assert not [f for f in block.body if isinstance(f, ast.FunctionDef) and f.name == "__getattr__"]


def _ast_parameters(f: ast.FunctionDef) -> list[tuple[str, str, bool]]:
    a = f.args
    positional = a.posonlyargs + a.args
    defaults = [False] * (len(positional) - len(a.defaults)) + [True] * len(a.defaults)
    out = [
        (p.arg, "POSITIONAL_ONLY" if p in a.posonlyargs else "POSITIONAL_OR_KEYWORD", d)
        for p, d in zip(positional, defaults, strict=True)
    ]
    if a.vararg is not None:
        out.append((a.vararg.arg, "VAR_POSITIONAL", False))
    out += [
        (p.arg, "KEYWORD_ONLY", d is not None)
        for p, d in zip(a.kwonlyargs, a.kw_defaults, strict=True)
    ]
    if a.kwarg is not None:
        out.append((a.kwarg.arg, "VAR_KEYWORD", False))
    return out


def test_a_provider_dropped_without_close_does_not_leave_its_thread() -> None:
    import gc

    provider = SyncStorageProvider()
    store = provider.store()
    thread = provider.thread
    del provider
    gc.collect()
    assert thread.is_alive()  # its store still uses it
    store.upload("k", b"1")
    del store
    gc.collect()
    assert not thread.is_alive()
    standalone = open_store("memory://")
    thread = standalone._runner.thread
    del standalone
    gc.collect()
    assert not thread.is_alive()


def test_upload_takes_a_plain_iterable_of_bytes(provider: SyncStorageProvider) -> None:
    store = provider.store()
    pulled_in: set[str] = set()

    def parts() -> Iterator[bytes]:
        for i in range(5):
            pulled_in.add(threading.current_thread().name)
            yield bytes([65 + i]) * 3

    info = store.upload("gen.bin", parts())
    assert info.size == 15
    assert store.download("gen.bin") == b"AAABBBCCCDDDEEE"
    assert provider.thread.name not in pulled_in  # never run on (and blocking) the loop
    store.upload("kw.bin", data=iter([b"x", b"y"]))
    assert store.download("kw.bin") == b"xy"
    with pytest.raises(TypeError):
        store.upload("bad", 12345)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        store.upload("bad", iter(["text"]))
    assert not store.exists("bad")


def test_the_blocking_api_is_imported_only_when_used() -> None:
    import subprocess
    import sys

    code = (
        "import sys, threading, lexigram.storage as s; "
        "s.open_store('memory://'); "
        "print('lexigram.storage.sync' in sys.modules, threading.active_count())"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "1"]


def test_the_local_kv_store_works_through_the_blocking_api(tmp_path: Path) -> None:
    config = {
        "drivers": {"memory": {}},
        "kv": {"backend": "local", "path": str(tmp_path / "kv.log"), "fsync": False},
    }
    with SyncStorageProvider.from_dict(config) as provider:
        kv = provider.kv()
        kv.set("a", [1, 2], ttl=3600)
        assert kv.increment("n", 5) == 5
        assert 0 < (kv.ttl("a") or 0) <= 3600
    with SyncStorageProvider.from_dict(config) as provider:  # flushed and closed by close()
        assert provider.kv().get("a") == [1, 2]
        assert provider.kv().get_many(["a", "n"]) == {"a": [1, 2], "n": 5}
