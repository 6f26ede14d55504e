"""``cp`` and ``sync``: streamed, concurrent copies with a progress bar and a size check."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Literal, TypeAlias

import attrs
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from lexigram.storage import StorageError
from lexigram.storage.cli.endpoints import Entry, FsEndpoint, StoreEndpoint

__all__ = ["PAUSE_HOOK", "Compare", "Copy", "Endpoint", "SyncPlan", "plan_sync", "run_copies"]

Endpoint: TypeAlias = StoreEndpoint | FsEndpoint
#: how ``sync`` decides that a destination is already up to date
Compare: TypeAlias = Literal["time", "checksum", "size"]
#: test hook: once this many bytes went through a copy, print a marker on stderr and
#: wait, so a test can signal the process at exactly that step
PAUSE_HOOK = "LEXIGRAM_STORAGE_CLI_TEST_PAUSE_AFTER_BYTES"


@attrs.frozen
class Copy:
    """Copy ``src_rel`` of the source to ``dst_rel`` of the destination."""

    src_rel: str
    dst_rel: str
    size: int
    #: the source's last-modified time, given to a downloaded file as its mtime
    modified: datetime | None = None


@attrs.frozen
class SyncPlan:
    copies: list[Copy]
    deletes: list[str]
    unchanged: int


def differs(
    src: Entry, dst: Entry | None, same_backend_kind: bool, compare: Compare = "time"
) -> bool:
    """Whether ``dst`` must be (re)written: missing, another size, or older than the source.

    Equal etags on the same kind of backend mean equal content; unequal ones prove
    nothing (a multipart etag, a local file's inode), so then the times decide.
    ``compare="size"`` looks at sizes only; ``"checksum"`` compares the MD5 of both
    sides where both have one (a local file, an S3 single-part object), else sizes."""
    if dst is None or src.size != dst.size:
        return True
    if compare == "size":
        return False
    if compare == "checksum":
        return src.md5 is not None and dst.md5 is not None and src.md5 != dst.md5
    if same_backend_kind and src.etag and dst.etag and src.etag == dst.etag:
        return False
    if src.modified is not None and dst.modified is not None:
        return src.modified > dst.modified
    return False


def plan_sync(
    src: dict[str, Entry],
    dst: dict[str, Entry],
    *,
    delete: bool,
    same_backend_kind: bool,
    compare: Compare = "time",
) -> SyncPlan:
    copies = [
        Copy(rel, rel, entry.size, entry.modified)
        for rel, entry in src.items()
        if differs(entry, dst.get(rel), same_backend_kind, compare)
    ]
    deletes = sorted(set(dst) - set(src)) if delete else []
    return SyncPlan(copies, deletes, len(src) - len(copies))


async def run_copies(
    source: Endpoint,
    dest: Endpoint,
    copies: list[Copy],
    *,
    concurrency: int,
    console: Console,
    show_progress: bool,
    on_done: Callable[[Copy], None] | None = None,
    keep_metadata: bool = True,
) -> None:
    """Copy every item, ``concurrency`` at a time, then check each destination size.

    With ``keep_metadata`` the content type, user metadata and HTTP headers
    (Cache-Control, Content-Disposition, Content-Encoding, Content-Language) of each
    source object (a local file: its type guessed from its name) are given to its copy;
    a destination backend that cannot store HTTP headers gets the rest, and one warning
    on ``console`` says so.

    The first failure cancels the rest (every driver's upload is atomic, so a cancelled
    copy leaves nothing partial) and is raised.
    """
    total = sum(c.size for c in copies)
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        _MibRateColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, disable=not show_progress, transient=False) as bar:
        phases = _Phases(len(copies), bar, bar.add_task("", total=total))
        gate = asyncio.Semaphore(max(1, concurrency))
        warned: list[bool] = []

        async def one(item: Copy) -> None:
            async with gate:
                attributes = await source.attributes(item.src_rel) if keep_metadata else None
                if (
                    attributes is not None
                    and attributes.headers
                    and isinstance(dest, StoreEndpoint)
                    and not dest.keeps_http_headers
                    and not warned
                ):
                    warned.append(True)
                    console.print(
                        f"warning: the {dest.store.driver_name!r} driver of "
                        f"{dest.describe()} cannot store HTTP headers (Cache-Control, "
                        "Content-Disposition, ...): they are not copied; the content type "
                        "and metadata are",
                        markup=False,
                    )
                await dest.write(
                    item.dst_rel,
                    _counted(source.read(item.src_rel), item.size, phases),
                    item.size,
                    attributes,
                    item.modified,
                )
                phases.move("completing", "verifying")
                got = await dest.size_of(item.dst_rel)
                if got != item.size:
                    raise StorageError(
                        f"size check failed for {dest.describe(item.dst_rel)}: wrote {got} bytes, "
                        f"the source {source.describe(item.src_rel)} has {item.size}. Run the "
                        "copy again."
                    )
                phases.move("verifying", "done")
                if on_done is not None:
                    on_done(item)

        async with asyncio.TaskGroup() as group:
            for item in copies:
                group.create_task(one(item))


class _MibRateColumn(ProgressColumn):
    """The transfer rate in the same binary units as the sizes (MiB/s, not MB/s)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if speed is None:
            return Text("?", style="progress.data.speed")
        return Text(f"{speed / 1024 / 1024:.1f} MiB/s", style="progress.data.speed")


class _Phases:
    """What the copies are doing, shown as the bar's description: after the last byte
    of an object is handed over, its upload is being completed (a multipart upload is
    committed, a file synced and renamed), then its size is verified."""

    def __init__(self, count: int, bar: Progress, task: TaskID) -> None:
        self.count, self.bar, self.task = count, bar, task
        self.states = {"completing": 0, "verifying": 0, "done": 0}
        self._show()

    def move(self, old: str | None, new: str) -> None:
        if old is not None:
            self.states[old] -= 1
        self.states[new] += 1
        self._show()

    def advance(self, size: int) -> None:
        self.bar.advance(self.task, size)

    def _show(self) -> None:
        text = f"{self.states['done']}/{self.count} object(s)"
        if self.states["completing"]:
            text += f", completing {self.states['completing']} upload(s)"
        if self.states["verifying"]:
            text += f", verifying {self.states['verifying']}"
        self.bar.update(self.task, description=text)
        self.bar.refresh()


async def _counted(
    source: AsyncIterator[bytes], size: int, phases: _Phases
) -> AsyncIterator[bytes]:
    pause_at = int(os.environ.get(PAUSE_HOOK) or -1)
    sent = 0
    last_sent = size == 0
    if last_sent:
        phases.move(None, "completing")
    async for chunk in source:
        phases.advance(len(chunk))
        if not last_sent and sent + len(chunk) >= size:
            last_sent = True
            phases.move(None, "completing")  # the last byte goes: the upload is finished next
        yield chunk
        sent += len(chunk)
        if 0 <= pause_at <= sent:
            pause_at = -1
            sys.stderr.write(f"test-hook: paused after {sent} bytes\n")
            sys.stderr.flush()
            await asyncio.Event().wait()
