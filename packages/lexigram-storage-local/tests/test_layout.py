"""On-disk layout: listing order, sidecars, nesting (``a`` beside ``a/b``), pruning."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from lexigram.storage import BlobStore
from lexigram.storage.local import files
from lexigram.storage.local.config import StorageLocalConfig
from lexigram.storage.local.driver import LocalDriver


async def _keys(store: BlobStore, prefix: str = "", delimiter: str | None = None) -> list[str]:
    return [
        i.path + ("<prefix>" if i.is_prefix else "")
        async for i in store.list(prefix, delimiter=delimiter)
    ]


def _tree(root: Path) -> list[str]:
    return sorted(
        str(p.relative_to(root)) + ("/" if p.is_dir() else "")
        for p in root.rglob("*")
        if ".lexigram" not in str(p.relative_to(root)).split("/")[0]
    )


async def test_files_are_plain_files_named_by_key(store: BlobStore, root: Path) -> None:
    await store.upload("photos/2024/cat.jpg", b"meow")
    assert (root / "photos" / "2024" / "cat.jpg").read_bytes() == b"meow"
    # a file put there by hand is an object too
    (root / "photos" / "dog.png").write_bytes(b"woof")
    info = await store.info("photos/dog.png")
    assert (info.size, info.content_type) == (4, "image/png")
    assert await _keys(store) == ["photos/2024/cat.jpg", "photos/dog.png"]


async def test_order_is_code_point_order_at_every_depth(store: BlobStore) -> None:
    names = ["a", "a-b", "a/b", "a/b/c", "a/b-", "a/b0", "a0", "a.", "a/", "b", "é/x", "Z", "~"]
    names = [n for n in names if not n.endswith("/")]
    for name in names:
        await store.upload(name, name.encode())
    assert await _keys(store) == sorted(names)
    assert await _keys(store, "a/") == sorted(n for n in names if n.startswith("a/"))
    assert await _keys(store, "a/b") == sorted(n for n in names if n.startswith("a/b"))
    assert await _keys(store, delimiter="/") == [
        "Z",
        "a",
        "a-b",
        "a.",
        "a/<prefix>",
        "a0",
        "b",
        "~",
        "é/<prefix>",
    ]
    assert await _keys(store, "a/", delimiter="/") == ["a/b", "a/b-", "a/b/<prefix>", "a/b0"]
    # another delimiter: collapsed from the flat listing
    assert await _keys(store, "", delimiter="-") == [
        "Z",
        "a",
        "a-<prefix>",
        "a.",
        "a/b",
        "a/b-<prefix>",
        "a/b/c",
        "a/b0",
        "a0",
        "b",
        "~",
        "é/x",
    ]


async def test_object_and_directory_of_one_name(store: BlobStore, root: Path) -> None:
    await store.upload("a", b"A", content_type="text/x-a", metadata={"v": "1"})
    await store.upload("a/b", b"AB")
    # `a` moved into its directory, keeping content type and metadata
    assert (root / "a").is_dir()
    info = await store.info("a")
    assert (info.size, info.content_type, dict(info.metadata)) == (1, "text/x-a", {"v": "1"})
    assert await store.download("a") == b"A"
    assert [c async for c in store.stream("a")] == [b"A"]
    assert await _keys(store) == ["a", "a/b"]
    await store.upload("a", b"A2")  # overwriting it keeps it inside
    assert await store.download("a") == b"A2"
    await store.delete("a/b")
    assert await _keys(store) == ["a"]
    assert await _keys(store, delimiter="/") == ["a"]
    with_create = await asyncio.gather(
        store.upload("a", b"x", mode="create"), return_exceptions=True
    )
    assert isinstance(with_create[0], FileExistsError)
    await store.move("a", "m/a")
    assert await _keys(store) == ["m/a"]
    assert not (root / "a").exists()  # pruned
    await store.upload("m/a/deeper/still", b"d")
    await store.copy("m/a", "m/a/copy")
    assert await _keys(store) == ["m/a", "m/a/copy", "m/a/deeper/still"]
    await store.delete_many(["m/a", "m/a/copy", "m/a/deeper/still"])
    assert _tree(root) == []


async def test_reverse_nesting(store: BlobStore) -> None:
    await store.upload("x/y/z", b"z")
    await store.upload("x/y", b"y", mode="create")
    await store.upload("x", b"x")
    assert await _keys(store) == ["x", "x/y", "x/y/z"]
    assert [await store.download(k) for k in ("x", "x/y", "x/y/z")] == [b"x", b"y", b"z"]
    assert await _keys(store, "x/", delimiter="/") == ["x/y", "x/y/<prefix>"]


async def test_concurrent_writes_around_a_promotion(store: BlobStore) -> None:
    await store.upload("p", b"0")
    writes = [store.upload("p", str(i).encode()) for i in range(1, 8)]
    writes += [store.upload(f"p/{i}", b"c") for i in range(8)]
    await asyncio.gather(*writes)
    assert (await store.download("p")) in {str(i).encode() for i in range(8)}
    assert len(await _keys(store)) == 9


async def test_empty_directories_are_pruned(store: BlobStore, root: Path) -> None:
    await store.upload("a/b/c/d.txt", b"x")
    await store.upload("a/keep.txt", b"x")
    await store.delete("a/b/c/d.txt")
    assert _tree(root) == ["a/", "a/keep.txt"]
    await store.delete("a/keep.txt")
    assert _tree(root) == []
    assert root.is_dir()  # the root itself stays  # noqa: ASYNC240


async def test_empty_directories_are_not_prefixes(store: BlobStore, root: Path) -> None:
    await store.upload("full/x", b"x")
    (root / "empty" / "deeper").mkdir(parents=True)
    assert await _keys(store, delimiter="/") == ["full/<prefix>"]
    assert await _keys(store) == ["full/x"]
    assert not await store.exists("empty")


async def test_sidecars_are_invisible_and_follow_the_file(store: BlobStore, root: Path) -> None:
    await store.upload("doc", b"x", content_type="text/markdown", metadata={"owner": "me"})
    await store.upload(".hidden", b"h")
    assert (root / ".lexigram").is_dir()
    assert await _keys(store) == [".hidden", "doc"]
    # the guessed type and no metadata need no sidecar at all
    await store.upload("plain.txt", b"p")
    assert (await store.info("plain.txt")).content_type == "text/plain"
    sidecars = [p for p in (root / ".lexigram").rglob("*.json")]
    assert len(sidecars) == 1
    # a file replaced behind the driver's back never inherits the old sidecar
    os.replace(root / "plain.txt", root / "doc")
    info = await store.info("doc")
    assert (info.content_type, dict(info.metadata)) == ("application/octet-stream", {})
    await store.delete("doc")
    assert [p for p in (root / ".lexigram").rglob("*.json")] == []


async def test_sidecar_of_another_writer_is_removed_or_inert(
    store: BlobStore, root: Path, config: StorageLocalConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(files, "NO_SIDECARS_FOR", 3600.0)  # the while lasts the whole test
    # `store` writes without metadata first: it remembers for a while that the root holds
    # no sidecar. Another writer (another process: a driver of its own) then stores the
    # key with metadata; the overwrite by `store` within that while may leave that
    # sidecar behind, but never lets it describe the new file, and the delete removes it.
    await store.upload("k.bin", b"plain")
    await store.upload("k.bin", b"plain")  # an overwrite: it looks for sidecars, finds none
    other = BlobStore(LocalDriver(config), name="other-process")
    await other.upload("k.bin", b"with metadata", metadata={"owner": "other"})
    assert dict((await store.info("k.bin")).metadata) == {"owner": "other"}
    await store.upload("k.bin", b"plain again")
    for reader in (store, other):
        info = await reader.info("k.bin")
        assert (info.size, dict(info.metadata)) == (len(b"plain again"), {})
    assert len(list((root / ".lexigram").rglob("*.json"))) == 1  # the inert orphan
    await store.delete("k.bin")
    assert [p for p in (root / ".lexigram").rglob("*.json")] == []
    await other.close()
    # once this process writes a sidecar itself, the next overwrite removes the old one
    await store.upload("m.bin", b"1", metadata={"a": "1"})
    await store.upload("m.bin", b"2")
    assert [p for p in (root / ".lexigram").rglob("*.json")] == []


async def test_copy_and_move_keep_type_and_metadata(store: BlobStore) -> None:
    await store.upload("src.bin", b"data", content_type="text/plain", metadata={"k": "v"})
    await store.copy("src.bin", "dst.json")
    await store.move("src.bin", "moved.png")
    for key in ("dst.json", "moved.png"):
        info = await store.info(key)
        assert (info.content_type, dict(info.metadata)) == ("text/plain", {"k": "v"}), key
    # a guessed type stays the type of the original name
    await store.upload("page.html", b"<p>")
    await store.move("page.html", "page.bin")
    assert (await store.info("page.bin")).content_type == "text/html"


async def test_move_under_itself_keeps_type_and_metadata(store: BlobStore, root: Path) -> None:
    """``move("b", "b/a")``: ``b`` becomes a directory on the way; its bytes, type and
    metadata end up at ``b/a`` and ``b`` is gone (as on the memory and cloud drivers)."""
    await store.upload("b", b"old b", content_type="text/plain", metadata={"k": "v"})
    await store.move("b", "b/c/a")
    assert not await store.exists("b")
    info = await store.info("b/c/a")
    assert (info.content_type, dict(info.metadata)) == ("text/plain", {"k": "v"})
    assert await store.download("b/c/a") == b"old b"
    assert await _keys(store) == ["b/c/a"]
    assert _tree(root) == ["b/", "b/c/", "b/c/a"]
    # a key that already is a directory too (b beside b/x)
    await store.upload("b", b"b again")
    await store.upload("b/x", b"x")
    await store.move("b", "b/y")
    assert await _keys(store) == ["b/c/a", "b/x", "b/y"]
    assert await store.download("b/y") == b"b again"
    assert [p.name for p in (root / "b").iterdir() if p.name.startswith(".lexigram")] == []


async def test_etag_changes_with_content(store: BlobStore) -> None:
    first = await store.upload("e", b"1")
    second = await store.upload("e", b"2")
    assert first.etag != second.etag
    assert (await store.info("e")).etag == second.etag


async def test_root_is_created_and_health(tmp_path: Path) -> None:
    from lexigram.storage.local.config import StorageLocalConfig
    from lexigram.storage.local.driver import LocalDriver

    root = tmp_path / "made" / "on" / "demand"
    async with BlobStore(LocalDriver(StorageLocalConfig(root_dir=str(root)))) as store:
        assert (await store.health_check()).healthy
        assert root.is_dir()
        root.rmdir()
        status = await store.health_check()
        assert not status.healthy and "does not exist" in status.detail


async def test_root_removed_and_made_again_while_in_use(store: BlobStore, root: Path) -> None:
    import shutil

    await store.upload("k", b"1")
    shutil.rmtree(root)
    root.mkdir()  # noqa: ASYNC240
    (root / "k").write_bytes(b"2")
    assert await store.download("k") == b"2"
    assert (await store.info("k")).size == 1
    await store.upload("j", b"3")
    assert (root / "j").read_bytes() == b"3"
    assert await _keys(store) == ["j", "k"]
    await store.delete("k")
    assert not (root / "k").exists()
    assert (await store.health_check()).healthy
