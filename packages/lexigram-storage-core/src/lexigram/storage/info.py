"""The records the blob API returns: :class:`BlobInfo`, :class:`HealthStatus`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import attrs

from lexigram.storage.headers import HttpHeaders

__all__ = ["BlobInfo", "HealthStatus"]


@attrs.frozen(slots=True)
class BlobInfo:
    """What is known about one object (or, in a delimiter listing, one common prefix).

    ``last_modified`` is timezone-aware UTC. ``etag`` is opaque: compare it only with
    etags of the same backend. ``cache_control``, ``content_disposition``,
    ``content_encoding`` and ``content_language`` are the HTTP headers stored with the
    object. For a common prefix, ``is_prefix`` is true, ``path``
    ends with the delimiter and the other fields are empty.
    """

    path: str
    size: int
    content_type: str | None = None
    last_modified: datetime | None = None
    etag: str | None = None
    metadata: Mapping[str, str] = attrs.field(factory=dict)
    is_prefix: bool = False
    #: the HTTP headers stored with the object (``None`` when unset, or when the
    #: backend's listing does not return them)
    cache_control: str | None = None
    content_disposition: str | None = None
    content_encoding: str | None = None
    content_language: str | None = None

    @property
    def http_headers(self) -> HttpHeaders:
        """The four stored HTTP headers as one :class:`HttpHeaders` (to pass on)."""
        return HttpHeaders(
            cache_control=self.cache_control,
            content_disposition=self.content_disposition,
            content_encoding=self.content_encoding,
            content_language=self.content_language,
        )

    def with_headers(self, headers: HttpHeaders) -> BlobInfo:
        """A copy with the four HTTP header fields set from ``headers``."""
        if not headers:
            return self
        return attrs.evolve(
            self,
            cache_control=headers.cache_control,
            content_disposition=headers.content_disposition,
            content_encoding=headers.content_encoding,
            content_language=headers.content_language,
        )


@attrs.frozen(slots=True)
class HealthStatus:
    """Result of a health check: a real round trip to the backend, bounded in time."""

    healthy: bool
    latency_ms: float
    detail: str = ""
