"""Checks of the arguments of :class:`~lexigram.storage.store.BlobStore`'s methods.

Each returns the argument in the form the driver takes, or raises
:class:`~lexigram.storage.errors.InvalidArgumentError` naming the backend, the key and what
to give instead. They need no driver: what a backend can do (capabilities) is checked by
the store itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from lexigram.storage.conditions import Conditions, valid_etag
from lexigram.storage.errors import InvalidArgumentError
from lexigram.storage.header_values import metadata_value_problem

__all__ = [
    "METADATA_MAX_BYTES",
    "check_header",
    "check_metadata",
    "check_range",
    "conditions_of",
    "create_only_of",
    "etag_of",
    "writable_view",
]

METADATA_MAX_BYTES = 2048

_META_KEY = re.compile(r"[a-z_][a-z0-9_]{0,127}")
_META_VALUE = re.compile(r"[ -~]*")


def create_only_of(backend: str, path: str, mode: object) -> bool:
    """Whether upload ``mode`` writes only a new key (``"create"``), not ``"overwrite"``."""
    if mode == "overwrite":
        return False
    if mode == "create":
        return True
    raise InvalidArgumentError(
        f"Invalid upload mode {mode!r} for key {path!r}: use 'overwrite' or 'create'.",
        backend=backend,
        key=path,
    )


def etag_of(backend: str, path: str, argument: str, etag: object) -> str:
    """The caller's ETag ``argument``, normalised (quotes dropped)."""
    normal = valid_etag(etag)
    if normal is None:
        raise InvalidArgumentError(
            f"{argument}={etag!r} for {path!r} is not an ETag: give the etag of "
            "info()/upload() (printable ASCII, quoted or not, not '*').",
            backend=backend,
            key=path,
        )
    return normal


def conditions_of(
    backend: str, path: str, if_match: object, if_none_match: object
) -> Conditions | None:
    """The conditions of a read, ``None`` for an unconditional one."""
    if if_match is None and if_none_match is None:
        return None
    return Conditions(
        if_match=None if if_match is None else etag_of(backend, path, "if_match", if_match),
        if_none_match=(
            None
            if if_none_match is None
            else etag_of(backend, path, "if_none_match", if_none_match)
        ),
    )


def check_range(backend: str, path: str, rng: Any) -> tuple[int, int | None]:
    """``range=(start, end)`` as in slicing; ``end=None`` reads to the end."""
    try:
        start, end = rng
    except (TypeError, ValueError):
        raise InvalidArgumentError(
            f"range for {path!r} must be a (start, end) pair, not {rng!r}.",
            backend=backend,
            key=path,
        ) from None
    if (
        type(start) is not int
        or start < 0
        or (end is not None and (type(end) is not int or end < start))
    ):
        raise InvalidArgumentError(
            f"Invalid range {rng!r} for {path!r}: give (start, end) with 0 <= start <= end, "
            "or end=None to read to the end.",
            backend=backend,
            key=path,
        )
    return start, end


def writable_view(backend: str, path: str, buffer: Any) -> memoryview:
    """A flat byte view of the caller's writable, contiguous ``buffer``."""
    try:
        view = memoryview(buffer)
    except TypeError:
        view = None
    if view is None or view.readonly or not view.c_contiguous:
        raise InvalidArgumentError(
            f"download_into({path!r}) needs a writable, contiguous buffer (a bytearray "
            f"or a memoryview of one), not {type(buffer).__name__}.",
            backend=backend,
            key=path,
        )
    return view if view.format == "B" and view.ndim == 1 else view.cast("B")


def check_metadata(backend: str, path: str, metadata: Mapping[str, str]) -> dict[str, str]:
    """User metadata in the portable subset of S3, GCS and Azure, as a new dict."""
    total = 0
    out: dict[str, str] = {}
    for k, v in metadata.items():
        if not isinstance(k, str) or not _META_KEY.fullmatch(k):
            raise InvalidArgumentError(
                f"Invalid metadata name {k!r} for {path!r}: use lowercase letters, digits and "
                "'_', starting with a letter or '_' (the portable subset of S3, GCS and "
                "Azure).",
                backend=backend,
                key=path,
            )
        if not isinstance(v, str) or not _META_VALUE.fullmatch(v):
            raise InvalidArgumentError(
                f"Invalid metadata value for {k!r} on {path!r}: values must be printable "
                "ASCII str (encode other text, e.g. with urllib.parse.quote).",
                backend=backend,
                key=path,
            )
        problem = metadata_value_problem(v)
        if problem is not None:
            raise InvalidArgumentError(
                f"Invalid metadata value for {k!r} on {path!r}: {problem}.",
                backend=backend,
                key=path,
            )
        total += len(k) + len(v)
        out[k] = v
    if total > METADATA_MAX_BYTES:
        raise InvalidArgumentError(
            f"Metadata of {path!r} is {total} bytes; the portable limit is {METADATA_MAX_BYTES}.",
            backend=backend,
            key=path,
        )
    return out


def check_header(backend: str, path: str, argument: str, problem: str | None) -> None:
    """Raise for header ``argument`` when its checker found a ``problem``."""
    if problem is not None:
        raise InvalidArgumentError(
            f"Invalid {argument} for {path!r} on backend {backend!r}: {problem}.",
            backend=backend,
            key=path,
        )
