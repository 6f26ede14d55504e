"""Compare-and-set of the local driver: ``if_match`` checked under one lock.

Every commit of an upload and every unlink of a delete in this process takes
:data:`COMMIT_LOCK` around its last check and its rename/unlink, so an ``if_match``
write or delete compares the current ETag and replaces the file as one step against
every other writer of this process. (Another process writing the same root directory
does not take it: across processes the check and the rename are two steps.)
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable

from lexigram.storage.conditions import etag_matches, quoted
from lexigram.storage.errors import DriverError, ErrorCode

__all__ = ["COMMIT_LOCK", "check_if_match"]

COMMIT_LOCK = threading.Lock()


def check_if_match(
    current: os.stat_result | None, if_match: str, etag_of: Callable[[os.stat_result], str]
) -> None:
    """Raise ``FAILED_PRECONDITION`` unless ``current`` (the lstat of the object's file,
    None if there is none) is at the ETag ``if_match``. Call it under :data:`COMMIT_LOCK`."""
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
