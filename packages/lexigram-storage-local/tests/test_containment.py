"""No key, however crafted, reads or writes outside root_dir; symlinks are refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lexigram.storage import (
    BlobStore,
    DriverError,
    ErrorCode,
    InvalidArgumentError,
    InvalidKeyError,
    PermissionDeniedError,
)
from lexigram.storage.body import UploadBody
from lexigram.storage.local.config import StorageLocalConfig
from lexigram.storage.local.driver import LocalDriver

#: keys that reach the driver (the core accepts them) and must stay inside the root.
ACCEPTED = [
    "back\\slash",
    "..\\..\\escape",
    "\\etc\\passwd",
    "C:\\Windows\\x",
    ".hidden",
    "dir/.hidden",
    "...",
    "a/.../b",
    "..a",
    "a..",
    " ",
    "a/ /b",
    "ünïcödé/文字/🎉",
    "CON",
    "aux.txt",
    "a:b*c?d<e>f|g",
    "é" * 127,  # 254 bytes: fits in one file name
]
#: keys the driver refuses (the core lets them through).
REFUSED = {
    ".lexigram": "reserves",
    ".lexigram/meta/00/x": "reserves",
    "a/.lexigram-self": "reserves",
    "a/.lexigram-tmp-0123": "reserves",
    "x" * 256: "longer than the filesystem allows",
    "ok/" + "é" * 128: "longer than the filesystem allows",
}
#: keys the core refuses before the driver sees them.
CORE_REFUSED = ["../x", "a/../../x", "/etc/passwd", "nul\x00", "a/./b", "..", "a//b"]


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes() if p.is_file() else b"<dir>"
        for p in sorted(directory.rglob("*"))
        if not p.is_symlink()
    }


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    out = tmp_path / "outside"
    out.mkdir()
    (out / "secret.txt").write_bytes(b"outside secret")
    return out


async def test_hostile_keys_stay_inside(
    store: BlobStore, root: Path, tmp_path: Path, outside: Path
) -> None:
    before = _snapshot(outside)
    for key in ACCEPTED:
        await store.upload(key, key.encode())
        assert await store.download(key) == key.encode()
        on_disk = root.joinpath(*key.split("/"))
        assert on_disk.is_file() and on_disk.read_bytes() == key.encode(), key
        assert on_disk.resolve().is_relative_to(root.resolve())  # noqa: ASYNC240
    listed = sorted([i.path async for i in store.list()])
    assert listed == sorted(ACCEPTED)
    for key, reason in REFUSED.items():
        # a limit of this backend (not a core key rule): still an InvalidKeyError, naming why
        with pytest.raises(InvalidKeyError) as caught:
            await store.upload(key, b"x")
        assert reason in str(caught.value)
        assert "local" in str(caught.value)
    for key in CORE_REFUSED:
        with pytest.raises(InvalidKeyError):
            await store.upload(key, b"x")
    # nothing appeared anywhere but in the root
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outside", "root"]  # noqa: ASYNC240
    assert _snapshot(outside) == before
    for key in ACCEPTED:
        await store.delete(key)
    assert [p for p in root.iterdir() if p.name != ".lexigram"] == []  # noqa: ASYNC240


async def test_driver_refuses_traversal_itself(config: StorageLocalConfig, outside: Path) -> None:
    """Defence in depth: even called directly (no core checks), the driver stays inside."""
    driver = LocalDriver(config)
    for key in ["../outside/secret.txt", "a/../../outside/x", "", "a//b", "./x"]:
        with pytest.raises(DriverError) as caught:
            await driver.put(
                key,
                UploadBody.from_data(b"x"),
                content_type="text/plain",
                metadata={},
                create_only=False,
            )
        assert caught.value.code is ErrorCode.INVALID_KEY
        with pytest.raises(DriverError):
            await driver.read(key, start=0, end=None)
    assert (outside / "secret.txt").read_bytes() == b"outside secret"
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]  # noqa: ASYNC240


async def test_planted_symlinks_are_refused(store: BlobStore, root: Path, outside: Path) -> None:
    await store.upload("inside/ok.txt", b"fine")
    os.symlink(outside, root / "out")  # a directory link pointing out of the root
    os.symlink(outside / "secret.txt", root / "file-link")  # a file link
    os.symlink(outside, root / "inside" / "deep")  # one level down
    before = _snapshot(outside)

    for key in ["out/secret.txt", "file-link", "inside/deep/secret.txt"]:
        with pytest.raises(PermissionDeniedError) as caught:
            await store.download(key)
        assert "symbolic link" in str(caught.value)
        with pytest.raises(PermissionDeniedError):
            await store.info(key)
        with pytest.raises(PermissionDeniedError):
            await store.exists(key)
        with pytest.raises(PermissionDeniedError):
            _ = [c async for c in store.stream(key)]
        with pytest.raises(PermissionDeniedError):
            await store.upload(key, b"overwritten!")
        with pytest.raises(PermissionDeniedError):
            await store.upload(key, b"created!", mode="create")
        with pytest.raises(PermissionDeniedError):
            await store.delete(key)
        with pytest.raises(PermissionDeniedError):
            await store.copy(key, "stolen.txt")
        with pytest.raises(PermissionDeniedError):
            await store.copy("inside/ok.txt", key)
        with pytest.raises(PermissionDeniedError):
            await store.move("inside/ok.txt", key)
    for key in ["out/new.txt", "inside/deep/new/file.txt"]:
        with pytest.raises(PermissionDeniedError):
            await store.upload(key, b"new")

    # Listing never follows a link: neither the links nor what they point at appear.
    assert [i.path async for i in store.list()] == ["inside/ok.txt"]
    assert [i.path async for i in store.list("out/")] == []
    assert [i.path async for i in store.list("inside/deep/")] == []
    assert [(i.path, i.is_prefix) async for i in store.list(delimiter="/")] == [("inside/", True)]
    await store.delete_many(["inside/ok.txt"])
    assert not await store.exists("stolen.txt")

    assert _snapshot(outside) == before
    assert (root / "out").is_symlink() and (root / "file-link").is_symlink()


async def test_fifo_in_root_does_not_hang(store: BlobStore, root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240
    os.mkfifo(root / "pipe")
    assert not await store.exists("pipe")
    with pytest.raises(FileNotFoundError):
        await store.download("pipe")
    with pytest.raises(InvalidArgumentError):
        await store.upload("pipe", b"x")
    assert [i.path async for i in store.list()] == []


async def test_root_may_itself_be_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    os.symlink(real, tmp_path / "alias")
    async with BlobStore(LocalDriver(StorageLocalConfig(root_dir=str(tmp_path / "alias")))) as s:
        await s.upload("k", b"v")
    assert (real / "k").read_bytes() == b"v"


async def test_fifo_in_place_of_a_sidecar_does_not_hang(store: BlobStore, root: Path) -> None:
    """A FIFO planted where a sidecar lives is never waited on: the object reads as
    "no sidecar" (guessed type, no metadata), and the cleanup passes it by."""
    await store.upload("k.txt", b"v", content_type="text/markdown", metadata={"m": "1"})
    (sidecar,) = (root / ".lexigram").rglob("*.json")
    sidecar.unlink()
    os.mkfifo(sidecar)
    info = await store.info("k.txt")
    assert (info.content_type, dict(info.metadata)) == ("text/plain", {})
    assert await store.download("k.txt") == b"v"
    driver = store.driver
    assert isinstance(driver, LocalDriver)
    await driver.cleanup(max_age=0)
    await store.move("k.txt", "moved.txt")
    assert await store.download("moved.txt") == b"v"
