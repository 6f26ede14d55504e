"""The request headers the ASGI app honours on a GET/HEAD, read defensively.

``Range`` (one ``bytes=`` range; RFC 9110 §14), ``If-Range``, ``If-None-Match`` and
``If-Modified-Since`` (§13). Headers come from anyone who has a URL, so every number is
bounded before it is converted (at most :data:`MAX_DIGITS` significant ASCII digits: no
huge int, no ``int()`` digit-limit error, no other scripts' digits; a larger position is
unsatisfiable, as nginx answers), an over-long date or tag list is ignored, and nothing
here raises: what cannot be parsed is ignored, as the RFC allows.
"""

from __future__ import annotations

import re
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Final

__all__ = [
    "MAX_DIGITS",
    "UNSATISFIABLE",
    "Unsatisfiable",
    "byte_range",
    "header_value",
    "not_modified",
]

#: most digits of a byte position: anything longer exceeds every possible file size.
MAX_DIGITS: Final = 18
#: longest header value parsed (longer ones are ignored).
_MAX_HEADER = 256
_RANGE = re.compile(r"bytes=([0-9]*)-([0-9]*)", re.ASCII)
#: a response header's value (RFC 9110 §5.5: visible characters, spaces, tabs, obs-text).
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")


class Unsatisfiable:
    """The marker of a Range that selects no byte of the object (answer ``416``)."""

    __slots__ = ()


UNSATISFIABLE: Final = Unsatisfiable()


def header_value(text: str) -> bytes | None:
    """``text`` as a response header's value, or None when it cannot be one (a line
    break or other control character, a character beyond Latin-1)."""
    return text.encode("latin-1") if _FIELD_VALUE.fullmatch(text) else None


def _position(digits: str) -> int | None:
    """The number ``digits`` spells, or None when it is larger than any file can be."""
    significant = digits.lstrip("0") or "0"
    return int(significant) if len(significant) <= MAX_DIGITS else None


def byte_range(
    header: str | None, size: int, *, if_range: str | None = None, validators: tuple[str, ...] = ()
) -> tuple[int, int] | Unsatisfiable | None:
    """The ``(start, end)`` slice a ``Range`` header asks of an object of ``size`` bytes;
    :data:`UNSATISFIABLE` (answer 416); or None: serve the whole object (no Range, one
    that cannot be parsed or of several ranges, or an ``If-Range`` naming another version
    than ``validators``: the ETag and Last-Modified of the one served)."""
    if not header:
        return None
    if if_range is not None and if_range.strip() not in validators:
        return None
    wanted = _RANGE.fullmatch(header.strip())
    if wanted is None:
        return None  # another unit, several ranges, garbage: ignored (RFC 9110 §14.2)
    first, last = wanted.group(1), wanted.group(2)
    if not first and not last:
        return None
    if not first:  # a suffix: the last N bytes
        length = _position(last)
        if length is None or length == 0 or size == 0:
            return UNSATISFIABLE
        return max(0, size - length), size
    start = _position(first)
    end = size if not last else _position(last)
    if start is None or end is None:
        return UNSATISFIABLE  # a position beyond any file
    if last:
        if end < start:
            return UNSATISFIABLE
        end = min(size, end + 1)
    if start >= size:
        return UNSATISFIABLE
    return start, end


def not_modified(
    headers: dict[str, str], *, etag: str | None, last_modified: datetime | None
) -> bool:
    """Whether a GET/HEAD with these headers gets ``304 Not Modified``:
    ``If-None-Match`` lists ``etag`` (or is ``*``); without it, ``If-Modified-Since`` is
    not before ``last_modified`` (whole seconds, as HTTP dates are)."""
    none_match = headers.get("if-none-match")
    if none_match is not None:
        if len(none_match) > 64 * _MAX_HEADER or etag is None:
            return False
        tags = [t.strip() for t in none_match.split(",")]
        bare = etag.removeprefix("W/")
        return "*" in tags or any(t.removeprefix("W/") == bare for t in tags)
    since = headers.get("if-modified-since")
    if since is None or last_modified is None or len(since) > _MAX_HEADER:
        return False
    try:
        when = parsedate_to_datetime(since)
    except (TypeError, ValueError, OverflowError, IndexError):
        return False
    if when.tzinfo is None:
        return False  # not an HTTP date (those are GMT)
    return last_modified.replace(microsecond=0) <= when
