"""What a crashed upload leaves (temporary files, sidecars of files never renamed into
place) is removed when a store next opens the root, or by ``LocalDriver.cleanup()`` —
never a running writer's file, never one younger than ``orphan_max_age``; listing never
shows any of it.

The crash is real: a child process uploads, pauses at the planted step (its streamed
body blocks after its first piece was written to the temp file; its in-memory upload
blocks right after the sidecar was written, before the rename), and is killed with
SIGKILL. A second child paused the same way stays alive as the "running writer".
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lexigram.storage import BlobStore
from lexigram.storage.local import tempnames
from lexigram.storage.local.config import StorageLocalConfig
from lexigram.storage.local.driver import LocalDriver
from lexigram.storage.local.orphans import pid_alive

CHILD = r"""
import asyncio, sys, threading
from lexigram.storage import BlobStore
from lexigram.storage.local import files
from lexigram.storage.local.config import StorageLocalConfig
from lexigram.storage.local.driver import LocalDriver

root, prefix = sys.argv[1], sys.argv[2]
gate = threading.Event()
streamed_paused = threading.Event()
sidecar_written = threading.Event()
real_write_sidecar = files.write_sidecar

def write_sidecar(*args, **kwargs):
    real_write_sidecar(*args, **kwargs)
    sidecar_written.set()
    gate.wait()  # the planted pause: sidecar written, data file not renamed yet

files.write_sidecar = write_sidecar

async def body():
    yield b"first piece " * 1000
    streamed_paused.set()  # the first piece is in the temp file now
    await asyncio.to_thread(gate.wait)
    yield b"the rest"

async def main():
    config = StorageLocalConfig(root_dir=root, orphan_max_age=None)
    async with BlobStore(LocalDriver(config), name="child") as store:
        streamed = asyncio.create_task(store.upload(prefix + "/streamed.bin", body()))
        meta = asyncio.create_task(
            store.upload(prefix + "/with-meta.bin", b"payload", metadata={"m": "1"})
        )
        await asyncio.to_thread(streamed_paused.wait)
        await asyncio.to_thread(sidecar_written.wait)
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)  # never comes to the killed child
        gate.set()
        await streamed
        await meta
    print("done", flush=True)

