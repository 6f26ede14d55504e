"""Compare-and-set of the local driver: ``if_match`` checked under the key's lock.

Every commit of an upload and every unlink of a delete in this process takes the lock of
its key (:func:`commit_lock`) around its last check and its rename/unlink, so an
``if_match`` write or delete compares the current ETag and replaces the file as one step
against every other writer of that key in this process. (Another process writing the
same root directory does not take it: across processes the check and the rename are two
steps.) The locks are striped by key, so writes of different keys do not wait for each
other's rename (one process-wide lock made concurrent uploads queue behind it).
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable

from lexigram.storage.conditions import etag_matches, quoted
from lexigram.storage.errors import DriverError, ErrorCode

__all__ = ["check_if_match", "commit_lock"]

_STRIPES = 64
_LOCKS = tuple(threading.Lock() for _ in range(_STRIPES))


def commit_lock(key: str) -> threading.Lock:
    """The lock every commit and delete of ``key`` takes (shared with a few other keys)."""
    return _LOCKS[hash(key) % _STRIPES]


def check_if_match(
    current: os.stat_result | None, if_match: str, etag_of: Callable[[os.stat_result], str]
) -> None:
    """Raise ``FAILED_PRECONDITION`` unless ``current`` (the lstat of the object's file,
    None if there is none) is at the ETag ``if_match``. Call it under the key's
    :func:`commit_lock`."""
    if current is None or not stat.S_ISREG(current.st_mode):
        raise DriverError(
            ErrorCode.FAILED_PRECONDITION,
            f"the key does not exist (if_match={quoted(if_match)})",
        )
    etag = etag_of(current)
    if not etag_matches(etag, if_match):
        raise DriverError(
            ErrorCode.FAILED_PRECONDITION, f"its ETag is {etag}, not {quoted(if_match)}"
        )
