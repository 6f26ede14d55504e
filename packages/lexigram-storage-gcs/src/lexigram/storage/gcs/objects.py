"""GCS object resources (JSON API) turned into :class:`BlobInfo`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from lexigram.storage.gcs.versions import version_etag
from lexigram.storage.headers import NO_HEADERS, HttpHeaders
from lexigram.storage.info import BlobInfo

__all__ = ["blob_info", "parse_time"]


def parse_time(value: Any) -> datetime | None:
    """RFC 3339 (``2026-01-02T03:04:05.123Z``) to an aware UTC datetime."""
    if not isinstance(value, str) or not value:
        return None
    text = value.replace("Z", "+00:00").replace("z", "+00:00")
    # Python 3.11's fromisoformat takes any number of fraction digits.
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


#: argument name -> field of the object resource.
RESOURCE_FIELDS: dict[str, str] = {
    "cache_control": "cacheControl",
    "content_disposition": "contentDisposition",
    "content_encoding": "contentEncoding",
    "content_language": "contentLanguage",
}


def resource_fields(headers: HttpHeaders) -> dict[str, str]:
    """The object resource fields of the HTTP headers that are set."""
    return {RESOURCE_FIELDS[name]: value for name, value in headers.set_items()}


def resource_headers(resource: Mapping[str, Any]) -> HttpHeaders:
    """The HTTP headers an object resource holds."""
    found = {
        name: resource[field]
        for name, field in RESOURCE_FIELDS.items()
        if isinstance(resource.get(field), str) and resource[field]
    }
    return HttpHeaders(**found) if found else NO_HEADERS


def blob_info(resource: Mapping[str, Any]) -> BlobInfo:
    """An object resource (``storage#object``) as a :class:`BlobInfo`."""
    metadata = resource.get("metadata") or {}
    etag = version_etag(resource) or resource.get("etag") or resource.get("md5Hash")
    return BlobInfo(
        path=str(resource["name"]),
        size=int(resource.get("size", 0)),
        content_type=resource.get("contentType"),
        last_modified=parse_time(resource.get("updated") or resource.get("timeCreated")),
        etag=str(etag) if etag is not None else None,
        metadata={str(k): str(v) for k, v in metadata.items() if v is not None},
    ).with_headers(resource_headers(resource))
