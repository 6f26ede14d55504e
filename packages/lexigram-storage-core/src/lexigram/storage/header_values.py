"""Checks of the values the core sends on as HTTP headers: content types, content
dispositions and metadata values. Each returns why a value is refused, or ``None``.

A backend that cannot keep a value exactly (S3 and Azure trim the spaces around a
metadata value; a malformed content type is stored by some backends and refused by
others) must not get it: the core refuses it first, the same way on every driver.
"""

from __future__ import annotations

import re

__all__ = ["content_type_problem", "disposition_problem", "metadata_value_problem"]

# RFC 9110 §5.6.2: token = 1*tchar; §8.3.1: type "/" subtype *( OWS ";" OWS parameter ),
# parameter = token "=" ( token / quoted-string ).
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_QUOTED = r'"(?:[\t !#-\[\]-~]|\\[\t -~])*"'
_MEDIA_TYPE = re.compile(
    rf"{_TOKEN}/{_TOKEN}(?:[ \t]*;[ \t]*{_TOKEN}=(?:{_TOKEN}|{_QUOTED}))*[ \t]*;?"
)
# A field value of visible ASCII, with spaces or tabs inside (ASCII only: not every SDK
# or backend carries Latin-1 header bytes unchanged).
_FIELD_VALUE = re.compile(r"[!-~](?:[ \t!-~]*[!-~])?")


def content_type_problem(value: object) -> str | None:
    """Why ``value`` is not a ``type/subtype[; name=value]...`` media type, or ``None``."""
    if not isinstance(value, str):
        return f"it must be a str, not {type(value).__name__}"
    if not _MEDIA_TYPE.fullmatch(value):
        return (
            "it must be ASCII 'type/subtype' optionally followed by '; name=value' parameters, "
            "each part made of RFC 9110 token characters (letters, digits and "
            "!#$%&'*+-.^_`|~), e.g. 'text/plain; charset=utf-8'"
        )
    return None


def disposition_problem(value: object) -> str | None:
    """Why ``value`` cannot be sent as a Content-Disposition header, or ``None``."""
    if not isinstance(value, str):
        return f"it must be a str, not {type(value).__name__}"
    if not _FIELD_VALUE.fullmatch(value):
        return (
            "it must be a non-empty header value of visible ASCII characters without "
            "control characters, line breaks or surrounding spaces, e.g. "
            "'attachment; filename=\"report.pdf\"' (give other names as filename*=UTF-8''...)"
        )
    return None


def metadata_value_problem(value: str) -> str | None:
    """Why the printable-ASCII metadata ``value`` would not come back exactly, or ``None``."""
    if value != value.strip(" "):
        return (
            "values must not start or end with a space, since S3 and Azure trim them "
            "and the value would come back changed; strip it or encode it (e.g. with "
            "urllib.parse.quote)"
        )
    return None
