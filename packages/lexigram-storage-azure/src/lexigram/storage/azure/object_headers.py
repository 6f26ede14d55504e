"""The four HTTP headers of a blob as Azure ``ContentSettings`` (``x-ms-blob-cache-control``
and the like); Copy Blob keeps them on the server."""

from __future__ import annotations

from typing import Any

from lexigram.storage.headers import HEADER_FIELDS, NO_HEADERS, HttpHeaders

__all__ = ["settings_args", "settings_headers"]


def settings_args(headers: HttpHeaders) -> dict[str, Any]:
    """``ContentSettings`` keyword arguments of the headers that are set (the SDK's names
    are ours: ``cache_control``, ``content_disposition``...)."""
    return dict(headers.set_items())


def settings_headers(settings: Any) -> HttpHeaders:
    """The headers a blob's ``ContentSettings`` hold (empty values: unset)."""
    if settings is None:
        return NO_HEADERS
    found = {}
    for name in HEADER_FIELDS:
        value = getattr(settings, name, None)
        if isinstance(value, str) and value:
            found[name] = value
    return HttpHeaders(**found) if found else NO_HEADERS
