"""S3 conditional requests: ``If-Match`` / ``If-None-Match`` arguments and their errors.

S3 answers a write or delete ``If-Match`` on a missing key with ``404 NoSuchKey``; the
API reports that as a failed precondition like any other mismatch.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from lexigram.storage.conditions import Conditions, quoted
from lexigram.storage.errors import DriverError, ErrorCode
from lexigram.storage.s3.errors import code_for

__all__ = ["condition_args", "missing_is_precondition"]


def condition_args(conditions: Conditions | None) -> dict[str, Any]:
    """The ``IfMatch`` / ``IfNoneMatch`` arguments of a GetObject / HeadObject."""
    if conditions is None:
        return {}
    args: dict[str, Any] = {}
    if conditions.if_match is not None:
        args["IfMatch"] = quoted(conditions.if_match)
    if conditions.if_none_match is not None:
        args["IfNoneMatch"] = quoted(conditions.if_none_match)
    return args


def missing_is_precondition(exc: BaseException, if_match: str | None) -> None:
    """Raise ``FAILED_PRECONDITION`` for the 404 of an ``If-Match`` write or delete."""
    if (
        if_match is not None
        and isinstance(exc, ClientError)
        and code_for(exc) is ErrorCode.NOT_FOUND
    ):
        raise DriverError(
            ErrorCode.FAILED_PRECONDITION,
            f"the key does not exist (if_match={quoted(if_match)})",
        ) from exc
