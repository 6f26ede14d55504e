"""Content types guessed from a key's extension."""

from __future__ import annotations

import mimetypes

__all__ = ["DEFAULT_CONTENT_TYPE", "guess_content_type"]

DEFAULT_CONTENT_TYPE = "application/octet-stream"

_cache: dict[str, str] = {}


def guess_content_type(key: str) -> str:
    """The content type for ``key``'s extension, else ``application/octet-stream``."""
    slash = key.rfind("/")
    dot = key.rfind(".")
    if dot <= slash + 1:  # no extension, or a dot-file such as ".env"
        return DEFAULT_CONTENT_TYPE
    ext = key[dot:].lower()
    found = _cache.get(ext)
    if found is None:
        guessed, _ = mimetypes.guess_type("x" + ext, strict=False)
        found = guessed or DEFAULT_CONTENT_TYPE
        if len(_cache) < 4096:
            _cache[ext] = found
    return found