asyncio.run(main())
"""


def _start(root: Path, prefix: str) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(root), prefix],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    assert line == "ready\n", f"child did not reach its pause: {line!r}"
    return child


def _temps(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            if name.startswith(".lexigram-tmp"):
                yield Path(dirpath, name)


def _owned_by(root: Path, pid: int) -> list[Path]:
    out = []
    for path in _temps(root):
        owner = tempnames.parse(path.name)
        if owner is not None and owner.pid == pid:
            out.append(path)
    return out


def _sidecars(root: Path) -> list[Path]:
    return sorted((root / ".lexigram" / "meta").rglob("*.json"))


async def _open(root: Path, **config: object) -> BlobStore:
    store = BlobStore(LocalDriver(StorageLocalConfig(root_dir=str(root), **config)), name="t")
    assert not await store.exists("anything")  # the first operation opens the root
    return store


async def test_sigkilled_upload_is_cleaned_up_but_a_live_writer_is_not(root: Path) -> None:
    root.mkdir()  # noqa: ASYNC240
    killed = _start(root, "killed")
    live = _start(root, "live")
    try:
        killed.send_signal(signal.SIGKILL)
        assert killed.wait() == -signal.SIGKILL
        assert not pid_alive(killed.pid)
        # what the crash left: its two temp files (one with the streamed first piece)
        # and the sidecar of the file it never renamed into place
        orphans = _owned_by(root, killed.pid)
        assert len(orphans) == 2 and all(p.parent == root / "killed" for p in orphans)
        assert max(p.stat().st_size for p in orphans) == len(b"first piece " * 1000)
        live_temps = _owned_by(root, live.pid)
        assert len(live_temps) == 2
        assert len(_sidecars(root)) == 2  # one of each child

        # listing never shows temp files (automatic cleanup off here)
        store = await _open(root, orphan_max_age=None)
        assert [i.path async for i in store.list()] == []
        assert [i.path async for i in store.list("killed/")] == []
        assert [i.path async for i in store.list(delimiter="/")] == []
        await store.close()
        assert len(_owned_by(root, killed.pid)) == 2

        # the default age (one hour) protects fresh files, even of a dead writer
        store = await _open(root)
        await store.close()
        assert len(_owned_by(root, killed.pid)) == 2 and len(_sidecars(root)) == 2

        # with no age limit, opening removes the dead writer's files, not the live one's
        store = await _open(root, orphan_max_age=0)
        assert _owned_by(root, killed.pid) == []
        assert sorted(_owned_by(root, live.pid)) == sorted(live_temps)
        assert len(_sidecars(root)) == 1
        assert not (root / "killed").exists() or list((root / "killed").iterdir()) == []

        # the live writer finishes as if nothing happened
        assert live.stdin is not None and live.stdout is not None
        live.stdin.write("go\n")
        live.stdin.flush()
        assert live.stdout.readline() == "done\n"
        assert live.wait() == 0
        assert await store.download("live/streamed.bin") == b"first piece " * 1000 + b"the rest"
        info = await store.info("live/with-meta.bin")
        assert dict(info.metadata) == {"m": "1"}  # its sidecar survived the cleanup
        assert list(_temps(root)) == []
        assert sorted([i.path async for i in store.list()]) == [
            "live/streamed.bin",
            "live/with-meta.bin",
        ]
        await store.close()
    finally:
        for child in (killed, live):
            if child.poll() is None:
                child.kill()
            child.wait()
            for pipe in (child.stdin, child.stdout):
                if pipe is not None:
                    pipe.close()


async def test_cleanup_judges_foreign_and_old_format_names_by_age(
    root: Path, tmp_path: Path
) -> None:
    """No owner that can be checked (another host, the older name format): age decides.
    Links are never followed, and a running process's file survives any age."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_bytes(b"outside")
    store = await _open(root)
    await store.upload("d/obj", b"object")
    now = int(time.time())
    old = time.time() - 7200
    names = {
        "foreign-old": f".lexigram-tmp-0badc0de-1-{now}-aaaaaaaaaaaa",
        "foreign-new": f".lexigram-tmp-0badc0de-2-{now}-bbbbbbbbbbbb",
        "legacy-old": ".lexigram-tmp-0123456789abcdef",
        "legacy-new": ".lexigram-tmp-fedcba9876543210",
        "mine-old": f".lexigram-tmp-{tempnames.host_tag()}-{os.getpid()}-{now}-cccccccccccc",
    }
    for label, name in names.items():
        path = root / "d" / name
        path.write_bytes(b"partial")
        if label.endswith("old"):
            os.utime(path, (old, old))
    os.symlink(outside, root / "d" / ".lexigram-tmp-link")
    driver = store.driver
    assert isinstance(driver, LocalDriver)
    assert await driver.cleanup() == 2
    left = sorted(p.name for p in (root / "d").iterdir())
    assert left == sorted(
        [names["foreign-new"], names["legacy-new"], names["mine-old"], ".lexigram-tmp-link", "obj"]
    )
    assert await driver.cleanup(max_age=0) == 2  # the fresh ones; never this process's
    assert sorted(p.name for p in (root / "d").iterdir()) == sorted(
        [names["mine-old"], ".lexigram-tmp-link", "obj"]
    )
    assert sorted(p.name for p in outside.iterdir()) == ["keep.txt"]
    assert await store.download("d/obj") == b"object"
    assert [i.path async for i in store.list()] == ["d/obj"]
    await store.close()


@pytest.mark.parametrize("value", [-1, float("nan"), float("inf"), "soon"])
def test_orphan_max_age_must_be_seconds(value: object) -> None:
    from lexigram.storage import ConfigError, StorageConfig

    with pytest.raises(ConfigError) as caught:
        StorageConfig.from_dict(
            {"default_driver": "local", "drivers": {"local": {"orphan_max_age": value}}}
        )
    assert "orphan_max_age" in str(caught.value)
    message = str(caught.value)
    assert any(word in message for word in ("seconds", "float", "0 or more", "number")), message
