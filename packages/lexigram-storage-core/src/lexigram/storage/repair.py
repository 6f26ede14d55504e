"""What a driver does when a server stored an upload altered: the one policy for every
driver with end-to-end checksums.

A server that checks the checksum sent with a body (S3's ``Content-MD5``, GCS's
``crc32c``) refuses altered bytes, and nothing is stored. A server that does not check
(an emulator) stores them, and the driver only sees it in its answer (an ETag or a
``crc32c`` that is not the one sent). Then the body is sent again, on condition that
the altered version is still the one stored, up to :data:`REPAIRS` times; a body that
cannot be sent again (a stream) or keeps arriving altered is deleted, so the altered
bytes are never left readable, and :attr:`ErrorCode.DATA_CORRUPTED` is raised.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

from lexigram.storage.errors import DriverError, ErrorCode

__all__ = ["REPAIRS", "keep_intact"]

T = TypeVar("T")

#: times an upload is sent again when the server stored something else than was sent.
REPAIRS = 2


async def keep_intact(
    stored: T,
    *,
    intact: Callable[[T], bool],
    send_again: Callable[[T], Awaitable[T]] | None,
    remove: Callable[[T], Awaitable[object]],
    mismatch: str,
) -> T:
    """Return the server's answer to an upload once it shows the bytes sent.

    ``stored``: the answer to the upload; ``intact(answer)`` whether it shows the bytes
    sent (true where it cannot tell). ``send_again(answer)`` uploads the body again on
    condition that the version in ``answer`` is still the one stored, and returns the new
    answer; it raises DATA_CORRUPTED itself when another writer replaced the altered
    version first. ``None`` when the body cannot be sent again. ``remove(answer)`` deletes
    the altered version (best effort: its failure is not reported over the corruption).
    ``mismatch`` says what differed, for the error message.
    """
    sent = 1
    while not intact(stored):
        if send_again is None or sent > REPAIRS:
            with contextlib.suppress(Exception):
                await remove(stored)
            times = "" if sent == 1 else f" {sent} times"
            raise DriverError(
                ErrorCode.DATA_CORRUPTED,
                f"the server stored altered bytes{times} ({mismatch}); the altered object "
                "was deleted",
            )
        stored = await send_again(stored)
        sent += 1
    return stored
