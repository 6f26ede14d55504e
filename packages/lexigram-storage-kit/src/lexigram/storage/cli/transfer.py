"""``cp`` and ``sync``: streamed, concurrent copies with a progress bar and a size check."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import TypeAlias

import attrs
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from lexigram.storage import StorageError
from lexigram.storage.cli.endpoints import Entry, FsEndpoint, StoreEndpoint

__all__ = ["Copy", "Endpoint", "SyncPlan", "plan_sync", "run_copies"]

Endpoint: TypeAlias = StoreEndpoint | FsEndpoint


@attrs.frozen
class Copy:
    """Copy ``src_rel`` of the source to ``dst_rel`` of the destination."""

    src_rel: str
    dst_rel: str
    size: int


@attrs.frozen
class SyncPlan:
    copies: list[Copy]
    deletes: list[str]
    unchanged: int


def differs(src: Entry, dst: Entry | None, same_backend_kind: bool) -> bool:
    """Whether ``dst`` must be (re)written: missing, another size, or older than the source.

    Equal etags on the same kind of backend mean equal content; unequal ones prove
    nothing (a multipart etag, a local file's inode), so then the times decide."""
    if dst is None or src.size != dst.size:
        return True
    if same_backend_kind and src.etag and dst.etag and src.etag == dst.etag:
        return False
    if src.modified is not None and dst.modified is not None:
        return src.modified > dst.modified
    return False


def plan_sync(
    src: dict[str, Entry], dst: dict[str, Entry], *, delete: bool, same_backend_kind: bool
) -> SyncPlan:
    copies = [
        Copy(rel, rel, entry.size)
        for rel, entry in src.items()
        if differs(entry, dst.get(rel), same_backend_kind)
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
) -> None:
    """Copy every item, ``concurrency`` at a time, then check each destination size.

    The first failure cancels the rest (every driver's upload is atomic, so a cancelled
    copy leaves nothing partial) and is raised.
    """
    total = sum(c.size for c in copies)
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, disable=not show_progress, transient=False) as bar:
        task = bar.add_task(f"{len(copies)} object(s)", total=total)
        gate = asyncio.Semaphore(max(1, concurrency))

        async def one(item: Copy) -> None:
            async with gate:
                await dest.write(
                    item.dst_rel, _counted(source.read(item.src_rel), bar, task), item.size
                )
                got = await dest.size_of(item.dst_rel)
                if got != item.size:
                    raise StorageError(
                        f"size check failed for {dest.describe(item.dst_rel)}: wrote {got} bytes, "
                        f"the source {source.describe(item.src_rel)} has {item.size}. Run the "
                        "copy again."
                    )
                if on_done is not None:
                    on_done(item)

        async with asyncio.TaskGroup() as group:
            for item in copies:
                group.create_task(one(item))


async def _counted(
    source: AsyncIterator[bytes], bar: Progress, task: TaskID
) -> AsyncIterator[bytes]:
    async for chunk in source:
        bar.advance(task, len(chunk))
        yield chunk
