"""The stored HTTP headers of objects, for the ASGI app: served on GET/HEAD, required by
a presigned PUT URL that binds them, and taken from a PUT request to be stored."""

from __future__ import annotations

from typing import Any

from lexigram.storage.headers import HEADER_FIELDS
from lexigram.storage.info import BlobInfo
from lexigram.storage.local.http_headers import header_value
from lexigram.storage.local.signing import SignedRequest

__all__ = ["sent_headers", "stored_headers", "unsigned_header"]


def stored_headers(info: BlobInfo, *, skip_disposition: bool) -> list[tuple[bytes, bytes]]:
    """The object's stored headers as response headers (``skip_disposition``: the
    presigned URL sets its own ``Content-Disposition``). A value that is no valid header
    (stored by other means than the API) is left out, never sent."""
    out: list[tuple[bytes, bytes]] = []
    for name, value in info.http_headers.set_items():
        if name == "content_disposition" and skip_disposition:
            continue
        encoded = header_value(value)
        if encoded is not None:
            out.append((HEADER_FIELDS[name].lower().encode(), encoded))
    return out


def unsigned_header(grant: SignedRequest, sent: dict[str, str]) -> str | None:
    """The first header a PUT URL binds that the request does not send as signed."""
    for name, http_name in HEADER_FIELDS.items():
        signed = getattr(grant, name)
        if signed is not None and sent.get(http_name.lower()) != signed:
            return http_name
    return None


def sent_headers(sent: dict[str, str]) -> dict[str, Any]:
    """The object headers a PUT request sends, as ``upload`` arguments (the core checks
    them: an invalid one is a 400)."""
    return {
        name: sent[http_name.lower()]
        for name, http_name in HEADER_FIELDS.items()
        if http_name.lower() in sent
    }
