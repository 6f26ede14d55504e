"""Listing helpers the core applies for drivers without native support."""

from __future__ import annotations

from collections.abc import AsyncIterator

from lexigram.storage.info import BlobInfo

__all__ = ["collapse_prefixes"]


async def collapse_prefixes(
    source: AsyncIterator[BlobInfo], prefix: str, delimiter: str
) -> AsyncIterator[BlobInfo]:
    """Roll a flat, ordered listing up into objects and common prefixes.

    Keys holding ``delimiter`` after ``prefix`` become one ``is_prefix`` entry per
    common prefix. The input is in key order, so every common prefix is emitted once,
    at the position of its first key, and the output stays in order.
    """
    last: str | None = None
    cut = len(prefix)
    async for info in source:
        at = info.path.find(delimiter, cut)
        if at < 0:
            yield info
            continue
        common = info.path[: at + len(delimiter)]
        if common != last:
            last = common
            yield BlobInfo(path=common, size=0, is_prefix=True)
