"""The standard HTTP headers an object is stored with and served back with.

``Cache-Control``, ``Content-Disposition``, ``Content-Encoding`` and ``Content-Language``:
given to :meth:`~lexigram.storage.store.BlobStore.upload`, stored natively by each driver
(S3 object headers, GCS object resource fields, Azure ``ContentSettings``, the local
driver's sidecar), returned on :class:`~lexigram.storage.info.BlobInfo` and kept by
``copy`` and ``move``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import attrs

from lexigram.storage.errors import InvalidArgumentError

__all__ = ["HEADER_FIELDS", "NO_HEADERS", "HttpHeaders", "check_header_value", "headers_of"]

#: argument / attribute names, in order, with the HTTP header each one is.
HEADER_FIELDS: dict[str, str] = {
    "cache_control": "Cache-Control",
    "content_disposition": "Content-Disposition",
    "content_encoding": "Content-Encoding",
    "content_language": "Content-Language",
}

# Printable ASCII and space: what every backend stores and returns unchanged. Line breaks
# (header injection), other control characters and non-ASCII text are refused.
_VALUE = re.compile(r"[ -~]*")
_MAX_LEN = 1024


@attrs.frozen(kw_only=True, slots=True)
class HttpHeaders:
    """The optional HTTP headers of one object; ``None`` where unset."""

    cache_control: str | None = None
    content_disposition: str | None = None
    content_encoding: str | None = None
    content_language: str | None = None

    def __bool__(self) -> bool:
        return any(value is not None for _, value in self.items())

    def items(self) -> Iterator[tuple[str, str | None]]:
        """``(argument name, value)`` for each of the four headers, in a fixed order."""
        for name in HEADER_FIELDS:
            yield name, getattr(self, name)

    def fields(self) -> dict[str, str | None]:
        """The four values by argument name (``BlobInfo(..., **headers.fields())``)."""
        return dict(self.items())

    def set_items(self) -> Iterator[tuple[str, str]]:
        """``(argument name, value)`` of the headers that are set."""
        for name, value in self.items():
            if value is not None:
                yield name, value

    def as_http(self) -> dict[str, str]:
        """The headers that are set, by their HTTP names (``Cache-Control``...)."""
        return {HEADER_FIELDS[name]: value for name, value in self.set_items()}

    @classmethod
    def from_mapping(cls, values: object) -> HttpHeaders:
        """From a mapping of argument names (e.g. a sidecar's JSON); ignores the rest."""
        if not isinstance(values, dict):
            return NO_HEADERS
        found = {name: values[name] for name in HEADER_FIELDS if isinstance(values.get(name), str)}
        return cls(**found) if found else NO_HEADERS


NO_HEADERS = HttpHeaders()


def check_header_value(
    argument: str, value: object, *, backend: str | None = None, key: str | None = None
) -> str | None:
    """``value`` if it is None or a storable header value, else ``InvalidArgumentError``
    naming ``argument``."""
    if value is None:
        return None
    where = f" (key {key!r})" if key is not None else ""
    if not isinstance(value, str):
        raise InvalidArgumentError(
            f"{argument}{where} must be a str or None, not {type(value).__name__}.",
            backend=backend,
            key=key,
        )
    if not _VALUE.fullmatch(value) or len(value) > _MAX_LEN:
        raise InvalidArgumentError(
            f"{argument}={value!r}{where} is not a valid HTTP header value: use printable ASCII of "
            f"at most {_MAX_LEN} characters, without line breaks or other control "
            "characters (for a non-ASCII file name use filename*=UTF-8''<percent-encoded "
            "name>, RFC 6266).",
            backend=backend,
            key=key,
        )
    return value


def headers_of(
    *,
    backend: str | None,
    key: str | None,
    cache_control: object = None,
    content_disposition: object = None,
    content_encoding: object = None,
    content_language: object = None,
) -> HttpHeaders:
    """Check the four header arguments and gather them (``InvalidArgumentError`` naming the
    first bad one)."""
    given = {
        "cache_control": cache_control,
        "content_disposition": content_disposition,
        "content_encoding": content_encoding,
        "content_language": content_language,
    }
    if all(v is None for v in given.values()):
        return NO_HEADERS
    checked = {
        name: check_header_value(name, value, backend=backend, key=key)
        for name, value in given.items()
    }
    return HttpHeaders(**checked)
