"""The object-key rules, enforced by the core for every driver.

A key is non-empty UTF-8 of at most 1024 bytes, made of segments separated by ``/``:
no leading ``/``, no empty, ``.`` or ``..`` segment, and no control characters
(C0, DEL, C1), lone surrogates or the non-characters U+FFFE / U+FFFF, which no
backend can round-trip (S3 and Azure list keys in XML). Keys are never changed:
a key either is accepted exactly as given or refused with :class:`InvalidKeyError`.
"""

from __future__ import annotations

import re

from lexigram.storage.errors import InvalidKeyError

__all__ = ["MAX_KEY_BYTES", "validate_key", "validate_prefix"]

MAX_KEY_BYTES = 1024

# Characters no key may hold: C0 controls, DEL, C1 controls, surrogates, U+FFFE/U+FFFF.
_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def _problem(key: str) -> str | None:
    if key == "":
        return "it is empty"
    if key.startswith("/"):
        return "it starts with '/' (keys are relative: drop the leading slash)"
    bad = _FORBIDDEN.search(key)
    if bad is not None:
        code = ord(bad.group())
        return f"it contains the control or non-character U+{code:04X} at index {bad.start()}"
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:  # pragma: no cover - surrogates are caught above
        return "it is not valid UTF-8"
    if size > MAX_KEY_BYTES:
        return f"it is {size} bytes of UTF-8, more than the limit of {MAX_KEY_BYTES}"
    for segment in key.split("/"):
        if segment == "":
            return "it has an empty segment ('//' or a trailing '/')"
        if segment in (".", ".."):
            return f"it has a '{segment}' segment (relative segments are not allowed)"
    return None


def validate_key(key: object) -> str:
    """Return ``key`` unchanged if it is a valid object key, else raise :class:`InvalidKeyError`."""
    if type(key) is str and key.isascii() and key.isprintable() and 0 < len(key) <= MAX_KEY_BYTES:
        # The common case, in a few string scans: printable ASCII (one byte a character)
        # with no empty segment (no leading, doubled or trailing "/") and no segment
        # starting with "." (so no "." or ".."); any other key gets the full check.
        framed = "/" + key
        if "//" not in framed and "/." not in framed and key[-1] != "/":
            return key
    if not isinstance(key, str):
        raise InvalidKeyError(
            f"Invalid key {key!r}: keys must be str, not {type(key).__name__}.", key=None
        )
    problem = _problem(key)
    if problem is not None:
        raise InvalidKeyError(
            f"Invalid key {_shown(key)}: {problem}. Keys are '/'-separated segments of "
            f"UTF-8 text, at most {MAX_KEY_BYTES} bytes.",
            key=key,
        )
    return key


def validate_prefix(prefix: object) -> str:
    """A listing prefix: empty, or a key, or a key followed by '/'."""
    if prefix == "":
        return ""
    if not isinstance(prefix, str):
        raise InvalidKeyError(
            f"Invalid prefix {prefix!r}: prefixes must be str, not {type(prefix).__name__}."
        )
    validate_key(prefix[:-1] if prefix.endswith("/") and len(prefix) > 1 else prefix)
    return prefix


def _shown(key: str) -> str:
    """A safe rendering of a (possibly hostile, possibly huge) key for a message."""
    shown = ascii(key)
    return shown if len(shown) <= 120 else shown[:100] + "...'"
