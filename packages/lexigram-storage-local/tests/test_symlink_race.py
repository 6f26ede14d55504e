"""A directory swapped for a symlink at the exact vulnerable step never leads a write
(or a delete) outside root_dir: the operation succeeds inside or fails with a typed
StorageError, and no temporary file stays behind.

The swap is planted, not hoped for: a hook on ``os.rename`` / ``os.link`` / ``os.open``
/ ``os.unlink`` (the calls the driver makes with ``dir_fd=``) turns the target key into a
directory at the commit's rename/link — so the commit takes its "the key is a directory
now" path — and then, just before the driver's next step on that name, moves the
directory aside and puts a symlink to a directory outside the root in its place.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lexigram.storage import BlobStore, PermissionDeniedError, StorageError
from lexigram.storage.local import nesting

_real = {name: getattr(os, name) for name in ("rename", "link", "open", "unlink", "mkdir")}


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes() if p.is_file() else b"<dir>"
        for p in sorted(directory.rglob("*"))
    }


def _leftovers(root: Path) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.name.startswith(".lexigram-tmp")]


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    out = tmp_path / "outside"
    out.mkdir()
    (out / "secret.txt").write_bytes(b"outside secret")
    return out


def _name(path: Any) -> str | None:
    return path if isinstance(path, str) else None


class _Swap:
    """Plants the race on key ``name`` (a top-level key, so ``dir_fd`` is the root).

    Phase 1: the commit's ``rename``/``link`` onto ``name`` finds a directory there (made
    by the hook just before). Phase 2: the driver's next call that reaches ``name`` —
    a path through it (``name/...``) or an open of it — finds a symlink to ``outside``.
    """

    def __init__(self, root: Path, outside: Path, name: str) -> None:
        self.root = root
        self.outside = outside
        self.name = name
        self.phase = 0

    def _make_dir(self) -> None:
        target = self.root / self.name
        if target.is_dir():
            return
        if target.exists() or target.is_symlink():
            target.unlink()
        target.mkdir()

    def _swap(self) -> None:
        self.phase = 2
        target = self.root / self.name
        _real["rename"](target, self.root / "aside")
        os.symlink(self.outside, target)

    def _touches(self, path: Any) -> bool:
        name = _name(path)
        return name is not None and (name == self.name or name.startswith(self.name + "/"))

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        def rename(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
            if self.phase == 0 and _name(dst) == self.name and "dst_dir_fd" in kwargs:
                self.phase = 1
                self._make_dir()
            elif self.phase == 1 and self._touches(dst):
                self._swap()
            _real["rename"](src, dst, *args, **kwargs)

        def link(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
            if self.phase == 0 and _name(dst) == self.name and "dst_dir_fd" in kwargs:
                self.phase = 1
                self._make_dir()
            elif self.phase == 1 and self._touches(dst):
                self._swap()
            _real["link"](src, dst, *args, **kwargs)

        def open_(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
            if self.phase == 1 and self._touches(path) and kwargs.get("dir_fd") is not None:
                self._swap()
            fd: int = _real["open"](path, flags, *args, **kwargs)
            return fd

        monkeypatch.setattr(os, "rename", rename)
        monkeypatch.setattr(os, "link", link)
        monkeypatch.setattr(os, "open", open_)


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for i in range(0, len(data), 1000):
        yield data[i : i + 1000]


Upload = Callable[[BlobStore], Any]

UPLOADS: dict[str, Upload] = {
    "overwrite": lambda s: s.upload("k", b"attacker-steered bytes"),
    "create": lambda s: s.upload("k", b"attacker-steered bytes", mode="create"),
    "streamed": lambda s: s.upload("k", _chunks(b"attacker-steered bytes" * 100)),
    "with-metadata": lambda s: s.upload("k", b"attacker-steered bytes", metadata={"m": "1"}),
    "copy": lambda s: s.copy("src", "k"),
    "move": lambda s: s.move("src", "k"),
}


@pytest.mark.parametrize("existing", [True, False], ids=["key-exists", "new-key"])
@pytest.mark.parametrize("operation", list(UPLOADS))
async def test_swap_to_symlink_at_commit_never_writes_outside(
    store: BlobStore,
    root: Path,
    outside: Path,
    monkeypatch: pytest.MonkeyPatch,
    operation: str,
    existing: bool,
) -> None:
    await store.upload("src", b"attacker-steered bytes")
    if existing:
        await store.upload("k", b"old")
    before = _snapshot(outside)
    swap = _Swap(root, outside, "k")
    swap.install(monkeypatch)
    with pytest.raises(PermissionDeniedError) as caught:
        await UPLOADS[operation](store)
    monkeypatch.undo()
    assert swap.phase == 2, "the race was not planted: the commit never met the directory"
    assert "symbolic link" in str(caught.value)
    assert _snapshot(outside) == before
    assert _leftovers(root) == []


async def test_swap_of_promotion_temp_dir_never_links_outside(
    store: BlobStore, root: Path, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Promoting ``a`` (when ``a/b`` is written) links ``a`` into a fresh temp directory:
    that directory swapped for a symlink right after its mkdir must not be followed."""
    await store.upload("a", b"the object a")
    before = _snapshot(outside)
    swapped: list[str] = []

    def mkdir(path: Any, *args: Any, **kwargs: Any) -> None:
        _real["mkdir"](path, *args, **kwargs)
        name = _name(path)
        if name is not None and name.startswith(".lexigram-tmp") and not swapped:
            swapped.append(name)
            _real["rename"](root / name, root / "aside")
            os.symlink(outside, root / name)

    monkeypatch.setattr(os, "mkdir", mkdir)
    try:
        await store.upload("a/b", b"nested")
    except StorageError as exc:
        assert isinstance(exc, PermissionDeniedError), exc
    monkeypatch.undo()
    assert swapped, "the race was not planted"
    assert _snapshot(outside) == before
    assert await store.download("a") == b"the object a"


def _all_files(directory: Path) -> Iterator[Path]:
    yield from (p for p in directory.rglob("*") if p.is_file())


async def test_promotion_swapped_key_dir_never_renamed_outside(
    store: BlobStore, root: Path, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the exchange, a newer ``a`` written meanwhile goes into ``a/`` — through an
    fd of ``a`` opened without following links, never through the path ``a/...``."""
    if nesting._exchange is None:
        pytest.fail("renameat2 is needed for this test (Linux)")
    await store.upload("a", b"the object a")
    before = _snapshot(outside)
    real_exchange = nesting._exchange
    planted: list[bool] = []

    def exchange(src_dir: int, src: str, dst_dir: int, dst: str) -> None:
        real_exchange(src_dir, src, dst_dir, dst)
        # after the exchange `src` (temp) holds the old file; make it look like a newer
        # overwrite landed (another inode), and swap the new directory `a` for a link
        newer = root / "newer"
        newer.write_bytes(b"newer a")
        _real["rename"](newer, root / src)
        _real["rename"](root / dst, root / "aside")
        os.symlink(outside, root / dst)
        planted.append(True)

    monkeypatch.setattr(nesting, "_exchange", exchange)
    try:
        await store.upload("a/b", b"nested")
    except StorageError as exc:
        assert isinstance(exc, PermissionDeniedError), exc
    monkeypatch.undo()
    assert planted
    assert _snapshot(outside) == before
    assert [p for p in _all_files(outside) if p.name != "secret.txt"] == []
