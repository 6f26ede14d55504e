"""Listing helpers the core applies for drivers without native support."""

from __future__ import annotations

from collections.abc import AsyncIterator

from lexigram.storage.errors import InvalidArgumentError
from lexigram.storage.info import BlobInfo

__all__ = ["after_key", "check_list_window", "collapse_prefixes"]


def check_list_window(start_after: object, limit: object, *, backend: str) -> None:
    """Refuse a ``start_after`` that is no key text or a ``limit`` that is no positive int."""
    if start_after is not None and (
        not isinstance(start_after, str) or not start_after.isprintable()
    ):
        raise InvalidArgumentError(
            f"start_after must be a str of printable characters (a key, usually the last "
            f"one of the previous page) or None, not {start_after!r}.",
            backend=backend,
        )
    if limit is not None and (type(limit) is not int or limit <= 0):
        raise InvalidArgumentError(
            f"limit must be a positive int (the most entries to list) or None, not {limit!r}.",
            backend=backend,
        )


def after_key(prefix: str, start_after: str) -> bool:
    """Whether every key under ``prefix`` sorts at or before ``start_after`` (so a listing
    from after it is empty): ``start_after`` is past the prefix and does not start with it."""
    return start_after > prefix and not start_after.startswith(prefix)


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
