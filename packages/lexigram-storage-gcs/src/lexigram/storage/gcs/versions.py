"""GCS object versions as ETags, and ETag preconditions as generation preconditions.

The driver's ETag of an object is ``"<generation>.<metageneration>"``: every write
makes a new generation and every metadata change a new metageneration, so it names one
version exactly, and a precondition on it is sent as ``ifGenerationMatch`` +
``ifMetagenerationMatch`` (``ifGenerationNotMatch`` for ``if_none_match``), which GCS
checks atomically with the request. (GCS's own ``etag`` field is opaque: it cannot be
turned into a generation.) Reads also compare the ``x-goog-generation`` /
``x-goog-metageneration`` headers of the answer, which describe the very bytes sent:
that covers emulators that ignore the query preconditions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lexigram.storage.conditions import Conditions, quoted
from lexigram.storage.errors import DriverError, ErrorCode

__all__ = ["check_answer", "match_params", "read_params", "version_etag"]


def version_etag(resource: Mapping[str, Any]) -> str | None:
    """The ETag of an object resource, or None without a generation."""
    generation = resource.get("generation")
    if generation is None:
        return None
    return quoted(f"{generation}.{resource.get('metageneration') or 1}")


def _version(etag: str) -> tuple[str, str] | None:
    generation, dot, metageneration = etag.partition(".")
    if not dot or not generation.isdigit() or not metageneration.isdigit():
        return None
    return generation, metageneration


def match_params(if_match: str) -> dict[str, str]:
    """The query of a write or delete ``if_match`` (normalised ETag)."""
    version = _version(if_match)
    if version is None:
        raise DriverError(
            ErrorCode.FAILED_PRECONDITION,
            f"{quoted(if_match)} is no ETag of a GCS object (they are "
            '"<generation>.<metageneration>")',
        )
    return {"ifGenerationMatch": version[0], "ifMetagenerationMatch": version[1]}


def read_params(conditions: Conditions | None) -> dict[str, str]:
    """The query of a conditional read."""
    if conditions is None:
        return {}
    params: dict[str, str] = {}
    if conditions.if_match is not None:
        params.update(match_params(conditions.if_match))
    if conditions.if_none_match is not None:
        version = _version(conditions.if_none_match)
        if version is not None:  # another backend's ETag: never this object's
            params["ifGenerationNotMatch"] = version[0]
    return params


def check_answer(conditions: Conditions | None, headers: Mapping[str, str]) -> None:
    """Check the version a media answer says it served (when it says it)."""
    generation = headers.get("x-goog-generation")
    if conditions is None or generation is None:
        return
    metageneration = headers.get("x-goog-metageneration")
    if conditions.if_match is not None:
        version = _version(conditions.if_match)
        if (
            version is None
            or version[0] != generation
            or (metageneration is not None and version[1] != metageneration)
        ):
            raise DriverError(
                ErrorCode.FAILED_PRECONDITION, f"the object is at generation {generation}"
            )
    if conditions.if_none_match is not None:
        version = _version(conditions.if_none_match)
        if version is not None and version[0] == generation:
            raise DriverError(ErrorCode.NOT_MODIFIED, f"it is still generation {generation}")
