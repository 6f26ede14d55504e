"""The records the blob API returns: :class:`BlobInfo`, :class:`HealthStatus`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import attrs

__all__ = ["BlobInfo", "HealthStatus"]


@attrs.frozen(slots=True)
class BlobInfo:
    """What is known about one object (or, in a delimiter listing, one common prefix).

    ``last_modified`` is timezone-aware UTC. ``etag`` is opaque: compare it only with
    etags of the same backend. For a common prefix, ``is_prefix`` is true, ``path``
    ends with the delimiter and the other fields are empty.
    """

    path: str
    size: int
    content_type: str | None = None
    last_modified: datetime | None = None
    etag: str | None = None
    metadata: Mapping[str, str] = attrs.field(factory=dict)
    is_prefix: bool = False


@attrs.frozen(slots=True)
class HealthStatus:
    """Result of a health check: a real round trip to the backend, bounded in time."""

    healthy: bool
    latency_ms: float
    detail: str = ""
