"""Argument checks and the JSON encoding shared by every KV backend.

Values are stored as their JSON text: encoding on the way in both validates the value
(anything :mod:`json` cannot encode, ``NaN`` and the infinities included, is a
``TypeError`` before anything is written) and copies it, and decoding on the way out
hands every reader a fresh object. What comes back is what :func:`json.loads` gives:
tuples come back as lists and non-string dict keys (``int``, ``float``, ``bool``,
``None``) as strings, exactly as JSON would store them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from lexigram.storage.errors import InvalidArgumentError, InvalidKeyError

__all__ = [
    "MAX_KEY_BYTES",
    "as_counter",
    "check_increment",
    "check_key",
    "check_keys",
    "decode_value",
    "encode_value",
    "expiry_from_ttl",
    "touch_expiry",
]

MAX_KEY_BYTES = 1024
"""The longest key accepted, in UTF-8 bytes."""

_ENCODER = json.JSONEncoder(allow_nan=False, separators=(",", ":"))
_encode = _ENCODER.encode
decode_value = json.loads
"""Decode stored JSON text into a fresh Python object (the copy-on-the-way-out)."""


def check_key(key: object) -> str:
    """Return ``key`` if it is a usable key, else raise :class:`InvalidKeyError`."""
    if type(key) is str and key and (key.isascii() and len(key) <= MAX_KEY_BYTES):
        return key
    if not isinstance(key, str):
        raise InvalidKeyError(
            f"KV key must be a str, got {type(key).__name__} {key!r}: "
            "pass the key as a non-empty string such as 'session:abc'",
            key=None,
        )
    if not key:
        raise InvalidKeyError(
            "KV key is empty: pass a non-empty string such as 'session:abc'", key=key
        )
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise InvalidKeyError(
            f"KV key {key!r} is not valid Unicode text (lone surrogate at position "
            f"{exc.start}): pass a key that encodes to UTF-8",
            key=None,
        ) from None
    if size > MAX_KEY_BYTES:
        raise InvalidKeyError(
            f"KV key {key[:40]!r}... is {size} bytes long in UTF-8, over the limit of "
            f"{MAX_KEY_BYTES}: use a shorter key (hash long identifiers)",
            key=key,
        )
    return key


def encode_value(key: str, value: object) -> str:
    """Encode ``value`` to compact JSON text, or raise ``TypeError`` naming ``key``."""
    try:
        return _encode(value)
    except (TypeError, ValueError, RecursionError) as exc:
        raise TypeError(
            f"value for KV key {key!r} is not JSON-serialisable ({exc}): store only "
            "dicts with str keys, lists, str, int, finite float, bool and None; nothing "
            "was written"
        ) from exc


def expiry_from_ttl(key: str, ttl: float | timedelta | None, now: float) -> float | None:
    """Turn a TTL in seconds (or a ``timedelta``) into an absolute wall-clock expiry.

    ``None`` means the key never expires. Zero, negative, NaN or infinite TTLs raise
    :class:`InvalidArgumentError` (a ``ValueError``); a ``bool`` or any other type raises
    ``TypeError``.
    """
    if ttl is None:
        return None
    if isinstance(ttl, timedelta):
        seconds = ttl.total_seconds()
    elif isinstance(ttl, (int, float)) and not isinstance(ttl, bool):
        seconds = float(ttl)
    else:
        raise TypeError(
            f"ttl for KV key {key!r} must be a number of seconds or a timedelta, got "
            f"{type(ttl).__name__}: pass e.g. ttl=3600, or ttl=None for no expiry"
        )
    if not math.isfinite(seconds) or seconds <= 0:
        raise InvalidArgumentError(
            f"ttl for KV key {key!r} must be a positive, finite number of seconds, got "
            f"{ttl!r}: pass ttl=None for no expiry, or delete the key to remove it now",
            key=key,
        )
    return now + seconds


def check_increment(key: str, by: object) -> int:
    """Return ``by`` if it is an ``int`` (not a ``bool``), else raise ``TypeError``."""
    if type(by) is int:
        return by
    if isinstance(by, int) and not isinstance(by, bool):
        return int(by)
    raise TypeError(
        f"increment of KV key {key!r} needs an int step, got {type(by).__name__} {by!r}: "
        "pass by=1 or another integer"
    )


def as_counter(key: str, value: Any) -> int:
    """Return the stored ``value`` as a counter, or raise ``TypeError`` if it is not an int."""
    if type(value) is int:
        return value
    raise TypeError(
        f"cannot increment KV key {key!r}: it holds a {type(value).__name__} "
        f"({value!r:.60}), not an integer; delete it or set it to an int first"
    )


def check_keys(keys: object, operation: str) -> list[str]:
    """Every key of the iterable ``keys``, checked; a bare ``str`` is a ``TypeError``."""
    if isinstance(keys, str):
        raise TypeError(f"{operation}() takes an iterable of keys, not a single str")
    if not isinstance(keys, Iterable):
        raise TypeError(f"{operation}() takes an iterable of keys, not {type(keys).__name__}")
    return [check_key(k) for k in keys]


def touch_expiry(key: str, ttl: object, now: float) -> float:
    """The new absolute expiry for ``touch(key, ttl)``: ``ttl`` is required (not ``None``)."""
    if ttl is None:
        raise TypeError(
            f"touch of KV key {key!r} needs a ttl in seconds, got None: pass e.g. ttl=60 "
            "(to keep a key forever, set it again without a ttl)"
        )
    expires_at = expiry_from_ttl(key, ttl, now)  # type: ignore[arg-type]
    assert expires_at is not None
    return expires_at
