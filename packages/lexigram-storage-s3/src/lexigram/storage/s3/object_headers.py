"""The four HTTP headers of an object in S3's parameter names (``CacheControl``...):
sent with PutObject / CreateMultipartUpload / presigned PutObject, read from HeadObject.
CopyObject with ``MetadataDirective="COPY"`` keeps them on the server."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lexigram.storage.headers import NO_HEADERS, HttpHeaders

__all__ = ["S3_HEADER_PARAMS", "header_args", "headers_from"]

#: argument name -> S3 request/response parameter.
S3_HEADER_PARAMS: dict[str, str] = {
    "cache_control": "CacheControl",
    "content_disposition": "ContentDisposition",
    "content_encoding": "ContentEncoding",
    "content_language": "ContentLanguage",
}


def header_args(headers: HttpHeaders) -> dict[str, str]:
    """The request parameters of the headers that are set."""
    return {S3_HEADER_PARAMS[name]: value for name, value in headers.set_items()}


def headers_from(resp: Mapping[str, Any]) -> HttpHeaders:
    """The headers of a HeadObject / GetObject answer (the copy arguments of the object)."""
    found = {
        name: resp[param]
        for name, param in S3_HEADER_PARAMS.items()
        if isinstance(resp.get(param), str) and resp[param]
    }
    return HttpHeaders(**found) if found else NO_HEADERS
