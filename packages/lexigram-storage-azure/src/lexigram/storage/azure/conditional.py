"""Azure conditional requests: ETag preconditions as ``etag=`` + ``match_condition=``."""

from __future__ import annotations

from typing import Any

from azure.core import MatchConditions
from lexigram.storage.conditions import Conditions, quoted
from lexigram.storage.errors import DriverError, ErrorCode

__all__ = ["if_match_args", "missing_is_precondition", "read_args"]


def if_match_args(if_match: str | None) -> dict[str, Any]:
    """The SDK arguments of ``If-Match: "<etag>"``."""
    if if_match is None:
        return {}
    return {"etag": quoted(if_match), "match_condition": MatchConditions.IfNotModified}


def read_args(conditions: Conditions | None) -> dict[str, Any]:
    """The SDK arguments of a conditional read. The SDK takes one condition: with both,
    ``If-Match`` is sent and ``if_none_match`` checked on the answer's properties (of the
    very version served: the SDK pins the later ranges of a download to its ETag)."""
    if conditions is None:
        return {}
    if conditions.if_match is not None:
        return if_match_args(conditions.if_match)
    if conditions.if_none_match is not None:
        return {
            "etag": quoted(conditions.if_none_match),
            "match_condition": MatchConditions.IfModified,
        }
    return {}


def missing_is_precondition(code: ErrorCode, if_match: str | None, exc: BaseException) -> None:
    """A write or delete ``if_match`` of a missing key (``exc``, of that ``code``) fails
    its precondition."""
    if if_match is not None and code is ErrorCode.NOT_FOUND:
        raise DriverError(ErrorCode.FAILED_PRECONDITION, "the key does not exist") from exc
