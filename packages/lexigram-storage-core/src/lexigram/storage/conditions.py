"""Conditional requests: the ETag preconditions of reads, writes and deletes.

The core checks and normalises the caller's ETags once (:func:`check_etag`) and hands
drivers a :class:`Conditions`; ETags are compared in one form, without the quotes
(``"abc"`` and ``abc`` are the same ETag), so callers may pass either.
"""

from __future__ import annotations

import re

import attrs

from lexigram.storage.errors import DriverError, ErrorCode

__all__ = ["Conditions", "etag_matches", "normalize_etag", "quoted", "valid_etag"]

# An entity tag's characters (RFC 9110 etagc): printable ASCII but the double quote.
_ETAG = re.compile(r"[!#-~]+")


def normalize_etag(etag: str) -> str:
    """``etag`` without its surrounding double quotes (and weak ``W/`` marker)."""
    text = etag.strip()
    if text.startswith("W/"):
        text = text[2:]
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        text = text[1:-1]
    return text


def quoted(etag: str) -> str:
    """The normalised ``etag`` in the quoted form HTTP headers carry."""
    return f'"{etag}"'


def valid_etag(etag: object) -> str | None:
    """The normalised form of a caller's ETag, or None if it is not a usable ETag."""
    if not isinstance(etag, str):
        return None
    text = normalize_etag(etag)
    if text == "*" or not _ETAG.fullmatch(text):
        return None
    return text


def etag_matches(stored: str | None, wanted: str) -> bool:
    """Whether a stored ETag (any form) is the normalised ``wanted``."""
    return stored is not None and normalize_etag(stored) == wanted


@attrs.frozen(kw_only=True)
class Conditions:
    """The preconditions of one read, normalised (unquoted) by the core.

    ``if_match``: the object must be at this ETag, else ``FAILED_PRECONDITION``.
    ``if_none_match``: if the object is at this ETag, ``NOT_MODIFIED``.
    """

    if_match: str | None = None
    if_none_match: str | None = None

    def check(self, etag: str | None) -> None:
        """Raise the driver error for an object at ``etag`` (for drivers that compare
        ETags themselves, atomically with the read)."""
        if self.if_match is not None and not etag_matches(etag, self.if_match):
            raise DriverError(
                ErrorCode.FAILED_PRECONDITION, f"its ETag is {etag}, not {quoted(self.if_match)}"
            )
        if self.if_none_match is not None and etag_matches(etag, self.if_none_match):
            raise DriverError(ErrorCode.NOT_MODIFIED, f"its ETag is still {etag}")
