"""Whatever a store's first operation is, the root directory is created, opened and swept
of orphans in a worker thread, never on the event loop: each is planted to record the
thread it runs in, and the loop's own thread is the failure."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from lexigram.storage import BlobStore
from lexigram.storage.local import files
from lexigram.storage.local.config import StorageLocalConfig
from lexigram.storage.local.driver import LocalDriver


async def _chunks() -> Any:
    yield b"streamed "
    yield b"body"


FIRST: dict[str, Callable[[BlobStore], Awaitable[object]]] = {
    "upload": lambda s: s.upload("a/b.txt", b"body"),
    "upload streamed": lambda s: s.upload("a/b.txt", _chunks()),
    "download": lambda s: s.download("a/b.txt"),
    "download range": lambda s: s.download("a/b.txt", range=(1, 3)),
    "stream": lambda s: s.download("a/b.txt", progress=lambda done, total: None),
    "info": lambda s: s.info("a/b.txt"),
    "exists": lambda s: s.exists("a/b.txt"),
    "list": lambda s: _all(s.list("a/")),
    "delete": lambda s: s.delete("a/b.txt"),
    "delete_many": lambda s: s.delete_many(["a/b.txt", "c.txt"]),
    "copy": lambda s: s.copy("a/b.txt", "c.txt"),
    "move": lambda s: s.move("a/b.txt", "c.txt"),
    "health_check": lambda s: s.health_check(),
}


async def _all(entries: Any) -> list[Any]:
    return [e async for e in entries]


@pytest.mark.parametrize("operation", sorted(FIRST))
@pytest.mark.parametrize("root_exists", [True, False], ids=["root-exists", "root-missing"])
async def test_first_operation_opens_the_root_off_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, operation: str, root_exists: bool
) -> None:
    loop_thread = threading.get_ident()
    seen: list[tuple[str, int]] = []
    open_root = files.open_root
    sweep = files.LocalFiles._sweep
    makedirs = os.makedirs

    def planted_open_root(path: str) -> int:
        seen.append(("open_root", threading.get_ident()))
        return open_root(path)

    def planted_sweep(self: files.LocalFiles, root: int, max_age: float) -> int:
        seen.append(("sweep", threading.get_ident()))
        return sweep(self, root, max_age)

    def planted_makedirs(name: Any, *args: Any, **kwargs: Any) -> None:
        seen.append(("makedirs", threading.get_ident()))
        makedirs(name, *args, **kwargs)

    root = tmp_path / "root"
    if root_exists:
        (root / "a").mkdir(parents=True)
        (root / "a" / "b.txt").write_bytes(b"body")
    monkeypatch.setattr(files, "open_root", planted_open_root)
    monkeypatch.setattr(files.LocalFiles, "_sweep", planted_sweep)
    monkeypatch.setattr(files.os, "makedirs", planted_makedirs)
    store = BlobStore(LocalDriver(StorageLocalConfig(root_dir=str(root), orphan_max_age=60)))
    try:
        try:
            await FIRST[operation](store)
        except Exception as exc:  # a missing key is fine here: where the root was opened counts
            assert not root_exists, exc
        await asyncio.sleep(0)
    finally:
        await store.close()
    names = [name for name, _ in seen]
    assert "open_root" in names and "sweep" in names, seen
    on_loop = [name for name, ident in seen if ident == loop_thread]
    assert on_loop == [], f"{operation} did {on_loop} on the event loop"
